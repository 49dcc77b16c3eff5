# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest's tuning and its platform devices (https://libvirt.org/formatdomain.html): the emulated
TPM, the virtio RNG, the guest agent's channel, CPU pinning (``<cputune>``), NUMA memory placement (``<numatune>``) and huge
page backing (``<memoryBacking><hugepages>``).

Each record reads back from libvirt's stored XML in the form it builds (cpusets in libvirt's
canonical form, ``0-1,3``), so a requested value compares equal to what libvirt stored. The
``Tuning`` record holds them all; the domain builder writes, reads and patches it with one call each.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import (
    XmlError,
    XmlObject,
    attr_of,
    etree,
    sub,
)

# -- cpusets -----------------------------------------------------------------------------------
# The most CPU numbers a cpuset may list, counting each range's members (twice the largest range,
# so a full range with exclusions fits).
_MAX_LISTED = 1 << 17


def parse_cpuset(text: str) -> FrozenSet[int]:
    """libvirt's cpuset syntax (``0-3,^2,6``): ranges and numbers, ``^n`` excluding one; raises ValueError."""
    included: List[int] = []
    excluded: List[int] = []
    listed = 0
    for part in text.split(","):
        if not part:
            raise ValueError("an empty entry")
        target = excluded if part.startswith("^") else included
        part = part[1:] if part.startswith("^") else part
        first, dash, last = part.partition("-")
        if not _digits(first) or (dash and not _digits(last)):
            raise ValueError("%r is not a CPU number or a range such as 0-3" % part)
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise ValueError("range %s ends before it starts" % part)
        if high - low > 65535:
            raise ValueError("range %s is too large" % part)
        # Bounds the whole text too: many large ranges (0-65535 repeated) would take the host's
        # memory and minutes of CPU to expand.
        listed += high - low + 1
        if listed > _MAX_LISTED:
            raise ValueError("it lists more than %d CPUs in all" % _MAX_LISTED)
        target.extend(range(low, high + 1))
    members = frozenset(included) - frozenset(excluded)
    if not members:
        raise ValueError("it selects no CPU")
    return members


def _digits(text: str) -> bool:
    return bool(text) and text.isascii() and text.isdigit() and len(text) <= 5


def format_cpuset(members: Iterable[int]) -> str:
    """The canonical text libvirt stores (virBitmapFormat): ascending ranges, ``0-1,3``."""
    runs: List[List[int]] = []
    for number in sorted(set(members)):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ",".join(str(low) if low == high else "%d-%d" % (low, high) for low, high in runs)


def canonical_cpuset(text: str) -> str:
    """``text`` in libvirt's stored form; raises ValueError for text that is no cpuset."""
    return format_cpuset(parse_cpuset(text))


# -- devices -----------------------------------------------------------------------------------
class Tpm(XmlObject):
    """An emulated TPM (swtpm, started by libvirt with the guest): ``<tpm model><backend type='emulator'>``."""

    model: str = "tpm-crb"
    version: str = "2.0"
    backend: str = "emulator"

    def to_element(self) -> Any:
        tpm = etree.Element("tpm", model=self.model)
        sub(tpm, "backend", type=self.backend, version=self.version if self.backend == "emulator" else None)
        return tpm

    @classmethod
    def from_element(cls, tpm: Any) -> "Tpm":
        backend = attr_of(tpm, "backend", "type") or "emulator"
        return cls(
            model=tpm.get("model") or "tpm-tis",
            version=attr_of(tpm, "backend", "version") or "" if backend == "emulator" else "",
            backend=backend,
        )


class Rng(XmlObject):
    """A virtio RNG fed from a host device (``/dev/urandom``), optionally rate-limited."""

    source: str = "/dev/urandom"
    rate_bytes: Optional[int] = None
    rate_period: Optional[int] = None
    model: str = "virtio"

    def to_element(self) -> Any:
        rng = etree.Element("rng", model=self.model)
        if self.rate_bytes is not None:
            sub(rng, "rate", bytes=str(self.rate_bytes), period=None if self.rate_period is None else str(self.rate_period))
        sub(rng, "backend", self.source, model="random")
        return rng

    @classmethod
    def from_element(cls, rng: Any) -> "Rng":
        backend = rng.find("backend")
        model = backend.get("model") if backend is not None else None
        # Other backends (egd, builtin) read as their model name: never equal to a requested device path.
        source = (backend.text or "").strip() if model == "random" else (model or "")
        rate_bytes = attr_of(rng, "rate", "bytes")
        rate_period = attr_of(rng, "rate", "period")
        return cls(
            source=source,
            rate_bytes=int(rate_bytes) if rate_bytes else None,
            rate_period=int(rate_period) if rate_period else None,
            model=rng.get("model") or "virtio",
        )


# The virtio-serial port name the QEMU guest agent (qemu-ga) opens in the guest.
GUEST_AGENT_PORT = "org.qemu.guest_agent.0"


class GuestAgent(XmlObject):
    """The channel the QEMU guest agent talks through: a virtio-serial port whose host end is a
    socket libvirt makes and names itself (no path is given, so none can point anywhere else)."""

    def to_element(self) -> Any:
        channel = etree.Element("channel", type="unix")
        sub(channel, "source", mode="bind")
        sub(channel, "target", type="virtio", name=GUEST_AGENT_PORT)
        return channel


def _has_agent_port(element: Any) -> bool:
    """A channel on the guest agent's port, whatever its host end (each is replaced by the agent's)."""
    target = element.find("target")
    return target is not None and target.get("type") == "virtio" and target.get("name") == GUEST_AGENT_PORT


def _is_guest_agent_channel(element: Any) -> bool:
    """A channel libvirt talks to the agent through: a socket QEMU listens on (libvirt cannot drive
    an agent on a pty, or on a socket QEMU connects out to)."""
    source = element.find("source")
    return element.get("type") == "unix" and (source is None or source.get("mode") == "bind") and _has_agent_port(element)


def has_guest_agent_channel(devices: Any) -> bool:
    """Whether a definition's ``<devices>`` has a channel libvirt reaches the guest agent through."""
    return any(_is_guest_agent_channel(channel) for channel in devices.findall("channel"))


# -- tuning ------------------------------------------------------------------------------------
class CpuPinning(XmlObject):
    """``<cputune>``'s pins: each vCPU's host CPUs (canonical cpusets) and the emulator threads'."""

    vcpus: Tuple[Tuple[int, str], ...] = ()
    emulator: Optional[str] = None

    def add_to(self, cputune: Any) -> None:
        for vcpu, cpuset in self.vcpus:
            sub(cputune, "vcpupin", vcpu=str(vcpu), cpuset=cpuset)
        if self.emulator is not None:
            sub(cputune, "emulatorpin", cpuset=self.emulator)

    @property
    def empty(self) -> bool:
        return not self.vcpus and self.emulator is None

    @classmethod
    def from_domain(cls, domain: Any) -> Optional["CpuPinning"]:
        cputune = domain.find("cputune")
        if cputune is None:
            return None
        pins = tuple(
            sorted((int(pin.get("vcpu", "0")), _stored_cpuset(pin.get("cpuset", ""))) for pin in cputune.iterfind("vcpupin"))
        )
        emulator = attr_of(cputune, "emulatorpin", "cpuset")
        pinning = cls(vcpus=pins, emulator=_stored_cpuset(emulator) if emulator else None)
        return None if pinning.empty else pinning


def _stored_cpuset(text: str) -> str:
    try:
        return canonical_cpuset(text)
    except ValueError:
        return text  # libvirt's own text, compared as it is


class NumaTune(XmlObject):
    """``<numatune><memory mode nodeset>``: the host NUMA nodes the guest's memory comes from."""

    nodeset: str
    mode: str = "strict"

    def add_to(self, numatune: Any) -> None:
        sub(numatune, "memory", mode=self.mode, nodeset=self.nodeset)

    @classmethod
    def from_domain(cls, domain: Any) -> Optional["NumaTune"]:
        memory = domain.find("numatune/memory")
        if memory is None or not memory.get("nodeset"):
            return None  # automatic placement (numad) or none: not what the collection sets
        return cls(nodeset=_stored_cpuset(memory.get("nodeset")), mode=memory.get("mode") or "strict")


class Hugepages(XmlObject):
    """``<memoryBacking><hugepages>``: guest memory from huge pages; ``size_kib`` None is the host's default size."""

    size_kib: Optional[int] = None

    def add_to(self, backing: Any) -> None:
        hugepages = sub(backing, "hugepages")
        if self.size_kib is not None:
            sub(hugepages, "page", size=str(self.size_kib), unit="KiB")

    @classmethod
    def from_domain(cls, domain: Any) -> Optional["Hugepages"]:
        hugepages = domain.find("memoryBacking/hugepages")
        if hugepages is None:
            return None
        page = hugepages.find("page")
        if page is None or not page.get("size"):
            return cls()
        return cls(size_kib=_kib(page.get("size", ""), page.get("unit") or "KiB"))


_KIB_PER_UNIT = {"b": None, "bytes": None, "k": 1, "kib": 1, "m": 1024, "mib": 1024, "g": 1 << 20, "gib": 1 << 20}


def _kib(size: str, unit: str) -> Optional[int]:
    """A page size in KiB; libvirt stores KiB, but a hand-written definition may use another unit."""
    factor = _KIB_PER_UNIT.get(unit.lower())
    if not size.isdigit():
        raise XmlError("huge page size %r is not a number" % size)
    return int(size) // 1024 if factor is None else int(size) * factor


# Domain children the tuning elements go after, in libvirt's order; devices go into <devices>.
_AFTER = {"memoryBacking": ("currentMemory", "memory"), "cputune": ("vcpu",), "numatune": ("cputune", "vcpu")}


class Tuning(XmlObject):
    """Everything of this file a guest has; None is "none" (a request leaves unset fields as stored)."""

    tpm: Optional[Tpm] = None
    rng: Optional[Rng] = None
    agent: Optional[GuestAgent] = None
    pinning: Optional[CpuPinning] = None
    numa: Optional[NumaTune] = None
    hugepages: Optional[Hugepages] = None

    def summary(self) -> Dict[str, str]:
        """One line of text per set field, for results and the preview."""
        lines = {}
        if self.tpm is not None:
            lines["tpm"] = "%s %s (%s)" % (
                self.tpm.model,
                self.tpm.version,
                "emulated" if self.tpm.backend == "emulator" else self.tpm.backend,
            )
        if self.rng is not None:
            rate = ", %d bytes per %d ms" % (self.rng.rate_bytes, self.rng.rate_period or 1000) if self.rng.rate_bytes else ""
            lines["rng"] = "%s %s%s" % (self.rng.model, self.rng.source, rate)
        if self.agent is not None:
            lines["guest_agent"] = "virtio-serial channel %s" % GUEST_AGENT_PORT
        if self.pinning is not None:
            pins = ["vCPU %d on %s" % pin for pin in self.pinning.vcpus]
            if self.pinning.emulator is not None:
                pins.append("emulator on %s" % self.pinning.emulator)
            lines["cpu_pinning"] = ", ".join(pins)
        if self.numa is not None:
            lines["numa"] = "memory on node %s (%s)" % (self.numa.nodeset, self.numa.mode)
        if self.hugepages is not None:
            size = self.hugepages.size_kib
            lines["hugepages"] = (
                "default size" if size is None else ("%dM" % (size // 1024) if size < 1 << 20 else "%dG" % (size >> 20))
            )
        return lines

    def add_to(self, domain: Any) -> None:
        """Write the set fields into a ``<domain>`` being built (its ``<devices>`` exists)."""
        if self.hugepages is not None:
            self.hugepages.add_to(_child(domain, "memoryBacking"))
        if self.pinning is not None and not self.pinning.empty:
            self.pinning.add_to(_child(domain, "cputune"))
        if self.numa is not None:
            self.numa.add_to(_child(domain, "numatune"))
        devices = _child(domain, "devices")
        if self.tpm is not None:
            devices.append(self.tpm.to_element())
        if self.rng is not None:
            devices.append(self.rng.to_element())
        if self.agent is not None:
            devices.append(self.agent.to_element())

    @classmethod
    def from_domain(cls, domain: Any) -> "Tuning":
        tpm = domain.find("devices/tpm")
        rng = domain.find("devices/rng")
        devices = domain.find("devices")
        return cls(
            tpm=Tpm.from_element(tpm) if tpm is not None else None,
            rng=Rng.from_element(rng) if rng is not None else None,
            agent=GuestAgent() if devices is not None and has_guest_agent_channel(devices) else None,
            pinning=CpuPinning.from_domain(domain),
            numa=NumaTune.from_domain(domain),
            hugepages=Hugepages.from_domain(domain),
        )

    def patch(self, root: Any, previous: "Tuning") -> None:
        """Rewrite in a stored definition ``root`` the fields that differ from ``previous``; every
        other part of those elements (``<cputune>`` shares, memfd backing, device addresses) stays."""
        devices = _child(root, "devices")
        if self.tpm != previous.tpm:
            _replace(devices, "tpm", self.tpm)
        if self.rng != previous.rng:
            _replace(devices, "rng", self.rng)
        if self.agent != previous.agent:
            _replace(devices, "channel", self.agent, _has_agent_port)
        if self.pinning != previous.pinning:
            cputune = _child(root, "cputune")
            for tag in ("vcpupin", "emulatorpin"):
                for element in cputune.findall(tag):
                    cputune.remove(element)
            if self.pinning is not None:
                self.pinning.add_to(cputune)
            _drop_if_empty(root, cputune)
        if self.numa != previous.numa:
            numatune = _child(root, "numatune")
            for element in numatune.findall("memory"):
                numatune.remove(element)
            if self.numa is not None:
                self.numa.add_to(numatune)
            _drop_if_empty(root, numatune)
        if self.hugepages != previous.hugepages:
            backing = _child(root, "memoryBacking")
            for element in backing.findall("hugepages"):
                backing.remove(element)
            if self.hugepages is not None:
                self.hugepages.add_to(backing)
            _drop_if_empty(root, backing)


def _child(root: Any, tag: str) -> Any:
    """``root``'s ``tag`` child, made where libvirt puts it when missing."""
    element = root.find(tag)
    if element is not None:
        return element
    element = etree.Element(tag)
    for anchor_tag in _AFTER.get(tag, ()):
        anchor = root.find(anchor_tag)
        if anchor is not None:
            anchor.addnext(element)
            return element
    root.append(element)
    return element


def _drop_if_empty(root: Any, element: Any) -> None:
    if len(element) == 0 and not element.attrib:
        root.remove(element)


def _replace(devices: Any, tag: str, wanted: Optional[XmlObject], chosen: Callable[[Any], bool] = lambda element: True) -> None:
    """The guest's ``tag`` device (of those ``chosen`` picks) replaced by ``wanted`` (removed when
    None), at the same place and with its ``<address>``, so the guest sees it where it was."""
    existing = [element for element in devices.findall(tag) if chosen(element)]
    replacement = wanted.to_element() if wanted is not None else None
    if existing and replacement is not None:
        address = existing[0].find("address")
        if address is not None:
            replacement.append(address)
        devices.replace(existing[0], replacement)
        existing = existing[1:]
    elif replacement is not None:
        devices.append(replacement)
    for element in existing:
        devices.remove(element)


# -- what the host offers ----------------------------------------------------------------------
class TuningHost(XmlObject):
    """The host's facts the tuning options are checked against. An empty tuple is "not known"
    (the capabilities were not read, or the driver has none): nothing is refused on it.

    ``free_pages`` holds (page size in KiB, free pages) as the kernel counts them now, read only
    where the module runs on the hypervisor.
    """

    domain_capabilities_read: bool = False
    tpm_models: Tuple[str, ...] = ()
    tpm_backends: Tuple[str, ...] = ()
    tpm_versions: Tuple[str, ...] = ()
    rng_models: Tuple[str, ...] = ()
    rng_backends: Tuple[str, ...] = ()
    cpus: Tuple[int, ...] = ()
    numa_nodes: Tuple[int, ...] = ()
    huge_page_sizes: Tuple[int, ...] = ()  # KiB, ascending; the first is the default size
    free_pages: Tuple[Tuple[int, int], ...] = ()
    # The requested RNG's source device when the host has no such device (read only where the
    # module runs on the hypervisor; None: there, or not known).
    missing_rng_source: Optional[str] = None
    # The most vCPUs libvirt allows on a machine type, with that type's name as the domain
    # capabilities give it (the default type, or the guest's; 0 and None: not read).
    max_vcpus: int = 0
    default_machine: Optional[str] = None
    # The machine type the limit was asked for, as the guest names it (None: the default type).
    vcpus_machine_asked: Optional[str] = None

    def with_domain_capabilities(self, xml: Optional[str]) -> "TuningHost":
        if xml is None:
            return self
        # Imported here: only runs with tuning options read the capabilities.
        from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse

        caps = parse(xml)
        tpm_supported = attr_of(caps, "devices/tpm", "supported") == "yes"
        rng_supported = attr_of(caps, "devices/rng", "supported") == "yes"
        max_vcpus, machine = _vcpu_limit(caps)
        return self.with_changes(
            domain_capabilities_read=True,
            max_vcpus=max_vcpus,
            default_machine=machine,
            tpm_models=_enum(caps, "tpm", "model") if tpm_supported else (),
            tpm_backends=_enum(caps, "tpm", "backendModel") if tpm_supported else (),
            tpm_versions=_enum(caps, "tpm", "backendVersion") if tpm_supported else (),
            rng_models=_enum(caps, "rng", "model") if rng_supported else (),
            rng_backends=_enum(caps, "rng", "backendModel") if rng_supported else (),
        )

    def with_vcpu_limit(self, xml: Optional[str], machine: str) -> "TuningHost":
        """The vCPU limit of the machine type that domain capabilities ``xml`` were read for; none
        known when they could not be read (not the default type's)."""
        if xml is None:
            return self.with_changes(max_vcpus=0, default_machine=None, vcpus_machine_asked=machine)
        from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse

        max_vcpus, named = _vcpu_limit(parse(xml))
        return self.with_changes(max_vcpus=max_vcpus, default_machine=named, vcpus_machine_asked=machine)

    def with_host_capabilities(self, xml: str) -> "TuningHost":
        from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import parse

        host = parse(xml).find("host")
        if host is None:
            return self
        sizes = sorted({int(page.get("size", "0")) * (_kib_factor(page.get("unit")) or 1) for page in host.iterfind("cpu/pages")})
        cells = host.findall("topology/cells/cell")
        return self.with_changes(
            cpus=tuple(sorted(int(cpu.get("id", "0")) for cpu in host.iterfind("topology/cells/cell/cpus/cpu"))),
            numa_nodes=tuple(sorted(int(cell.get("id", "0")) for cell in cells)),
            # The smallest size is the base page, not a huge page.
            huge_page_sizes=tuple(sizes[1:]),
        )


def _vcpu_limit(caps: Any) -> Tuple[int, Optional[str]]:
    """The most vCPUs of the machine type domain capabilities describe (0 when not given), and its name."""
    text = attr_of(caps, "vcpu", "max")
    return (int(text) if text and text.isdigit() and text.isascii() else 0), caps.findtext("machine")


def _kib_factor(unit: Optional[str]) -> Optional[int]:
    return _KIB_PER_UNIT.get((unit or "KiB").lower())


def _enum(caps: Any, device: str, name: str) -> Tuple[str, ...]:
    return tuple((value.text or "").strip() for value in caps.iterfind("devices/%s/enum[@name='%s']/value" % (device, name)))
