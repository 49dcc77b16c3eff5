"""The host's own PCI devices (its disks and network interfaces) refused as host devices."""

from __future__ import annotations

import os

from ansible_collections.remotevirt.install.plugins.module_utils._common.host_files import Mount
from ansible_collections.remotevirt.install.plugins.module_utils._guest.devices_host import (
    hosts_own_devices,
    shares_of_pools,
    shares_resolving_to_system,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.devices import Filesystem, HostDevice


def _pci(address):
    return HostDevice(type="pci", address=address)


def _sysfs(tmp_path):
    """A sysfs PCI tree as a virtio guest has it: a disk one level down, a NIC's interface directly,
    a free device, and the symbolic links sysfs has everywhere (not followed)."""
    root = tmp_path / "devices"
    (root / "0000:00:02.0" / "virtio1" / "block" / "vda").mkdir(parents=True)
    (root / "0000:00:03.0" / "net" / "eth0").mkdir(parents=True)
    (root / "0000:00:04.0" / "virtio3").mkdir(parents=True)
    os.symlink(str(root / "0000:00:02.0"), str(root / "0000:00:04.0" / "subsystem"))
    return str(root)


def test_devices_of_the_hosts_disk_and_network_are_refused(tmp_path):
    sysfs = _sysfs(tmp_path)
    problems = hosts_own_devices((_pci("0000:00:02.0"), _pci("0000:00:03.0"), _pci("0000:00:04.0")), sysfs)
    assert problems == [
        "hostdevs: pci 0000:00:02.0 is the host's own device (disk vda); passing it through takes it from the host",
        "hostdevs: pci 0000:00:03.0 is the host's own device (network interface eth0); passing it through takes it from the host",
    ]


def test_free_missing_and_usb_devices_pass(tmp_path):
    sysfs = _sysfs(tmp_path)
    usb = HostDevice(type="usb", vendor="0x1234", product="0xabcd")
    assert hosts_own_devices((_pci("0000:00:04.0"), _pci("0000:09:00.0"), usb), sysfs) == []


def test_shares_that_lead_to_system_directories_through_links_are_refused(tmp_path):
    (tmp_path / "etc").symlink_to("/etc")
    (tmp_path / "root").symlink_to("/")
    (tmp_path / "own").mkdir()
    (tmp_path / "to-own").symlink_to(tmp_path / "own")
    shares = tuple(Filesystem(str(tmp_path / name), name) for name in ("etc", "root", "own", "to-own", "missing"))
    problems = shares_resolving_to_system(shares)
    assert problems == [
        "filesystems[0]: source %s/etc leads (through a symbolic link) to /etc, a directory of the host's system "
        "or of libvirt's state, which the guest could change; share a directory of its own" % tmp_path,
        "filesystems[1]: source %s/root leads (through a symbolic link) to /, a directory of the host's system "
        "or of libvirt's state, which the guest could change; share a directory of its own" % tmp_path,
    ]


# BREAK (fixed): a bind mount of /etc elsewhere (or a directory holding one) was shared: virtiofsd
# showed the host's /etc to the guest, to change, although /etc by name and by link were refused. So
# were a proc file system mounted anew (a device of its own) and an overlay of /etc.
def test_shares_that_reach_system_directories_through_mounts_are_refused(tmp_path):
    table = [
        Mount("8:1", "/", "/", "ext4"),
        Mount("0:25", "/", "/run", "tmpfs"),
        Mount("8:1", "/etc", str(tmp_path / "etc-bind"), "ext4"),  # mount --bind /etc
        Mount("8:1", "/srv/data", str(tmp_path / "holder" / "data"), "ext4"),  # an innocent bind inside
        Mount("8:1", "/etc/ssh", str(tmp_path / "holder2" / "keys"), "ext4"),  # a bind of /etc/ssh inside
        Mount("0:50", "/", str(tmp_path / "own"), "tmpfs"),  # a file system of its own
        Mount("0:46", "/", str(tmp_path / "proc"), "proc"),  # mount -t proc anew
        Mount("0:47", "/", str(tmp_path / "holder3" / "p"), "proc"),
        Mount("0:48", "/", str(tmp_path / "ov"), "overlay", "rw,lowerdir=/etc,upperdir=/srv/u,workdir=/srv/w"),
        Mount("0:49", "/", str(tmp_path / "ov2"), "overlay", "rw,lowerdir=/srv/l,upperdir=/srv/u,workdir=/srv/w"),
        Mount("8:1", "/srv/exp", "/run/view", "ext4"),  # the share's own directory shown under /run too
    ]
    names = ("etc-bind", "holder", "holder2", "own", "proc", "holder3", "ov", "ov2", "exp")
    shares = tuple(Filesystem(str(tmp_path / name), "t%d" % index) for index, name in enumerate(names))
    refused = "a directory of the host's system or of libvirt's state, which the guest could change; share a directory of its own"
    assert shares_resolving_to_system(shares, table) == [
        "filesystems[0]: source %s/etc-bind reaches /etc through a bind mount, %s" % (tmp_path, refused),
        "filesystems[2]: source %s/holder2 reaches /etc/ssh through a bind mount, %s" % (tmp_path, refused),
        "filesystems[4]: source %s/proc reaches a proc file system (mounted at %s/proc), %s" % (tmp_path, tmp_path, refused),
        "filesystems[5]: source %s/holder3 reaches a proc file system (mounted at %s/holder3/p), %s"
        % (tmp_path, tmp_path, refused),
        "filesystems[6]: source %s/ov reaches an overlay of /etc, /srv/u (mounted at %s/ov), %s" % (tmp_path, tmp_path, refused),
    ]


# BREAK (fixed): a share of a storage pool's directory (or of a directory holding one) was planned: the
# guest could rewrite other guests' disks, or plant image headers naming host files as backing files.
def test_shares_that_are_hold_or_lie_in_a_pools_directory_are_refused(test_client, unique_name, tmp_path):
    pool_dir = tmp_path / "pools" / "images"
    pool_dir.mkdir(parents=True)
    (tmp_path / "to-pool").symlink_to(pool_dir)
    (tmp_path / "own").mkdir()
    name = unique_name("")
    pool = test_client.conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (name, pool_dir), 0
    )
    try:
        sources = [pool_dir, tmp_path / "pools", pool_dir / "sub", tmp_path / "to-pool", tmp_path / "own"]
        shares = tuple(Filesystem(str(source), "t%d" % index) for index, source in enumerate(sources))
        problems = shares_of_pools(test_client, shares, local=True)
        assert [problem.split(":")[0] for problem in problems] == ["filesystems[%d]" % index for index in range(4)]
        assert "source %s is the target of pool %s: the guest could change its volumes" % (pool_dir, name) in problems[0]
        assert "holds the target %s of pool %s" % (pool_dir, name) in problems[1]
        assert "lies in the target %s of pool %s" % (pool_dir, name) in problems[2]
    finally:
        pool.undefine()


# BREAK (fixed): overlays of /etc given with 'lowerdir+=', relative or escaped, and a binfmt_misc mount
# (through which a guest would register interpreters that run as root) were shared.
def test_shares_of_overlays_the_kernel_reads_otherwise_and_of_binfmt_misc_are_refused(tmp_path):
    options = ["rw,lowerdir+=/etc,upperdir=/srv/u", "rw,lowerdir=etc:srv/l", "rw,lowerdir=/\\etc:/srv/l", "rw,lowerdir=/srv/l"]
    table = [Mount("8:1", "/", "/", "ext4")]
    table += [
        Mount("0:%d" % (60 + index), "/", str(tmp_path / ("ov%d" % index)), "overlay", option)
        for index, option in enumerate(options)
    ]
    table.append(Mount("0:70", "/", str(tmp_path / "binfmt"), "binfmt_misc"))
    names = ["ov0", "ov1", "ov2", "ov3", "binfmt"]
    problems = shares_resolving_to_system(tuple(Filesystem(str(tmp_path / name), name) for name in names), table)
    assert [problem.split(":")[0] for problem in problems] == [
        "filesystems[0]",
        "filesystems[1]",
        "filesystems[2]",
        "filesystems[4]",
    ]
    assert "reaches a binfmt_misc file system" in problems[-1]
