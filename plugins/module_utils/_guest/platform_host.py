# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A new guest's platform against the host: its architecture, virtualization type, machine type
and firmware, as the host's capabilities and domain capabilities offer them.

libvirt itself finds a platform the host cannot run only when it defines or starts the guest,
after the disks were made; here it is refused while the run plans, so check mode predicts it. What
libvirt does not say (the test driver's capabilities, an older libvirt's) refuses nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.capabilities import FirmwareOffer, HostPlatforms

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

# The virtualization types this collection defines guests of.
VIRT_TYPES = ("kvm", "qemu")
# How many machine types a refusal names before it points at the whole list.
SHOWN_MACHINES = 6
# QEMU's emulator of an architecture, where its name is not the architecture's.
_EMULATOR_NAMES = {"i686": "i386", "armv7l": "arm", "ppc64le": "ppc64"}
# Other names of an architecture (Debian's, the emulators', common spellings) and libvirt's name for it.
_ARCH_NAMES = {
    "amd64": "x86_64",
    "x86-64": "x86_64",
    "x64": "x86_64",
    "i386": "i686",
    "i486": "i686",
    "i586": "i686",
    "x86": "i686",
    "arm64": "aarch64",
    "armhf": "armv7l",
    "ppc64el": "ppc64le",
}


class PlatformHost(Record):
    """What the host says of one guest's platform. ``platforms``: its capabilities' (none said when
    they list no guests of VIRT_TYPES); ``type_refusal`` and ``machine_refusal``: libvirt's reason for
    refusing the domain capabilities of the guest's architecture and type, and of its machine type,
    read only where the capabilities say nothing of them; ``firmware``: the firmware of its machine
    type (read for a UEFI guest only)."""

    uri: str = ""
    platforms: HostPlatforms = HostPlatforms()
    type_refusal: Optional[str] = None
    machine_refusal: Optional[str] = None
    firmware: Optional[FirmwareOffer] = None


def read_platform_host(client: "Client", request: "GuestRequest", state: "GuestState") -> PlatformHost:
    """What the host says of the platform of the guest ``request`` installs: one read of its
    capabilities per run, and of domain capabilities only where those do not say enough."""
    arch, virt_type = state.platform(request.arch, request.domain_type, request.reinstall)
    host = PlatformHost(uri=client.uri, platforms=client.host_platforms())
    platform = host.platforms.of(VIRT_TYPES).get(arch)
    if platform is None and host.platforms.of(VIRT_TYPES):
        return host  # refused by its architecture: nothing more to read
    if platform is None or virt_type not in platform.virt_types:
        host = host.with_changes(type_refusal=client.domain_capabilities_refusal(arch, virt_type))
        if host.type_refusal is not None or platform is not None:
            return host
    machine = request.machine
    machines = platform.machines(virt_type).names if platform is not None else frozenset()
    if machine is not None and machines and machine not in machines:
        return host  # refused by its machine type
    if machine is not None and not machines:
        host = host.with_changes(machine_refusal=client.domain_capabilities_refusal(arch, virt_type, machine))
    if request.firmware == "uefi" and host.machine_refusal is None:
        host = host.with_changes(firmware=client.firmware_offer(arch, virt_type, machine))
    return host


def platform_problems(request: "GuestRequest", state: "GuestState", host: PlatformHost) -> List[str]:
    """The refusals of the platform of the guest ``request`` installs on ``host``: the first of its
    architecture, virtualization type and machine type (each depends on the one before), then its
    firmware's."""
    arch, virt_type = state.platform(request.arch, request.domain_type, request.reinstall)
    problem = (
        _arch_problem(request, arch, host)
        or _type_problem(request, arch, virt_type, host)
        or _machine_problem(request, arch, virt_type, host)
    )
    if problem:
        return [problem]
    return _firmware_problems(request, arch, virt_type, host.firmware)


def _arch_problem(request: "GuestRequest", arch: str, host: PlatformHost) -> Optional[str]:
    platforms = host.platforms.of(VIRT_TYPES)
    if not platforms or arch in platforms:
        return None
    offered = ", ".join(host.platforms.archs_shown(VIRT_TYPES))
    if request.arch is None:
        return "arch is not set, so the guest would be %s, and this host runs guests of %s only; set arch" % (arch, offered)
    meant = _ARCH_NAMES.get(arch.lower())
    if meant in platforms:
        return "arch %r: libvirt names this architecture %s (this host runs guests of %s); give arch: %s" % (
            arch,
            meant,
            offered,
            meant,
        )
    return (
        "arch %r: this host runs guests of %s; install QEMU's emulator of %s on the host (qemu-system-%s), "
        "or give another arch" % (arch, offered, arch, _EMULATOR_NAMES.get(arch, arch))
    )


def _type_problem(request: "GuestRequest", arch: str, virt_type: str, host: PlatformHost) -> Optional[str]:
    named = "domain_type %r" % virt_type if request.domain_type else "domain_type auto (%s)" % virt_type
    platform = host.platforms.of(VIRT_TYPES).get(arch)
    if platform is not None and virt_type not in platform.virt_types:
        offered = " or ".join(kind for kind in platform.virt_types if kind in VIRT_TYPES)
        hint = " (no KVM: /dev/kvm is missing, or the kvm module is not loaded)" if virt_type == "kvm" else ""
        return "%s: this host runs %s guests as %s only%s; set domain_type: %s" % (named, arch, offered, hint, offered)
    if host.type_refusal is not None:
        return "arch %r, %s: libvirt of this host refuses it: %s" % (arch, named, host.type_refusal)
    return None


def _machine_problem(request: "GuestRequest", arch: str, virt_type: str, host: PlatformHost) -> Optional[str]:
    machine = request.machine
    if machine is None:
        return None
    platform = host.platforms.of(VIRT_TYPES).get(arch)
    machines = platform.machines(virt_type) if platform is not None else None
    if machines is not None and machines.names:
        if machine in machines.names:
            return None
        return "machine %r is not one of the host's machine types for %s/%s: %s" % (
            machine,
            arch,
            virt_type,
            _first_machines(machines.shown, host.uri),
        )
    if host.machine_refusal is not None:
        return "machine %r for %s/%s: libvirt of this host refuses it: %s" % (machine, arch, virt_type, host.machine_refusal)
    return None


def _first_machines(shown: Tuple[str, ...], uri: str) -> str:
    listed = ", ".join(shown[:SHOWN_MACHINES])
    if len(shown) <= SHOWN_MACHINES:
        return listed
    return "%s, ... (%d in all: %s)" % (listed, len(shown), virsh(uri, "capabilities"))


def _firmware_problems(request: "GuestRequest", arch: str, virt_type: str, firmware: Optional[FirmwareOffer]) -> List[str]:
    if request.firmware != "uefi" or firmware is None:
        return []
    machine = firmware.machine or request.machine or "the default"
    platform = "machine type %s (%s/%s)" % (machine, arch, virt_type)
    if firmware.efi is False:
        return [
            "firmware uefi: this host has no UEFI firmware that fits %s; install it on the host (Debian: ovmf, "
            "EL: edk2-ovmf; aarch64: qemu-efi-aarch64 or edk2-aarch64), or use firmware: bios" % platform
        ]
    if request.secure_boot and firmware.secure_boot is False:
        hint = "machine: q35, which secure boot needs on x86, or " if arch in ("x86_64", "i686") else ""
        return [
            "secure_boot: this host has no UEFI firmware with secure boot that fits %s; give %ssecure_boot: false"
            % (platform, hint)
        ]
    return []
