# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest (domain) XML (https://libvirt.org/formatdomain.html): one builder per element.

Each builder holds only the fields this collection manages. ``to_element()`` writes them;
``from_element()`` reads them back from libvirt's XML and ignores everything libvirt adds on its
own (addresses, aliases, controllers, default devices), so comparing a parsed object with a
requested one finds real drift only.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import MASK, redact_text
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import (
    XmlError,
    XmlObject,
    attr_of,
    etree,
    parse,
    replace_devices,
    replace_metadata,
    serialize,
    size_of,
    sub,
    text_of,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.devices import (
    DiskModes,
    Filesystem,
    HostDevice,
    add_shared_memory,
    filesystems_of,
    has_shared_memory,
    hostdevs_of,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.tuning import Tuning

DISK_BUSES = ("virtio", "sata", "scsi", "ide")
# Target name prefix per bus, as libvirt and guests name them.
TARGET_PREFIX = {"virtio": "vd", "sata": "sd", "scsi": "sd", "ide": "hd"}


class DirectKernel(XmlObject):
    """Direct kernel boot: host paths of kernel and initrd plus the kernel command line."""

    kernel: str
    initrd: Optional[str] = None
    cmdline: Optional[str] = None

    def add_to(self, os_element: Any) -> None:
        sub(os_element, "kernel", self.kernel)
        if self.initrd:
            sub(os_element, "initrd", self.initrd)
        if self.cmdline:
            sub(os_element, "cmdline", self.cmdline)

    @classmethod
    def from_element(cls, os_element: Any) -> Optional["DirectKernel"]:
        kernel = text_of(os_element, "kernel")
        if kernel is None:
            return None
        return cls(kernel=kernel, initrd=text_of(os_element, "initrd"), cmdline=text_of(os_element, "cmdline"))


class OsBoot(XmlObject):
    """``<os>``: architecture, machine, firmware, boot order, serial BIOS output, direct kernel.

    ``firmware='uefi'`` uses libvirt's firmware auto-selection, so the host's libvirt picks the
    loader and creates the NVRAM file; secure boot stays off unless asked for.
    """

    arch: Optional[str] = None
    machine: Optional[str] = None
    firmware: Optional[str] = None
    secure_boot: bool = False
    boot: Tuple[str, ...] = ("hd",)
    kernel: Optional[DirectKernel] = None

    def to_element(self) -> Any:
        os_element = etree.Element("os")
        if self.firmware == "uefi":
            os_element.set("firmware", "efi")
        sub(os_element, "type", "hvm", arch=self.arch, machine=self.machine)
        if self.firmware == "uefi":
            features = sub(os_element, "firmware")
            sub(features, "feature", enabled="yes" if self.secure_boot else "no", name="enrolled-keys")
            sub(features, "feature", enabled="yes" if self.secure_boot else "no", name="secure-boot")
        if self.kernel is not None:
            self.kernel.add_to(os_element)
        else:
            for device in self.boot:
                sub(os_element, "boot", dev=device)
        if self.firmware != "uefi":
            # SeaBIOS, iPXE and boot loaders print to the serial port: the guest's boot is visible
            # in the serial log on the host.
            sub(os_element, "bios", useserial="yes")
        return os_element

    @classmethod
    def from_element(cls, os_element: Any) -> "OsBoot":
        uefi = os_element.get("firmware") == "efi" or attr_of(os_element, "loader", "type") == "pflash"
        secure = any(
            feature.get("name") == "secure-boot" and feature.get("enabled") == "yes"
            for feature in os_element.iterfind("firmware/feature")
        )
        if attr_of(os_element, "loader", "secure") == "yes":
            secure = True
        return cls(
            arch=attr_of(os_element, "type", "arch"),
            machine=attr_of(os_element, "type", "machine"),
            firmware="uefi" if uefi else "bios",
            secure_boot=secure,
            boot=tuple(boot.get("dev") for boot in os_element.iterfind("boot")),
            kernel=DirectKernel.from_element(os_element),
        )


class Disk(XmlObject):
    """A disk or cdrom: a pool volume (``pool``/``volume``), a host file or a block device (``path``).

    A disk of a kind this collection does not make (a ``network`` disk of an iSCSI, NBD or HTTP
    server, an ``nvme`` or ``dir`` disk) is ``kept``: its element as stored, without the address and
    alias libvirt adds, shown and written back as it is."""

    target: str
    bus: str = "virtio"
    device: str = "disk"
    pool: Optional[str] = None
    volume: Optional[str] = None
    path: Optional[str] = None
    format: str = "raw"
    block: bool = False
    modes: DiskModes = DiskModes()
    kept: Optional[str] = None

    @property
    def source_label(self) -> str:
        if self.kept is not None:
            return _kept_source_label(parse(self.kept))
        return "%s/%s" % (self.pool, self.volume) if self.volume else (self.path or "")

    @property
    def source_type(self) -> str:
        if self.volume:
            return "volume"
        return "block" if self.block else "file"

    def to_element(self, show_secrets: bool = True) -> Any:
        if self.kept is not None:
            kept = parse(self.kept)
            return kept if show_secrets else _masked(kept)
        disk = etree.Element("disk", type=self.source_type, device=self.device)
        self.modes.set_on(sub(disk, "driver", name="qemu", type=self.format))
        if self.volume:
            sub(disk, "source", pool=self.pool, volume=self.volume)
        elif self.block:
            sub(disk, "source", dev=self.path)
        else:
            sub(disk, "source", file=self.path)
        sub(disk, "target", dev=self.target, bus=self.bus)
        if self.device == "cdrom":
            sub(disk, "readonly")
        return disk

    @classmethod
    def from_element(cls, disk: Any) -> "Disk":
        kind = disk.get("type")
        return cls(
            target=attr_of(disk, "target", "dev") or "",
            bus=attr_of(disk, "target", "bus") or "",
            device=disk.get("device", "disk"),
            pool=attr_of(disk, "source", "pool") if kind == "volume" else None,
            volume=attr_of(disk, "source", "volume") if kind == "volume" else None,
            path=attr_of(disk, "source", "dev" if kind == "block" else "file") if kind != "volume" else None,
            format=attr_of(disk, "driver", "type") or "raw",
            block=kind == "block",
            modes=DiskModes.from_disk(disk),
            kept=None if kind in _MADE_DISK_TYPES else _kept_element(disk),
        )


# The disk types this collection makes and reads field by field; a disk of any other type is kept whole.
_MADE_DISK_TYPES = (None, "file", "block", "volume")


def _kept_element(disk: Any) -> str:
    """A disk element as stored, without what libvirt adds to it (its PCI or drive address, its alias)."""
    copy = parse(serialize(disk))
    for tag in ("address", "alias"):
        for child in copy.findall(tag):
            copy.remove(child)
    return serialize(copy)


def _masked(disk: Any) -> Any:
    """A kept disk as shown: an HTTP server's cookies (libvirt gives their values with the secure
    definition) and query, what a source's name holds after a ``?``, ``;`` or ``#`` (an NBD export's
    token), and the user information of a host name masked."""
    for cookie in disk.iterfind("source/cookies/cookie"):
        cookie.text = MASK
    for source in disk.iterfind("source"):
        if source.get("query") is not None:
            source.set("query", MASK)
        name = source.get("name")
        if name is not None:
            source.set("name", _masked_after_parameters(name))
    for host in disk.iterfind("source/host"):
        name = host.get("name")
        if name is not None:
            host.set("name", _masked_userinfo(name))
    return disk


def _masked_userinfo(host: str) -> str:
    """A host name with the user information written before it (``user:password@``) masked."""
    return MASK + "@" + host.rpartition("@")[2] if "@" in host else host


def _masked_after_parameters(name: str) -> str:
    """``name`` up to its first ``?``, ``;`` or ``#``, the rest masked."""
    cut = min((name.find(mark) for mark in "?;#" if mark in name), default=-1)
    return name if cut < 0 else name[: cut + 1] + MASK


def _kept_source_label(disk: Any) -> str:
    """What a kept disk reads: ``nbd://host:port/name`` for a network disk (its first host), else its
    type and the source's first attribute (``dir:/srv/share``, ``nvme:...``), else its type alone;
    as a URL, with any credentials or query values in it masked (the label is shown in results)."""
    source = disk.find("source")
    kind = disk.get("type", "")
    if source is None:
        return kind
    if kind == "network":
        host = source.find("host")
        where = ""
        if host is not None and host.get("name"):
            where = _masked_userinfo(host.get("name")) + (":" + host.get("port") if host.get("port") else "")
        name = _masked_after_parameters(source.get("name") or "")
        path = name if name.startswith("/") or not name else "/" + name
        query = "?" + MASK if source.get("query") else ""
        return redact_text("%s://%s%s%s" % (source.get("protocol", "network"), where, path, query), whole=True)
    for value in source.attrib.values():
        return redact_text("%s:%s" % (kind, value), whole=True)
    return kind


class Interface(XmlObject):
    """A network card on a libvirt network, a host bridge, or user-mode networking."""

    type: str
    source: Optional[str] = None
    model: str = "virtio"
    mac: Optional[str] = None

    @property
    def label(self) -> str:
        return "%s %s" % (self.type, self.source) if self.source else self.type

    def to_element(self) -> Any:
        interface = etree.Element("interface", type=self.type)
        if self.mac:
            sub(interface, "mac", address=self.mac)
        if self.type == "network":
            sub(interface, "source", network=self.source)
        elif self.type == "bridge":
            sub(interface, "source", bridge=self.source)
        sub(interface, "model", type=self.model)
        return interface

    @classmethod
    def from_element(cls, interface: Any) -> "Interface":
        kind = interface.get("type", "")
        source = attr_of(interface, "source", kind) if kind in ("network", "bridge") else None
        return cls(
            type=kind,
            source=source,
            model=attr_of(interface, "model", "type") or "",
            mac=(attr_of(interface, "mac", "address") or "").lower() or None,
        )


class Graphics(XmlObject):
    """A VNC or SPICE display; ``port`` None lets libvirt pick one. The password never reaches logs."""

    type: str
    listen: str = "127.0.0.1"
    port: Optional[int] = None
    password: Optional[str] = Field(default=None, in_repr=False)

    def to_element(self, show_password: bool = True) -> Any:
        graphics = etree.Element("graphics", type=self.type)
        if self.port is None:
            graphics.set("autoport", "yes")
        else:
            graphics.set("port", str(self.port))
            graphics.set("autoport", "no")
        graphics.set("listen", self.listen)
        if self.password is not None:
            graphics.set("passwd", self.password if show_password else "********")
        sub(graphics, "listen", type="address", address=self.listen)
        return graphics

    @classmethod
    def from_element(cls, graphics: Any) -> "Graphics":
        port = graphics.get("port")
        autoport = graphics.get("autoport") == "yes" or port in (None, "-1")
        return cls(
            type=graphics.get("type", ""),
            listen=graphics.get("listen") or attr_of(graphics, "listen", "address") or "",
            port=None if autoport else int(port),
            password=graphics.get("passwd"),
        )


class SerialLog(XmlObject):
    """Serial port 0 and its console written to a file on the host, appended across boots."""

    path: str

    def add_to(self, devices: Any) -> None:
        serial = sub(devices, "serial", type="file")
        sub(serial, "source", path=self.path, append="on")
        sub(serial, "target", port="0")
        console = sub(devices, "console", type="file")
        sub(console, "source", path=self.path, append="on")
        sub(console, "target", type="serial", port="0")

    @classmethod
    def from_devices(cls, devices: Any) -> Optional["SerialLog"]:
        for serial in devices.iterfind("serial"):
            if serial.get("type") == "file" and attr_of(serial, "target", "port") in (None, "0"):
                path = attr_of(serial, "source", "path")
                if path:
                    return cls(path)
        return None


# The namespace of the collection's own element in a guest's <metadata> (libvirt keeps one
# element per namespace there, and never reads it).
METADATA_NAMESPACE = "https://github.com/remotevirt/install/xmlns/guest/1"
_METADATA_TAG = "{%s}guest" % METADATA_NAMESPACE


class GuestMetadata(XmlObject):
    """``<metadata><rvi:guest>``: what the collection remembers of how it made the guest.

    ``cloud_init`` is the fingerprint (sha256) of the cloud-init seed the guest first booted with,
    so a later run can tell that ``cloud_init`` changed without keeping its content.
    """

    cloud_init: Optional[str] = None

    def to_element(self) -> Any:
        guest = etree.Element(_METADATA_TAG, nsmap={"rvi": METADATA_NAMESPACE})
        if self.cloud_init:
            sub(guest, "{%s}cloud-init" % METADATA_NAMESPACE, fingerprint="sha256:" + self.cloud_init)
        return guest

    @classmethod
    def from_domain(cls, domain: Any) -> Optional["GuestMetadata"]:
        guest = domain.find("metadata/" + _METADATA_TAG)
        if guest is None:
            return None
        fingerprint = attr_of(guest, "{%s}cloud-init" % METADATA_NAMESPACE, "fingerprint") or ""
        return cls(cloud_init=fingerprint[len("sha256:") :] if fingerprint.startswith("sha256:") else None)

    def replace_in(self, root: Any) -> None:
        """Put this element into ``root``'s <metadata> in place of the collection's previous one."""
        replace_metadata(root, self.to_element())


class Domain(XmlObject):
    """A guest. Fields left None are libvirt's business (its defaults, or whatever exists)."""

    name: str
    type: Optional[str] = None
    uuid: Optional[str] = None
    memory: Optional[int] = None  # bytes
    vcpus: Optional[int] = None
    cpu_mode: Optional[str] = None
    os: OsBoot = OsBoot()
    disks: Tuple[Disk, ...] = ()
    interfaces: Tuple[Interface, ...] = ()
    graphics: Optional[Tuple[Graphics, ...]] = None
    serial_log: Optional[SerialLog] = None
    on_reboot: Optional[str] = None
    metadata: Optional[GuestMetadata] = None
    tuning: Tuning = Tuning()
    filesystems: Tuple[Filesystem, ...] = ()
    hostdevs: Tuple[HostDevice, ...] = ()
    shared_memory: bool = False

    def to_element(self, show_password: bool = True) -> Any:
        domain = etree.Element("domain", type=self.type or "kvm")
        sub(domain, "name", self.name)
        if self.uuid:
            sub(domain, "uuid", self.uuid)
        if self.metadata is not None:
            sub(domain, "metadata").append(self.metadata.to_element())
        if self.memory is not None:
            kib = str(self.memory // 1024)
            sub(domain, "memory", kib, unit="KiB")
            sub(domain, "currentMemory", kib, unit="KiB")
        if self.shared_memory:
            add_shared_memory(domain)
        if self.vcpus is not None:
            sub(domain, "vcpu", str(self.vcpus))
        domain.append(self.os.to_element())
        features = sub(domain, "features")
        sub(features, "acpi")  # guests power off through ACPI: the end of an install is seen that way
        sub(features, "apic")
        if self.os.secure_boot:
            sub(features, "smm", state="on")
        if self.cpu_mode:
            sub(domain, "cpu", mode=self.cpu_mode)
        if self.on_reboot:
            sub(domain, "on_reboot", self.on_reboot)
        devices = sub(domain, "devices")
        for disk in self.disks:
            devices.append(disk.to_element(show_password))
        for interface in self.interfaces:
            devices.append(interface.to_element())
        for device in self.filesystems + self.hostdevs:
            devices.append(device.to_element())
        if self.serial_log:
            self.serial_log.add_to(devices)
        for graphics in self.graphics or ():
            devices.append(graphics.to_element(show_password))
        self.tuning.add_to(domain)
        return domain

    def to_shown_xml(self) -> str:
        """The XML for diffs and logs: passwords and the credentials of URLs (a kickstart URL on the
        kernel command line) masked."""
        return redact_text(serialize(self.to_element(show_password=False)))

    @classmethod
    def from_element(cls, domain: Any) -> "Domain":
        if domain.tag != "domain":
            raise XmlError("expected <domain>, got <%s>" % domain.tag)
        devices = domain.find("devices")
        if devices is None:
            devices = etree.Element("devices")
        vcpus = text_of(domain, "vcpu")
        os_element = domain.find("os")
        return cls(
            name=text_of(domain, "name") or "",
            type=domain.get("type"),
            uuid=text_of(domain, "uuid"),
            memory=size_of(domain, "memory"),
            vcpus=int(vcpus) if vcpus else None,
            cpu_mode=_managed_cpu_mode(domain),
            os=OsBoot.from_element(os_element) if os_element is not None else OsBoot(),
            disks=tuple(Disk.from_element(disk) for disk in devices.iterfind("disk")),
            interfaces=tuple(Interface.from_element(iface) for iface in devices.iterfind("interface")),
            graphics=tuple(Graphics.from_element(graphics) for graphics in devices.iterfind("graphics")),
            serial_log=SerialLog.from_devices(devices),
            on_reboot=_unless_default(text_of(domain, "on_reboot"), "restart"),
            metadata=GuestMetadata.from_domain(domain),
            tuning=Tuning.from_domain(domain),
            filesystems=filesystems_of(devices),
            hostdevs=hostdevs_of(devices),
            shared_memory=has_shared_memory(domain),
        )

    @classmethod
    def from_xml(cls, text: str) -> "Domain":
        return cls.from_element(parse(text))

    @property
    def macs(self) -> Tuple[Optional[str], ...]:
        return tuple(interface.mac for interface in self.interfaces)


def _managed_cpu_mode(domain: Any) -> Optional[str]:
    """The CPU mode the collection sets; libvirt's own default (a custom model it fills in when
    none was asked for) reads as unset."""
    mode = attr_of(domain, "cpu", "mode")
    return None if mode == "custom" else mode


def _unless_default(value: Optional[str], default: str) -> Optional[str]:
    return None if value == default else value


def next_target(bus: str, taken: Any) -> str:
    """The first free target name on ``bus`` (vda, vdb, ... / sda, ... / hda, ...)."""
    prefix = TARGET_PREFIX[bus]
    for index in range(26 * 27):
        name = prefix + _letters(index)
        if name not in taken:
            return name
    raise XmlError("no free disk target on bus %s" % bus)


def _letters(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa: the kernel's disk naming."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def patch_definition(previous_xml: str, previous: Domain, wanted: Domain) -> str:
    """``previous_xml`` with the fields where ``wanted`` differs from ``previous`` rewritten.

    Everything else stays as libvirt stored it (UUID, PCI addresses, controllers, devices the
    collection does not manage), so a changed guest keeps its hardware layout.
    """
    root = parse(previous_xml)
    # None leaves a field to libvirt (see Domain): what the guest has stays.
    if wanted.memory is not None and wanted.memory != previous.memory:
        for tag in ("memory", "currentMemory"):
            _set_child_text(root, tag, str(wanted.memory // 1024), unit="KiB")
    if wanted.vcpus is not None and wanted.vcpus != previous.vcpus:
        _set_child_text(root, "vcpu", str(wanted.vcpus))
    if wanted.cpu_mode != previous.cpu_mode:
        for cpu in root.findall("cpu"):
            root.remove(cpu)
        if wanted.cpu_mode:
            root.append(etree.Element("cpu", mode=wanted.cpu_mode))
    if wanted.shared_memory and not previous.shared_memory:
        add_shared_memory(root)
    devices = root.find("devices")
    if devices is None:
        devices = sub(root, "devices")
    if wanted.filesystems != previous.filesystems:
        replace_devices(devices, "filesystem", Filesystem.managed_from_element, wanted.filesystems)
    if wanted.hostdevs != previous.hostdevs:
        replace_devices(devices, "hostdev", HostDevice.from_element, wanted.hostdevs)
    if wanted.disks != previous.disks:
        replace_devices(devices, "disk", Disk.from_element, wanted.disks)
    if wanted.interfaces != previous.interfaces:
        _replace_interfaces(devices, wanted.interfaces)
    if wanted.graphics != previous.graphics:
        replace_devices(devices, "graphics", Graphics.from_element, wanted.graphics or ())
    if wanted.metadata != previous.metadata and wanted.metadata is not None:
        wanted.metadata.replace_in(root)
    if wanted.os.kernel != previous.os.kernel:
        _replace_kernel(root, wanted.os.kernel)
    if wanted.serial_log != previous.serial_log:
        for tag in ("serial", "console"):
            for element in devices.findall(tag):
                devices.remove(element)
        if wanted.serial_log:
            wanted.serial_log.add_to(devices)
    if wanted.tuning != previous.tuning:
        wanted.tuning.patch(root, previous.tuning)
    return serialize(root)


def _replace_kernel(root: Any, kernel: Optional[DirectKernel]) -> None:
    """Direct kernel boot changed: <kernel>, <initrd> and <cmdline> of <os> rewritten (or removed)."""
    os_element = root.find("os")
    if os_element is None:
        os_element = sub(root, "os")
    for tag in ("kernel", "initrd", "cmdline"):
        for element in os_element.findall(tag):
            os_element.remove(element)
    if kernel is not None:
        kernel.add_to(os_element)


def _set_child_text(root: Any, tag: str, text: str, **attrs: str) -> None:
    element = root.find(tag)
    if element is None:
        element = sub(root, tag)
    element.text = text
    for key, value in attrs.items():
        element.set(key, value)


def _replace_interfaces(devices: Any, wanted: Tuple[Interface, ...]) -> None:
    """Interfaces change position by position: the guest names its cards by their order and PCI
    slot, so a changed card keeps its place and its ``<address>``; extra cards go after the last."""
    existing = devices.findall("interface")
    for index, interface in enumerate(wanted):
        if index < len(existing):
            element = existing[index]
            if Interface.from_element(element) != interface:
                replacement = interface.to_element()
                address = element.find("address")
                if address is not None:
                    replacement.append(address)
                devices.replace(element, replacement)
        else:
            anchor = devices.findall("interface")
            if anchor:
                anchor[-1].addnext(interface.to_element())
            else:
                devices.append(interface.to_element())
    for element in existing[len(wanted) :]:
        devices.remove(element)
