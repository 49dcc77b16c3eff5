"""What a plan changes in an existing guest, and its refusal where updates are not allowed."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Plan
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import START, GuestTarget
from ansible_collections.remotevirt.install.plugins.module_utils._guest.changes import update_refusal
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import RESIZE, ResizePayload

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
