import pytest
from django.core.exceptions import ImproperlyConfigured

from bms.env import env_bool, env_choice, env_float, env_int, env_list, env_str


def test_it_returns_the_default_when_unset_or_blank():
    assert env_str("X", "fallback", environ={}) == "fallback"
    assert env_str("X", "fallback", environ={"X": "  "}) == "fallback"
    assert env_int("X", 7, environ={}) == 7


def test_it_requires_a_string_without_default_and_names_it():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is required, see docs"):
        env_str("SECRET_KEY", hint=", see docs", environ={})


def test_it_parses_numbers_and_rejects_garbage():
    assert env_int("N", 0, environ={"N": " 42 "}) == 42
    assert env_float("F", 0.0, environ={"F": "2.5"}) == 2.5
    with pytest.raises(ImproperlyConfigured, match=r"BACNET_RETRIES='two' is not an integer"):
        env_int("BACNET_RETRIES", 1, environ={"BACNET_RETRIES": "two"})
    with pytest.raises(ImproperlyConfigured, match="is not a number"):
        env_float("BACNET_TIMEOUT", 3.0, environ={"BACNET_TIMEOUT": "3s"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
    ],
)
def test_it_reads_booleans(text, expected):
    assert env_bool("DEBUG", not expected, environ={"DEBUG": text}) is expected


def test_it_refuses_a_boolean_it_does_not_understand():
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG", False, environ={"DEBUG": "maybe"})


def test_it_reads_a_choice_case_insensitively_and_lists_the_choices_on_error():
    assert env_choice("B", ["native", "docker"], "native", environ={"B": "Docker"}) == "docker"
    with pytest.raises(ImproperlyConfigured, match="not one of: native, docker"):
        env_choice("B", ["native", "docker"], "native", environ={"B": "podman"})


def test_it_splits_lists_on_commas_and_drops_empty_items():
    assert env_list("H", ["x"], environ={"H": "a.example, b.example,,"}) == [
        "a.example",
        "b.example",
    ]
    assert env_list("H", ["x"], environ={}) == ["x"]
