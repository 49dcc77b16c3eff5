# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a running guest is reachable: its addresses as libvirt reports them (DHCP leases of
its network, the host's ARP table, or the guest agent), a marker in its serial log, a TCP port.

Imported only by runs that wait for a guest or report its addresses.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import os
import re
import selectors
import signal
import socket
import stat
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import shown_text
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError

# VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_* (stable numbers of libvirt's API).
SOURCES = {"lease": 0, "agent": 1, "arp": 2}
# "any" asks the cheap sources first; the agent answers only once the guest runs one.
ANY_ORDER = ("lease", "arp", "agent")
# How long one try to open the guest's port may take.
PORT_TIMEOUT_SECONDS = 2.0
# The most of a serial log a marker is looked for in (its end, where the newest boot writes).
MARKER_WINDOW = 4 << 20
# The longest one search of the marker in the log may take; the wait polls again after it.
MARKER_SEARCH_SECONDS = 2.0


# What a guest's cards may take of a result. The guest agent answers for the guest, so its cards,
# names and addresses are the guest's word: a hostile guest could report thousands, or names that
# forge lines in a log.
MAX_CARDS = 64
MAX_ADDRESSES = 64
MAX_CARD_NAME = 64
# The most addresses one poll tries a port on, and the longest libvirt message a result shows.
MAX_PROBED = 8
MAX_ERROR_TEXT = 300
_MAC_RE = "[0-9a-f]{2}(?::[0-9a-f]{2}){5}"
_SCOPE_RE = "[A-Za-z0-9._-]{1,32}"
# IPv6 forms that carry an IPv4 address in their last 32 bits: IPv4-compatible, NAT64.
_IPV4_CARRYING = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b::/96"))
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")


def parse_addresses(raw: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """libvirt's ``interfaceAddresses()`` as the module returns it: per card its name, MAC and
    addresses ({addr, prefix, type}), sorted by name; the guest's loopback is left out, and so is
    every address that is no IP address. At most MAX_CARDS cards of MAX_ADDRESSES addresses each."""
    cards = []
    for name, card in sorted(raw.items(), key=lambda item: str(item[0])):
        if not isinstance(card, Mapping):
            continue
        mac = _mac(card.get("hwaddr"))
        if name == "lo" or mac == "00:00:00:00:00:00":
            continue
        entries = card.get("addrs")
        found = (_address(entry) for entry in entries) if isinstance(entries, (list, tuple)) else ()
        addresses = [address for address in found if address is not None]
        cards.append({"name": shown_text(name, MAX_CARD_NAME), "mac": mac, "addresses": addresses[:MAX_ADDRESSES]})
        if len(cards) == MAX_CARDS:
            break
    return cards


def _mac(text: Any) -> Optional[str]:
    mac = str(text or "").lower()
    return mac if re.fullmatch(_MAC_RE, mac) else None


def _address(entry: Any) -> Optional[Dict[str, Any]]:
    """One address entry, or None when its address is no IP address a guest's card can have (with
    an IPv6 zone of a name's characters); its type is the address's own, its prefix None when out
    of range."""
    if not isinstance(entry, Mapping):
        return None
    text = entry.get("addr")
    if not isinstance(text, str):
        return None
    address, percent, zone = text.partition("%")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if percent and (parsed.version != 6 or not re.fullmatch(_SCOPE_RE, zone)):
        return None
    if not _plausible(parsed):
        return None
    prefix = entry.get("prefix")
    if not (isinstance(prefix, int) and not isinstance(prefix, bool) and 0 <= prefix <= parsed.max_prefixlen):
        prefix = None
    return {"addr": text, "prefix": prefix, "type": "ipv%d" % parsed.version}


def _plausible(parsed: Any) -> bool:
    """Whether a card of a guest can have the address ``parsed``: none of loopback, unspecified
    ("this network" 0.0.0.0/8 too), multicast or reserved (broadcast), also as an IPv4 address an
    IPv6 form carries (mapped, compatible, NAT64, 6to4, Teredo), which a host may reach as that one."""
    for address in (parsed,) + _embedded_ipv4(parsed):
        if address.is_loopback or address.is_unspecified or address.is_multicast or address.is_reserved:
            return False
        if address.version == 4 and address in _THIS_NETWORK:
            return False
    return True


def _embedded_ipv4(parsed: Any) -> Tuple[ipaddress.IPv4Address, ...]:
    if parsed.version != 6:
        return ()
    carried = [parsed.ipv4_mapped, parsed.sixtofour, *(parsed.teredo or ())]
    if any(parsed in network for network in _IPV4_CARRYING):
        carried.append(ipaddress.IPv4Address(int(parsed) & 0xFFFFFFFF))
    return tuple(address for address in carried if address is not None)


def usable(address: Optional[str]) -> bool:
    """An address another host can reach the guest at: a plausible one (see _plausible), not
    link-local, and not one of this machine's own (a guest's agent could name the host's address:
    a port found open there would be the host's)."""
    try:
        parsed = ipaddress.ip_address((address or "").split("%")[0])
    except ValueError:
        return False
    return _plausible(parsed) and not parsed.is_link_local and not _is_own_address(parsed)


def _is_own_address(parsed: Any) -> bool:
    """Whether this machine has ``parsed`` (binding a socket to it works only then; not known, so
    False, where the kernel lets any address be bound: net.ipv4.ip_nonlocal_bind)."""
    if _binds_any_address(parsed.version):
        return False
    family = socket.AF_INET6 if parsed.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(parsed), 0))
    except OSError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def _binds_any_address(version: int) -> bool:
    try:
        with open("/proc/sys/net/ipv%d/ip_nonlocal_bind" % version, encoding="ascii") as handle:
            return handle.read().strip() != "0"
    except (OSError, ValueError):
        return False


def usable_addresses(cards: List[Dict[str, Any]]) -> List[str]:
    return [entry["addr"] for card in cards for entry in card["addresses"] if usable(entry["addr"])]


def read_addresses(
    client: Client, domain: Any, source: str, waiting: bool = True, unanswered: Optional[List[str]] = None
) -> List[Dict[str, Any]]:
    """The guest's cards and addresses from ``source`` (lease, arp, agent, or any: the first that has one).

    While ``waiting``, a guest agent that cannot answer yet (not running, not configured) counts as no
    address; otherwise only under ``any``, and an agent asked alone raises, for the caller to warn.
    """
    found: List[Dict[str, Any]] = []
    for name in ANY_ORDER if source == "any" else (source,):
        try:
            found = parse_addresses(client.interface_addresses(domain, SOURCES[name]))
        except LibvirtError as error:
            if source != "any" and not (waiting and name == "agent"):
                raise
            if unanswered is not None:
                unanswered.append(shown_error(error))
            continue
        if usable_addresses(found):
            return found
    return found


def shown_error(error: LibvirtError) -> str:
    """libvirt's message, as a result or the host log may show it: a guest agent's error carries the
    guest's own text."""
    return shown_text(error.message, MAX_ERROR_TEXT)


def port_open(addresses: List[str], port: int, deadline: Optional[float] = None) -> bool:
    """Whether a TCP connection to ``port`` on any of the first MAX_PROBED ``addresses`` succeeds from
    here. They are tried at once, for PORT_TIMEOUT_SECONDS at most and never past ``deadline`` (a
    ``time.monotonic()`` value): one by one, silent addresses listed first would use up the time of
    the one that answers."""
    ends = time.monotonic() + PORT_TIMEOUT_SECONDS
    if deadline is not None:
        ends = min(ends, deadline)
    if ends <= time.monotonic():
        return False
    connections: Dict[int, socket.socket] = {}
    try:
        waiting = selectors.DefaultSelector()
    except OSError:  # no descriptor left: try again at the next poll
        return False
    try:
        for address in addresses[:MAX_PROBED]:
            connection = _connecting(address, port)
            if connection is not None:
                connections[connection.fileno()] = connection
                waiting.register(connection, selectors.EVENT_WRITE)
        while waiting.get_map():
            left = ends - time.monotonic()
            if left <= 0:
                return False
            for key, _events in waiting.select(left):
                if connections[key.fd].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    return True
                waiting.unregister(key.fd)
        return False
    finally:
        waiting.close()
        for connection in connections.values():
            connection.close()


def _connecting(address: str, port: int) -> Optional[socket.socket]:
    """A socket whose connection to ``address`` is under way; None when it failed at once."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        connection = socket.socket(family, socket.SOCK_STREAM)
    except OSError:  # no IPv6 here, or no descriptor left
        return None
    try:
        connection.setblocking(False)
        if connection.connect_ex((address, port)) in (0, errno.EINPROGRESS):
            return connection
    except OSError:  # an address with a zone, an unknown one
        pass
    connection.close()
    return None


def missing_signs(
    client: Client, domain: Any, reachable: Any, deadline: Optional[float] = None
) -> Tuple[List[str], List[Dict[str, Any]]]:
    """What the running guest does not show yet of what ``reachable`` (an actions.Reachable) asks
    for (no address, no marker, a closed port), and its cards with their addresses; the port is
    tried until ``deadline`` (a ``time.monotonic()`` value) at most."""
    missing = []
    cards: List[Dict[str, Any]] = []
    addresses: List[str] = []
    if reachable.ip:
        unanswered: List[str] = []
        cards = read_addresses(client, domain, reachable.source, unanswered=unanswered)
        addresses = usable_addresses(cards)
        if not addresses:
            why = " (%s)" % unanswered[-1] if unanswered and reachable.source == "agent" else ""
            missing.append("no address from %s%s" % (reachable.source, why))
    if reachable.marker is not None and not reachable.serial_log:
        missing.append("the running guest writes no serial log file (a serial_log given since applies from its next start)")
    elif reachable.marker is not None and not marker_seen(reachable.serial_log, reachable.log_offset, reachable.marker):
        missing.append("marker not in serial log %s yet" % reachable.serial_log)
    if reachable.port is not None and addresses and not port_open(addresses, reachable.port, deadline):
        missing.append("port %d closed on %s" % (reachable.port, _listed(addresses)))
    return missing, cards


def _listed(addresses: List[str]) -> str:
    more = len(addresses) - MAX_PROBED
    return ", ".join(addresses[:MAX_PROBED]) + (" (and %d more, not tried)" % more if more > 0 else "")


def marker_seen(path: Optional[str], offset: int, marker: str) -> bool:
    """Whether ``marker`` (a regular expression) is in the serial log after ``offset`` bytes. Only a
    regular file is read (a FIFO put in its place would block the run), and a search that outlasts
    MARKER_SEARCH_SECONDS (a pattern that backtracks without end) counts as not seen."""
    if not path:
        return False
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            return False
        end = info.st_size
        start = offset if offset <= end else 0  # a log that shrank was rotated or removed
        start = max(start, end - MARKER_WINDOW)
        text = os.pread(descriptor, end - start, start).decode("utf-8", errors="replace")
    except OSError:
        return False
    finally:
        os.close(descriptor)
    return _found_in_time(marker, text, MARKER_SEARCH_SECONDS)


class _SearchTooLong(Exception):
    """The marker's search outlasted its time."""


def _found_in_time(pattern: str, text: str, seconds: float) -> bool:
    """``re.search(pattern, text)``, stopped (not found) after ``seconds``: Python's regular
    expressions check for signals while they match, so an alarm ends a search that backtracks
    without end. Outside the main thread (no alarm there) the search runs unbounded."""
    if threading.current_thread() is not threading.main_thread():
        return re.search(pattern, text) is not None

    def stop(signum: int, frame: Any) -> None:
        raise _SearchTooLong()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return re.search(pattern, text) is not None
    except _SearchTooLong:
        return False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
