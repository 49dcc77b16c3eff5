# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for guests: (request, actual state) -> Plan. No I/O here.

A new guest is installed in two definitions, as virt-install does: the final definition that
boots the disk is stored first, then the install is started as that guest's live definition
(same UUID and MACs) booting the media; it ends on the guest's first power-off or reboot, and
the next start boots the installed disk with no media attached.
"""

from __future__ import annotations

from typing import Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Plan, PlanError, shell, virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_url
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import format_size
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import has_scheme, same_path
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import (
    AUTOSTART,
    DEFINE,
    DESTROY,
    FETCH,
    INSTALL,
    REMOVE,
    SEED,
    START,
    UNDEFINE,
    WAIT,
    AutostartPayload,
    DefinePayload,
    FetchPayload,
    FilePayload,
    GuestTarget,
    InstallPayload,
    Kickstart,
    Reachable,
    SeedPayload,
    WaitPayload,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.definition import (
    boot_files,
    carry_macs,
    final_definition,
    in_canonical_order,
    install_definition,
    machine_matches,
    seed_path,
    serial_log_of,
    wanted_definition,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.install_request import InstallRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import DiskRequest, GuestRequest, waits_for_agent
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import DiskState, GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.definition_mark import (
    Mark,
    definition_digest,
    pending,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.devices import DiskModes
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Disk, Domain, patch_definition
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import DELETE, VolumeTarget
from ansible_collections.remotevirt.install.plugins.module_utils._volume.plan import NoSpace, capacity_reached, plan_volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import refuse_changing_reprobed


# -- planning ----------------------------------------------------------------------------------
def plan_guest(request: GuestRequest, state: GuestState) -> Plan:
    """The actions that take ``state`` to ``request``; raises PlanError when that is refused."""
    if request.state == "absent":
        return _plan_absent(request, state)
    if state.transient:
        if not request.reinstall:
            raise PlanError(
                "guest %s is running without a stored definition (started by hand, or an install whose "
                "definition is gone); wait until it stops, or set reinstall: true to destroy it and "
                "install again" % request.name
            )
        plan = Plan()
        plan.add(_destroy_action(request))
        return _plan_new(request, state.with_changes(transient=False, active=False), plan)
    if state.existing is None:
        return _plan_new(request, state, Plan())
    if request.reinstall:
        return _plan_reinstall(request, state, state.existing)
    return _plan_existing(request, state, state.existing)


def _plan_reinstall(request: GuestRequest, state: GuestState, existing: Domain) -> Plan:
    """Destroy the running guest, then install it again under its stored identity.

    The stored definition is replaced, not undefined: UUID, MACs and the NVRAM file stay, and if
    the new install cannot start, the previous definition is put back.
    """
    plan = Plan(before=_shown(existing))
    if state.active:
        plan.add(_destroy_action(request))
    return _plan_new(request, state.with_changes(active=False), plan)


def _shown(domain: Domain) -> str:
    return domain.to_shown_xml()


def _virsh(request: GuestRequest, *argv: object) -> str:
    return virsh(request.uri, *argv)


# -- absent ------------------------------------------------------------------------------------
def _destroy_action(request: GuestRequest) -> Action:
    name = request.name
    return Action(DESTROY, "guest", name, _virsh(request, "destroy", name), GuestTarget(name), destructive=True)


def _start_action(request: GuestRequest) -> Action:
    name = request.name
    return Action(START, "guest", name, _virsh(request, "start", name), GuestTarget(name))


def _autostart_action(request: GuestRequest, enable: bool) -> Action:
    name = request.name
    argv = ("autostart", name) if enable else ("autostart", "--disable", name)
    return Action(AUTOSTART, "guest", name, _virsh(request, *argv), AutostartPayload(guest=name, enable=enable))


def _plan_absent(request: GuestRequest, state: GuestState) -> Plan:
    if state.transient:
        plan = Plan()
        plan.add(_destroy_action(request))
        return plan
    if state.existing is None:
        return Plan()
    plan = Plan(before=_shown(state.existing))
    name = request.name
    if state.active:
        plan.add(_destroy_action(request))
    # The definition goes last: it is what tells a re-run which volumes and files are the guest's, so a
    # removal stopped or failing halfway (a volume another run still reads) leaves it to finish the rest.
    if request.remove_storage:
        for pool, volume in state.storage:
            plan.add(
                Action(
                    DELETE,
                    "volume",
                    "%s/%s" % (pool, volume),
                    _virsh(request, "vol-delete", "--pool", pool, volume),
                    VolumeTarget(pool, volume),
                    destructive=True,
                )
            )
    if state.serial_log_file is not None and not request.keep_serial_log:
        path = state.serial_log_file
        plan.add(Action(REMOVE, "serial log", path, shell("rm", "-f", path), FilePayload(path=path), destructive=True))
    _plan_seed_removal(state, plan)
    plan.add(Action(UNDEFINE, "guest", name, _virsh(request, "undefine", "--nvram", name), GuestTarget(name), destructive=True))
    return plan


def _plan_seed_removal(state: GuestState, plan: Plan) -> None:
    """The seed ISO of a first boot that is over: nothing boots from it again (as virt-install does)."""
    if state.seed_file is not None:
        path = state.seed_file
        plan.add(Action(REMOVE, "seed ISO", path, shell("rm", "-f", path), FilePayload(path=path)))


# -- disks -------------------------------------------------------------------------------------
def _plan_disks(request: GuestRequest, state: GuestState, plan: Plan) -> Tuple[Disk, ...]:
    """Volume actions for the guest's disks (create, grow) and the disks as the guest sees them."""
    disks = []
    for disk, disk_state in zip(request.disks or (), state.disks):
        if disk.target is None:  # the request fills in the target of every disk it reads
            raise PlanError("%s has no target" % disk.label)
        _refuse_format_change(disk, request.name, state.existing)
        if disk.path:
            planned = Disk(
                target=disk.target,
                bus=disk.bus,
                path=disk.path,
                format=_path_disk_format(disk, disk_state, state.existing),
                block=disk_state.format == "block",
            )
        else:
            planned = _plan_volume_disk(
                disk, disk.target, disk_state, plan, stored_disk_format(disk, state.existing), request.uri
            )
        disks.append(planned.with_changes(modes=_disk_modes(disk, state.existing)))
    return in_canonical_order(disks)


def _stored_disk(disk: DiskRequest, existing: Optional[Domain]) -> Optional[Disk]:
    """The guest's stored disk on the same volume or file as ``disk``, if the guest has it already."""
    for known in existing.disks if existing else ():
        if known.device != "disk":
            continue
        same_file = bool(disk.path) and same_path(known.path) == same_path(disk.path)
        same_volume = bool(disk.pool) and (known.pool, known.volume) == (disk.pool, disk.volume)
        if same_file or same_volume:
            return known
    return None


def stored_disk_format(disk: DiskRequest, existing: Optional[Domain]) -> Optional[str]:
    """The format the guest's definition stores for this disk, if the guest has it already.

    It outranks whatever libvirt now reads from the file: libvirt probes the formats of a pool's
    files on every refresh, and a guest writes its disk (a raw disk turned into a qcow2 header
    naming a host file as backing must stay raw).
    """
    known = _stored_disk(disk, existing)
    return known.format if known is not None else None


def _refuse_format_change(disk: DiskRequest, name: str, existing: Optional[Domain]) -> None:
    """A disk the guest has keeps the format it was defined with: the guest would read the same bytes
    in another format (a qcow2 image as raw shows its header as data, and what the guest writes there
    destroys the image)."""
    stored = stored_disk_format(disk, existing)
    if disk.format is None or stored is None or _driver_format(disk.format) == _driver_format(stored):
        return
    raise PlanError(
        "%s: guest %s has this disk as %s, not %s; the guest would read its data in another format, and what it "
        "writes would destroy it: a disk keeps the format it was defined with (to convert it, make a new volume "
        "with clone_from and format: %s, and give the guest that)" % (disk.label, name, stored, disk.format, disk.format)
    )


def _driver_format(fmt: Optional[str]) -> str:
    """The format QEMU reads a disk in: an ISO volume is read raw."""
    return "raw" if fmt in (None, "iso") else fmt


def _disk_modes(disk: DiskRequest, existing: Optional[Domain]) -> DiskModes:
    """The requested driver modes over the stored disk's: a mode left out stays as it is; refused
    when the result is a combination QEMU would refuse at the guest's start."""
    known = _stored_disk(disk, existing)
    modes = disk.modes.over(known.modes) if known is not None else disk.modes
    problem = modes.problem()
    if problem:
        raise PlanError("%s: %s" % (disk.label, problem))
    return modes


def _path_disk_format(disk: DiskRequest, disk_state: DiskState, existing: Optional[Domain]) -> str:
    """``format`` as given, else the format the guest's definition stores, else raw.

    Never read from the file's content: a guest writes its disk, and a raw disk that its guest
    filled with a qcow2 header (naming a backing file on the host) must stay raw.
    """
    stored = disk.format or stored_disk_format(disk, existing)
    if stored:
        return stored
    if disk_state.format == "qcow2":
        raise PlanError(
            "%s: %s holds a qcow2 image, but formats are never guessed from a disk's content; set "
            "format: qcow2 (or raw) for it" % (disk.label, disk.path)
        )
    return "raw"


def _plan_volume_disk(
    disk: DiskRequest, target: str, disk_state: DiskState, plan: Plan, stored_format: Optional[str], uri: str
) -> Disk:
    volume_state = disk_state.volume
    if volume_state is None:  # the runner reads the volume of every disk given by pool and volume
        raise PlanError("%s: volume %s was not read from the host" % (disk.label, disk.volume_request().label))
    volume_request = disk.volume_request().with_changes(uri=uri)
    # Read raw, as given or as the guest's definition stores it, whatever its content reads as.
    read_raw = (disk.format or stored_format) == "raw" and disk_state.guessed_format is not None
    if stored_format is not None or read_raw:
        # An attached disk is compared with its definition, and a disk read raw is raw whatever its
        # content reads as: never compared with libvirt's probe of the file.
        volume_request = volume_request.with_changes(format=None)
    existing = volume_state.existing
    if existing is None and disk.size is None:
        raise PlanError("%s: volume %s does not exist; give size to create it" % (disk.label, volume_request.label))
    if (
        existing is not None
        and disk.size is not None
        and disk.size < existing.capacity
        and not capacity_reached(volume_state.pool, existing.format, disk.size, existing.capacity)
    ):
        raise PlanError(
            "%s: volume %s is %s, larger than size %s; guest disks are never shrunk"
            % (disk.label, volume_request.label, format_size(existing.capacity), format_size(disk.size))
        )
    try:
        volume_plan = plan_volume(volume_request, volume_state)
    except NoSpace as error:
        # The volume module's hint names its own options: a guest's disk has other ways out.
        raise PlanError(
            "%s: %s; give the disk a smaller size, put it in another pool, or free space in pool %s"
            % (disk.label, error.fact, disk.pool)
        )
    except PlanError as error:
        raise PlanError("%s: %s" % (disk.label, error))
    if disk_state.probed_format is not None and existing is not None and volume_plan.changed:
        refuse_changing_reprobed(
            "%s: volume %s" % (disk.label, volume_request.label), existing, disk_state.probed_format, "size %d bytes, or no size"
        )
    if read_raw and existing is not None and volume_plan.changed:
        raise PlanError(
            "%s: volume %s is read raw, but its content reads as %s, as which libvirt would change it; give it no "
            "size (or its size, %d bytes) to use it as it is"
            % (disk.label, volume_request.label, disk_state.guessed_format, existing.capacity)
        )
    plan.actions.extend(volume_plan.actions)
    fmt = disk.format or stored_format or (existing.format if existing is not None else _planned_format(volume_plan.after))
    return Disk(target=target, bus=disk.bus, pool=disk.pool, volume=disk.volume, format=_driver_format(fmt))


def _planned_format(volume_xml: Optional[str]) -> Optional[str]:
    return Volume.from_xml(volume_xml).format if volume_xml else None


def _plan_new(request: GuestRequest, state: GuestState, plan: Plan) -> Plan:
    method = request.install.method
    if method is None:
        raise PlanError(
            "guest %s does not exist; set install.method (pxe, cdrom, location or import) to create it" % request.name
        )
    if method == "pxe" and not request.networks:
        raise PlanError("install method pxe needs a network interface (networks)")
    disks = _plan_disks(request, state, plan)
    final = final_definition(request, state, disks)
    name = request.name
    if method == "location":
        _plan_fetch(request, state, plan)
    first_boot = request.cloud_init is not None
    if first_boot:
        plan.add(_seed_action(request, state))
    installs = method != "import" or first_boot
    define = _define_new_action(request, state, final, installs)
    plan.add(define)
    if installs:
        # Started with the stored guest's UUID, the install runs as that guest's live definition:
        # the guest is persistent from its first second, and its next start boots the disk.
        install = install_definition(request, state, final)
        fetched = boot_files(request) if method == "location" else ()
        command = _virsh(request, "create", "%s-%s.xml" % (name, "first-boot" if first_boot else "install"))
        plan.add(Action(INSTALL, "guest", name, command, InstallPayload(guest=name, domain=install, fetched=fetched)))
    if request.autostart:
        plan.add(_autostart_action(request, True))
    if method != "import" and request.waits:
        plan.add(_wait_action(request))
    starts_final = request.state == "running" and ((method == "import" and not first_boot) or request.waits)
    if starts_final:
        plan.add(_start_action(request))
    if request.wait_for is not None:
        plan.add(_reachable_action(request, state, install if installs and not starts_final else final))
    # What is stored: a reinstall keeps the guest's UUID and MAC addresses.
    plan.after = _shown(define.payload.domain)
    return plan


def _seed_action(request: GuestRequest, state: GuestState) -> Action:
    """Write the cloud-init seed ISO; the plan shows its size and digest, never its content."""
    # Imported here: only new guests with cloud_init build a seed (import cost on every task).
    import hashlib

    from ansible_collections.remotevirt.install.plugins.module_utils._guest import seed_iso

    cloud_init = request.cloud_init
    if cloud_init is None:  # the caller plans a seed only for cloud_init
        raise PlanError("guest %s has no cloud_init to seed" % request.name)
    files = cloud_init.seed_files(request.name)
    image = seed_iso.build(files)
    path = seed_path(request)
    argv = ["cloud-localds"] + (["-N", "network-config"] if "network-config" in files else [])
    command = shell(*argv, path, "user-data", "meta-data")
    if not state.boot_dir_exists:
        command = shell("install", "-d", "-m", "0711", request.install.boot_dir) + " && " + command
    command += "  # seed ISO %s, %d bytes, sha256 %s" % (path, len(image), hashlib.sha256(image).hexdigest()[:12])
    return Action(SEED, "seed ISO", path, command, SeedPayload(path=path, image=image))


def _define_new_action(request: GuestRequest, state: GuestState, final: Domain, installs: bool) -> Action:
    """Store the final definition; a reinstall replaces the stored one and keeps its identity."""
    name = request.name
    command = _virsh(request, "define", "%s.xml" % name)
    records = formats_to_record(request, state, final)
    if state.existing is None:
        payload = DefinePayload(guest=name, domain=final, new=True, installs=installs, records=records)
        return Action(DEFINE, "guest", name, command, payload)
    kept = final.with_changes(uuid=state.existing.uuid, interfaces=carry_macs(final.interfaces, state.existing.interfaces))
    return Action(
        DEFINE,
        "guest",
        name,
        command,
        DefinePayload(guest=name, domain=kept, new=True, previous_xml=state.existing_xml, installs=installs, records=records),
        destructive=True,
    )


def formats_to_record(request: GuestRequest, state: GuestState, domain: Domain) -> Tuple[Tuple[str, str], ...]:
    """(file, format) of each existing volume without a format record that ``domain`` attaches: the
    format it reads it as is recorded on its file once the definition is stored, so a later guest
    on the volume reads it so too, whatever header its content holds by then (a guest may write one
    into a raw disk, naming any host file as its backing file)."""
    records = []
    for disk, disk_state in zip(request.disks or (), state.disks):
        if disk_state.unrecorded_path is None or not disk.pool:
            continue
        attached = next((known for known in domain.disks if (known.pool, known.volume) == (disk.pool, disk.volume)), None)
        if attached is not None and attached.format:
            records.append((disk_state.unrecorded_path, attached.format))
    return tuple(records)


def _plan_fetch(request: GuestRequest, state: GuestState, plan: Plan) -> None:
    kernel, initrd = boot_files(request)
    tree = state.tree
    if tree is None:  # the runner finds the tree of every location install, or refuses it
        raise PlanError("install.location: no install tree was found there")
    install = request.install
    for kind, source, target in (("kernel", tree.kernel, kernel), ("initrd", tree.initrd, initrd)):
        command = _fetch_command(source, target, install.url_username)
        if kind == "kernel" and not state.boot_dir_exists:
            command = shell("install", "-d", "-m", "0711", install.boot_dir) + " && " + command
        # Payloads are never shown: the credentials travel with the action that uses them.
        payload = FetchPayload(
            source=source,
            target=target,
            username=install.url_username,
            password=install.url_password,
            boot_file=kind,
            arch=request.arch,
        )
        if kind == "initrd" and install.kickstart_injected:
            # The kickstart joins the initrd as one more cpio archive; its content is never shown.
            command += "  # + /%s (%d bytes) appended as a cpio archive" % (tree.injected_name, state.kickstart_bytes)
            payload = payload.with_changes(inject_name=tree.injected_name, kickstart=_injected_kickstart(install))
        plan.add(Action(FETCH, kind, target, command, payload))


def _injected_kickstart(install: InstallRequest) -> Kickstart:
    if install.kickstart_content is not None:
        return Kickstart(content=install.kickstart_content)
    if install.kickstart_fetched:
        return Kickstart(url=install.kickstart)
    return Kickstart(path=install.kickstart)


def _fetch_command(source: str, target: str, username: Optional[str] = None) -> str:
    """The command line shown for a fetch: a URL's credentials are masked (the payload keeps them)."""
    shown = redact_url(source)
    if has_scheme(source, ("nfs",)):
        return shell("nfs-cp", shown, target)
    if "://" in source:
        return shell("curl", "-fsSL", *(["-u", username] if username else []), "-o", target, shown)
    return shell("cp", shown, target)


def _wait_action(request: GuestRequest) -> Action:
    loop = 'until %s | grep -q "shut off"; do sleep 5; done' % _virsh(request, "domstate", request.name)
    command = "timeout %d sh -c %s" % (request.wait_timeout, shell(loop))
    return Action(WAIT, "guest", request.name, command, WaitPayload(guest=request.name, timeout=request.wait_timeout))


def _reachable_action(request: GuestRequest, state: GuestState, runs: Domain) -> Action:
    """Wait until the guest started with the definition ``runs`` has an address (and its marker,
    and its port): shown as the virsh and shell loop an admin would run."""
    wait_for = request.wait_for
    if wait_for is None:  # the caller plans this wait only for wait_for
        raise PlanError("guest %s has no wait_for" % request.name)
    if runs.tuning.agent is None:
        _refuse_agent_wait(request, "set guest_agent: true")
    name = request.name
    log = serial_log_of(request, state)
    checks = []
    if wait_for.ip:
        source = [] if wait_for.source == "any" else ["--source", wait_for.source]
        checks.append("%s | grep -qE 'ipv4|ipv6'" % _virsh(request, "domifaddr", *source, name))
    if wait_for.marker is not None:
        checks.append("tail -c +%d %s | grep -qE %s" % (state.serial_log_offset + 1, shell(log), shell(wait_for.marker)))
    if wait_for.port is not None:
        checks.append("nc -z ADDRESS %d" % wait_for.port)
    loop = "until %s; do sleep 2; done" % " && ".join(checks)
    command = "timeout %d sh -c %s" % (request.wait_for_timeout, shell(loop))
    reachable = Reachable(
        ip=wait_for.ip,
        source=wait_for.source,
        marker=wait_for.marker,
        port=wait_for.port,
        serial_log=log,
        log_offset=state.serial_log_offset,
    )
    return Action(WAIT, "guest", name, command, WaitPayload(guest=name, timeout=request.wait_for_timeout, reachable=reachable))


def _refuse_agent_wait(request: GuestRequest, why: str) -> None:
    """A wait for an address from the guest agent alone, on a guest without the agent's channel,
    could only end at its timeout: libvirt cannot ask an agent it has no channel to."""
    if waits_for_agent(request):
        raise PlanError(
            "wait_for.source agent: guest %s has no channel to a guest agent (%s), so the wait could only time "
            "out; wait for another source (lease, arp, any)" % (request.name, why)
        )


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
        raise PlanError(
            "guest %s differs in %s, which cannot be changed in place; set reinstall: true to install "
            "it again" % (request.name, "; ".join(fixed))
        )


def _plan_existing(request: GuestRequest, state: GuestState, existing: Domain) -> Plan:
    actual = existing.with_changes(disks=in_canonical_order(existing.disks))
    _check_fixed_fields(request, actual)
    plan = Plan(before=_shown(actual))
    disks = _plan_disks(request, state, plan) if request.disks is not None else None
    wanted = wanted_definition(request, actual, disks)
    name = request.name
    if wanted != actual:
        plan.add(
            Action(
                DEFINE,
                "guest",
                name,
                _virsh(request, "define", "%s.xml" % name),
                DefinePayload(
                    guest=name,
                    domain=wanted,
                    new=False,
                    previous=actual,
                    previous_xml=state.existing_xml,
                    mark=_mark_to_leave(state, actual, wanted),
                    records=formats_to_record(request, state, wanted),
                ),
            )
        )
    if request.autostart is not None and request.autostart != state.autostart:
        plan.add(_autostart_action(request, request.autostart))
    _plan_seed_removal(state, plan)
    if state.installing and request.waits:
        # An earlier run's install still runs (its job was killed, cut off or ran out of time): this
        # run waits for it to power off, as that run would have, and never takes it as installed.
        plan.add(_wait_action(request))
        if request.state == "running":
            plan.add(_start_action(request))
            if request.wait_for is not None:
                plan.add(_reachable_action(request, state, wanted))
    elif request.state == "running" and not state.active:
        plan.add(_start_action(request))
        if request.wait_for is not None:
            plan.add(_reachable_action(request, state, wanted))
    elif state.active and state.running_agent is False:
        _refuse_agent_wait(request, "the definition it runs with has none; guest_agent applies from its next start")
    plan.after = _shown(wanted)
    return plan


def _mark_to_leave(state: GuestState, actual: Domain, wanted: Domain) -> Optional[Mark]:
    """What a change of the running guest's stored definition leaves in its live metadata first (see
    definition_mark): the digest of the definition it started from, unless an earlier change left one,
    and whether the change gives it other passwords."""
    if not state.active or state.existing_xml is None:
        return None
    secrets_changed = _passwords(actual) != _passwords(_stored_after(state.existing_xml, actual, wanted))
    mark = state.running_mark
    if mark is None:
        return Mark(definition_digest(state.existing_xml), secrets_changed)
    return mark._replace(secrets_changed=True) if secrets_changed and not mark.secrets_changed else None


def _passwords(domain: Domain) -> Tuple[Optional[str], ...]:
    return tuple(graphics.password for graphics in domain.graphics or ())


def _stored_after(previous_xml: str, previous: Domain, wanted: Domain) -> Domain:
    """The definition a change stores, as read back."""
    return Domain.from_xml(patch_definition(previous_xml, previous, wanted))


def reboot_required(plan: Plan, state: GuestState) -> bool:
    """Whether the guest runs, after the plan, an older definition than its stored one: changed by this
    run or an earlier one since its QEMU started. A plan that destroys it or starts it runs the stored
    one, unless the start resumes a saved guest (virsh managedsave), which runs what it was saved with."""
    verbs = {action.verb for action in plan.actions}
    if DESTROY in verbs or (START in verbs and not state.resumes_saved):
        return False
    if not (state.active or state.resumes_saved):
        return False
    change = next((action.payload for action in plan.actions if action.verb == DEFINE and not action.payload.new), None)
    if change is None or change.previous_xml is None or change.previous is None:
        mark, stored = state.running_mark, state.existing_xml
    else:
        mark = change.mark or state.running_mark or Mark(definition_digest(change.previous_xml))
        stored = patch_definition(change.previous_xml, change.previous, change.domain)
    return mark is not None and stored is not None and pending(mark, stored)
