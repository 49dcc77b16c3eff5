# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The domain definitions a request asks for: the stored (final) one, the install one that boots
the media, and an existing guest's definition with the requested changes.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import DEFAULT_MEMORY, GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import (
    DirectKernel,
    Disk,
    Domain,
    Graphics,
    GuestMetadata,
    Interface,
    OsBoot,
    SerialLog,
    next_target,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.install_mark import serial_log_path
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.tuning import Tuning

DEFAULT_SERIAL_LOG_DIR = "/var/log/libvirt/qemu"


def default_serial_log(name: str) -> str:
    return "%s/%s-serial.log" % (DEFAULT_SERIAL_LOG_DIR, name)


def serial_log_of(request: GuestRequest, state: GuestState) -> str:
    """The serial log file the guest will write: as requested, else as stored, else the default."""
    if request.serial_log is not None:
        return request.serial_log
    if state.existing is not None and not request.reinstall:
        if state.existing.serial_log is not None:
            return state.existing.serial_log.path
        # A console of another kind that libvirt logs to a file (<serial type='pty'><log file=...>):
        # read where a start's boot mark and a re-run's wait read it.
        logged = serial_log_path(state.existing_xml) if state.existing_xml else None
        if logged:
            return logged
    return default_serial_log(request.name)


def in_canonical_order(disks: Sequence[Disk]) -> Tuple[Disk, ...]:
    """Disks, then cdroms, each sorted by target. libvirt stores them in its own order (by bus, then target), so both
    the request and the stored definition are compared in this one order: order is never drift."""
    return tuple(sorted(disks, key=lambda disk: (disk.device != "disk", len(disk.target), disk.target)))


# -- new guest ---------------------------------------------------------------------------------
def final_definition(request: GuestRequest, state: GuestState, disks: Tuple[Disk, ...]) -> Domain:
    """The stored definition of a new guest: boots its first disk (or ``boot``'s kernel), no install media."""
    fingerprint = request.cloud_init.fingerprint if request.cloud_init is not None else None
    return Domain(
        name=request.name,
        type=request.domain_type or state.detected_type,
        memory=request.memory or DEFAULT_MEMORY,
        vcpus=request.vcpus or 1,
        cpu_mode=request.cpu,
        os=OsBoot(
            arch=request.arch or "x86_64",
            machine=request.machine,
            firmware=request.firmware or "bios",
            secure_boot=request.secure_boot,
            boot=() if request.boot else ("hd",),
            kernel=request.boot,
        ),
        disks=disks,
        interfaces=request.networks or (),
        graphics=(Graphics(type="vnc"),) if request.graphics is None else request.graphics,
        serial_log=SerialLog(request.serial_log or default_serial_log(request.name)),
        metadata=GuestMetadata(cloud_init=fingerprint) if fingerprint else None,
        tuning=new_guest_tuning(request, state),
        filesystems=request.filesystems or (),
        hostdevs=request.hostdevs or (),
        # virtiofs shares need memory virtiofsd can map (libvirt refuses them without it).
        shared_memory=bool(request.filesystems),
    )


def new_guest_tuning(request: GuestRequest, state: GuestState) -> Tuning:
    """The tuning options given, and a UEFI guest's emulated TPM unless ``tpm`` is given."""
    # Imported here: only new guests have defaults (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.tuning_host import default_tpm

    defaults = Tuning(tpm=default_tpm(state.tuning_host) if request.firmware == "uefi" else None)
    return request.tuning.applied_to(defaults)


def cdrom_bus(machine: Optional[str]) -> str:
    """q35 has no IDE controller; i440fx ('pc', the default) boots cdroms from IDE."""
    return "sata" if machine and "q35" in machine else "ide"


def boot_files(request: GuestRequest) -> Tuple[str, str]:
    """Host paths where the fetched kernel and initrd wait for the install to start."""
    base = "%s/remotevirt-%s" % (request.install.boot_dir.rstrip("/"), request.name)
    return base + "-kernel", base + "-initrd"


def seed_path(request: GuestRequest) -> str:
    """Where the cloud-init seed ISO of the guest's first boot waits on the host."""
    return "%s/remotevirt-%s-cidata.iso" % (request.install.boot_dir.rstrip("/"), request.name)


def first_boot_definition(request: GuestRequest, final: Domain) -> Domain:
    """The live definition of a cloud image's first boot: the stored one plus the seed as a read-only cdrom.

    It keeps libvirt's default on_reboot (restart), unlike an installer's: cloud-init may reboot
    the guest during its first boot (package upgrades, ``power_state``), and that reboot must come
    back with the seed rather than end the guest. The seed goes away with this definition when
    the guest powers off; its next start boots the stored definition, which never had it.
    """
    bus = cdrom_bus(final.os.machine)
    seed = Disk(
        target=next_target(bus, [disk.target for disk in final.disks]),
        bus=bus,
        device="cdrom",
        path=seed_path(request),
        format="raw",
    )
    return final.with_changes(disks=final.disks + (seed,))


def install_definition(request: GuestRequest, state: GuestState, final: Domain) -> Domain:
    """The transient definition that boots the media; a reboot ends it so the final one takes over."""
    method = request.install.method
    if method == "import":
        return first_boot_definition(request, final)
    install = final.with_changes(on_reboot="destroy")
    if method == "pxe":
        return install.with_changes(os=final.os.with_changes(boot=("network", "hd")))
    if method == "cdrom":
        media = request.install.cdrom
        if media is None:  # the request refuses this already
            raise PlanError("install.method cdrom needs install.cdrom")
        bus = cdrom_bus(final.os.machine)
        cdrom = Disk(
            target=next_target(bus, [disk.target for disk in final.disks]),
            bus=bus,
            device="cdrom",
            pool=media.pool,
            volume=media.volume,
            path=media.path,
            format=state.media_format,
        )
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


# -- existing guest ----------------------------------------------------------------------------
def machine_matches(wanted: str, actual: Optional[str]) -> bool:
    """libvirt stores the versioned machine: 'pc' is stored as pc-i440fx-7.2, 'q35' as pc-q35-7.2."""
    if actual is None or wanted == actual:
        return True
    aliases = {"pc": "pc-i440fx-", "q35": "pc-q35-"}
    return wanted in aliases and actual.startswith(aliases[wanted])


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
    if request.filesystems is not None:
        changes["filesystems"] = request.filesystems
        # Kept once set: the guest's memory layout does not follow every change of its shares.
        changes["shared_memory"] = actual.shared_memory or bool(request.filesystems)
    if request.hostdevs is not None:
        changes["hostdevs"] = request.hostdevs
    if request.serial_log is not None:
        changes["serial_log"] = SerialLog(request.serial_log)
    if request.boot is not None:
        changes["os"] = actual.os.with_changes(kernel=request.boot)
    if request.tuning.given:
        changes["tuning"] = request.tuning.applied_to(actual.tuning)
    return actual.with_changes(**changes)


def carry_macs(wanted: Tuple[Interface, ...], actual: Tuple[Interface, ...]) -> Tuple[Interface, ...]:
    """Interfaces without a requested MAC keep the MAC of the card at the same position, so the
    installed system still finds its network card after the change. A MAC another card is given
    explicitly is not carried (two cards with one MAC take each other's traffic): libvirt picks one."""
    given = set(interface.mac for interface in wanted if interface.mac is not None)
    carried = []
    for index, interface in enumerate(wanted):
        if interface.mac is None and index < len(actual) and actual[index].mac not in given:
            interface = interface.with_changes(mac=actual[index].mac)
        carried.append(interface)
    return tuple(carried)
