# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest devices beyond disks and cards (https://libvirt.org/formatdomain.html): a disk's driver
modes, virtiofs shares with the shared memory they need, and host devices passed through.

Like domain.py's builders, each reads back only the fields it writes: libvirt's addresses and
aliases are never compared.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import (
    XmlObject,
    attr_of,
    child_after,
    etree,
    sub,
)

DISK_CACHE_MODES = ("none", "writeback", "writethrough", "directsync", "unsafe")
DISK_IO_MODES = ("native", "threads", "io_uring")
DISK_DISCARD_MODES = ("unmap", "ignore")
DISK_DETECT_ZEROES_MODES = ("off", "on", "unmap")
# QEMU's native AIO needs O_DIRECT: the cache modes that bypass the host's page cache.
NATIVE_IO_CACHE_MODES = ("none", "directsync")


# -- disk driver modes -------------------------------------------------------------------------
class DiskModes(XmlObject):
    """The modes on a disk's ``<driver>``; None leaves one to QEMU's default."""

    cache: Optional[str] = None
    io: Optional[str] = None
    discard: Optional[str] = None
    detect_zeroes: Optional[str] = None

    def items(self) -> Tuple[Tuple[str, Optional[str]], ...]:
        """(attribute, value) in libvirt's order."""
        return (("cache", self.cache), ("io", self.io), ("discard", self.discard), ("detect_zeroes", self.detect_zeroes))

    def set_on(self, driver: Any) -> None:
        for name, value in self.items():
            if value is not None:
                driver.set(name, value)

    @classmethod
    def from_disk(cls, disk: Any) -> "DiskModes":
        return cls(
            cache=attr_of(disk, "driver", "cache"),
            io=attr_of(disk, "driver", "io"),
            discard=attr_of(disk, "driver", "discard"),
            detect_zeroes=attr_of(disk, "driver", "detect_zeroes"),
        )

    def over(self, stored: "DiskModes") -> "DiskModes":
        """These modes where set, ``stored``'s elsewhere: a mode the request leaves out stays as it is."""
        return DiskModes(
            cache=self.cache if self.cache is not None else stored.cache,
            io=self.io if self.io is not None else stored.io,
            discard=self.discard if self.discard is not None else stored.discard,
            detect_zeroes=self.detect_zeroes if self.detect_zeroes is not None else stored.detect_zeroes,
        )

    @property
    def label(self) -> str:
        """``cache=none io=native``: the modes that are set, for the preview."""
        return " ".join("%s=%s" % (name, value) for name, value in self.items() if value is not None)

    def problem(self) -> Optional[str]:
        """What QEMU would refuse when the guest starts, or None."""
        if self.io == "native" and self.cache not in NATIVE_IO_CACHE_MODES:
            return "io native needs cache: none or directsync (QEMU opens the disk with O_DIRECT for it), not %s" % (
                self.cache or "the default (writeback)"
            )
        if self.detect_zeroes == "unmap" and self.discard != "unmap":
            return "detect_zeroes unmap needs discard: unmap"
        return None


# -- virtiofs shares ---------------------------------------------------------------------------
class Filesystem(XmlObject):
    """A host directory shared with the guest over virtiofs; the guest mounts it by its ``target`` tag."""

    source: str
    target: str

    def to_element(self) -> Any:
        filesystem = etree.Element("filesystem", type="mount", accessmode="passthrough")
        sub(filesystem, "driver", type="virtiofs")
        sub(filesystem, "source", dir=self.source)
        sub(filesystem, "target", dir=self.target)
        return filesystem

    @classmethod
    def from_element(cls, filesystem: Any) -> "Filesystem":
        return cls(source=attr_of(filesystem, "source", "dir") or "", target=attr_of(filesystem, "target", "dir") or "")

    @classmethod
    def managed(cls, filesystem: Any) -> bool:
        """Only virtiofs shares are the collection's: 9p and other filesystems stay as they are."""
        return filesystem.get("type", "mount") == "mount" and attr_of(filesystem, "driver", "type") == "virtiofs"

    @classmethod
    def managed_from_element(cls, filesystem: Any) -> Optional["Filesystem"]:
        """The share, or None for a filesystem the collection does not write."""
        return cls.from_element(filesystem) if cls.managed(filesystem) else None

    @property
    def label(self) -> str:
        return "%s as %s" % (self.source, self.target)


def filesystems_of(devices: Any) -> Tuple[Filesystem, ...]:
    shares = (Filesystem.managed_from_element(element) for element in devices.iterfind("filesystem"))
    return tuple(share for share in shares if share is not None)


# -- shared memory (virtiofs) -----------------------------------------------------------------
def memory_backing(domain: Any) -> Any:
    """The domain's ``<memoryBacking>``, made when missing. Its children are independent of each
    other (hugepages, source, access): each builder touches only its own."""
    return child_after(domain, "memoryBacking", ("currentMemory", "memory"))


def add_shared_memory(domain: Any) -> None:
    """memfd-backed guest memory shared with other processes: virtiofsd reads the guest's
    buffers from it (libvirt refuses a virtiofs share without it)."""
    backing = memory_backing(domain)
    for tag in ("source", "access"):
        for element in backing.findall(tag):
            backing.remove(element)
    sub(backing, "source", type="memfd")
    sub(backing, "access", mode="shared")


def has_shared_memory(domain: Any) -> bool:
    return attr_of(domain, "memoryBacking/access", "mode") == "shared"


# -- host devices ------------------------------------------------------------------------------
class HostDevice(XmlObject):
    """A host device given to the guest, managed (libvirt detaches it from its host driver when the
    guest starts and gives it back when it stops).

    PCI: ``address`` ``0000:03:00.0``. USB: ``vendor``/``product`` (``0x1234``) or ``address``
    ``bus.device`` (``1.4``).
    """

    type: str
    address: Optional[str] = None
    vendor: Optional[str] = None
    product: Optional[str] = None

    @property
    def label(self) -> str:
        if self.vendor is not None:
            return "usb %s:%s" % (self.vendor, self.product)
        return "%s %s" % (self.type, self.address)

    @property
    def nodedev_name(self) -> Optional[str]:
        """libvirt's node device name of a PCI device (``pci_0000_03_00_0``)."""
        if self.type != "pci" or self.address is None:
            return None
        return "pci_" + self.address.replace(":", "_").replace(".", "_")

    def to_element(self) -> Any:
        hostdev = etree.Element("hostdev", mode="subsystem", type=self.type, managed="yes")
        source = sub(hostdev, "source")
        if self.type == "pci" and self.address is not None:
            domain, bus, slot_function = self.address.split(":")
            slot, function = slot_function.split(".")
            sub(source, "address", domain="0x" + domain, bus="0x" + bus, slot="0x" + slot, function="0x" + function)
        elif self.vendor is not None:
            sub(source, "vendor", id=self.vendor)
            sub(source, "product", id=self.product)
        elif self.address is not None:
            bus, device = self.address.split(".")
            sub(source, "address", bus=bus, device=device)
        return hostdev

    @classmethod
    def from_element(cls, hostdev: Any) -> Optional["HostDevice"]:
        """The device, or None for a hostdev the collection does not write (SCSI, mdev, caps mode)."""
        kind = hostdev.get("type")
        if hostdev.get("mode", "subsystem") != "subsystem" or kind not in ("pci", "usb"):
            return None
        source = hostdev.find("source")
        if source is None:
            return None
        address = source.find("address")
        if kind == "pci":
            if address is None:
                return None
            parts = [_number(address.get(name)) for name in ("domain", "bus", "slot", "function")]
            return cls(type="pci", address="%04x:%02x:%02x.%x" % tuple(parts))
        vendor = attr_of(source, "vendor", "id")
        if vendor is not None:
            return cls(type="usb", vendor=_hex_id(vendor), product=_hex_id(attr_of(source, "product", "id") or ""))
        if address is None:
            return None
        return cls(type="usb", address="%d.%d" % (_number(address.get("bus")), _number(address.get("device"))))


def _number(text: Optional[str]) -> int:
    """An integer as libvirt writes it (``0x03`` or ``3``)."""
    text = (text or "0").strip()
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def _hex_id(text: str) -> str:
    return "0x%04x" % _number(text) if text else text


def hostdevs_of(devices: Any) -> Tuple[HostDevice, ...]:
    found = (HostDevice.from_element(element) for element in devices.iterfind("hostdev"))
    return tuple(device for device in found if device is not None)


# -- what the host offers ----------------------------------------------------------------------
class DeviceCapabilities(XmlObject):
    """What ``virsh domcapabilities`` says of these devices; None where it says nothing."""

    filesystem_drivers: Optional[Tuple[str, ...]] = None
    hostdev_types: Optional[Tuple[str, ...]] = None
    disk_buses: Optional[Tuple[str, ...]] = None

    @classmethod
    def from_xml_element(cls, caps: Any) -> "DeviceCapabilities":
        return cls(
            filesystem_drivers=_enum(caps, "devices/filesystem", "driverType"),
            hostdev_types=_enum(caps, "devices/hostdev", "subsysType"),
            disk_buses=_enum(caps, "devices/disk", "bus"),
        )


def _enum(caps: Any, path: str, name: str) -> Optional[Tuple[str, ...]]:
    element = caps.find(path)
    if element is None:
        return None
    if element.get("supported") == "no":
        return ()
    values = element.find("enum[@name='%s']" % name)
    if values is None:
        return None
    return tuple(value.text for value in values.iterfind("value") if value.text)
