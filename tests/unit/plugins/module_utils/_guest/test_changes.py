"""What a plan changes in an existing guest, and its refusal where updates are not allowed."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Plan
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import (
    AUTOSTART,
    DEFINE,
    REMOVE,
    START,
    WAIT,
    DefinePayload,
    GuestTarget,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.changes import definition_changes, update_refusal
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Disk, Domain
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.tuning import Rng, Tuning
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import CREATE, RESIZE, ResizePayload

EXISTING = GuestState(existing=Domain.from_xml("<domain type='kvm'><name>g1</name><memory>262144</memory></domain>"))


def plan_of(*actions):
    return Plan(actions=list(actions))


def grow(capacity):
    payload = ResizePayload(pool="p", volume="g1.qcow2", capacity=capacity)
    return Action(RESIZE, "volume", "p/g1.qcow2", "virsh vol-resize", payload=payload)


def test_a_growth_of_an_existing_guest_is_refused_with_the_hint():
    refusal = update_refusal("g1", False, EXISTING, plan_of(grow(3 << 30)), "x: true")
    assert refusal == (
        "guest g1 exists with a different definition (volume p/g1.qcow2 grows to 3 GiB); set x: true to update it in "
        "place, reinstall: true to install it again, or rename the new guest"
    )


def test_nothing_is_refused_for_a_new_guest_a_reinstall_or_a_start():
    assert update_refusal("g1", False, GuestState(), plan_of(grow(1 << 20)), "x") is None
    assert update_refusal("g1", True, EXISTING, plan_of(grow(1 << 20)), "x") is None
    start = Action(START, "guest", "g1", "virsh start g1", payload=GuestTarget(guest="g1"))
    assert update_refusal("g1", False, EXISTING, plan_of(start), "x") is None


def define(wanted):
    payload = DefinePayload(guest="g1", domain=wanted, new=False, previous=EXISTING.existing)
    return Action(DEFINE, "guest", "g1", "virsh define g1.xml", payload=payload)


def test_a_redefinition_in_fields_not_spelled_out_is_refused_naming_them():
    wanted = EXISTING.existing.with_changes(tuning=Tuning(rng=Rng()), on_reboot="destroy")
    refusal = update_refusal("g1", False, EXISTING, plan_of(define(wanted)), "x: true")
    assert refusal is not None
    assert "(on_reboot differs; tuning: rng differ)" in refusal


def test_an_autostart_change_and_a_volume_made_again_are_refused():
    autostart = Action(AUTOSTART, "guest", "g1", "virsh autostart g1", payload=GuestTarget(guest="g1"))
    create = Action(CREATE, "volume", "p/g1.qcow2", "virsh vol-create-as p g1.qcow2 1M")
    refusal = update_refusal("g1", False, EXISTING, plan_of(autostart, create), "x: true")
    assert refusal is not None
    assert "(autostart: off -> on; the run would create volume p/g1.qcow2)" in refusal


def test_disks_that_differ_beyond_their_sources_are_named_by_field():
    disk = Disk(target="vda", pool="p", volume="g1.qcow2", format="qcow2")
    previous = EXISTING.existing.with_changes(disks=(disk,))
    wanted = previous.with_changes(disks=(disk.with_changes(bus="sata"),))
    assert definition_changes(previous, wanted) == ["disks: vda: bus differ"]


def test_waiting_starting_and_removing_a_used_seed_are_no_updates():
    wait = Action(WAIT, "guest", "g1", "wait", payload=GuestTarget(guest="g1"))
    remove = Action(REMOVE, "seed ISO", "/var/lib/libvirt/boot/g1-seed.iso", "rm -f /var/lib/libvirt/boot/g1-seed.iso")
    assert update_refusal("g1", False, EXISTING, plan_of(wait, remove), "x") is None
