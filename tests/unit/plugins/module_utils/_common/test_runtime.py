"""The shared run machinery: local URIs, lock keys, the version-checked connection."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import connected, is_local_uri, lock_uri


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
