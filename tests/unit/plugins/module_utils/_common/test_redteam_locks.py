"""Two runs against one libvirtd must take turns, however each spells the URI of that daemon.

Each test was a way found to break a promise; it now guards the fix.
"""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common import locks
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import changing
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import uri_problem


@pytest.fixture(autouse=True)
def private_lock_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(locks, "lock_dir", lambda: str(tmp_path / "locks"))


def test_one_spelling_takes_turns():
    """What holds: the same URI text."""
    with changing("qemu:///system", ["guest rvrt-lock"], 1, False):
        with pytest.raises(locks.LockError):
            with changing("qemu:///system", ["guest rvrt-lock"], 0.3, False):
                pass


# Each is accepted by the validator and reaches the same local libvirtd as qemu:///system.
ALIASES = ["qemu+unix:///system", "qemu:///system?socket=/run/libvirt/libvirt-sock"]


@pytest.mark.parametrize("alias", ALIASES)
def test_aliases_are_accepted_uris(alias):
    assert uri_problem(alias) == ""


@pytest.mark.parametrize("alias", ALIASES)
def test_two_spellings_of_one_daemon_take_turns(alias):
    with changing("qemu:///system", ["guest rvrt-lock"], 1, False):
        with pytest.raises(locks.LockError):
            with changing(alias, ["guest rvrt-lock"], 0.3, False):
                pass
