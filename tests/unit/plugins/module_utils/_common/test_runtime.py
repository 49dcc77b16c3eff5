"""The shared run machinery: local URIs, lock keys, the version-checked connection."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import (
    bridge_problem,
    connected,
    is_local_uri,
    lock_uri,
    network_problem,
)


@pytest.mark.parametrize(
    "uri, local",
    [
        ("qemu:///system", True),
        ("qemu:///session", True),
        ("test:///default", True),
        ("qemu+ssh://root@hv1/system", False),
        ("qemu+tls://hv1:16514/system", False),
    ],
)
def test_is_local_uri(uri, local):
    assert is_local_uri(uri) is local


@pytest.mark.parametrize(
    "uri, key",
    [
        ("qemu:///system", "qemu:///system"),
        ("QEMU:///system", "qemu:///system"),
        ("qemu+unix:///system?socket=/run/libvirt/libvirt-sock", "qemu:///system"),
        ("qemu+ssh://root@HV1:2222/system", "qemu://hv1:2222/system"),
        ("qemu:///session/", "qemu:///session"),
    ],
)
def test_lock_uri_names_the_daemon(uri, key):
    assert lock_uri(uri) == key


def test_connected_checks_the_version_and_closes(monkeypatch):
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt import client as client_module

    with connected("test:///default") as client:
        assert client.version() > 0
    assert client._conn is None
    monkeypatch.setattr(client_module, "MIN_LIBVIRT_VERSION", 10**9)
    with pytest.raises(PlanError, match="older than the supported minimum"):
        with connected("test:///default"):
            pass  # pragma: no cover - never reached


def test_network_problem_names_a_missing_or_stopped_network(test_client):
    assert network_problem(test_client, "default") is None
    assert network_problem(test_client, "rv-no-such-net") == (
        "libvirt network 'rv-no-such-net' does not exist on test:///default (virsh -c test:///default net-list --all)"
    )
    network = test_client.conn.networkDefineXML("<network><name>rv-stopped-net</name></network>")
    try:
        assert network_problem(test_client, "rv-stopped-net") == (
            "libvirt network 'rv-stopped-net' is not active; start it first: virsh -c test:///default net-start rv-stopped-net"
        )
    finally:
        network.undefine()


@pytest.mark.parametrize("name", ["rv-no-such-br0", "..", ".", "lo/../lo", "lo"])
def test_bridge_problem_refuses_what_is_no_bridge(name):
    assert bridge_problem(name) == "bridge %s does not exist on the host" % name


def test_every_error_a_run_reports_with_its_plan_is_a_reported_error():
    from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import REPORTED_ERRORS, RunError
    from ansible_collections.remotevirt.install.plugins.module_utils._common.locks import LockError
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import LibvirtError
    from ansible_collections.remotevirt.install.plugins.module_utils._volume.download import DownloadError

    for error in (PlanError("x"), LibvirtError("define", "x", "failed"), DownloadError("x"), LockError("x"), OSError("x")):
        assert isinstance(error, REPORTED_ERRORS)
    # A RunError already carries its plan and what changed: a runner must not wrap it again.
    assert not isinstance(RunError("x"), REPORTED_ERRORS)


def test_network_problem_on_the_host_names_a_forward_bridge_that_is_gone(test_client):
    network = test_client.conn.networkCreateXML(
        "<network><name>rv-bridged-net</name><forward mode='bridge'/><bridge name='rv-no-such-br1'/></network>"
    )
    try:
        assert network_problem(test_client, "rv-bridged-net") is None  # not asked off the host
        assert network_problem(test_client, "rv-bridged-net", on_host=True) == (
            "libvirt network 'rv-bridged-net' forwards to host bridge rv-no-such-br1, which does not exist on the host"
        )
    finally:
        network.destroy()
