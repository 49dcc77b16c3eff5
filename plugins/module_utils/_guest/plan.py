# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for guests: (request, actual state) -> Plan. No I/O here.

A new guest is installed in two definitions, as virt-install does: a transient *install*
definition that boots the media (network, cdrom or a fetched kernel) and ends the install phase
on the guest's first reboot, and the persistent *final* definition that boots the disk. The
transient guest started from the install definition becomes persistent when the final
definition is defined, so when the installer powers off or reboots, the next start boots the
installed disk with no media attached.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import bridge_name_problem, name_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Plan, PlanError, shell
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field, Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_url, url_secrets
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import SizeError, format_size, parse_size
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    ascii_int,
    check_path,
    check_strings,
    check_uri,
    check_url,
    has_scheme,
    is_ascii_number,
    path_problem,
    same_path,
    scheme_of,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.plan import (
    VolumeRequest,
    VolumeState,
    capacity_reached,
    plan_volume,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import (
    DISK_BUSES,
    DirectKernel,
    Disk,
    Domain,
    Graphics,
    Interface,
    OsBoot,
    SerialLog,
    next_target,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume

DEFAULT_MEMORY = 1 << 30
# The most vCPUs any QEMU machine type offers (q35 with x2APIC); more is refused before libvirt sees it.
MAX_VCPUS = 4096
DEFAULT_SERIAL_LOG_DIR = "/var/log/libvirt/qemu"
DEFAULT_BOOT_DIR = "/var/lib/libvirt/boot"
# URL schemes the installer itself reads a kickstart from (compared case-insensitively); anything
# else must be a host path.
KICKSTART_SCHEMES = ("http", "https", "ftp", "nfs", "cdrom", "hd", "file")
# Of those, the ones that name a server (the others are places inside the guest).
_SERVER_SCHEMES = ("http", "https", "ftp")
LOCATION_SCHEMES = ("http", "https", "ftp", "nfs")
# Patterns, not compiled regexes: re compiles them on first use, and most runs give no networks.
# Always matched against the whole text (fullmatch): "$" would accept a trailing newline.
_MAC = r"([0-9a-f]{2}:){5}[0-9a-f]{2}"
_MODEL = r"[A-Za-z0-9_-]+"  # libvirt's schema for <model type=...>
_TARGET = r"(vd|sd|hd)[a-z]{1,3}"
_MACHINE = r"[A-Za-z0-9_.-]+"  # libvirt's schema for machine and arch names


# -- the request -------------------------------------------------------------------------------
class MediaRef(Record):
    """Install media: a pool volume or a host path."""

    pool: Optional[str] = None
    volume: Optional[str] = None
    path: Optional[str] = None

    @property
    def label(self) -> str:
        return "%s/%s" % (self.pool, self.volume) if self.volume else (self.path or "")


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

    @property
    def label(self) -> str:
        return "disks[%d]" % self.index

    def volume_request(self) -> VolumeRequest:
        return VolumeRequest(pool=self.pool or "", name=self.volume or "", capacity=self.size, format=self.format,
                             preallocation=self.preallocation)


class InstallRequest(Record):
    method: Optional[str] = None
    cdrom: Optional[MediaRef] = None
    location: Optional[str] = None
    kickstart: Optional[str] = None
    kickstart_content: Optional[str] = Field(None, in_repr=False)
    extra_args: Optional[str] = None
    boot_dir: str = DEFAULT_BOOT_DIR
    # Credentials for install.location (the host's own reads of the tree), never for the kickstart.
    url_username: Optional[str] = None
    url_password: Optional[str] = Field(None, in_repr=False)

    @property
    def kickstart_on_host(self) -> bool:
        """A kickstart file on the hypervisor: read there and put into the initrd."""
        return bool(self.kickstart) and not has_scheme(self.kickstart, KICKSTART_SCHEMES)

    @property
    def kickstart_fetched(self) -> bool:
        """A kickstart URL with credentials: the host downloads it and puts it into the initrd, so the
        credentials never reach the guest's kernel command line (readable by any libvirt client)."""
        return (bool(self.kickstart) and has_scheme(self.kickstart, ("http", "https", "ftp"))
                and any(True for _secret in url_secrets(self.kickstart)))

    @property
    def kickstart_injected(self) -> bool:
        """Whether the kickstart travels inside the initrd rather than as a reference on the command line."""
        return self.kickstart_content is not None or self.kickstart_on_host or self.kickstart_fetched


class GuestRequest(Record):
    """The module's parameters, validated. None means "not set": libvirt's default for a new
    guest, left as it is on an existing one."""

    name: str
    state: str = "present"
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
    serial_log: Optional[str] = None
    autostart: Optional[bool] = None
    install: InstallRequest = InstallRequest()
    wait: bool = False
    wait_timeout: int = 3600
    reinstall: bool = False
    remove_storage: bool = False

    @property
    def waits(self) -> bool:
        return self.wait or self.state == "installed"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "GuestRequest":
        check_strings(params)
        if params.get("uri") is not None:
            check_uri(params["uri"])
        problem = name_problem(params.get("name"), "guest")
        if problem:
            raise PlanError(problem)
        firmware = params.get("firmware")
        if params.get("secure_boot") and firmware != "uefi":
            raise PlanError("secure_boot needs firmware: uefi")
        request = cls(
            name=params["name"],
            state=params.get("state") or "present",
            domain_type=None if params.get("domain_type") in (None, "auto") else params["domain_type"],
            memory=_memory_param(params.get("memory")),
            vcpus=None if params.get("vcpus") is None else ascii_int(params["vcpus"], "vcpus", 1, MAX_VCPUS),
            cpu=params.get("cpu"),
            machine=_platform_param(params.get("machine"), "machine"),
            arch=_platform_param(params.get("arch"), "arch"),
            firmware=firmware,
            secure_boot=bool(params.get("secure_boot")),
            disks=_disks_param(params.get("disks"), params["name"]),
            networks=_networks_param(params.get("networks")),
            graphics=_graphics_param(params.get("graphics")),
            serial_log=_path_param(params.get("serial_log"), "serial_log"),
            autostart=params.get("autostart"),
            install=_install_param(params.get("install"), params.get("url_username"), params.get("url_password")),
            wait=bool(params.get("wait")),
            wait_timeout=_positive(params.get("wait_timeout"), "wait_timeout") or 3600,
            reinstall=bool(params.get("reinstall")),
            remove_storage=bool(params.get("remove_storage")),
        )
        request.check_consistency()
        return request

    def check_consistency(self) -> None:
        if self.serial_log is not None and not self.serial_log.startswith("/"):
            raise PlanError("serial_log must be an absolute path on the host")
        self._check_media_is_no_disk()
        method = self.install.method
        if method == "pxe" and self.networks is not None and not self.networks:
            raise PlanError("install method pxe needs a network interface (networks)")
        if method == "import" and not self.disks:
            raise PlanError("install method import boots an existing disk: give it in disks")

    def _check_media_is_no_disk(self) -> None:
        """The install cdrom is read-only media; as a disk too, the guest would write to it."""
        media = self.install.cdrom
        for disk in self.disks or () if media is not None else ():
            same_path = media.path is not None and disk.path == media.path
            same_volume = media.volume is not None and (disk.pool, disk.volume) == (media.pool, media.volume)
            if same_path or same_volume:
                raise PlanError("%s is the install cdrom %s too; give the guest another disk" % (disk.label, media.label))


def _positive(value: Any, what: str) -> Optional[int]:
    if value is None:
        return None
    return ascii_int(value, what, minimum=1)


def _platform_param(value: Optional[str], what: str) -> Optional[str]:
    """machine or arch: a word of libvirt's schema (pc-q35-7.2, x86_64), or not set."""
    if value is not None and not re.fullmatch(_MACHINE, value):
        raise PlanError("%s must be a name such as %s (letters, digits, _ . -), not %r"
                        % (what, "q35 or pc-i440fx-7.2" if what == "machine" else "x86_64 or aarch64", value))
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
    return size // 1024 * 1024


def _disks_param(entries: Optional[Sequence[Mapping[str, Any]]], guest: str) -> Optional[Tuple[DiskRequest, ...]]:
    if entries is None:
        return None
    disks: List[DiskRequest] = []
    taken: List[str] = []
    for index, entry in enumerate(entries):
        disk = _disk_param(index, entry, guest)
        if disk.target is not None:
            taken.append(disk.target)
        disks.append(disk)
    duplicates = sorted({target for target in taken if taken.count(target) > 1})
    if duplicates:
        raise PlanError("disk target %s is given to more than one disk" % ", ".join(duplicates))
    _check_distinct_storage(disks)
    # Targets left open are filled in order, after the explicit ones: stable across runs.
    resolved = []
    for disk in disks:
        if disk.target is None:
            disk = disk.with_changes(target=next_target(disk.bus, taken))
            taken.append(disk.target)
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
    if path:
        if not path.startswith("/"):
            raise PlanError("%s: path must be absolute" % label)
        check_path(path, "%s: path" % label)
        if size is not None or entry.get("volume"):
            raise PlanError("%s: size and volume apply to pool disks, not to path" % label)
        return DiskRequest(index=index, bus=bus, target=target, path=path, format=entry.get("format"),
                           allow_in_use=bool(entry.get("allow_in_use")))
    volume = entry.get("volume")
    if not volume:
        if size is None:
            raise PlanError("%s: give volume (an existing volume) or size (a new one)" % label)
        fmt = entry.get("format") or "qcow2"
        volume = "%s-disk%d.%s" % (guest, index, "qcow2" if fmt == "qcow2" else "img")
    for problem in (name_problem(pool, "%s pool" % label), name_problem(volume, "%s volume" % label)):
        if problem:
            raise PlanError(problem)
    return DiskRequest(index=index, bus=bus, target=target, pool=pool, volume=volume, size=size,
                       format=entry.get("format"), preallocation=entry.get("preallocation"),
                       allow_in_use=bool(entry.get("allow_in_use")))


def _networks_param(entries: Optional[Sequence[Mapping[str, Any]]]) -> Optional[Tuple[Interface, ...]]:
    if entries is None:
        return None
    interfaces = []
    for index, entry in enumerate(entries):
        label = "networks[%d]" % index
        given = [key for key in ("network", "bridge") if entry.get(key)]
        kind = entry.get("type") or (given[0] if given else "network")
        if len(given) > 1 or (given and given[0] != kind) or (kind == "user" and given):
            raise PlanError("%s: give one of network (a libvirt network), bridge (a host bridge) or type: user"
                            % label)
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
        interfaces.append(Interface(type=kind, source=source, model=model, mac=mac))
    macs = [interface.mac for interface in interfaces if interface.mac]
    if len(macs) != len(set(macs)):
        raise PlanError("networks: the same mac is given to more than one interface")
    return tuple(interfaces)


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
    return (Graphics(type=kind, listen=listen, port=port,
                     password=password),)


def _install_param(entry: Optional[Mapping[str, Any]], url_username: Optional[str] = None,
                   url_password: Optional[str] = None) -> InstallRequest:
    if not entry:
        if url_username or url_password:
            raise PlanError("url_username and url_password apply to install.location, which is not set")
        return InstallRequest()
    method = entry.get("method")
    cdrom = entry.get("cdrom")
    media = None
    if cdrom:
        if bool(cdrom.get("path")) == bool(cdrom.get("volume")):
            raise PlanError("install.cdrom: give either pool and volume (an ISO volume) or path (an ISO on the host)")
        if cdrom.get("volume") and not cdrom.get("pool"):
            raise PlanError("install.cdrom: volume %s needs its pool" % cdrom["volume"])
        media = _media_param(cdrom)
    request = InstallRequest(method=method, cdrom=media, location=_location_param(entry.get("location")),
                             kickstart=_kickstart_param(entry.get("kickstart")),
                             kickstart_content=entry.get("kickstart_content"), extra_args=entry.get("extra_args"),
                             boot_dir=check_path(entry.get("boot_dir") or DEFAULT_BOOT_DIR, "install.boot_dir"),
                             url_username=url_username, url_password=url_password)
    _check_install(request)
    return request


def _media_param(cdrom: Mapping[str, Any]) -> MediaRef:
    if cdrom.get("path"):
        return MediaRef(path=check_path(cdrom["path"], "install.cdrom.path"))
    for key in ("pool", "volume"):
        problem = name_problem(cdrom[key], "install.cdrom %s" % key)
        if problem:
            raise PlanError(problem)
    return MediaRef(pool=cdrom["pool"], volume=cdrom["volume"])


def _location_param(location: Optional[str]) -> Optional[str]:
    """An install tree: an http, https, ftp or nfs URL, or a host path (kept as given: the code
    that reads it compares schemes case-insensitively)."""
    if not location:
        return location
    scheme = scheme_of(location)
    if scheme is None and location.startswith("/"):
        check_path(location, "install.location")
    elif scheme not in LOCATION_SCHEMES:
        raise PlanError("install.location must be an http, https, ftp or nfs URL or an absolute path on the host")
    elif scheme == "nfs" and not location[4:].startswith("//"):
        _short_nfs_param(location, "install.location")
    else:
        check_url(location, "install.location", LOCATION_SCHEMES)
    return location


def _kickstart_param(kickstart: Optional[str]) -> Optional[str]:
    """A kickstart reference the installer reads (URL, nfs:, cdrom:, hd:, file:) or a host path."""
    if not kickstart:
        return kickstart
    scheme = scheme_of(kickstart)
    if scheme is None or scheme not in KICKSTART_SCHEMES:
        problem = path_problem(kickstart, "install.kickstart")
        if problem:
            raise PlanError(problem + " (or a URL: %s)" % ", ".join(KICKSTART_SCHEMES))
        return kickstart
    if scheme in _SERVER_SCHEMES or kickstart[len(scheme) + 1:].startswith("//"):
        return check_url(kickstart, "install.kickstart", KICKSTART_SCHEMES)
    if scheme == "nfs":
        return _short_nfs_param(kickstart, "install.kickstart")
    # cdrom:/ks.cfg, hd:sdb1:/ks.cfg, file:/ks.cfg: places inside the guest, read by its installer.
    rest = kickstart[len(scheme) + 1:]
    if not rest or re.search(r"\s", rest):
        raise PlanError("install.kickstart must be like %s:/ks.cfg, without spaces" % scheme)
    return scheme + ":" + rest


def _short_nfs_param(reference: str, what: str) -> str:
    """nfs:[options:]server:/path, as anaconda writes NFS references."""
    rest = reference[4:]
    if re.search(r"\s", rest) or not re.fullmatch(r"([^:/]+:)?[^:/]+:/.*", rest):
        raise PlanError("%s must be like nfs://server/path or nfs:server:/path, not %r" % (what, redact_url(reference)))
    return "nfs:" + rest


def _check_install(request: InstallRequest) -> None:
    method = request.method
    given = [key for key, value in (("cdrom", request.cdrom), ("location", request.location)) if value]
    if method is None:
        if given:
            raise PlanError("install.method is missing; %s implies method: %s" % (given[0], given[0]))
        return
    foreign = [key for key in given if key != method]
    if foreign:
        raise PlanError("install.method is %s, which conflicts with install.%s; a guest installs one way"
                        % (method, foreign[0]))
    if method in ("cdrom", "location") and not given:
        raise PlanError("install.method %s needs install.%s" % (method, method))
    kickstarts = [key for key in ("kickstart", "kickstart_content") if getattr(request, key)]
    if len(kickstarts) > 1:
        raise PlanError("install.kickstart and install.kickstart_content are mutually exclusive")
    if (kickstarts or request.extra_args) and method != "location":
        raise PlanError("install.%s needs method: location (the kernel command line is only set for a "
                        "kernel fetched from an install tree)" % (kickstarts[0] if kickstarts else "extra_args"))
    scheme = scheme_of(request.location) if request.location else None
    if (request.url_username or request.url_password) and scheme not in ("http", "https", "ftp"):
        raise PlanError("url_username and url_password apply to an http, https or ftp install.location")


# -- what the runner reads ---------------------------------------------------------------------
class InstallTree(Record):
    """Where a tree's kernel and initrd are, and how its installer takes a kickstart."""

    family: str  # "redhat" (inst.ks=) or "debian" (preseed)
    kernel: str
    initrd: str

    def kickstart_args(self, reference: Optional[str], injected: bool) -> List[str]:
        if self.family == "redhat":
            if injected:
                return ["inst.ks=file:/%s" % self.injected_name]
            return ["inst.ks=%s" % reference] if reference else []
        if injected:
            return ["auto=true", "priority=critical", "preseed/file=/%s" % self.injected_name]
        return ["auto=true", "priority=critical", "preseed/url=%s" % reference] if reference else []

    @property
    def injected_name(self) -> str:
        return "ks.cfg" if self.family == "redhat" else "preseed.cfg"


class DiskState(Record):
    """A pool disk's volume as read (``volume``) or None for host paths; ``format`` of a path disk."""

    volume: Optional[VolumeState] = None
    format: Optional[str] = None


class GuestState(Record):
    """What the host has. ``existing`` is the persistent definition (secure XML), None if undefined."""

    existing: Optional[Domain] = None
    existing_xml: Optional[str] = Field(None, in_repr=False)
    # A running guest of that name without a stored definition (started by hand, or an install
    # whose definition is gone): removed by state absent and by reinstall, refused otherwise.
    transient: bool = False
    active: bool = False
    autostart: bool = False
    detected_type: str = "kvm"
    disks: Tuple[DiskState, ...] = ()
    media_format: str = "raw"
    tree: Optional[InstallTree] = None
    kickstart_bytes: int = 0
    boot_dir_exists: bool = True
    # Volumes of an existing guest's disks as (pool, volume): what remove_storage deletes.
    storage: Tuple[Tuple[str, str], ...] = ()


# -- planning ----------------------------------------------------------------------------------
def plan_guest(request: GuestRequest, state: GuestState) -> Plan:
    """The actions that take ``state`` to ``request``; raises PlanError when that is refused."""
    if request.state == "absent":
        return _plan_absent(request, state)
    if state.transient:
        if not request.reinstall:
            raise PlanError("guest %s is running without a stored definition (started by hand, or an install whose "
                            "definition is gone); wait until it stops, or set reinstall: true to destroy it and "
                            "install again" % request.name)
        plan = Plan()
        plan.add(_destroy_action(request.name))
        return _plan_new(request, state.with_changes(transient=False, active=False), plan)
    if state.existing is None:
        return _plan_new(request, state, Plan())
    if request.reinstall:
        return _plan_reinstall(request, state)
    return _plan_existing(request, state)


def _plan_reinstall(request: GuestRequest, state: GuestState) -> Plan:
    """Destroy the running guest, then install it again under its stored identity.

    The stored definition is replaced, not undefined: UUID, MACs and the NVRAM file stay, and if
    the new install cannot start, the previous definition is put back.
    """
    plan = Plan(before=_shown(state.existing))
    if state.active:
        plan.add(_destroy_action(request.name))
    return _plan_new(request, state.with_changes(active=False), plan)


def _shown(domain: Domain) -> str:
    return domain.to_shown_xml()


def default_serial_log(name: str) -> str:
    return "%s/%s-serial.log" % (DEFAULT_SERIAL_LOG_DIR, name)


def _virsh(*argv: object) -> str:
    return shell("virsh", *argv)


# -- absent ------------------------------------------------------------------------------------
def _destroy_action(name: str) -> Action:
    return Action("destroy", "guest", name, _virsh("destroy", name), destructive=True)


def _plan_absent(request: GuestRequest, state: GuestState) -> Plan:
    if state.transient:
        plan = Plan()
        plan.add(_destroy_action(request.name))
        return plan
    if state.existing is None:
        return Plan()
    plan = Plan(before=_shown(state.existing))
    name = request.name
    if state.active:
        plan.add(_destroy_action(name))
    plan.add(Action("undefine", "guest", name, _virsh("undefine", "--nvram", name), destructive=True,
                    payload={"xml": state.existing_xml}))
    if request.remove_storage:
        for pool, volume in state.storage:
            plan.add(Action("delete", "volume", "%s/%s" % (pool, volume), _virsh("vol-delete", "--pool", pool, volume),
                            destructive=True))
    return plan


# -- disks -------------------------------------------------------------------------------------
def _plan_disks(request: GuestRequest, state: GuestState, plan: Plan) -> Tuple[Disk, ...]:
    """Volume actions for the guest's disks (create, grow) and the disks as the guest sees them."""
    disks = []
    for disk, disk_state in zip(request.disks or (), state.disks):
        if disk.path:
            disks.append(Disk(target=disk.target, bus=disk.bus, path=disk.path,
                              format=_path_disk_format(disk, disk_state, state.existing),
                              block=disk_state.format == "block"))
            continue
        disks.append(_plan_volume_disk(disk, disk_state.volume, plan, _stored_format(disk, state.existing)))
    return in_canonical_order(disks)


def _stored_format(disk: DiskRequest, existing: Optional[Domain]) -> Optional[str]:
    """The format the guest's definition stores for this disk, if the guest has it already.

    It outranks whatever libvirt now reads from the file: libvirt probes the formats of a pool's
    files on every refresh, and a guest writes its disk (a raw disk turned into a qcow2 header
    naming a host file as backing must stay raw).
    """
    for known in existing.disks if existing else ():
        if known.device != "disk":
            continue
        same_file = bool(disk.path) and same_path(known.path) == same_path(disk.path)
        same_volume = bool(disk.pool) and (known.pool, known.volume) == (disk.pool, disk.volume)
        if same_file or same_volume:
            return known.format
    return None


def _path_disk_format(disk: DiskRequest, disk_state: DiskState, existing: Optional[Domain]) -> str:
    """``format`` as given, else the format the guest's definition stores, else raw.

    Never read from the file's content: a guest writes its disk, and a raw disk that its guest
    filled with a qcow2 header (naming a backing file on the host) must stay raw.
    """
    stored = disk.format or _stored_format(disk, existing)
    if stored:
        return stored
    if disk_state.format == "qcow2":
        raise PlanError("%s: %s holds a qcow2 image, but formats are never guessed from a disk's content; set "
                        "format: qcow2 (or raw) for it" % (disk.label, disk.path))
    return "raw"


def in_canonical_order(disks: Sequence[Disk]) -> Tuple[Disk, ...]:
    """Disks, then cdroms, each sorted by target. libvirt stores them in its own order (by bus, then target), so both
    the request and the stored definition are compared in this one order: order is never drift."""
    return tuple(sorted(disks, key=lambda disk: (disk.device != "disk", len(disk.target), disk.target)))


def _plan_volume_disk(disk: DiskRequest, volume_state: Optional[VolumeState], plan: Plan,
                      stored_format: Optional[str]) -> Disk:
    volume_request = disk.volume_request()
    if stored_format is not None:
        # An attached disk is compared with its definition, never with libvirt's probe of the file.
        volume_request = volume_request.with_changes(format=None)
    existing = volume_state.existing if volume_state else None
    if existing is None and disk.size is None:
        raise PlanError("%s: volume %s does not exist; give size to create it" % (disk.label, volume_request.label))
    if (existing is not None and disk.size is not None and disk.size < existing.capacity
            and not capacity_reached(volume_state.pool, existing.format, disk.size, existing.capacity)):
        raise PlanError("%s: volume %s is %s, larger than size %s; guest disks are never shrunk"
                        % (disk.label, volume_request.label, format_size(existing.capacity), format_size(disk.size)))
    try:
        volume_plan = plan_volume(volume_request, volume_state)
    except PlanError as error:
        raise PlanError("%s: %s" % (disk.label, error))
    plan.actions.extend(volume_plan.actions)
    fmt = disk.format or stored_format or (existing.format if existing is not None
                                           else _planned_format(volume_plan.after))
    return Disk(target=disk.target, bus=disk.bus, pool=disk.pool, volume=disk.volume,
                format="raw" if fmt in (None, "iso") else fmt)


def _planned_format(volume_xml: Optional[str]) -> Optional[str]:
    return Volume.from_xml(volume_xml).format if volume_xml else None


# -- new guest ---------------------------------------------------------------------------------
def final_definition(request: GuestRequest, state: GuestState, disks: Tuple[Disk, ...]) -> Domain:
    """The stored definition of a new guest: boots its first disk, no install media."""
    return Domain(
        name=request.name,
        type=request.domain_type or state.detected_type,
        memory=request.memory or DEFAULT_MEMORY,
        vcpus=request.vcpus or 1,
        cpu_mode=request.cpu,
        os=OsBoot(arch=request.arch or "x86_64", machine=request.machine, firmware=request.firmware or "bios",
                  secure_boot=request.secure_boot, boot=("hd",)),
        disks=disks,
        interfaces=request.networks or (),
        graphics=(Graphics(type="vnc"),) if request.graphics is None else request.graphics,
        serial_log=SerialLog(request.serial_log or default_serial_log(request.name)),
    )


def cdrom_bus(machine: Optional[str]) -> str:
    """q35 has no IDE controller; i440fx ('pc', the default) boots cdroms from IDE."""
    return "sata" if machine and "q35" in machine else "ide"


def boot_files(request: GuestRequest) -> Tuple[str, str]:
    """Host paths where the fetched kernel and initrd wait for the install to start."""
    base = "%s/remotevirt-%s" % (request.install.boot_dir.rstrip("/"), request.name)
    return base + "-kernel", base + "-initrd"


def install_definition(request: GuestRequest, state: GuestState, final: Domain) -> Domain:
    """The transient definition that boots the media; a reboot ends it so the final one takes over."""
    method = request.install.method
    install = final.with_changes(on_reboot="destroy")
    if method == "pxe":
        return install.with_changes(os=final.os.with_changes(boot=("network", "hd")))
    if method == "cdrom":
        media = request.install.cdrom
        bus = cdrom_bus(final.os.machine)
        cdrom = Disk(target=next_target(bus, [disk.target for disk in final.disks]), bus=bus, device="cdrom",
                     pool=media.pool, volume=media.volume, path=media.path, format=state.media_format)
        return install.with_changes(disks=final.disks + (cdrom,), os=final.os.with_changes(boot=("cdrom", "hd")))
    kernel, initrd = boot_files(request)
    direct_kernel = DirectKernel(kernel, initrd, kernel_cmdline(request, state))
    return install.with_changes(os=final.os.with_changes(kernel=direct_kernel))


def kernel_cmdline(request: GuestRequest, state: GuestState) -> str:
    install = request.install
    injected = install.kickstart_injected
    reference = None if injected else install.kickstart
    args = state.tree.kickstart_args(reference, injected) if state.tree else []
    if install.extra_args:
        args.append(install.extra_args)
    return " ".join(args)


def _plan_new(request: GuestRequest, state: GuestState, plan: Plan) -> Plan:
    method = request.install.method
    if method is None:
        raise PlanError("guest %s does not exist; set install.method (pxe, cdrom, location or import) to create it"
                        % request.name)
    if method == "pxe" and not request.networks:
        raise PlanError("install method pxe needs a network interface (networks)")
    disks = _plan_disks(request, state, plan)
    final = final_definition(request, state, disks)
    name = request.name
    if method == "location":
        _plan_fetch(request, state, plan)
    plan.add(_define_new_action(request, state, final))
    if method != "import":
        # Started with the stored guest's UUID, the install runs as that guest's live definition:
        # the guest is persistent from its first second, and its next start boots the disk.
        install = install_definition(request, state, final)
        plan.add(Action("install", "guest", name, _virsh("create", "%s-install.xml" % name),
                        durable=True, payload={"domain": install}))
    if request.autostart:
        plan.add(Action("autostart", "guest", name, _virsh("autostart", name), payload={"enable": True}))
    if method != "import" and request.waits:
        plan.add(_wait_action(request))
    if request.state == "running" and (method == "import" or request.waits):
        plan.add(Action("start", "guest", name, _virsh("start", name)))
    plan.after = _shown(final)
    return plan


def _define_new_action(request: GuestRequest, state: GuestState, final: Domain) -> Action:
    """Store the final definition; a reinstall replaces the stored one and keeps its identity."""
    name = request.name
    command = _virsh("define", "%s.xml" % name)
    if state.existing is None:
        return Action("define", "guest", name, command, payload={"domain": final, "new": True})
    kept = final.with_changes(uuid=state.existing.uuid,
                              interfaces=carry_macs(final.interfaces, state.existing.interfaces))
    return Action("define", "guest", name, command, destructive=True,
                  payload={"domain": kept, "new": True, "previous_xml": state.existing_xml})


def _plan_fetch(request: GuestRequest, state: GuestState, plan: Plan) -> None:
    kernel, initrd = boot_files(request)
    tree = state.tree
    install = request.install
    for kind, source, target in (("kernel", tree.kernel, kernel), ("initrd", tree.initrd, initrd)):
        command = _fetch_command(source, target, install.url_username)
        if kind == "kernel" and not state.boot_dir_exists:
            command = shell("install", "-d", "-m", "0711", install.boot_dir) + " && " + command
        # Payloads are never shown: the credentials travel with the action that uses them.
        payload: Dict[str, Any] = {"source": source, "target": target, "username": install.url_username,
                                   "password": install.url_password}
        if kind == "initrd" and request.install.kickstart_injected:
            # The kickstart joins the initrd as one more cpio archive; its content is never shown.
            command += "  # + /%s (%d bytes) appended as a cpio archive" % (tree.injected_name, state.kickstart_bytes)
            payload.update(inject_name=tree.injected_name)
        plan.add(Action("fetch", kind, target, command, payload=payload))


def _fetch_command(source: str, target: str, username: Optional[str] = None) -> str:
    """The command line shown for a fetch: a URL's credentials are masked (the payload keeps them)."""
    shown = redact_url(source)
    if has_scheme(source, ("nfs",)):
        return shell("nfs-cp", shown, target)
    if "://" in source:
        return shell("curl", "-fsSL", *(["-u", username] if username else []), "-o", target, shown)
    return shell("cp", shown, target)


def _wait_action(request: GuestRequest) -> Action:
    loop = 'until virsh domstate %s | grep -q "shut off"; do sleep 5; done' % shell(request.name)
    command = "timeout %d sh -c %s" % (request.wait_timeout, shell(loop))
    return Action("wait", "guest", request.name, command, payload={"timeout": request.wait_timeout})


# -- existing guest ----------------------------------------------------------------------------
def machine_matches(wanted: str, actual: Optional[str]) -> bool:
    """libvirt stores the versioned machine: 'pc' is stored as pc-i440fx-7.2, 'q35' as pc-q35-7.2."""
    if actual is None or wanted == actual:
        return True
    aliases = {"pc": "pc-i440fx-", "q35": "pc-q35-"}
    return wanted in aliases and actual.startswith(aliases[wanted])


def _check_fixed_fields(request: GuestRequest, actual: Domain) -> None:
    """Fields that decide the guest's hardware platform: changed only by a reinstall."""
    fixed = []
    if request.domain_type and request.domain_type != actual.type:
        fixed.append("domain_type (%s, wanted %s)" % (actual.type, request.domain_type))
    if request.arch and request.arch != actual.os.arch:
        fixed.append("arch (%s, wanted %s)" % (actual.os.arch, request.arch))
    if request.machine and not machine_matches(request.machine, actual.os.machine):
        fixed.append("machine (%s, wanted %s)" % (actual.os.machine, request.machine))
    if request.firmware and request.firmware != actual.os.firmware:
        fixed.append("firmware (%s, wanted %s)" % (actual.os.firmware, request.firmware))
    elif request.firmware == "uefi" and request.secure_boot != actual.os.secure_boot:
        fixed.append("secure_boot (%s, wanted %s)" % (actual.os.secure_boot, request.secure_boot))
    if fixed:
        raise PlanError("guest %s differs in %s, which cannot be changed in place; set reinstall: true to install "
                        "it again" % (request.name, "; ".join(fixed)))


def wanted_definition(request: GuestRequest, actual: Domain, disks: Optional[Tuple[Disk, ...]]) -> Domain:
    """``actual`` with every field the user set replaced by the requested value."""
    changes: Dict[str, Any] = {}
    if request.memory is not None:
        changes["memory"] = request.memory
    if request.vcpus is not None:
        changes["vcpus"] = request.vcpus
    if request.cpu is not None:
        changes["cpu_mode"] = request.cpu
    if disks is not None:
        # cdroms and other devices the user did not describe stay as they are.
        others = tuple(disk for disk in actual.disks if disk.device != "disk")
        changes["disks"] = in_canonical_order(disks + others)
    if request.networks is not None:
        changes["interfaces"] = carry_macs(request.networks, actual.interfaces)
    if request.graphics is not None:
        changes["graphics"] = request.graphics
    if request.serial_log is not None:
        changes["serial_log"] = SerialLog(request.serial_log)
    return actual.with_changes(**changes)


def carry_macs(wanted: Tuple[Interface, ...], actual: Tuple[Interface, ...]) -> Tuple[Interface, ...]:
    """Interfaces without a requested MAC keep the MAC of the card at the same position, so the
    installed system still finds its network card after the change."""
    carried = []
    for index, interface in enumerate(wanted):
        if interface.mac is None and index < len(actual):
            interface = interface.with_changes(mac=actual[index].mac)
        carried.append(interface)
    return tuple(carried)


def _plan_existing(request: GuestRequest, state: GuestState) -> Plan:
    actual = state.existing.with_changes(disks=in_canonical_order(state.existing.disks))
    _check_fixed_fields(request, actual)
    plan = Plan(before=_shown(actual))
    disks = _plan_disks(request, state, plan) if request.disks is not None else None
    wanted = wanted_definition(request, actual, disks)
    name = request.name
    if wanted != actual:
        plan.add(Action("define", "guest", name, _virsh("define", "%s.xml" % name),
                        payload={"domain": wanted, "previous": actual, "previous_xml": state.existing_xml,
                                 "new": False}))
    if request.autostart is not None and request.autostart != state.autostart:
        argv = ("autostart", name) if request.autostart else ("autostart", "--disable", name)
        plan.add(Action("autostart", "guest", name, _virsh(*argv), payload={"enable": request.autostart}))
    if request.state == "running" and not state.active:
        plan.add(Action("start", "guest", name, _virsh("start", name)))
    plan.after = _shown(wanted)
    return plan


def reboot_required(plan: Plan, state: GuestState) -> bool:
    """A running guest whose stored definition changed runs the old one until it is restarted."""
    return state.active and any(action.verb == "define" and not action.payload.get("new") for action in plan.actions)
