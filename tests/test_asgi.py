"""The web server as `make run` starts it (daphne serving bms.asgi, bms.run.web_command) on a free
loopback port: what it prints, and that a request body over the limit is refused before it is
buffered."""

from __future__ import annotations

import http.cookiejar
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from bms import run
from tests.make_run import ROOT, bms, make_var

pytestmark = pytest.mark.slow

PASSWORD = "a viewer's long passphrase"  # a test account
LIMIT = 1_000_000
MB = 1024 * 1024


@dataclass
class Web:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    output: Path

    def printed(self) -> str:
        time.sleep(0.3)  # let the server flush what the last request logged
        return self.output.read_text()

    def printed_after(self, start: int, pattern: str, timeout: float = 20) -> str:
        """What the server printed after the first `start` characters, once it matches
        `pattern` (a line logged after the response, e.g. the access log's, comes later on a
        loaded machine than a fixed pause); fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            printed = self.output.read_text()[start:]
            if re.search(pattern, printed):
                return printed
            assert time.monotonic() < deadline, f"{pattern!r} not printed:\n{printed[-3000:]}"
            time.sleep(0.05)

    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / MB


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the web server exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the web server did not listen within 60 s")


def start_web(var: Path, tmp: Path, **extra: str) -> Web:
    env = {**make_var(var), "BMS_MAX_REQUEST_BYTES": str(LIMIT), **extra}
    port = free_tcp_port()
    output = tmp / "web.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(  # our interpreter, our code
            run.web_command(port, env), cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    wait_listening(port, process)
    return Web(f"http://127.0.0.1:{port}", port, process, output)


def stop(web: Web) -> None:
    web.process.terminate()
    web.process.wait(timeout=15)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    tmp = tmp_path_factory.mktemp("web")
    var = tmp / "var"
    make_var(var)
    created = bms(
        var, "bms_createuser", "--username", "vera", "--role", "viewer", BMS_PASSWORD=PASSWORD
    )
    assert created.returncode == 0, created.stderr
    server = start_web(var, tmp)
    yield server
    stop(server)


def signed_in_opener(web: Web) -> tuple[urllib.request.OpenerDirector, str]:
    """A browser-like client signed in as the viewer, and its CSRF token."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{web.url}/accounts/login/").close()
    token = next(c.value for c in jar if c.name == "csrftoken")
    form = {"username": "vera", "password": PASSWORD, "csrfmiddlewaretoken": token}
    opener.open(f"{web.url}/accounts/login/", urllib.parse.urlencode(form).encode()).close()
    token = next(c.value for c in jar if c.name == "csrftoken")
    return opener, token


def test_requests_print_no_access_log_by_default(web):
    before = web.printed()
    for path in ("/accounts/login/", "/static/web/app.css", "/accounts/login/"):
        urllib.request.urlopen(web.url + path).close()  # our loopback server
    printed = web.printed()[len(before) :]
    assert "GET" not in printed
    assert "/accounts/login/" not in printed


def test_a_refused_viewer_post_is_one_warning_line(web):
    opener, token = signed_in_opener(web)
    before = web.printed()
    request = urllib.request.Request(
        f"{web.url}/devices/discover/", data=b"", headers={"X-CSRFToken": token}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request)
    refused.value.close()  # the error holds the response and its socket open
    assert refused.value.code == 403
    web.printed_after(len(before), r"Forbidden.*/devices/discover/")
    printed = web.printed()[len(before) :].strip().splitlines()  # and nothing else after it
    assert len(printed) == 1, printed
    assert re.search(r"WARNING django.request: Forbidden.*/devices/discover/", printed[0])


def test_the_access_log_can_be_turned_on(tmp_path):
    var = tmp_path / "var"
    server = start_web(var, tmp_path, BMS_ACCESS_LOG="1")
    try:
        urllib.request.urlopen(server.url + "/accounts/login/").close()
        assert re.search(r'"GET /accounts/login/" 200', server.printed_after(0, '" 200'))
    finally:
        stop(server)


def answer_to(port: int, head: bytes, body_chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """Send `head` then the chunks until the server answers or closes; its status line and the
    bytes of body sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        sock.settimeout(0.05)
        for chunk in body_chunks:
            try:
                answer = sock.recv(4096)
            except TimeoutError:
                answer = b""
            if answer:
                return answer.split(b"\r\n", 1)[0], sent
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        sock.settimeout(30)
        try:
            return sock.recv(4096).split(b"\r\n", 1)[0], sent
        except ConnectionResetError:
            return b"", sent


def megabytes(count: int) -> Iterator[bytes]:
    chunk = b"x" * MB
    return (chunk for _ in range(count))


def test_a_body_over_the_limit_is_refused_by_its_length_before_it_is_read(web):
    rss_before = web.rss_mb()
    head = (
        b"POST /api/virtual-devices HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 200000000\r\n\r\n"
    )
    status, sent = answer_to(web.port, head, megabytes(200))
    assert status.startswith(b"HTTP/1.1 413"), status
    assert sent < 50 * MB
    assert web.rss_mb() - rss_before < 20, (rss_before, web.rss_mb())


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(web):
    rss_before = web.rss_mb()
    head = (
        b"POST /api/virtual-devices HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunks = (b"%x\r\n%s\r\n" % (len(c), c) for c in megabytes(200))
    status, sent = answer_to(web.port, head, chunks)
    assert status.startswith(b"HTTP/1.1 413") or status == b"", status
    assert sent < 50 * MB
    assert web.rss_mb() - rss_before < 20, (rss_before, web.rss_mb())


def test_a_body_within_the_limit_still_reaches_the_app(web):
    request = urllib.request.Request(
        f"{web.url}/api/virtual-devices",
        data=b"{" + b" " * (LIMIT // 2) + b"}",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request)
    answered.value.close()  # the error holds the response and its socket open
    # Django answered (its security headers are on it): a refusal of the anonymous writer.
    assert answered.value.code in (401, 403)
    assert "Content-Security-Policy" in answered.value.headers
