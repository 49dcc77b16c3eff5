# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt_guest_info's flow: select guests, read each once, report small facts; changes nothing.

A guest's XML is read without libvirt's secure flag, so graphics passwords never reach this
process, and the facts hold no graphics, kernel command line or metadata at all.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import REPORTED_ERRORS, RunError
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import connected
from ansible_collections.remotevirt.install.plugins.module_utils._info.select import NameFilter, check_common
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.definition_mark import (
    definition_pending,
    started_from,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain

# The state filter's values, each with the libvirt states (as virsh prints them) it selects.
STATE_FILTERS = {
    "running": ("running", "blocked", "shutdown"),  # "shutdown": being shut down, still running
    "paused": ("paused",),
    "shutoff": ("shut off",),
    "crashed": ("crashed",),
    "pmsuspended": ("pmsuspended",),
}
ADDRESS_SOURCES = ("none", "lease", "arp", "agent", "any")
MIB = 1024 * 1024


class GuestQuery(Record):
    """Validated options of virt_guest_info."""

    names: NameFilter
    states: Tuple[str, ...] = ()
    addresses: str = "none"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "GuestQuery":
        check_common(params)
        names = NameFilter.from_params(params, "guest")
        given = params.get("state")
        if given is not None and not given:
            # An empty filter is a mistake, not "every guest" (which leaving it out asks for).
            raise PlanError("state: give at least one of %s, or leave it out for every guest" % ", ".join(STATE_FILTERS))
        states = tuple(given or ())
        unknown = [state for state in states if state not in STATE_FILTERS]
        if unknown:
            raise PlanError("state: %r is not one of %s" % (unknown[0], ", ".join(STATE_FILTERS)))
        addresses = params.get("addresses") or "none"
        if addresses not in ADDRESS_SOURCES:
            raise PlanError("addresses must be one of %s" % ", ".join(ADDRESS_SOURCES))
        return cls(names=names, states=states, addresses=addresses)

    def wants_state(self, state: str) -> bool:
        return not self.states or any(state in STATE_FILTERS[wanted] for wanted in self.states)


def run(params: Mapping[str, Any], check_mode: bool, _diff: bool) -> Dict[str, Any]:
    """Everything virt_guest_info does after argument parsing; raises RunError to fail."""
    try:
        query = GuestQuery.from_params(params)
    except PlanError as error:
        raise RunError(str(error))
    warnings: List[str] = []
    try:
        with connected(params["uri"]) as client:
            guests = [
                facts for facts in (_guest_facts(client, domain, query, warnings) for domain in _selected(client, query)) if facts
            ]
    except REPORTED_ERRORS as error:
        raise RunError(str(error))
    return {"changed": False, "guests": guests, "warnings": warnings}


def _selected(client: Client, query: GuestQuery) -> List[Any]:
    if query.names.name is not None:  # one lookup by name, no listing
        domain = client.find_domain(query.names.name)
        return [] if domain is None else [domain]
    return [domain for domain in client.all_domains() if query.names.matches(domain.name())]


def _guest_facts(client: Client, domain: Any, query: GuestQuery, warnings: List[str]) -> Optional[Dict[str, Any]]:
    try:
        state, reason = client.domain_state(domain)
        if not query.wants_state(state):
            return None
        xml = client.domain_xml_if_present(domain)
        if xml is None:
            return None
        persistent = client.domain_is_persistent(domain)
        autostart = persistent and client.domain_autostart(domain)
    except LibvirtError as error:
        if client.find_domain(domain.name()) is None:
            return None  # undefined between the listing and the reading
        raise error
    facts = guest_facts(Domain.from_xml(xml), state, reason, persistent, autostart)
    facts["reboot_required"] = _runs_older_definition(client, domain, state, persistent, xml)
    facts["addresses"] = _addresses(client, domain, state, query.addresses, warnings)
    return facts


def _runs_older_definition(client: Client, domain: Any, state: str, persistent: bool, xml: str) -> bool:
    """Whether the guest (``xml``, its live definition while it runs) runs an older definition than its
    stored one, as the mark a change of virt_guest_install left says (see definition_mark). The stored
    one is read only for a marked guest."""
    if state == "shut off" or not persistent or started_from(xml) is None:
        return False
    stored = client.domain_xml_if_present(domain, stored=True)
    return stored is not None and definition_pending(xml, stored)


def guest_facts(domain: Domain, state: str, reason: str, persistent: bool, autostart: bool) -> Dict[str, Any]:
    """The small result for one guest (without its addresses)."""
    return {
        "name": domain.name,
        "uuid": domain.uuid,
        "state": state,
        "state_reason": reason,
        "persistent": persistent,
        "autostart": autostart,
        "memory": domain.memory // MIB if domain.memory else None,
        "vcpus": domain.vcpus,
        "interfaces": [
            {
                "mac": card.mac,
                "type": card.type,
                "network": card.source if card.type == "network" else None,
                "bridge": card.source if card.type == "bridge" else None,
                "model": card.model or None,
            }
            for card in domain.interfaces
        ],
        "disks": [
            {
                "target": disk.target,
                "device": disk.device,
                "bus": disk.bus or None,
                "pool": disk.pool,
                "volume": disk.volume,
                "path": disk.path,
                "format": disk.format,
                "source": disk.source_label if disk.kept is not None else None,
            }
            for disk in domain.disks
        ],
    }


def _addresses(client: Client, domain: Any, state: str, source: str, warnings: List[str]) -> List[Dict[str, Any]]:
    if source == "none" or state not in STATE_FILTERS["running"]:
        return []
    # Imported here: only runs that report addresses read them (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest import reachable

    try:
        return reachable.read_addresses(client, domain, source, waiting=False)
    except LibvirtError as error:
        warnings.append("addresses of guest %s (source %s) not read: %s" % (domain.name(), source, reachable.shown_error(error)))
        return []
