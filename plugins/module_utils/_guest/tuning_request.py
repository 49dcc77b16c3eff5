# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tuning options of a guest (``tpm``, ``rng``, ``guest_agent``, ``cpu_pinning``, ``numa``, ``hugepages``),
validated: their form here, then against what the host offers (its domain capabilities, CPUs,
NUMA nodes and huge pages) once the runner has read it.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import ascii_int
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.tuning import (
    CpuPinning,
    GuestAgent,
    Hugepages,
    NumaTune,
    Rng,
    Tpm,
    Tuning,
    format_cpuset,
    parse_cpuset,
)

TUNING_OPTIONS = ("tpm", "rng", "guest_agent", "cpu_pinning", "numa", "hugepages")
TPM_MODELS = ("tpm-crb", "tpm-tis")
TPM_VERSIONS = ("2.0", "1.2")
RNG_SOURCES = ("/dev/urandom", "/dev/random", "/dev/hwrng")
NUMA_MODES = ("strict", "preferred", "interleave", "restrictive")
# Tuning field of each option.
_FIELDS = {"tpm": "tpm", "rng": "rng", "guest_agent": "agent", "cpu_pinning": "pinning", "numa": "numa", "hugepages": "hugepages"}


class TuningRequest(Record):
    """The tuning options given: ``values`` holds the wanted state of each (None = none, so
    ``tpm: false`` removes the TPM); an option not given is not in ``given`` and stays as stored."""

    given: FrozenSet[str] = frozenset()
    values: Tuning = Tuning()

    def applied_to(self, stored: Tuning) -> Tuning:
        """``stored`` with every given option's value in place of its own."""
        return stored.with_changes(**{_FIELDS[option]: getattr(self.values, _FIELDS[option]) for option in self.given})

    def is_given(self, option: str) -> bool:
        return option in self.given


def tuning_param(params: Mapping[str, Any]) -> TuningRequest:
    """The tuning options of ``params``; raises PlanError (Refusals) with every refusal."""
    # Imported here: the request module imports this one, and Refusals lives there.
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import Refusals, refusals_of

    readers = {
        "tpm": _tpm,
        "rng": _rng,
        "guest_agent": _guest_agent,
        "cpu_pinning": _pinning,
        "numa": _numa,
        "hugepages": _hugepages,
    }
    values: Dict[str, Any] = {}
    problems: List[str] = []
    for option, reader in readers.items():
        value = params.get(option)
        if value is None:
            continue
        try:
            values[_FIELDS[option]] = reader(value)
        except PlanError as error:
            problems.extend(refusals_of(error))
    if problems:
        raise Refusals(problems)
    given = frozenset(option for option in TUNING_OPTIONS if params.get(option) is not None)
    return TuningRequest(given=given, values=Tuning(**values))


def _switch_or_dict(value: Any, what: str) -> Optional[Mapping[str, Any]]:
    """``true`` (an empty dictionary: the defaults), ``false`` (None) or a dictionary."""
    if value is True:
        return {}
    if value is False:
        return None
    if not isinstance(value, Mapping):
        raise PlanError("%s must be true, false or a dictionary, not %r" % (what, value))
    return value


def _known_keys(entry: Mapping[str, Any], what: str, keys: Tuple[str, ...]) -> None:
    unknown = sorted(str(key) for key in entry if key not in keys)
    if unknown:
        raise PlanError("%s: unknown key %s; it takes %s" % (what, ", ".join(unknown), ", ".join(keys)))


def _choice(value: Any, what: str, choices: Tuple[str, ...]) -> str:
    if value not in choices:
        raise PlanError("%s must be one of %s, not %r" % (what, ", ".join(choices), value))
    return str(value)


def _tpm(value: Any) -> Optional[Tpm]:
    entry = _switch_or_dict(value, "tpm")
    if entry is None:
        return None
    _known_keys(entry, "tpm", ("model", "version"))
    model = _choice(entry.get("model") or "tpm-crb", "tpm.model", TPM_MODELS)
    version = entry.get("version") or "2.0"
    # YAML reads an unquoted 2.0 as a number.
    version = _choice(str(version) if isinstance(version, float) else version, "tpm.version", TPM_VERSIONS)
    if model == "tpm-crb" and version != "2.0":
        raise PlanError("tpm: model tpm-crb is a TPM 2.0 interface; use version 2.0, or model tpm-tis for 1.2")
    return Tpm(model=model, version=version)


def _guest_agent(value: Any) -> Optional[GuestAgent]:
    if not isinstance(value, bool):
        raise PlanError("guest_agent must be true or false, not %r" % (value,))
    return GuestAgent() if value else None


def _rng(value: Any) -> Optional[Rng]:
    entry = _switch_or_dict(value, "rng")
    if entry is None:
        return None
    _known_keys(entry, "rng", ("backend", "rate_bytes", "rate_period"))
    source = _choice(entry.get("backend") or "/dev/urandom", "rng.backend", RNG_SOURCES)
    rate_bytes = entry.get("rate_bytes")
    rate_period = entry.get("rate_period")
    if rate_bytes is not None:
        rate_bytes = ascii_int(rate_bytes, "rng.rate_bytes", 1, (1 << 32) - 1)
    if rate_period is not None:
        if rate_bytes is None:
            raise PlanError("rng.rate_period is the period of rng.rate_bytes: give rate_bytes too")
        rate_period = ascii_int(rate_period, "rng.rate_period", 1, (1 << 32) - 1)
    return Rng(source=source, rate_bytes=rate_bytes, rate_period=rate_period)


def cpuset_param(value: Any, what: str) -> str:
    """A cpuset (``0-3,^2,6``) in libvirt's stored form."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PlanError("%s must be a cpuset such as 0-3,^2,6, not %r" % (what, value))
    try:
        return format_cpuset(parse_cpuset(str(value)))
    except ValueError as error:
        raise PlanError("%s: %r is not a cpuset such as 0-3,^2,6 (%s)" % (what, value, error))


def _pinning(value: Any) -> Optional[CpuPinning]:
    if not isinstance(value, Mapping):
        raise PlanError("cpu_pinning must be a dictionary with vcpus and emulator, not %r" % (value,))
    _known_keys(value, "cpu_pinning", ("vcpus", "emulator"))
    vcpus = value.get("vcpus")
    if vcpus is None:
        vcpus = {}
    if isinstance(vcpus, (list, tuple)):
        vcpus = dict(enumerate(vcpus))
    if not isinstance(vcpus, Mapping):
        raise PlanError("cpu_pinning.vcpus must map vCPU numbers to cpusets ({0: '2'}) or list cpusets, not %r" % (vcpus,))
    pins = []
    for key, cpuset in vcpus.items():
        index = ascii_int(key, "cpu_pinning.vcpus key %r" % (key,), 0, 4095)
        pins.append((index, cpuset_param(cpuset, "cpu_pinning.vcpus[%d]" % index)))
    indexes = [pin[0] for pin in pins]
    if len(set(indexes)) != len(indexes):
        raise PlanError("cpu_pinning.vcpus pins a vCPU twice (keys %s)" % ", ".join(str(index) for index in sorted(indexes)))
    emulator = value.get("emulator")
    pinning = CpuPinning(
        vcpus=tuple(sorted(pins)), emulator=cpuset_param(emulator, "cpu_pinning.emulator") if emulator is not None else None
    )
    return None if pinning.empty else pinning


def _numa(value: Any) -> Optional[NumaTune]:
    if not isinstance(value, Mapping):
        raise PlanError("numa must be a dictionary with nodeset and mode, not %r" % (value,))
    _known_keys(value, "numa", ("nodeset", "mode"))
    nodeset = value.get("nodeset")
    mode = value.get("mode")
    if nodeset is None:
        if mode is not None:
            raise PlanError("numa.mode needs numa.nodeset (the host NUMA nodes of the guest's memory)")
        return None
    return NumaTune(nodeset=cpuset_param(nodeset, "numa.nodeset"), mode=_choice(mode or "strict", "numa.mode", NUMA_MODES))


def _hugepages(value: Any) -> Optional[Hugepages]:
    entry = _switch_or_dict(value, "hugepages")
    if entry is None:
        return None
    _known_keys(entry, "hugepages", ("size",))
    size = entry.get("size")
    if size is None:
        return Hugepages()
    # Imported here: only guests with a huge page size read it.
    from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import SizeError, parse_size

    try:
        size_bytes = parse_size(size)
    except SizeError as error:
        raise PlanError("hugepages.size: %s" % error)
    kib = size_bytes // 1024
    if size_bytes % 1024 or kib < 4 or kib & (kib - 1):
        raise PlanError("hugepages.size must be a power of two of at least 4K, such as 2M or 1G, not %r" % (size,))
    return Hugepages(size_kib=kib)
