"""System checks for BACNET_* settings."""

import pytest

from bms.worker.checks import check_bacnet_address_set, check_bacnet_settings
from tests.worker.conftest import manage

GOOD = {
    "BACNET_ADDRESS": "127.0.0.1/8",
    "BACNET_DEVICE_ID": 8888,
    "BACNET_DEVICE_NAME": "Django_BMS",
    "BACNET_SITE": "default",
    "BACNET_TIMEOUT": 3.0,
    "BACNET_RETRIES": 1,
    "BACNET_DISCOVERY_CACHE_SECONDS": 300,
    "BACNET_TASK_LEASE_SECONDS": 60,
    "BACNET_WORKER_ALIVE_SECONDS": 30,
    "BACNET_BACKEND": "native",
    "CELERY_BROKER_URL": "",
}


def ids_for(settings, **changes):
    for name, value in {**GOOD, **changes}.items():
        setattr(settings, name, value)
    return [message.id for message in check_bacnet_settings()]


def test_good_settings_pass(settings):
    assert ids_for(settings) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"BACNET_ADDRESS": "192.168.1.10"}, "bms.E001"),  # no prefix length
        ({"BACNET_ADDRESS": "my-host/24"}, "bms.E001"),
        ({"BACNET_ADDRESS": "10.0.0.1/24:99999"}, "bms.E001"),
        ({"BACNET_DEVICE_ID": 4194303}, "bms.E002"),
        ({"BACNET_DEVICE_ID": -1}, "bms.E002"),
        ({"BACNET_DEVICE_NAME": " "}, "bms.E003"),
        ({"BACNET_SITE": "north wing"}, "bms.E004"),
        ({"BACNET_TIMEOUT": 0}, "bms.E005"),
        ({"BACNET_RETRIES": -1}, "bms.E006"),
        ({"BACNET_DISCOVERY_CACHE_SECONDS": -5}, "bms.E007"),
        ({"BACNET_TASK_LEASE_SECONDS": 0}, "bms.E008"),
        ({"BACNET_BACKEND": "docker", "CELERY_BROKER_URL": ""}, "bms.E009"),
        ({"BACNET_WORKER_ALIVE_SECONDS": 0}, "bms.E010"),
        ({"BACNET_FOREIGN_BBMD": "bbmd.example"}, "bms.E011"),  # an IPv4 address, not a name
        ({"BACNET_FOREIGN_BBMD": "10.1.2.1:70000"}, "bms.E011"),
        ({"BACNET_FOREIGN_TTL": 0}, "bms.E012"),
    ],
)
def test_each_bad_value_is_reported(settings, changes, expected):
    assert ids_for(settings, **changes) == [expected]


def test_a_foreign_bbmd_with_or_without_a_port_is_fine(settings):
    assert ids_for(settings, BACNET_FOREIGN_BBMD="10.1.2.1") == []
    assert ids_for(settings, BACNET_FOREIGN_BBMD="10.1.2.1:47809", BACNET_FOREIGN_TTL=65535) == []


def test_edges_of_the_device_range_are_fine(settings):
    assert ids_for(settings, BACNET_DEVICE_ID=0) == []
    assert ids_for(settings, BACNET_DEVICE_ID=4194302) == []


def test_docker_with_a_broker_is_fine(settings):
    assert ids_for(settings, BACNET_BACKEND="docker", CELERY_BROKER_URL="redis://h:6379/0") == []


def test_a_missing_address_only_warns_at_deploy_time(settings):
    assert ids_for(settings, BACNET_ADDRESS="") == []
    settings.BACNET_ADDRESS = ""
    assert [m.id for m in check_bacnet_address_set()] == ["bms.W001"]
    settings.BACNET_ADDRESS = "127.0.0.1/8"
    assert check_bacnet_address_set() == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"BACNET_MONITOR_POLL_SECONDS": 0}, "bms.E020"),
        ({"BACNET_MONITOR_RELOAD_SECONDS": 0.0}, "bms.E021"),
        ({"BACNET_MONITOR_RELOAD_SECONDS": float("nan")}, "bms.E021"),
        ({"BACNET_COV_LIFETIME": -1}, "bms.E022"),
        ({"BACNET_SHUTDOWN_SECONDS": -2.0}, "bms.E023"),
        ({"BACNET_HEALTH_FAILURES": 0}, "bms.E024"),
        ({"BACNET_OFFLINE_AFTER_SECONDS": -1}, "bms.E025"),
        ({"BACNET_HEALTH_RETRY_MAX_SECONDS": 4}, "bms.E026"),
    ],
)
def test_each_bad_monitoring_or_health_value_is_reported(settings, changes, expected):
    assert ids_for(settings, **changes) == [expected]


def test_monitoring_edges_are_fine(settings):
    assert (
        ids_for(
            settings,
            BACNET_MONITOR_POLL_SECONDS=1,
            BACNET_COV_LIFETIME=0,  # subscriptions that never expire
            BACNET_HEALTH_FAILURES=1,
            BACNET_OFFLINE_AFTER_SECONDS=0,
            BACNET_HEALTH_RETRY_MAX_SECONDS=5,
        )
        == []
    )


def test_manage_check_names_a_bad_health_setting_instead_of_a_value_error(tmp_path):
    done = manage(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "check",
        BACNET_HEALTH_FAILURES="0",
        BACNET_HEALTH_RETRY_MAX_SECONDS="2",
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "bms.E024" in output
    assert "BACNET_HEALTH_FAILURES=0 must be >= 1" in output
    assert "bms.E026" in output
    assert "BACNET_HEALTH_RETRY_MAX_SECONDS=2 must be >= 5" in output
    assert "ValueError" not in output
