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

from ansible_collections.remotevirt.install.plugins.module_utils.names import name_problem
from ansible_collections.remotevirt.install.plugins.module_utils.plan import Action, Plan, PlanError, shell
from ansible_collections.remotevirt.install.plugins.module_utils.record import Field, Record
from ansible_collections.remotevirt.install.plugins.module_utils.redact import redact_url
from ansible_collections.remotevirt.install.plugins.module_utils.sizes import SizeError, format_size, parse_size
from ansible_collections.remotevirt.install.plugins.module_utils.volume_plan import (
    VolumeRequest,
    VolumeState,
    capacity_reached,
    plan_volume,
)
from ansible_collections.remotevirt.install.plugins.module_utils.xml.domain import (
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
from ansible_collections.remotevirt.install.plugins.module_utils.xml.volume import Volume

DEFAULT_MEMORY = 1 << 30
DEFAULT_SERIAL_LOG_DIR = "/var/log/libvirt/qemu"
DEFAULT_BOOT_DIR = "/var/lib/libvirt/boot"
# URL schemes the installer itself reads a kickstart from; anything else must be a host path.
KICKSTART_SCHEMES = ("http://", "https://", "ftp://", "nfs:", "cdrom:", "hd:", "file:")
# Patterns, not compiled regexes: re compiles them on first use, and most runs give no networks.
_MAC = r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$"
_MODEL = r"^[A-Za-z0-9_-]+$"  # libvirt's schema for <model type=...>


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
        return bool(self.kickstart) and not self.kickstart.startswith(KICKSTART_SCHEMES)


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
        problem = name_problem(params["name"], "guest")
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
            vcpus=_positive(params.get("vcpus"), "vcpus"),
            cpu=params.get("cpu"),
            machine=params.get("machine"),
            arch=params.get("arch"),
            firmware=firmware,
            secure_boot=bool(params.get("secure_boot")),
            disks=_disks_param(params.get("disks"), params["name"]),
            networks=_networks_param(params.get("networks")),
            graphics=_graphics_param(params.get("graphics")),
            serial_log=params.get("serial_log"),
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
        method = self.install.method
        if method == "pxe" and self.networks is not None and not self.networks:
            raise PlanError("install method pxe needs a network interface (networks)")
        if method == "import" and not self.disks:
            raise PlanError("install method import boots an existing disk: give it in disks")


def _positive(value: Any, what: str) -> Optional[int]:
    if value is None:
        return None
    if int(value) < 1:
        raise PlanError("%s must be at least 1" % what)
    return int(value)


def _memory_param(value: Any) -> Optional[int]:
    """Memory in bytes, rounded down to KiB: a bare number is MiB, text a size like ``2G``."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        size = int(text) << 20 if text.isdigit() else parse_size(text)
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
    # Targets left open are filled in order, after the explicit ones: stable across runs.
    resolved = []
    for disk in disks:
        if disk.target is None:
            disk = disk.with_changes(target=next_target(disk.bus, taken))
            taken.append(disk.target)
        resolved.append(disk)
    return tuple(resolved)


def _disk_param(index: int, entry: Mapping[str, Any], guest: str) -> DiskRequest:
    label = "disks[%d]" % index
    path, pool = entry.get("path"), entry.get("pool")
    if bool(path) == bool(pool):
        raise PlanError("%s: give either pool (a pool volume) or path (a host file or device)" % label)
    bus = entry.get("bus") or "virtio"
    if bus not in DISK_BUSES:
        raise PlanError("%s: bus must be one of %s" % (label, ", ".join(DISK_BUSES)))
    target = entry.get("target")
    if target is not None and not re.match(r"^(vd|sd|hd)[a-z]{1,3}$", target):
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
        if size is not None or entry.get("volume"):
            raise PlanError("%s: size and volume apply to pool disks, not to path" % label)
        return DiskRequest(index=index, bus=bus, target=target, path=path, format=entry.get("format"))
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
                       format=entry.get("format"), preallocation=entry.get("preallocation"))


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
            problem = name_problem(source, "%s %s" % (label, kind))
            if problem:
                raise PlanError(problem)
        model = entry.get("model") or "virtio"
        if not re.match(_MODEL, model):
            raise PlanError("%s: model %r is not a card model name like virtio or e1000e" % (label, model))
        mac = entry.get("mac")
        if mac is not None:
            mac = mac.lower()
            if not re.match(_MAC, mac):
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
        ipaddress.ip_address(listen)
    except ValueError:
        raise PlanError("graphics.listen must be an IP address such as 127.0.0.1, not %r" % listen)
    port = entry.get("port")
    if port is not None and not 5900 <= int(port) <= 65535:
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
        media = MediaRef(pool=cdrom.get("pool"), volume=cdrom.get("volume"), path=cdrom.get("path"))
    request = InstallRequest(method=method, cdrom=media, location=entry.get("location"),
                             kickstart=entry.get("kickstart"), kickstart_content=entry.get("kickstart_content"),
                             extra_args=entry.get("extra_args"), boot_dir=entry.get("boot_dir") or DEFAULT_BOOT_DIR,
                             url_username=url_username, url_password=url_password)
    _check_install(request)
    return request


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
    location = request.location
    scheme = location.split(":", 1)[0].lower() if location else None
    if location and not (location.startswith("/") or scheme in ("http", "https", "ftp", "nfs")):
        raise PlanError("install.location must be an http, https, ftp or nfs URL or an absolute path on the host")
    if (request.url_username or request.url_password) and not (location and scheme in ("http", "https", "ftp")):
        raise PlanError("url_username and url_password apply to an http, https or ftp install.location")
    if not request.boot_dir.startswith("/"):
        raise PlanError("install.boot_dir must be an absolute path on the host, not %r" % request.boot_dir)


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
    if state.existing is None:
        return _plan_new(request, state, Plan())
    if request.reinstall:
        removal = _plan_absent(request.with_changes(remove_storage=False), state)
        plan = Plan(actions=[action.with_changes(destructive=True) for action in removal.actions],
                    before=removal.before)
        return _plan_new(request, state.with_changes(existing=None, active=False), plan)
    return _plan_existing(request, state)


def _shown(domain: Domain) -> str:
    return domain.to_shown_xml()


def default_serial_log(name: str) -> str:
    return "%s/%s-serial.log" % (DEFAULT_SERIAL_LOG_DIR, name)


def _virsh(*argv: object) -> str:
    return shell("virsh", *argv)


# -- absent ------------------------------------------------------------------------------------
def _plan_absent(request: GuestRequest, state: GuestState) -> Plan:
    if state.existing is None:
        return Plan()
    plan = Plan(before=_shown(state.existing))
    name = request.name
    if state.active:
        plan.add(Action("destroy", "guest", name, _virsh("destroy", name), destructive=True))
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
            sniffed = disk_state.format if disk_state.format in ("qcow2", "raw") else None
            disks.append(Disk(target=disk.target, bus=disk.bus, path=disk.path,
                              format=disk.format or sniffed or "raw", block=disk_state.format == "block"))
            continue
        disks.append(_plan_volume_disk(disk, disk_state.volume, plan))
    return in_canonical_order(disks)


def in_canonical_order(disks: Sequence[Disk]) -> Tuple[Disk, ...]:
    """Disks, then cdroms, each sorted by target. libvirt stores them in its own order (by bus, then target), so both
    the request and the stored definition are compared in this one order: order is never drift."""
    return tuple(sorted(disks, key=lambda disk: (disk.device != "disk", len(disk.target), disk.target)))


def _plan_volume_disk(disk: DiskRequest, volume_state: Optional[VolumeState], plan: Plan) -> Disk:
    volume_request = disk.volume_request()
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
    fmt = existing.format if existing is not None else _planned_format(volume_plan.after)
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
    injected = bool(install.kickstart_content) or install.kickstart_on_host
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
    if method != "import":
        install = install_definition(request, state, final)
        if method == "location":
            _plan_fetch(request, state, plan)
        plan.add(Action("install", "guest", name, _virsh("create", "%s-install.xml" % name),
                        payload={"domain": install}))
    plan.add(Action("define", "guest", name, _virsh("define", "%s.xml" % name),
                    payload={"domain": final, "new": True}))
    if request.autostart:
        plan.add(Action("autostart", "guest", name, _virsh("autostart", name), payload={"enable": True}))
    if method != "import" and request.waits:
        plan.add(_wait_action(request))
    if request.state == "running" and (method == "import" or request.waits):
        plan.add(Action("start", "guest", name, _virsh("start", name)))
    plan.after = _shown(final)
    return plan


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
        if kind == "initrd" and (request.install.kickstart_content or request.install.kickstart_on_host):
            # The kickstart joins the initrd as one more cpio archive; its content is never shown.
            command += "  # + /%s (%d bytes) appended as a cpio archive" % (tree.injected_name, state.kickstart_bytes)
            payload.update(inject_name=tree.injected_name)
        plan.add(Action("fetch", kind, target, command, payload=payload))


def _fetch_command(source: str, target: str, username: Optional[str] = None) -> str:
    shown = redact_url(source)
    if source.startswith("nfs://"):
        return shell("nfs-cp", shown, target)
    if "://" in source:
        return shell("curl", "-fsSL", *(["-u", username] if username else []), "-o", target, shown)
    return shell("cp", source, target)


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
        changes["interfaces"] = _carry_macs(request.networks, actual.interfaces)
    if request.graphics is not None:
        changes["graphics"] = request.graphics
    if request.serial_log is not None:
        changes["serial_log"] = SerialLog(request.serial_log)
    return actual.with_changes(**changes)


def _carry_macs(wanted: Tuple[Interface, ...], actual: Tuple[Interface, ...]) -> Tuple[Interface, ...]:
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
