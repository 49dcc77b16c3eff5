# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the host's libvirt says it runs: the architectures, virtualization types and machine types
of its capabilities (``virsh capabilities``), the user and group it runs QEMU as, and the firmware
of its domain capabilities (``virsh domcapabilities``)."""

from __future__ import annotations

import re
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import attr_of, parse


class MachineTypes(Record):
    """The machine types QEMU has for one architecture and virtualization type: ``names`` to look a
    name up in, ``shown`` in the order a person reads them (aliases such as ``pc`` and ``q35`` first,
    then the newest versions)."""

    names: FrozenSet[str] = frozenset()
    shown: Tuple[str, ...] = ()


class GuestPlatform(Record):
    """One architecture the host runs hardware-virtualized (``hvm``) guests of, with the machine
    types of each virtualization type it runs them as (``kvm``, ``qemu``)."""

    arch: str
    types: Tuple[Tuple[str, MachineTypes], ...] = ()

    @property
    def virt_types(self) -> Tuple[str, ...]:
        return tuple(virt_type for virt_type, _machines in self.types)

    def machines(self, virt_type: str) -> MachineTypes:
        """The machine types of ``virt_type`` (none when the host does not run it, or does not say)."""
        for known, machines in self.types:
            if known == virt_type:
                return machines
        return MachineTypes()


class HostPlatforms(Record):
    """The guest platforms of the host's capabilities by architecture, and the host's own architecture."""

    host_arch: Optional[str] = None
    by_arch: Tuple[Tuple[str, GuestPlatform], ...] = ()

    def of(self, virt_types: Tuple[str, ...]) -> Dict[str, GuestPlatform]:
        """The platforms that run guests as one of ``virt_types``, by architecture: empty when the
        capabilities say nothing of them (libvirt's test driver runs only its own type)."""
        return {arch: platform for arch, platform in self.by_arch if set(platform.virt_types) & set(virt_types)}

    def archs_shown(self, virt_types: Tuple[str, ...]) -> Tuple[str, ...]:
        """The architectures of ``virt_types``, the host's own first, then by name."""
        archs = sorted(self.of(virt_types))
        return tuple(sorted(archs, key=lambda arch: arch != self.host_arch))


def host_platforms(xml: str) -> HostPlatforms:
    """The guest platforms of the host's capabilities ``xml``. A ``<domain>`` that lists machine types
    of its own (another emulator, older libvirt) has those; the others have the architecture's."""
    root = parse(xml)
    found: Dict[str, Dict[str, MachineTypes]] = {}
    for guest in root.iterfind("guest"):
        if (guest.findtext("os_type") or "").strip() != "hvm":
            continue  # Xen paravirtualized and container guests: not what this collection defines
        for arch in guest.iterfind("arch"):
            common = _machine_types(arch)
            of_arch = found.setdefault(arch.get("name") or "", {})
            for domain in arch.iterfind("domain"):
                own = _machine_types(domain)
                of_arch[domain.get("type") or ""] = own if own.names else common
    return HostPlatforms(
        host_arch=(root.findtext("host/cpu/arch") or "").strip() or None,
        by_arch=tuple(
            (name, GuestPlatform(arch=name, types=tuple(sorted(types.items())))) for name, types in sorted(found.items())
        ),
    )


# The DAC security model's base label: the user and group QEMU runs as, "+64055:+64055".
_DAC_LABEL = re.compile(r"\+?([0-9]+):\+?([0-9]+)")


def qemu_identity(xml: str, virt_types: Tuple[str, ...]) -> Optional[Tuple[int, int]]:
    """The user and group that the host's capabilities ``xml`` say QEMU runs guests as (the DAC
    security model's base label of the first of ``virt_types`` that has one), or None when they do not
    say (no DAC model: QEMU keeps libvirtd's user)."""
    labels: Dict[str, Tuple[int, int]] = {}
    for model in parse(xml).iterfind("host/secmodel"):
        if (model.findtext("model") or "").strip() != "dac":
            continue
        for label in model.iterfind("baselabel"):
            found = _DAC_LABEL.fullmatch((label.text or "").strip())
            if found:
                labels.setdefault(label.get("type") or "", (int(found.group(1)), int(found.group(2))))
    return next((labels[virt_type] for virt_type in virt_types if virt_type in labels), None)


def _machine_types(element: Any) -> MachineTypes:
    aliases: List[str] = []
    canonical: List[str] = []
    others: List[str] = []
    for machine in element.iterfind("machine"):
        name = (machine.text or "").strip()
        if not name:
            continue
        target = machine.get("canonical")
        if target:
            aliases.append(name)
            canonical.append(target)
        else:
            others.append(name)
    listed = set(others)
    newest = [name for name in canonical if name in listed]
    rest = sorted(set(others) - set(newest), key=_version_key, reverse=True)
    shown = tuple(dict.fromkeys(aliases + newest + rest))
    return MachineTypes(names=frozenset(shown), shown=shown)


def _version_key(name: str) -> Tuple[Tuple[int, ...], str]:
    """The version a machine type ends in (pc-q35-7.10 after pc-q35-7.2: numbers compare as numbers),
    then its name; names without one (microvm, isapc) come last."""
    found = re.search(r"-(\d+(?:\.\d+)*)$", name)
    return (tuple(int(part) for part in found.group(1).split(".")) if found else ()), name


class FirmwareOffer(Record):
    """The firmware the domain capabilities of one machine type offer. None is "not said" (an
    older libvirt, or no ``<os>`` element): nothing is refused on it.

    ``supported``: whether libvirt selects firmware at all (``<os supported=...>``); ``firmware``: the
    values of ``<os><enum name='firmware'>`` (``efi`` where a UEFI firmware fits the machine type);
    ``secure``: the ``secure`` values of its loaders (``yes`` only where a firmware with secure boot
    fits the machine type).
    """

    machine: Optional[str] = None
    supported: Optional[bool] = None
    firmware: Optional[Tuple[str, ...]] = None
    secure: Optional[Tuple[str, ...]] = None

    @property
    def efi(self) -> Optional[bool]:
        """Whether a UEFI firmware fits; None when the capabilities do not say."""
        if self.supported is False:
            return False
        return None if self.firmware is None else "efi" in self.firmware

    @property
    def secure_boot(self) -> Optional[bool]:
        """Whether a UEFI firmware with secure boot fits; None when the capabilities do not say."""
        if self.efi is False:
            return False
        return None if self.secure is None else "yes" in self.secure


def firmware_offer(xml: str) -> FirmwareOffer:
    """The firmware of domain capabilities ``xml``."""
    caps = parse(xml)
    machine = (caps.findtext("machine") or "").strip() or None
    os_element = caps.find("os")
    if os_element is None:
        return FirmwareOffer(machine=machine)
    supported = os_element.get("supported")
    loader_supported = attr_of(os_element, "loader", "supported")
    return FirmwareOffer(
        machine=machine,
        supported=None if supported is None else supported == "yes",
        firmware=_enum_values(os_element, "enum[@name='firmware']"),
        secure=() if loader_supported == "no" else _enum_values(os_element, "loader/enum[@name='secure']"),
    )


def _enum_values(element: Any, path: str) -> Optional[Tuple[str, ...]]:
    found = element.find(path)
    if found is None:
        return None
    return tuple((value.text or "").strip() for value in found.iterfind("value"))
