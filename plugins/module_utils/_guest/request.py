# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest request: virt_guest_install's parameters, validated. Every refusal is raised here or
in the planner, so check mode predicts it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import (
    MAX_GUEST_NAME_BYTES,
    bridge_name_problem,
    given_more_than_once,
    name_problem,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import HOST_URI, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import SizeError, parse_size
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    ascii_int,
    check_path,
    check_uri,
    is_ascii_number,
    same_path,
    string_problems,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.install_request import (
    InstallRequest,
    _install_param,
    removal_install_param,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.tuning_request import TuningRequest, tuning_param
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.devices import DiskModes, Filesystem, HostDevice
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import (
    DISK_BUSES,
    DirectKernel,
    Graphics,
    Interface,
    next_target,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.request import VolumeRequest

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.cloud_init import CloudInit

DEFAULT_MEMORY = 1 << 30


# The most vCPUs any QEMU machine type offers (q35 with x2APIC); more is refused before libvirt sees it.
MAX_VCPUS = 4096


# Patterns, not compiled regexes: re compiles them on first use, and most runs give no networks.
# Always matched against the whole text (fullmatch): "$" would accept a trailing newline.
_MAC = r"([0-9a-f]{2}:){5}[0-9a-f]{2}"


_MODEL = r"[A-Za-z0-9_-]+"  # libvirt's schema for <model type=...>


_TARGET = r"(vd|sd|hd)[a-z]{1,3}"


_MACHINE = r"[A-Za-z0-9_.-]+"  # libvirt's schema for machine and arch names


class Refusals(PlanError):
    """Several refusals of one request; its text is the first, as a run reports it."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__(messages[0] if messages else "the request is refused")
        self.messages = list(messages) or [str(self)]


def refusals_of(error: PlanError) -> List[str]:
    """Every refusal ``error`` carries."""
    return list(error.messages) if isinstance(error, Refusals) else [str(error)]


def _each(entries: Sequence[Any], read: Callable[[int, Any], Any]) -> List[Any]:
    """``read(index, entry)`` of every entry; raises Refusals with the refusals of all of them."""
    results: List[Any] = []
    problems: List[str] = []
    for index, entry in enumerate(entries):
        try:
            results.append(read(index, entry))
        except PlanError as error:
            problems.extend(refusals_of(error))
    if problems:
        raise Refusals(problems)
    return results


class DiskRequest(Record):
    """One entry of ``disks``: an existing or new pool volume, or a host path."""

    index: int
    bus: str = "virtio"
    target: Optional[str] = None
    pool: Optional[str] = None
    volume: Optional[str] = None
    size: Optional[int] = None
    format: Optional[str] = None
    preallocation: Optional[str] = None
    path: Optional[str] = None
    allow_in_use: bool = False
    modes: DiskModes = DiskModes()

    @property
    def label(self) -> str:
        return "disks[%d]" % self.index

    def volume_request(self) -> VolumeRequest:
        return VolumeRequest(
            pool=self.pool or "", name=self.volume or "", capacity=self.size, format=self.format, preallocation=self.preallocation
        )


class WaitFor(Record):
    """``wait_for``: what makes a started guest reachable. ``source`` is where libvirt reads its
    addresses (the network's DHCP leases, the host's ARP table, the guest agent, or any of them)."""

    ip: bool = True
    source: str = "any"
    marker: Optional[str] = None
    port: Optional[int] = None


class GuestRequest(Record):
    """The module's parameters, validated. None means "not set": libvirt's default for a new
    guest, left as it is on an existing one."""

    name: str
    state: str = "present"
    uri: str = HOST_URI
    domain_type: Optional[str] = None
    memory: Optional[int] = None
    vcpus: Optional[int] = None
    cpu: Optional[str] = None
    machine: Optional[str] = None
    arch: Optional[str] = None
    firmware: Optional[str] = None
    secure_boot: bool = False
    disks: Optional[Tuple[DiskRequest, ...]] = None
    networks: Optional[Tuple[Interface, ...]] = None
    graphics: Optional[Tuple[Graphics, ...]] = None
    filesystems: Optional[Tuple[Filesystem, ...]] = None
    hostdevs: Optional[Tuple[HostDevice, ...]] = None
    serial_log: Optional[str] = None
    autostart: Optional[bool] = None
    install: InstallRequest = InstallRequest()
    boot: Optional[DirectKernel] = None
    cloud_init: Optional[CloudInit] = None
    wait: bool = False
    wait_timeout: int = 3600
    wait_for: Optional[WaitFor] = None
    wait_for_timeout: int = 600
    reinstall: bool = False
    remove_storage: bool = False
    keep_serial_log: bool = False
    tuning: TuningRequest = TuningRequest()

    @property
    def waits(self) -> bool:
        return self.wait or self.state == "installed"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "GuestRequest":
        """The request, or PlanError with the first refusal (``Refusals`` when there are several)."""
        request, problems = cls.read(params)
        if request is None:
            raise Refusals(problems)
        return request

    @classmethod
    def read(cls, params: Mapping[str, Any]) -> Tuple[Optional["GuestRequest"], List[str]]:
        """The request, or None with every refusal of the options: each option is read on its own,
        so one mistake does not hide the next (virt_preflight lists them all)."""
        control = list(string_problems(params))
        if control:
            return None, control  # every option with a control character at once
        if params.get("uri") is not None:
            check_uri(params["uri"])
        problem = name_problem(params.get("name"), "guest", MAX_GUEST_NAME_BYTES)
        if problem:
            raise PlanError(problem)
        name = params["name"]
        problems: List[str] = []
        firmware = params.get("firmware")
        if params.get("secure_boot") and firmware != "uefi":
            problems.append("secure_boot needs firmware: uefi")
        readers: Dict[str, Callable[[], Any]] = {
            "memory": lambda: _memory_param(params.get("memory")),
            "vcpus": lambda: _vcpus_param(params.get("vcpus")),
            "machine": lambda: _platform_param(params.get("machine"), "machine"),
            "arch": lambda: _platform_param(params.get("arch"), "arch"),
            "disks": lambda: _disks_param(params.get("disks"), name),
            "networks": lambda: _networks_param(params.get("networks")),
            "graphics": lambda: _graphics_param(params.get("graphics")),
            "filesystems": lambda: _devices_param("filesystems", params.get("filesystems")),
            "hostdevs": lambda: _devices_param("hostdevs", params.get("hostdevs")),
            # One spelling (same_path): the stored definition keeps what it is given, and another spelling
            # of the same file would redefine the guest on every switch.
            "serial_log": lambda: same_path(_path_param(params.get("serial_log"), "serial_log")),
            # A removal needs no install media: what it would have installed from does not matter, only
            # the boot_dir its seed ISO was written to.
            "install": lambda: (
                removal_install_param(params.get("install"))
                if params.get("state") == "absent"
                else _install_param(params.get("install"), params.get("url_username"), params.get("url_password"))
            ),
            "wait_timeout": lambda: _positive(params.get("wait_timeout"), "wait_timeout") or 3600,
            "boot": lambda: _boot_param(params.get("boot")),
            "cloud_init": lambda: None if params.get("state") == "absent" else _cloud_init_param(params.get("cloud_init")),
            "wait_for": lambda: _wait_for_param(params.get("wait_for")),
            "wait_for_timeout": lambda: _positive(params.get("wait_for_timeout"), "wait_for_timeout") or 600,
            "tuning": lambda: tuning_param(params),
        }
        fields: Dict[str, Any] = {}
        for key, reader in readers.items():
            try:
                fields[key] = reader()
            except PlanError as error:
                problems.extend(refusals_of(error))
        if problems:
            return None, problems
        request = cls(
            name=name,
            state=params.get("state") or "present",
            uri=params.get("uri") or HOST_URI,
            domain_type=None if params.get("domain_type") in (None, "auto") else params["domain_type"],
            cpu=params.get("cpu"),
            firmware=firmware,
            secure_boot=bool(params.get("secure_boot")),
            autostart=params.get("autostart"),
            wait=bool(params.get("wait")),
            reinstall=bool(params.get("reinstall")),
            remove_storage=bool(params.get("remove_storage")),
            keep_serial_log=bool(params.get("keep_serial_log")),
            **fields,
        )
        try:
            request.check_consistency()
        except PlanError as error:
            return None, refusals_of(error)
        return request, []

    def check_consistency(self) -> None:
        if self.serial_log is not None and not self.serial_log.startswith("/"):
            raise PlanError("serial_log must be an absolute path on the host")
        self._check_media_is_no_disk()
        self._check_serial_log_is_no_disk()
        method = self.install.method
        if method == "pxe" and self.networks is not None and not self.networks:
            raise PlanError("install method pxe needs a network interface (networks)")
        if method == "import" and not self.disks:
            raise PlanError("install method import boots an existing disk: give it in disks")
        self._check_cloud_init()
        if self.wait_for is not None and self.state not in ("running", "absent"):
            raise PlanError("wait_for waits until a started guest is reachable: it needs state: running")

    def _check_cloud_init(self) -> None:
        if self.cloud_init is None:
            return
        if self.install.method not in (None, "import"):
            raise PlanError(
                "cloud_init seeds a cloud image at its first boot: it needs install.method: import, not %s" % self.install.method
            )
        if self.state == "installed":
            raise PlanError(
                "state installed waits until an installer powers the guest off, which a cloud image "
                "does not do; use state: running (with wait_for to wait until it is reachable)"
            )

    def _check_serial_log_is_no_disk(self) -> None:
        """The serial log is written by virtlogd and deleted with the guest: as one of the guest's own disks or
        its install ISO, the console would be written into it and its removal would delete that file."""
        log = same_path(self.serial_log) if self.serial_log is not None else None
        if log is None:
            return
        for label, path in self.path_files():
            if same_path(path) == log:
                raise PlanError(
                    "serial_log: %s is also %s of this guest: its console would be written into that file and "
                    "removing the guest would delete it; give the guest a log file of its own" % (self.serial_log, label)
                )

    def path_files(self) -> List[Tuple[str, str]]:
        """(option, path) of the host files the request names as disks and install media."""
        media = self.install.cdrom
        files = [(disk.label, disk.path) for disk in self.disks or () if disk.path]
        return files + ([("install.cdrom", media.path)] if media is not None and media.path else [])

    def _check_media_is_no_disk(self) -> None:
        """The install cdrom is read-only media; as a disk too, the guest would write to it."""
        media = self.install.cdrom
        if media is None:
            return
        for disk in self.disks or ():
            same_file = media.path is not None and disk.path == media.path
            same_volume = media.volume is not None and (disk.pool, disk.volume) == (media.pool, media.volume)
            if same_file or same_volume:
                raise PlanError("%s is the install cdrom %s too; give the guest another disk" % (disk.label, media.label))


def _boot_param(entry: Optional[Mapping[str, Any]]) -> Optional[DirectKernel]:
    """``boot``: a kernel (and initrd) on the host the stored definition boots directly."""
    if entry is None:
        return None
    kernel = entry.get("kernel")
    if not kernel:
        if entry.get("initrd") or entry.get("cmdline"):
            raise PlanError("boot.initrd and boot.cmdline need boot.kernel")
        return None
    for key in ("kernel", "initrd"):
        path = entry.get(key)
        if not path:
            continue
        if not path.startswith("/"):
            raise PlanError("boot.%s must be an absolute path on the host" % key)
        check_path(path, "boot.%s" % key)
    return DirectKernel(kernel=kernel, initrd=entry.get("initrd") or None, cmdline=entry.get("cmdline") or None)


def _cloud_init_param(entry: Optional[Mapping[str, Any]]) -> Optional[CloudInit]:
    if entry is None:
        return None
    # Imported here: only guests with cloud_init use it (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.cloud_init import cloud_init_param

    return cloud_init_param(entry)


def _wait_for_param(entry: Optional[Mapping[str, Any]]) -> Optional[WaitFor]:
    if entry is None:
        return None
    ip = entry.get("ip") is not False
    marker = entry.get("marker")
    if marker is not None:
        try:
            re.compile(marker)
        except re.error as error:
            raise PlanError("wait_for.marker is not a regular expression: %s" % error)
    port = entry.get("port")
    if port is not None:
        port = ascii_int(port, "wait_for.port", 1, 65535)
        if not ip:
            raise PlanError("wait_for.port is tried on the guest's address: it needs wait_for.ip: true")
    if not ip and marker is None:
        raise PlanError("wait_for: give ip: true, a marker or a port to wait for")
    return WaitFor(ip=ip, source=entry.get("source") or "any", marker=marker, port=port)


def _vcpus_param(value: Any) -> Optional[int]:
    return None if value is None else ascii_int(value, "vcpus", 1, MAX_VCPUS)


def _positive(value: Any, what: str) -> Optional[int]:
    if value is None:
        return None
    return ascii_int(value, what, minimum=1)


def _platform_param(value: Optional[str], what: str) -> Optional[str]:
    """machine or arch: a word of libvirt's schema (pc-q35-7.2, x86_64), or not set."""
    if value is not None and not re.fullmatch(_MACHINE, value):
        raise PlanError(
            "%s must be a name such as %s (letters, digits, _ . -), not %r"
            % (what, "q35 or pc-i440fx-7.2" if what == "machine" else "x86_64 or aarch64", value)
        )
    return value


def _path_param(value: Optional[str], what: str) -> Optional[str]:
    return None if value is None else check_path(value, what)


def _memory_param(value: Any) -> Optional[int]:
    """Memory in bytes, rounded down to KiB: a bare number is MiB, text a size like ``2G``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PlanError("memory must be a number of MiB or a size such as 2G, not %r" % (value,))
    text = str(value).strip()
    try:
        size = int(text) << 20 if is_ascii_number(text) else parse_size(text)
    except SizeError as error:
        raise PlanError("memory: %s" % error)
    if size < 1 << 20:
        raise PlanError("memory must be at least 1 MiB, not %s" % text)
    if size // 1024 > MAX_MEMORY_KIB:
        raise PlanError("memory %s is more than libvirt takes (%d KiB at most)" % (text, MAX_MEMORY_KIB))
    return size // 1024 * 1024


# The most memory libvirt takes for a guest, in KiB (its VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, 2**53 - 1):
# more fails the define with a numerical overflow.
MAX_MEMORY_KIB = (1 << 53) - 1


def _disks_param(entries: Optional[Sequence[Mapping[str, Any]]], guest: str) -> Optional[Tuple[DiskRequest, ...]]:
    if entries is None:
        return None
    disks: List[DiskRequest] = _each(entries, lambda index, entry: _disk_param(index, entry, guest))
    taken = [disk.target for disk in disks if disk.target is not None]
    duplicates = given_more_than_once(taken)
    if duplicates:
        raise PlanError("disk target %s is given to more than one disk" % ", ".join(duplicates))
    _check_distinct_storage(disks)
    # Targets left open are filled in order, after the explicit ones: stable across runs.
    resolved = []
    for disk in disks:
        if disk.target is None:
            target = next_target(disk.bus, taken)
            disk = disk.with_changes(target=target)
            taken.append(target)
        resolved.append(disk)
    return tuple(resolved)


def _check_distinct_storage(disks: Sequence[DiskRequest]) -> None:
    """Two disks on one volume or file would both write to it and corrupt it."""
    seen: Dict[Tuple[Optional[str], ...], str] = {}
    for disk in disks:
        key = ("path", disk.path) if disk.path else ("volume", disk.pool, disk.volume)
        if key in seen:
            storage = disk.path or "volume %s/%s" % (disk.pool, disk.volume)
            raise PlanError("%s and %s are both %s; each disk needs its own storage" % (seen[key], disk.label, storage))
        seen[key] = disk.label


def _disk_param(index: int, entry: Mapping[str, Any], guest: str) -> DiskRequest:
    label = "disks[%d]" % index
    path, pool = entry.get("path"), entry.get("pool")
    if bool(path) == bool(pool):
        raise PlanError("%s: give either pool (a pool volume) or path (a host file or device)" % label)
    bus = entry.get("bus") or "virtio"
    if bus not in DISK_BUSES:
        raise PlanError("%s: bus must be one of %s" % (label, ", ".join(DISK_BUSES)))
    target = entry.get("target")
    if target is not None and not re.fullmatch(_TARGET, target):
        raise PlanError("%s: target must look like vda, sdb or hdc, not %r" % (label, target))
    size = None
    if entry.get("size") is not None:
        try:
            size = parse_size(entry["size"])
        except SizeError as error:
            raise PlanError("%s: size: %s" % (label, error))
        if size == 0:
            raise PlanError("%s: size must be larger than zero" % label)
    modes = _disk_modes_param(entry, label)
    if path:
        if not path.startswith("/"):
            raise PlanError("%s: path must be absolute" % label)
        check_path(path, "%s: path" % label)
        if size is not None or entry.get("volume"):
            raise PlanError("%s: size and volume apply to pool disks, not to path" % label)
        return DiskRequest(
            index=index,
            bus=bus,
            target=target,
            path=path,
            format=entry.get("format"),
            allow_in_use=bool(entry.get("allow_in_use")),
            modes=modes,
        )
    volume = entry.get("volume")
    if not volume:
        if size is None:
            raise PlanError("%s: give volume (an existing volume) or size (a new one)" % label)
        fmt = entry.get("format") or "qcow2"
        volume = "%s-disk%d.%s" % (guest, index, "qcow2" if fmt == "qcow2" else "img")
    for problem in (name_problem(pool, "%s pool" % label), name_problem(volume, "%s volume" % label)):
        if problem:
            raise PlanError(problem)
    return DiskRequest(
        index=index,
        bus=bus,
        target=target,
        pool=pool,
        volume=volume,
        size=size,
        format=entry.get("format"),
        preallocation=entry.get("preallocation"),
        allow_in_use=bool(entry.get("allow_in_use")),
        modes=modes,
    )


def _disk_modes_param(entry: Mapping[str, Any], label: str) -> DiskModes:
    if all(entry.get(key) is None for key in ("cache", "io", "discard", "detect_zeroes")):
        return DiskModes()
    # Imported here: only disks with driver modes need it (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.devices_request import disk_modes_param

    return disk_modes_param(entry, label)


def _devices_param(option: str, entries: Optional[Sequence[Mapping[str, Any]]]) -> Any:
    """``filesystems`` or ``hostdevs``, validated; None when not given."""
    if entries is None:
        return None
    # Imported here: only guests with shares or host devices need it (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest import devices_request

    read = devices_request.filesystems_param if option == "filesystems" else devices_request.hostdevs_param
    return read(entries)


def _networks_param(entries: Optional[Sequence[Mapping[str, Any]]]) -> Optional[Tuple[Interface, ...]]:
    if entries is None:
        return None
    interfaces: List[Interface] = _each(entries, _network_param)
    macs = [interface.mac for interface in interfaces if interface.mac]
    if len(macs) != len(set(macs)):
        raise PlanError("networks: the same mac is given to more than one interface")
    return tuple(interfaces)


def _network_param(index: int, entry: Mapping[str, Any]) -> Interface:
    label = "networks[%d]" % index
    given = [key for key in ("network", "bridge") if entry.get(key)]
    kind = entry.get("type") or (given[0] if given else "network")
    if len(given) > 1 or (given and given[0] != kind) or (kind == "user" and given):
        raise PlanError("%s: give one of network (a libvirt network), bridge (a host bridge) or type: user" % label)
    source = entry.get(kind) if kind != "user" else None
    if kind != "user" and not source:
        raise PlanError("%s: type %s needs %s: <name>" % (label, kind, kind))
    if source:
        check_name = bridge_name_problem if kind == "bridge" else name_problem
        problem = check_name(source, "%s %s" % (label, kind))
        if problem:
            raise PlanError(problem)
    model = entry.get("model") or "virtio"
    if not re.fullmatch(_MODEL, model):
        raise PlanError("%s: model %r is not a card model name like virtio or e1000e" % (label, model))
    mac = entry.get("mac")
    if mac is not None:
        mac = mac.lower()
        if not re.fullmatch(_MAC, mac):
            raise PlanError("%s: mac %r is not a MAC address like 52:54:00:12:34:56" % (label, entry["mac"]))
        if int(mac[:2], 16) & 1:
            raise PlanError("%s: mac %s is a multicast address; a card needs a unicast one" % (label, mac))
        if mac == "00:00:00:00:00:00":
            raise PlanError("%s: mac %s is no card's address (DHCP servers and bridges take it for none)" % (label, mac))
    return Interface(type=kind, source=source, model=model, mac=mac)


def _graphics_param(entry: Optional[Mapping[str, Any]]) -> Optional[Tuple[Graphics, ...]]:
    if entry is None:
        return None
    kind = entry.get("type") or "vnc"
    if kind == "none":
        return ()
    password = entry.get("password")
    if kind == "vnc" and password is not None and len(password) > 8:
        # QEMU's VNC authentication only uses 8 characters; libvirt refuses longer ones.
        raise PlanError("graphics.password for vnc is at most 8 characters long (got %d)" % len(password))
    listen = entry.get("listen") or "127.0.0.1"
    try:
        if not listen.isascii():  # ipaddress reads other scripts' digits on older Pythons
            raise ValueError(listen)
        ipaddress.ip_address(listen)
    except ValueError:
        raise PlanError("graphics.listen must be an IP address such as 127.0.0.1, not %r" % listen)
    port = entry.get("port")
    if port is not None:
        port = ascii_int(port, "graphics.port")
        if not 5900 <= port <= 65535:
            raise PlanError("graphics.port must be between 5900 and 65535")
    return (Graphics(type=kind, listen=listen, port=port, password=password),)


def waits_for_agent(request: GuestRequest) -> bool:
    """Whether ``request`` waits for an address only the guest agent gives."""
    wait_for = request.wait_for
    return wait_for is not None and wait_for.ip and wait_for.source == "agent"
