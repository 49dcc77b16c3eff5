"""How the wait for an install reads the guest's state and libvirt's reason for it."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils.client import LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils.guest_handlers import _install_ended


@pytest.mark.parametrize("state, reason", [
    ("running", "booted"), ("paused", "user"), ("paused", "starting up"), ("blocked", "unknown"),
])
def test_install_goes_on(state, reason):
    assert _install_ended("web01", state, reason) is False


@pytest.mark.parametrize("reason", ["shutdown", "destroyed", "unknown"])
def test_install_ended_by_power_off(reason):
    assert _install_ended("web01", "shut off", reason) is True


@pytest.mark.parametrize("state, reason", [
    ("paused", "unknown"), ("paused", "ioerror"), ("paused", "crashed"), ("crashed", "panicked"),
    ("shut off", "crashed"), ("shut off", "failed"),
])
def test_stuck_install_fails_at_once_with_the_reason(state, reason):
    with pytest.raises(LibvirtError) as error:
        _install_ended("web01", state, reason)
    message = str(error.value)
    assert "the guest is %s (reason: %s)" % (state, reason) in message
    assert "/var/log/libvirt/qemu/web01.log" in message and "domain_type: qemu" in message
