"""Tuning options: their parsing and refusals, and how they reach new and existing guests' definitions (drift)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fixtures
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import DEFINE
from ansible_collections.remotevirt.install.plugins.module_utils._guest.plan import plan_guest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest, Refusals
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import DiskState, GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._guest.tuning_request import tuning_param
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.tuning import (
    CpuPinning,
    GuestAgent,
    Hugepages,
    NumaTune,
    Rng,
    Tpm,
    Tuning,
    TuningHost,
)

STORED = fixtures.read(__file__, "web01-stored.xml")


def values(**params):
    return tuning_param(params).values


@pytest.mark.parametrize(
    "params, expected",
    [
        (dict(tpm=True), Tuning(tpm=Tpm())),
        (dict(tpm={"model": "tpm-tis", "version": 1.2}), Tuning(tpm=Tpm(model="tpm-tis", version="1.2"))),
        (dict(tpm={"version": 2.0}), Tuning(tpm=Tpm())),
        (dict(tpm=False), Tuning()),
        (dict(rng=True), Tuning(rng=Rng())),
        (dict(guest_agent=True), Tuning(agent=GuestAgent())),
        (dict(guest_agent=False), Tuning()),
        (dict(rng={"backend": "/dev/random", "rate_bytes": "1024"}), Tuning(rng=Rng(source="/dev/random", rate_bytes=1024))),
        (
            dict(cpu_pinning={"vcpus": {0: "2", "1": "3,2"}, "emulator": "0-1"}),
            Tuning(pinning=CpuPinning(((0, "2"), (1, "2-3")), "0-1")),
        ),
        (dict(cpu_pinning={"vcpus": ["0", 1]}), Tuning(pinning=CpuPinning(((0, "0"), (1, "1"))))),
        (dict(cpu_pinning={"vcpus": None, "emulator": None}), Tuning()),
        (dict(numa={"nodeset": "0", "mode": None}), Tuning(numa=NumaTune("0"))),
        (dict(numa={"nodeset": "1,0", "mode": "interleave"}), Tuning(numa=NumaTune("0-1", "interleave"))),
        (dict(numa={"nodeset": None, "mode": None}), Tuning()),
        (dict(hugepages=True), Tuning(hugepages=Hugepages())),
        (dict(hugepages={"size": "2M"}), Tuning(hugepages=Hugepages(2048))),
        (dict(hugepages={"size": "1G"}), Tuning(hugepages=Hugepages(1 << 20))),
    ],
)
def test_tuning_options(params, expected):
    assert values(**params) == expected
    assert tuning_param(params).given == frozenset(params)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(tpm="yes"), "tpm must be true, false or a dictionary"),
        (dict(tpm={"model": "tpm-spapr"}), "tpm.model must be one of tpm-crb, tpm-tis"),
        (dict(tpm={"version": "3"}), "tpm.version must be one of"),
        (dict(tpm={"model": "tpm-crb", "version": "1.2"}), "tpm-crb is a TPM 2.0 interface"),
        (dict(tpm={"modle": "tpm-crb"}), "tpm: unknown key modle"),
        (dict(rng={"backend": "/etc/passwd"}), "rng.backend must be one of"),
        (dict(rng={"rate_period": 10}), "rng.rate_period is the period of rng.rate_bytes"),
        (dict(rng={"rate_bytes": 0}), "rng.rate_bytes must be at least 1"),
        (dict(cpu_pinning={"vcpus": {"x": "1"}}), "cpu_pinning.vcpus key 'x'"),
        (dict(cpu_pinning={"vcpus": {0: "1-"}}), "cpu_pinning.vcpus[0]: '1-' is not a cpuset"),
        (dict(cpu_pinning={"vcpus": {0: "1", "0": "2"}}), "pins a vCPU twice"),
        (dict(cpu_pinning={"emulator": "0,^0"}), "it selects no CPU"),
        (dict(cpu_pinning={"vcpus": "0-1"}), "cpu_pinning.vcpus must map vCPU numbers"),
        (dict(numa={"nodeset": "zero", "mode": None}), "numa.nodeset: 'zero' is not a cpuset"),
        (dict(numa={"nodeset": None, "mode": "strict"}), "numa.mode needs numa.nodeset"),
        (dict(hugepages={"size": "3M"}), "hugepages.size must be a power of two"),
        (dict(hugepages={"size": "lots"}), "hugepages.size:"),
        (dict(hugepages=2), "hugepages must be true, false or a dictionary"),
        (dict(guest_agent="yes"), "guest_agent must be true or false"),
    ],
)
def test_tuning_refusals(params, message):
    with pytest.raises(PlanError) as error:
        tuning_param(params)
    assert message in str(error.value)


def test_every_tuning_refusal_is_listed():
    with pytest.raises(Refusals) as error:
        tuning_param(dict(tpm="x", rng="y", hugepages={"size": "3M"}))
    assert len(error.value.messages) == 3


@given(st.text(max_size=12))
def test_any_cpuset_text_is_accepted_or_refused_with_a_message(text):
    try:
        pinning = values(cpu_pinning={"emulator": text}).pinning
    except PlanError as error:
        assert "cpu_pinning.emulator" in str(error)
        return
    assert pinning is not None and pinning.emulator


# -- new guests ----------------------------------------------------------------------------------
EMULATED_TPM = TuningHost(domain_capabilities_read=True, tpm_models=("tpm-tis", "tpm-crb"), tpm_backends=("emulator",))


NO_FACTS = TuningHost()


def new_plan(host=NO_FACTS, **params):
    params = dict(name="dvb-new", disks=[dict(path="/var/lib/libvirt/images/dvb.img", format="raw")], **params)
    params.setdefault("install", dict(method="import"))
    request = GuestRequest.from_params(params)
    return plan_guest(request, GuestState(disks=(DiskState(format="raw"),), tuning_host=host))


def defined(plan):
    return next(action.payload.domain for action in plan.actions if action.verb == DEFINE)


def test_new_uefi_guest_gets_a_tpm_where_the_host_offers_one():
    assert defined(new_plan(EMULATED_TPM, firmware="uefi")).tuning == Tuning(tpm=Tpm())


@pytest.mark.parametrize(
    "host, params",
    [
        (TuningHost(), dict(firmware="uefi")),  # the host offers no emulated TPM (no swtpm)
        (EMULATED_TPM, dict(firmware="bios")),
        (EMULATED_TPM, dict(firmware="uefi", tpm=False)),
    ],
)
def test_no_default_tpm(host, params):
    assert defined(new_plan(host, **params)).tuning.tpm is None


def test_new_guest_gets_the_given_tuning():
    plan = new_plan(rng=True, hugepages={"size": "2M"}, vcpus=2, cpu_pinning={"vcpus": ["0", "1"]})
    assert defined(plan).tuning == Tuning(rng=Rng(), hugepages=Hugepages(2048), pinning=CpuPinning(((0, "0"), (1, "1"))))
    assert '<rng model="virtio">' in plan.after


# -- existing guests: drift ------------------------------------------------------------------------
def stored_with(tuning):
    previous = Domain.from_xml(STORED)
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import patch_definition

    return patch_definition(STORED, previous, previous.with_changes(tuning=tuning))


def existing_plan(xml, **params):
    request = GuestRequest.from_params(dict(name="web01", **params))
    return plan_guest(request, GuestState(existing=Domain.from_xml(xml), existing_xml=xml))


TUNED = Tuning(
    tpm=Tpm(),
    rng=Rng(rate_bytes=1024, rate_period=1000),
    pinning=CpuPinning(((0, "0-1"), (1, "1")), "0"),
    numa=NumaTune("0"),
    hugepages=Hugepages(2048),
)
SAME = dict(
    tpm={"model": "tpm-crb", "version": "2.0"},
    rng={"backend": "/dev/urandom", "rate_bytes": 1024, "rate_period": 1000},
    cpu_pinning={"vcpus": {0: "0,1", 1: "1"}, "emulator": "0-0"},
    numa={"nodeset": "0", "mode": "strict"},
    hugepages={"size": "2048K"},
)


def test_same_values_in_another_form_are_no_change():
    assert existing_plan(stored_with(TUNED), **SAME).actions == []


def test_options_not_given_leave_the_stored_tuning():
    assert existing_plan(stored_with(TUNED), memory="1G").actions == []


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("tpm", False, TUNED.with_changes(tpm=None)),
        ("tpm", {"model": "tpm-tis"}, TUNED.with_changes(tpm=Tpm(model="tpm-tis"))),
        ("rng", False, TUNED.with_changes(rng=None)),
        ("rng", True, TUNED.with_changes(rng=Rng())),
        ("cpu_pinning", {"vcpus": {0: "1"}}, TUNED.with_changes(pinning=CpuPinning(((0, "1"),)))),
        ("cpu_pinning", {"vcpus": None, "emulator": None}, TUNED.with_changes(pinning=None)),
        ("numa", {"nodeset": "0", "mode": "preferred"}, TUNED.with_changes(numa=NumaTune("0", "preferred"))),
        ("hugepages", False, TUNED.with_changes(hugepages=None)),
        ("hugepages", True, TUNED.with_changes(hugepages=Hugepages())),
    ],
)
def test_a_changed_value_is_an_update(option, value, expected):
    plan = existing_plan(stored_with(TUNED), **dict(SAME, **{option: value}))
    assert [action.verb for action in plan.actions] == [DEFINE]
    define = plan.actions[0].payload
    assert define.domain.tuning == expected
    assert plan.before != plan.after
    rewritten = Domain.from_xml(define.domain.to_xml() if define.previous_xml is None else _patched(define))
    assert rewritten.tuning == expected


def _patched(define):
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import patch_definition

    return patch_definition(define.previous_xml, define.previous, define.domain)


def test_an_existing_guest_without_tuning_gets_the_given_options():
    plan = existing_plan(STORED, rng=True)
    assert plan.actions[0].payload.domain.tuning == Tuning(rng=Rng())


# -- a wait for the guest agent's addresses needs the agent's channel ------------------------------
AGENT_WAIT = dict(wait_for={"ip": True, "source": "agent"}, state="running")


def test_a_new_guest_waited_for_through_its_agent_needs_the_channel():
    with pytest.raises(PlanError, match="wait_for.source agent: guest dvb-new has no channel to a guest agent"):
        new_plan(**AGENT_WAIT)
    assert defined(new_plan(guest_agent=True, **AGENT_WAIT)).tuning == Tuning(agent=GuestAgent())
    new_plan(wait_for={"ip": True, "source": "lease"}, state="running")  # other sources need no agent


def test_a_stopped_guest_started_and_waited_for_through_its_agent_needs_the_channel():
    with pytest.raises(PlanError, match="set guest_agent: true"):
        existing_plan(STORED, **AGENT_WAIT)
    plan = existing_plan(STORED, guest_agent=True, **AGENT_WAIT)
    assert [action.verb for action in plan.actions][:1] == [DEFINE]


def test_a_running_guest_waited_for_through_its_agent_needs_the_channel_it_runs_with():
    """A channel given now is stored for the next start: the running guest still has none."""
    request = GuestRequest.from_params(dict(name="web01", guest_agent=True, **AGENT_WAIT))
    existing = Domain.from_xml(STORED)
    running = GuestState(existing=existing, existing_xml=STORED, active=True, running_agent=False)
    with pytest.raises(PlanError, match="guest_agent applies from its next start"):
        plan_guest(request, running)
    plan_guest(request, running.with_changes(running_agent=True))
