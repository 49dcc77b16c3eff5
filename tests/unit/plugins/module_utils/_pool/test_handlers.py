"""virt_pool's handlers on libvirt's test driver; the build of a fs pool whose device holds a file
system already (which the test driver cannot report) through a client whose first build answers as
libvirt does then."""

from __future__ import annotations

from typing import Any, List

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._pool.actions import BUILD, BuildPayload
from ansible_collections.remotevirt.install.plugins.module_utils._pool.handlers import PoolHandlers

libvirt = pytest.importorskip("libvirt")


class AlreadyFormatted(Client):
    """libvirt's answer to ``pool-build --no-overwrite`` on a device with a file system (or VG)."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.builds: List[bool] = []

    def build_pool(self, pool: Any, no_overwrite: bool) -> None:
        self.builds.append(no_overwrite)
        if no_overwrite:
            raise LibvirtError(
                "build pool",
                pool.name(),
                "Storage pool already built: Device '/dev/loop0' already formatted using 'ext4'",
                libvirt.VIR_ERR_STORAGE_POOL_BUILT,
            )
        super().build_pool(pool, no_overwrite)


def _build(name: str, mount_existing: bool) -> Action:
    return Action(BUILD, "pool", name, "virsh pool-build %s --no-overwrite" % name, BuildPayload(name, True, mount_existing))


def _defined(client: Client, name: str, pool_type: str) -> None:
    source = "<source><device path='/dev/loop0'/></source>" if pool_type == "fs" else "<source><name>%s</name></source>" % name
    client.define_pool(
        "<pool type='%s'><name>%s</name>%s<target><path>/srv/%s</path></target></pool>" % (pool_type, name, source, name)
    )


def test_fs_build_mounts_a_formatted_device_as_it_is(test_client, unique_name):
    name = unique_name("")
    client = AlreadyFormatted("test:///default")
    _defined(client, name, "fs")
    try:
        assert PoolHandlers(client).build(_build(name, True)) is None
        assert client.builds == [True, False]  # refused to format, then only the mount directory
    finally:
        client.undefine_pool(client.find_pool(name))
        client.close()


def test_logical_build_on_a_used_device_fails(test_client, unique_name):
    name = unique_name("")
    client = AlreadyFormatted("test:///default")
    _defined(client, name, "logical")
    try:
        with pytest.raises(LibvirtError, match="already formatted"):
            PoolHandlers(client).build(_build(name, False))
        assert client.builds == [True]  # never built again without --no-overwrite (that wipes the device)
    finally:
        client.undefine_pool(client.find_pool(name))
        client.close()
