# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The device options of a guest request, validated: disk driver modes (``disks[].cache`` ...),
virtiofs shares (``filesystems``) and host-device passthrough (``hostdevs``)."""

from __future__ import annotations

import re
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import given_more_than_once
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import check_path, is_unshareable_directory
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.devices import (
    DISK_CACHE_MODES,
    DISK_DETECT_ZEROES_MODES,
    DISK_DISCARD_MODES,
    DISK_IO_MODES,
    DeviceCapabilities,
    DiskModes,
    Filesystem,
    HostDevice,
)

# Always matched against the whole text (fullmatch): "$" would accept a trailing newline, and
# [0-9a-f] never matches another script's digits as \d would.
_PCI_ADDRESS = r"(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])"
_USB_ID = r"(?:0x)?([0-9a-f]{4}):(?:0x)?([0-9a-f]{4})"
_USB_BUS_DEVICE = r"([0-9]{1,3})\.([0-9]{1,3})"
# A virtiofs mount tag: what the guest passes to mount -t virtiofs; QEMU limits it to 36 bytes.
_MOUNT_TAG = r"[A-Za-z0-9_.-]{1,36}"
MODE_CHOICES = (
    ("cache", DISK_CACHE_MODES),
    ("io", DISK_IO_MODES),
    ("discard", DISK_DISCARD_MODES),
    ("detect_zeroes", DISK_DETECT_ZEROES_MODES),
)


# -- disks[]: driver modes ---------------------------------------------------------------------
def disk_modes_param(entry: Mapping[str, Any], label: str) -> DiskModes:
    """``disks[].cache``, ``io``, ``discard`` and ``detect_zeroes``; unset ones stay None."""
    values = {}
    for key, choices in MODE_CHOICES:
        value = entry.get(key)
        if value is not None and value not in choices:
            raise PlanError("%s: %s must be one of %s, not %r" % (label, key, ", ".join(choices), value))
        values[key] = value
    modes = DiskModes(**values)
    # Both sides given: refused here already. One given: the planner checks it with the stored other.
    if (modes.io is not None and modes.cache is not None) or (modes.detect_zeroes is not None and modes.discard is not None):
        check_disk_modes(modes, label)
    return modes


def check_disk_modes(modes: DiskModes, label: str) -> None:
    problem = modes.problem()
    if problem:
        raise PlanError("%s: %s" % (label, problem))


# -- filesystems -------------------------------------------------------------------------------
def filesystems_param(entries: Optional[Sequence[Mapping[str, Any]]]) -> Optional[Tuple[Filesystem, ...]]:
    if entries is None:
        return None
    shares = [_filesystem_param(index, entry) for index, entry in enumerate(entries)]
    duplicates = given_more_than_once(share.target for share in shares)
    if duplicates:
        raise PlanError("filesystems: mount tag %s is given to more than one share" % ", ".join(duplicates))
    return tuple(shares)


def _filesystem_param(index: int, entry: Mapping[str, Any]) -> Filesystem:
    label = "filesystems[%d]" % index
    source = entry.get("source")
    target = entry.get("target")
    if not source or not target:
        raise PlanError("%s: give source (a host directory) and target (the mount tag the guest mounts)" % label)
    if not source.startswith("/"):
        raise PlanError("%s: source must be an absolute path on the host, not %r" % (label, source))
    check_path(source, "%s: source" % label)
    directory = source.rstrip("/") or "/"
    if is_unshareable_directory(directory):
        # libvirt has no read-only virtiofs: the guest could change the host's own files, libvirt's state
        # or other guests' disks.
        raise PlanError(
            "%s: source %s is a directory of the host's system or of libvirt's state, which the guest could change; "
            "share a directory of its own" % (label, directory)
        )
    if not re.fullmatch(_MOUNT_TAG, target):
        raise PlanError("%s: target must be a mount tag of 1 to 36 letters, digits, _ . or -, not %r" % (label, target))
    # libvirt stores the directory as given; a trailing slash would read back as drift.
    return Filesystem(source=directory, target=target)


# -- hostdevs ----------------------------------------------------------------------------------
def hostdevs_param(entries: Optional[Sequence[Mapping[str, Any]]]) -> Optional[Tuple[HostDevice, ...]]:
    if entries is None:
        return None
    devices = [_hostdev_param(index, entry) for index, entry in enumerate(entries)]
    duplicates = given_more_than_once(device.label for device in devices)
    if duplicates:
        raise PlanError("hostdevs: %s is given more than once" % ", ".join(duplicates))
    return tuple(devices)


def _hostdev_param(index: int, entry: Mapping[str, Any]) -> HostDevice:
    label = "hostdevs[%d]" % index
    pci, usb = entry.get("pci"), entry.get("usb")
    if bool(pci) == bool(usb):
        raise PlanError(
            "%s: give either pci (a PCI address such as 0000:03:00.0) or usb (vendor:product such as "
            "0x1234:0xabcd, or bus.device such as 1.4)" % label
        )
    if pci:
        return pci_device(pci, "%s.pci" % label)
    return usb_device(str(usb), "%s.usb" % label)


def pci_device(text: str, label: str) -> HostDevice:
    """``0000:03:00.0`` (or ``03:00.0``, in PCI domain 0000), lower case as libvirt names it."""
    match = re.fullmatch(_PCI_ADDRESS, text.lower())
    if match is None:
        raise PlanError("%s must be a PCI address such as 0000:03:00.0 (domain:bus:slot.function), not %r" % (label, text))
    domain, bus, slot, function = match.groups()
    if int(slot, 16) > 0x1F:
        raise PlanError("%s: PCI slot %s is out of range (00 to 1f)" % (label, slot))
    return HostDevice(type="pci", address="%s:%s:%s.%s" % (domain or "0000", bus, slot, function))


def usb_device(text: str, label: str) -> HostDevice:
    """``0x1234:0xabcd`` (vendor:product) or ``1.4`` (bus.device, as lsusb numbers them)."""
    lowered = text.lower()
    ids = re.fullmatch(_USB_ID, lowered)
    if ids is not None:
        vendor, product = ids.groups()
        return HostDevice(type="usb", vendor="0x" + vendor, product="0x" + product)
    place = re.fullmatch(_USB_BUS_DEVICE, lowered)
    if place is not None:
        bus, device = (int(part) for part in place.groups())
        if not (1 <= bus <= 127 and 1 <= device <= 127):
            raise PlanError("%s: USB bus and device numbers run from 1 to 127, not %r" % (label, text))
        return HostDevice(type="usb", address="%d.%d" % (bus, device))
    raise PlanError("%s must be vendor:product such as 0x1234:0xabcd, or bus.device such as 1.4, not %r" % (label, text))


# -- what the host offers ----------------------------------------------------------------------
def capability_problems(
    caps: Optional[DeviceCapabilities], filesystems: Sequence[Filesystem], hostdevs: Sequence[HostDevice]
) -> List[str]:
    """Refusals of devices the host's domain capabilities do not offer (nothing when they say nothing)."""
    if caps is None:
        return []
    problems = []
    drivers = caps.filesystem_drivers
    if filesystems and drivers is not None and "virtiofs" not in drivers:
        problems.append(
            "filesystems: the host's QEMU does not offer virtiofs (domcapabilities filesystem driverType: %s)"
            % (", ".join(drivers) or "none")
        )
    types = caps.hostdev_types
    for index, device in enumerate(hostdevs):
        if types is not None and device.type not in types:
            problems.append(
                "hostdevs[%d].%s: the host does not offer %s passthrough (domcapabilities hostdev subsysType: %s)"
                % (index, device.type, device.type.upper(), ", ".join(types) or "none")
            )
    return problems
