"""What the host has for a guest: the platform its definition gets."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain, OsBoot

STORED = GuestState(existing=Domain(name="g", type="kvm", os=OsBoot(arch="aarch64")), detected_type="qemu")


def test_platform_as_requested_else_as_stored_else_detected():
    assert STORED.platform("x86_64", "qemu", False) == ("x86_64", "qemu")
    assert STORED.platform(None, None, False) == ("aarch64", "kvm")
    assert STORED.platform(None, None, True) == ("x86_64", "qemu")  # a reinstall starts anew
    assert GuestState(detected_type="qemu").platform(None, None, False) == ("x86_64", "qemu")
