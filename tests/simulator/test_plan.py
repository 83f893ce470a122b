"""Addresses, instances, quirks and process slices of a building (pure, no sockets)."""

from __future__ import annotations

import argparse

import pytest

from bms.simulator.addresses import AddressError, device_hosts
from bms.simulator.cli import build_parser
from bms.simulator.plan import NOT_SEGMENTED, SEGMENTED, plan_building
from bms.simulator.processes import split_devices


def hosts(first: str, count: int, prefix: int = 8, **kwargs: bool) -> list[str]:
    return [str(host) for host in device_hosts(first, count, prefix, **kwargs)]


def test_hosts_are_consecutive_and_roll_over_past_255() -> None:
    assert hosts("127.0.0.254", 4) == ["127.0.0.254", "127.0.0.255", "127.0.1.0", "127.0.1.1"]


def test_hosts_never_include_the_client_the_network_or_the_broadcast_address() -> None:
    assert hosts("127.0.0.0", 2) == ["127.0.0.2", "127.0.0.3"]
    assert hosts("127.255.255.253", 2) == ["127.255.255.253", "127.255.255.254"]
    with pytest.raises(AddressError, match="usable hosts"):
        hosts("127.255.255.254", 2)


def test_non_loopback_hosts_are_refused_unless_allowed() -> None:
    with pytest.raises(AddressError, match="not a loopback address"):
        hosts("192.168.1.10", 2, 24)
    assert hosts("192.168.1.253", 2, 24, allow_non_loopback=True) == [
        "192.168.1.253",
        "192.168.1.254",
    ]


def test_a_plan_puts_the_quirks_on_the_2nd_and_3rd_device_by_default() -> None:
    plans = plan_building(4, port=47900)

    assert [plan.segmentation for plan in plans] == [SEGMENTED, NOT_SEGMENTED, SEGMENTED, SEGMENTED]
    assert [plan.supports_rpm for plan in plans] == [True, True, False, True]
    assert [plan.max_apdu for plan in plans] == [1476, 480, 1476, 1476]
    assert plans[3].address == "127.0.0.5:47900"
    assert plans[3].bind_address == "127.0.0.5/8:47900"
    assert plans[3].instance == 1003


def test_small_buildings_and_disabled_quirks_have_no_quirky_devices() -> None:
    assert {plan.segmentation for plan in plan_building(1)} == {SEGMENTED}
    plans = plan_building(5, no_segmentation_index=None, no_rpm_index=None)
    assert all(plan.segmentation == SEGMENTED and plan.supports_rpm for plan in plans)


def test_instances_must_stay_in_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        plan_building(3, first_instance=4194301)


def cli_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_slices_cover_every_device_once_and_carry_the_quirks() -> None:
    plans = plan_building(7, first_address="127.0.0.254")
    args = cli_args("--devices", "7", "--first-address", "127.0.0.254", "--processes", "3")

    slices = split_devices(plans, 3)
    argvs = [part.child_argv(args, seed=index) for index, part in enumerate(slices)]

    assert [len(part.plans) for part in slices] == [3, 2, 2]
    assert [plan for part in slices for plan in part.plans] == plans
    assert option(argvs[1], "--first-address") == "127.0.1.1"  # rolled over with the plan
    assert option(argvs[1], "--first-instance") == "1003"
    assert option(argvs[0], "--no-segmentation-index") == "1"
    assert option(argvs[0], "--no-rpm-index") == "2"
    assert option(argvs[1], "--no-segmentation-index") == "none"
    assert "--exit-with-parent" in argvs[2]


def test_more_processes_than_devices_gives_no_empty_slice() -> None:
    assert [len(part.plans) for part in split_devices(plan_building(2), 5)] == [1, 1]


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_with_bbmd_only_the_first_device_is_the_bbmd_and_only_its_process_is_told() -> None:
    plans = plan_building(5, bbmd=True)
    assert [plan.bbmd for plan in plans] == [True, False, False, False, False]
    args = cli_args("--devices", "5", "--processes", "2", "--bbmd")
    argvs = [part.child_argv(args, seed=0) for part in split_devices(plans, 2)]
    assert ["--bbmd" in argv for argv in argvs] == [True, False]
    assert not any(plan.bbmd for plan in plan_building(5))
