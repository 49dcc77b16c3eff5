"""Remote URIs spelled the way a careless or hostile user writes them, from the controller.

Each test was a way found to break a promise; it now guards the fix.
"""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common import locks
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import changing, is_local_uri, lock_uri
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import uri_problem


@pytest.fixture(autouse=True)
def private_lock_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(locks, "lock_dir", lambda: str(tmp_path / "locks"))


@pytest.mark.parametrize("uri", ["qemu+ext:///system?command=/usr/local/bin/hv1-tunnel", "QEMU+EXT:///system?command=/x"])
def test_ext_transport_is_not_local(uri):
    """Was: no host part, so 'local': cloud-init seeds, serial logs, download marks and the checks
    of cdrom and disk paths went to the controller's files while the daemon was on another host."""
    assert uri_problem(uri) == ""
    assert is_local_uri(uri) is False


@pytest.mark.parametrize(
    "uri",
    [
        "qemu:///system?name=test:///default",
        "qemu+ssh://root@hv1:22/system?keyfile=/k&NAME=qemu:///session",
        # libvirt also splits on ';' and percent-decodes parameter names (each reached the test driver)
        "qemu:///system?x=1;name=test:///default",
        "qemu:///system?%6Eame=test:///default",
        "qemu:///system?%6e%41ME=test:///default",
    ],
)
def test_name_parameter_is_refused(uri):
    """Was accepted: libvirt opens the URI in name= (the first reaches the test driver through the
    system daemon), so the path check, the locks, the local-or-remote choice and the plan's
    'virsh -c' all named another daemon than the one used."""
    assert "name= parameter" in uri_problem(uri)


def test_names_like_hostname_or_keyfile_are_not_the_name_parameter():
    assert uri_problem("qemu+ssh://hv1:22/system?keyfile=/root/.ssh/name=x&hostname=y") == ""


@pytest.mark.parametrize("uri", ["qemu://system", "qemu://session"])
def test_two_slashes_for_the_local_daemon_get_a_hint(uri):
    """Was: 'needs an explicit port for the tls transport, like qemu+tls://system:16514/system'."""
    problem = uri_problem(uri)
    assert "three slashes" in problem and "qemu:///" in problem and "16514" not in problem


@pytest.mark.parametrize(
    "alias",
    ["qemu+ssh://hv1/system", "qemu+ssh://admin@HV1:22/system", "qemu+tls://hv1:16514/system", "qemu+tcp://hv1:16509/system"],
)
def test_default_ports_of_one_remote_daemon_take_turns(alias):
    """Was: the port written or left out made another lock key, so two tasks of one controller
    against hv1 (one through qemu+ssh, one through qemu+tls) changed one guest at once."""
    assert lock_uri(alias) == "qemu://hv1/system"
    with changing("qemu+ssh://root@hv1:22/system", ["guest rvre-lock"], 1, False):
        with pytest.raises(locks.LockError):
            with changing(alias, ["guest rvre-lock"], 0.3, False):
                pass


@pytest.mark.parametrize("uri", ["qemu+ssh://hv1:2222/system", "qemu+ssh://[fe80::1]:2222/system", "qemu+tls://hv1:22/system"])
def test_other_ports_stay_other_daemons(uri):
    """A forwarded port can be another hypervisor: those keep their own lock key."""
    assert lock_uri(uri).endswith(":%s/system" % uri.rsplit(":", 1)[1].split("/")[0])
