# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a running guest is reachable: its addresses as libvirt reports them (DHCP leases of
its network, the host's ARP table, or the guest agent), a marker in its serial log, a TCP port.

Imported only by runs that wait for a guest or report its addresses.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError

# VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_* (stable numbers of libvirt's API).
SOURCES = {"lease": 0, "agent": 1, "arp": 2}
# "any" asks the cheap sources first; the agent answers only once the guest runs one.
ANY_ORDER = ("lease", "arp", "agent")
_ADDRESS_TYPES = {0: "ipv4", 1: "ipv6"}
# How long one try to open the guest's port may take.
PORT_TIMEOUT_SECONDS = 2.0
# The most of a serial log a marker is looked for in (its end, where the newest boot writes).
MARKER_WINDOW = 4 << 20


def parse_addresses(raw: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """libvirt's ``interfaceAddresses()`` as the module returns it: per card its name, MAC and
    addresses ({addr, prefix, type}), sorted by name; the guest's loopback is left out."""
    cards = []
    for name, card in sorted(raw.items()):
        mac = (card.get("hwaddr") or "").lower() or None
        if name == "lo" or mac == "00:00:00:00:00:00":
            continue
        addresses = [
            {"addr": entry.get("addr"), "prefix": entry.get("prefix"), "type": _ADDRESS_TYPES.get(entry.get("type"), "unknown")}
            for entry in card.get("addrs") or ()
        ]
        cards.append({"name": name, "mac": mac, "addresses": addresses})
    return cards


def usable(address: Optional[str]) -> bool:
    """An address another host can reach the guest at: not loopback, not link-local."""
    try:
        parsed = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    return not (parsed.is_loopback or parsed.is_link_local or parsed.is_unspecified)


def usable_addresses(cards: List[Dict[str, Any]]) -> List[str]:
    return [entry["addr"] for card in cards for entry in card["addresses"] if usable(entry["addr"])]


def read_addresses(client: Client, domain: Any, source: str, waiting: bool = True) -> List[Dict[str, Any]]:
    """The guest's cards and addresses from ``source`` (lease, arp, agent, or any: the first that has one).

    While ``waiting``, a guest agent that cannot answer yet (not running, not configured) counts as no
    address; otherwise only under ``any``, and an agent asked alone raises, for the caller to warn.
    """
    found: List[Dict[str, Any]] = []
    for name in ANY_ORDER if source == "any" else (source,):
        try:
            found = parse_addresses(client.interface_addresses(domain, SOURCES[name]))
        except LibvirtError:
            if source != "any" and not (waiting and name == "agent"):
                raise
            continue
        if usable_addresses(found):
            return found
    return found


def port_open(addresses: List[str], port: int) -> bool:
    """Whether a TCP connection to ``port`` on any of ``addresses`` succeeds from here."""
    for address in addresses:
        try:
            with socket.create_connection((address, port), timeout=PORT_TIMEOUT_SECONDS):
                return True
        except OSError:
            continue
    return False


def missing_signs(client: Client, domain: Any, reachable: Any) -> Tuple[List[str], List[Dict[str, Any]]]:
    """What the running guest does not show yet of what ``reachable`` (an actions.Reachable) asks
    for (no address, no marker, a closed port), and its cards with their addresses."""
    missing = []
    cards: List[Dict[str, Any]] = []
    addresses: List[str] = []
    if reachable.ip:
        cards = read_addresses(client, domain, reachable.source)
        addresses = usable_addresses(cards)
        if not addresses:
            missing.append("no address from %s" % reachable.source)
    if reachable.marker is not None and not marker_seen(reachable.serial_log, reachable.log_offset, reachable.marker):
        missing.append("marker not in serial log %s yet" % reachable.serial_log)
    if reachable.port is not None and addresses and not port_open(addresses, reachable.port):
        missing.append("port %d closed on %s" % (reachable.port, ", ".join(addresses)))
    return missing, cards


def marker_seen(path: Optional[str], offset: int, marker: str) -> bool:
    """Whether ``marker`` (a regular expression) is in the serial log after ``offset`` bytes."""
    if not path:
        return False
    try:
        with open(path, "rb") as log:
            log.seek(0, 2)
            end = log.tell()
            start = offset if offset <= end else 0  # a log that shrank was rotated or removed
            log.seek(max(start, end - MARKER_WINDOW))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return False
    return re.search(marker, text) is not None
