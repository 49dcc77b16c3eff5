# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tuning options against the host: what its libvirt offers (domain capabilities: TPM and RNG
models and backends), its CPUs, NUMA nodes and huge pages (capabilities, /sys), read only for the
options a run gives, and every refusal of the wanted values there.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.tuning import (
    CpuPinning,
    Hugepages,
    Rng,
    Tpm,
    Tuning,
    TuningHost,
    format_cpuset,
    parse_cpuset,
)

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

# Options checked against the host's capabilities (CPUs, NUMA cells, page sizes), and against its
# domain capabilities (device models and backends).
_TOPOLOGY_OPTIONS = ("cpu_pinning", "numa", "hugepages")
_DEVICE_OPTIONS = ("tpm", "rng")


def read_tuning_host(client: "Client", request: "GuestRequest", state: "GuestState", local: bool) -> TuningHost:
    """What the host offers for the tuning options ``request`` gives (and a new UEFI guest's default
    TPM): at most one read of the domain capabilities and one of the capabilities."""
    tuning = request.tuning
    installs = state.existing is None or request.reinstall
    host = TuningHost()
    if (
        any(tuning.is_given(option) for option in _DEVICE_OPTIONS)
        or (installs and request.firmware == "uefi")
        or _sets_vcpus(request, state)
    ):
        arch, virt_type = state.platform(request.arch, request.domain_type, request.reinstall)
        host = host.with_domain_capabilities(client.domain_capabilities(arch, virt_type))
        machine = _machine_of(request, state)
        if machine is not None and _sets_vcpus(request, state):
            # The limit is the guest's machine type's ('pc' 255, 'q35' 288 or more), not the default's.
            host = host.with_vcpu_limit(client.domain_capabilities(arch, virt_type, machine), machine)
    rng = tuning.values.rng if tuning.is_given("rng") else None
    if local and rng is not None and not _is_char_device(rng.source):
        host = host.with_changes(missing_rng_source=rng.source)
    if any(tuning.is_given(option) for option in _TOPOLOGY_OPTIONS):
        host = host.with_host_capabilities(client.host_capabilities())
        if local and tuning.is_given("hugepages"):
            host = host.with_changes(free_pages=read_free_pages(host.huge_page_sizes))
    return host


def _is_char_device(path: str) -> bool:
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def _sets_vcpus(request: "GuestRequest", state: "GuestState") -> bool:
    return state.sets_vcpus(request.vcpus, request.reinstall)


def _machine_of(request: "GuestRequest", state: "GuestState") -> Optional[str]:
    """The machine type the guest is given or has; None for libvirt's default."""
    if request.machine:
        return request.machine
    existing = None if request.reinstall else state.existing
    return existing.os.machine if existing is not None else None


def vcpu_problems(request: "GuestRequest", state: "GuestState", vcpus: int) -> List[str]:
    """``vcpus`` over the most the guest's machine type takes, where the capabilities tell it."""
    host = state.tuning_host
    if not host.max_vcpus or vcpus <= host.max_vcpus or not _sets_vcpus(request, state):
        return []
    if _machine_of(request, state) not in (host.vcpus_machine_asked, host.default_machine):
        return []  # the limit read is another machine type's
    hint = "" if "q35" in (host.default_machine or "") else " (machine: q35 takes more)"
    return [
        "vcpus %d is more than machine type %s takes on this host (%d); give fewer, or another machine%s"
        % (vcpus, host.default_machine, host.max_vcpus, hint)
    ]


def tuning_problems(request: "GuestRequest", state: "GuestState") -> List[str]:
    """Every refusal of the guest's tuning on the host ``state.tuning_host`` describes: a new
    guest's whole tuning, only the options given for an existing guest (what it has was accepted)."""
    # Imported here: definition imports this module.
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.definition import new_guest_tuning
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import DEFAULT_MEMORY

    existing = None if state.existing is None or request.reinstall else state.existing
    wanted = new_guest_tuning(request, state) if existing is None else request.tuning.applied_to(Tuning())
    vcpus = request.vcpus or (existing.vcpus if existing is not None else None) or 1
    memory = request.memory or (existing.memory if existing is not None else None) or DEFAULT_MEMORY
    problems = vcpu_problems(request, state, vcpus)
    return problems + host_problems(wanted, state.tuning_host, vcpus, memory, starts(request, existing is None, state.active))


def starts(request: "GuestRequest", new: bool, active: bool) -> bool:
    """Whether the run starts the guest (a new guest's install or first boot, or state running):
    an import defined with state present is never started, so it needs no free huge pages yet."""
    if new:
        return request.install.method != "import" or request.cloud_init is not None or request.state == "running"
    return request.state == "running" and not active


# -- against the host --------------------------------------------------------------------------
def default_tpm(host: TuningHost) -> Optional[Tpm]:
    """The TPM a new UEFI guest gets when ``tpm`` is not given: an emulated TPM 2.0 where the host
    offers one, as virt-install adds it (Windows 11 and measured boot expect one with UEFI)."""
    if "emulator" in host.tpm_backends and "2.0" in (host.tpm_versions or ("2.0",)):
        return Tpm(model="tpm-crb" if "tpm-crb" in (host.tpm_models or ("tpm-crb",)) else "tpm-tis")
    return None


def host_problems(tuning: Tuning, host: TuningHost, vcpus: int, memory: int, starts: bool) -> List[str]:
    """Every refusal of the wanted ``tuning`` on this host; ``starts`` when the run may start the guest."""
    problems: List[str] = []
    if tuning.tpm is not None:
        problems.extend(_tpm_problems(tuning.tpm, host))
    if tuning.rng is not None:
        problems.extend(_rng_problems(tuning.rng, host))
    if tuning.pinning is not None:
        problems.extend(_pinning_problems(tuning.pinning, host, vcpus))
    if tuning.numa is not None and host.numa_nodes:
        missing = sorted(parse_cpuset(tuning.numa.nodeset) - set(host.numa_nodes))
        if missing:
            problems.append(
                "numa.nodeset %s names NUMA node %s, which the host does not have (it has: %s)"
                % (tuning.numa.nodeset, ",".join(map(str, missing)), _ranges(host.numa_nodes))
            )
    if tuning.hugepages is not None:
        problems.extend(_hugepage_problems(tuning.hugepages, host, memory, starts))
    return problems


def _rng_problems(rng: Rng, host: TuningHost) -> List[str]:
    """The RNG device and its host-device backend must be offered by libvirt, and its source device
    be on the host (/dev/hwrng only with a hardware RNG and its driver): QEMU would fail to start."""
    if host.domain_capabilities_read and rng.model not in host.rng_models:
        return ["rng: this host's libvirt offers no %s RNG (it offers: %s)" % (rng.model, _listed(host.rng_models))]
    if host.domain_capabilities_read and host.rng_backends and "random" not in host.rng_backends:
        return [
            "rng: this host's libvirt offers no RNG backend fed from a host device (backends: %s); set rng: false"
            % _listed(host.rng_backends)
        ]
    if host.missing_rng_source is not None:
        return [
            "rng.backend %s: the host has no such device (a hardware RNG needs the device and its kernel driver); "
            "use /dev/urandom" % host.missing_rng_source
        ]
    return []


def _tpm_problems(tpm: Tpm, host: TuningHost) -> List[str]:
    if not host.domain_capabilities_read:
        return []
    if not host.tpm_models:
        return ["tpm: this host's libvirt offers no TPM devices for this guest"]
    problems = []
    if tpm.model not in host.tpm_models:
        problems.append("tpm.model %s is not offered by this host (it offers: %s)" % (tpm.model, _listed(host.tpm_models)))
    if "emulator" not in host.tpm_backends:
        # libvirt refuses to define such a guest at all ("TPM version '2.0' is not supported").
        problems.append(
            "tpm: this host's libvirt offers no emulated TPM (backends: %s); install swtpm on the host "
            "(apt install swtpm swtpm-tools, dnf install swtpm swtpm-tools), or set tpm: false" % _listed(host.tpm_backends)
        )
    elif host.tpm_versions and tpm.version not in host.tpm_versions:
        problems.append("tpm.version %s is not offered by this host (it offers: %s)" % (tpm.version, _listed(host.tpm_versions)))
    return problems


def _pinning_problems(pinning: CpuPinning, host: TuningHost, vcpus: int) -> List[str]:
    problems = []
    for index, _cpuset in pinning.vcpus:
        if index >= vcpus:
            problems.append(
                "cpu_pinning.vcpus pins vCPU %d, but the guest has %d vCPU%s (numbered 0-%d)"
                % (index, vcpus, "" if vcpus == 1 else "s", vcpus - 1)
            )
    labelled = [("cpu_pinning.vcpus[%d]" % index, cpuset) for index, cpuset in pinning.vcpus]
    if pinning.emulator is not None:
        labelled.append(("cpu_pinning.emulator", pinning.emulator))
    if host.cpus:
        for what, cpuset in labelled:
            missing = sorted(parse_cpuset(cpuset) - set(host.cpus))
            if missing:
                problems.append(
                    "%s %s names host CPU %s, which the host does not have (it has: %s)"
                    % (what, cpuset, ",".join(map(str, missing)), _ranges(host.cpus))
                )
    return problems


def _hugepage_problems(hugepages: Hugepages, host: TuningHost, memory: int, starts: bool) -> List[str]:
    if not host.huge_page_sizes:
        return []
    size = hugepages.size_kib or host.huge_page_sizes[0]
    if size not in host.huge_page_sizes:
        return [
            "hugepages.size %s is not a huge page size of this host (it has: %s)"
            % (_kib_text(size), ", ".join(_kib_text(offered) for offered in host.huge_page_sizes))
        ]
    free = dict(host.free_pages).get(size)
    needed = -(-(memory // 1024) // size)
    if starts and free is not None and free < needed:
        return [
            "hugepages: the guest's %s of memory needs %d free huge pages of %s, and the host has %d free; reserve "
            "at least %d more (/sys/kernel/mm/hugepages/hugepages-%dkB/nr_hugepages) or give the guest less memory"
            % (_kib_text(memory // 1024), needed, _kib_text(size), free, needed - free, size)
        ]
    return []


def read_free_pages(sizes: Tuple[int, ...], root: str = "/sys/kernel/mm/hugepages") -> Tuple[Tuple[int, int], ...]:
    """(size in KiB, free pages) of each of ``sizes`` the kernel reports (on the host the module runs on)."""
    found = []
    for size in sizes:
        try:
            with open("%s/hugepages-%dkB/free_hugepages" % (root, size)) as handle:
                found.append((size, int(handle.read().strip())))
        except (OSError, ValueError):
            continue
    return tuple(found)


def _kib_text(kib: int) -> str:
    for unit, factor in (("G", 1 << 20), ("M", 1 << 10)):
        if kib >= factor and kib % factor == 0:
            return "%d%s" % (kib // factor, unit)
    return "%dK" % kib


def _listed(values: Tuple[str, ...]) -> str:
    return ", ".join(values) or "none"


def _ranges(numbers: Tuple[int, ...]) -> str:
    return format_cpuset(numbers)
