# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the host says of a guest's shares and host devices: domain capabilities, the PCI devices it
has, the guests that already have a device, and the virtiofsd a share needs to start."""

from __future__ import annotations

import glob
import json
import os
from typing import Any, List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common import host_files
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.pool_directories import PoolDirectories, describe
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import is_unshareable_directory
from ansible_collections.remotevirt.install.plugins.module_utils._guest.devices_request import capability_problems
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.devices import (
    DeviceCapabilities,
    Filesystem,
    HostDevice,
    hostdevs_of,
)

# Where QEMU's vhost-user descriptors name the virtiofsd libvirt starts (docs/interop/vhost-user.json),
# and where distributions install it when they ship no descriptor.
VHOST_USER_DIRS = ("/etc/qemu/vhost-user", "/usr/share/qemu/vhost-user")
VIRTIOFSD_PATHS = ("/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd", "/usr/lib/virtiofsd", "/usr/bin/virtiofsd")


def device_problems(client: Client, request: GuestRequest, state: GuestState, starts: bool, local: bool) -> List[str]:
    """Refusals of the requested shares and host devices on this host; nothing when none are requested."""
    filesystems = request.filesystems or ()
    hostdevs = _new_hostdevs(request, state)
    if not filesystems and not hostdevs:
        return []
    problems = capability_problems(_capabilities(client, request, state), filesystems, hostdevs)
    problems.extend(_missing_pci_devices(client, hostdevs))
    if hostdevs:
        problems.extend(_hostdevs_in_use(client, request.name, hostdevs))
    if hostdevs and local:
        problems.extend(hosts_own_devices(hostdevs))
    if filesystems and local:
        problems.extend(shares_resolving_to_system(filesystems))
    if filesystems:
        problems.extend(shares_of_pools(client, filesystems, local))
    if filesystems and starts and local:
        problems.extend(_share_start_problems(request))
    return problems


def shares_resolving_to_system(filesystems: Tuple[Filesystem, ...], table: Optional[List[host_files.Mount]] = None) -> List[str]:
    """Shares that reach a system directory where the request sees none by name: through a symbolic
    link, or through what a mount at or in the directory shows (a bind mount of /etc, an overlay of
    it, a proc or sysfs file system, mounted there or below), which virtiofsd shows the guest.
    ``table``: the host's mounts (host_files.mounts), read here when not given."""
    table = host_files.mounts() if table is None else table
    problems = []
    for index, share in enumerate(filesystems):
        real = os.path.realpath(share.source)
        if real != share.source and is_unshareable_directory(real):
            reached = "leads (through a symbolic link) to %s" % real
        elif host_files.leads_unnamed(share.source):
            reached = host_files.UNNAMED
        else:
            reached = _system_content(real, table)
        if reached:
            problems.append(
                "filesystems[%d]: source %s %s, a directory of the host's system or of libvirt's state, which the "
                "guest could change; share a directory of its own" % (index, share.source, reached)
            )
    return problems


def _system_content(real: str, table: List[host_files.Mount]) -> str:
    """How a share of ``real`` would show the host's system directories or kernel interfaces; ""."""
    for mount in host_files.mounts_at_or_in(real, table):
        kind = host_files.mount_kind(mount)
        shows_system = not _overlay_of_own_directories(mount) if mount.fs_type == "overlay" else bool(kind)
        if shows_system:
            return "reaches %s (mounted at %s)" % (kind, mount.point)
        point = mount.point if mount.point.startswith(real.rstrip("/") + "/") else real
        for name in host_files.names_through_mounts(point, table)[1:]:
            if is_unshareable_directory(name):
                return "reaches %s through a bind mount" % name
    return ""


def _overlay_of_own_directories(mount: host_files.Mount) -> bool:
    """Whether every layer of an overlay mount is a directory a share may show: told (absolute) and,
    by name and where it leads, no system directory."""
    layers = host_files.overlay_layers(mount)
    return bool(layers) and all(
        layer.startswith("/") and not is_unshareable_directory(layer) and not is_unshareable_directory(os.path.realpath(layer))
        for layer in layers
    )


def shares_of_pools(client: Client, filesystems: Tuple[Filesystem, ...], local: bool) -> List[str]:
    """Shares whose directory is, holds or lies in a storage pool's directory, where they lead on this
    host (``local``): the guest could change other guests' disks, or write image headers into volumes
    that naming a backing file would have root's runs open."""
    pools = PoolDirectories(client, local)
    problems = []
    for index, share in enumerate(filesystems):
        found = pools.overlap(share.source)
        if found is not None:
            problems.append(
                "filesystems[%d]: source %s %s: the guest could change its volumes (other guests' disks); "
                "share a directory of its own" % (index, share.source, describe(found))
            )
    return problems


def _new_hostdevs(request: GuestRequest, state: GuestState) -> Tuple[HostDevice, ...]:
    """The requested devices the stored definition does not have yet: only those are asked about."""
    stored = state.existing.hostdevs if state.existing is not None and not request.reinstall else ()
    return tuple(device for device in request.hostdevs or () if device not in stored)


def _capabilities(client: Client, request: GuestRequest, state: GuestState) -> Optional[DeviceCapabilities]:
    arch, virt_type = state.platform(request.arch, request.domain_type, request.reinstall)
    caps = client.domain_capabilities(arch, virt_type)
    return DeviceCapabilities.from_xml_element(parse(caps)) if caps is not None else None


def _missing_pci_devices(client: Client, hostdevs: Tuple[HostDevice, ...]) -> List[str]:
    problems = []
    for device in hostdevs:
        name = device.nodedev_name
        if name is not None and client.node_device_exists(name) is False:
            problems.append(
                "hostdevs: PCI device %s does not exist on the host (no node device %s; %s)"
                % (device.address, name, virsh(client.uri, "nodedev-list", "--cap", "pci"))
            )
    return problems


def _hostdevs_in_use(client: Client, guest: str, hostdevs: Tuple[HostDevice, ...]) -> List[str]:
    """A device that another guest passes through would be taken from it (or fail its start)."""
    problems = []
    for other, definition in client.domain_definitions_of_all():
        if other == guest:
            continue
        devices = definition.find("devices")
        taken = hostdevs_of(devices) if devices is not None else ()
        for device in hostdevs:
            if device in taken:
                problems.append(
                    "hostdevs: %s is passed through to guest %s already; a device belongs to one guest "
                    "(remove it there first)" % (device.label, other)
                )
    return problems


def hosts_own_devices(hostdevs: Tuple[HostDevice, ...], sysfs: str = "/sys/bus/pci/devices") -> List[str]:
    """A PCI device that drives one of the host's network interfaces or disks: a guest started with
    it takes it from the host (its disk or network gone), so it is refused even where the guest is
    only defined (its next start would take it)."""
    problems = []
    for device in hostdevs:
        if device.nodedev_name is None:
            continue
        uses = _host_uses(os.path.join(sysfs, str(device.address)))
        if uses:
            problems.append(
                "hostdevs: %s is the host's own device (%s); passing it through takes it from the host"
                % (device.label, ", ".join(uses))
            )
    return problems


def _host_uses(device_dir: str) -> List[str]:
    """The network interfaces and disks under a PCI device's sysfs directory (``net/eth0`` directly,
    ``virtio2/block/vda`` one level down); symbolic links (driver, subsystem) are not followed."""
    uses: List[str] = []
    for directory, subdirectories, _files in os.walk(device_dir):
        depth = directory[len(device_dir) :].count(os.sep)
        kind = os.path.basename(directory)
        if kind in ("net", "block") and depth <= 2:
            uses.extend("%s %s" % ("network interface" if kind == "net" else "disk", name) for name in sorted(subdirectories))
        if depth >= 2:
            subdirectories[:] = []
    return uses


def _share_start_problems(request: GuestRequest) -> List[str]:
    """A guest with shares starts only with a virtiofsd on the host and its directories there."""
    problems = []
    if find_virtiofsd() is None:
        problems.append(
            "filesystems: the guest will be started, but the host has no virtiofsd (looked for QEMU's "
            "vhost-user descriptors in %s and for %s); install it (Debian: qemu-system-common before "
            "QEMU 8, virtiofsd after; EL: virtiofsd)" % (", ".join(VHOST_USER_DIRS), ", ".join(VIRTIOFSD_PATHS))
        )
    for index, share in enumerate(request.filesystems or ()):
        if not os.path.isdir(share.source):
            problems.append("filesystems[%d]: source %s is not a directory on the host" % (index, share.source))
    return problems


def find_virtiofsd() -> Optional[str]:
    """The virtiofsd libvirt would start: a vhost-user descriptor's binary, else a known path."""
    for directory in VHOST_USER_DIRS:
        for descriptor in sorted(glob.glob(os.path.join(directory, "*.json"))):
            binary = _fs_binary(descriptor)
            if binary is not None and os.access(binary, os.X_OK):
                return binary
    for path in VIRTIOFSD_PATHS:
        if os.access(path, os.X_OK):
            return path
    return None


def _fs_binary(descriptor: str) -> Optional[str]:
    try:
        with open(descriptor) as handle:
            content: Any = json.load(handle)
    except (OSError, ValueError):
        return None
    if isinstance(content, dict) and content.get("type") == "fs" and isinstance(content.get("binary"), str):
        return content["binary"]
    return None
