# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for virtual networks: (request, actual state) -> Plan. No I/O here.

libvirt changes a running network's DHCP hosts and ranges in place (net-update, live and in its
definition); anything else (forward mode, bridge, domain, addresses, PXE) takes effect only when
the network starts again, which disconnects the guests on it: that restart is planned only with
``recreate: true``, and the plan says which running guests lose their link.
"""

from __future__ import annotations

import ipaddress
from typing import List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Plan, PlanError, virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import same_path
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.network import IpConfig, Network
from ansible_collections.remotevirt.install.plugins.module_utils._network.actions import (
    ADD_LAST,
    AUTOSTART,
    DEFINE,
    DELETE,
    DHCP_HOST,
    DHCP_RANGE,
    START,
    STOP,
    UNDEFINE,
    UPDATE,
    AutostartPayload,
    DefinePayload,
    NetworkTarget,
    UpdatePayload,
)
from ansible_collections.remotevirt.install.plugins.module_utils._network.request import NetworkRequest
from ansible_collections.remotevirt.install.plugins.module_utils._network.state import GuestOnNetwork, NetworkState

KIND = "network"


def plan_network(request: NetworkRequest, state: NetworkState) -> Plan:
    """The actions that take ``state`` to ``request``; raises PlanError when that is refused."""
    if request.state == "absent":
        return _plan_absent(request, state)
    wanted = wanted_network(request, state.existing)
    _check_complete(wanted, state)
    _check_subnets(request, state, wanted)
    if state.existing is None:
        return _plan_new(request, wanted)
    if not state.persistent:
        raise PlanError(
            "network %s is transient (started without a definition); this module manages defined networks: "
            "define it (%s) or remove it (state: absent) first" % (request.name, virsh(request.uri, "net-define"))
        )
    return _plan_existing(request, state, state.existing, wanted)


def wanted_network(request: NetworkRequest, existing: Optional[Network]) -> Network:
    """The network the request describes: its options over what the network has (an option left out
    keeps the network's value; a new network gets libvirt's defaults: NAT, a bridge libvirt names)."""
    base = existing.managed_view() if existing is not None else Network(name=request.name)
    changes = {
        key: getattr(request, key) for key in ("forward", "bridge", "domain", "ipv4", "ipv6") if getattr(request, key) is not None
    }
    wanted = base.with_changes(**changes)
    if wanted.forward == "bridge":
        # A bridge-mode network is only the host bridge: libvirt gives it no address, DHCP or domain.
        return wanted.with_changes(domain=None, ipv4=None, ipv6=None)
    if existing is not None:
        families = ("ipv4", "ipv6")
        wanted = wanted.with_changes(
            **{
                family: _with_undeclarable_hosts(getattr(wanted, family), getattr(existing, family), family)
                for family in families
            }
        )
        wanted = _spelled_as_existing(wanted, existing)
    return wanted


def _spelled_as_existing(wanted: Network, existing: Network) -> Network:
    """``wanted`` with the network's own spelling of what means the same: its DNS domain in other
    letter case, its TFTP directory with a trailing ``/`` or ``./`` (a restart for nothing otherwise)."""
    if wanted.domain and existing.domain and wanted.domain.lower() == existing.domain.lower():
        wanted = wanted.with_changes(domain=existing.domain)
    for family in ("ipv4", "ipv6"):
        mine, theirs = getattr(wanted, family), getattr(existing, family)
        if mine is None or theirs is None or not mine.tftp_root or not theirs.tftp_root:
            continue
        if same_path(mine.tftp_root) == same_path(theirs.tftp_root):
            wanted = wanted.with_changes(**{family: mine.with_changes(tftp_root=theirs.tftp_root)})
    return wanted


def _with_undeclarable_hosts(wanted: Optional[IpConfig], existing: Optional[IpConfig], family: str) -> Optional[IpConfig]:
    """``wanted`` with the static DHCP hosts of ``existing`` that no option can express (an IPv6 host,
    an IPv4 one without a MAC): another tool's, kept as they are, never deleted unasked. One the
    wanted addresses or hosts leave no place for is refused, named."""
    if wanted is None or existing is None:
        return wanted
    kept = tuple(host for host in existing.hosts if not host.declarable and host not in wanted.hosts)
    if not kept:
        return wanted
    subnet = ipaddress.ip_network(wanted.subnet)
    taken = {host.ip: host for host in wanted.hosts}
    names = {host.name.lower(): host for host in wanted.hosts if host.name}
    for host in kept:
        clash = taken.get(host.ip) or (names.get(host.name.lower()) if host.name else None)
        if ipaddress.ip_address(host.ip) not in subnet or clash is not None:
            why = "is outside the subnet %s" % subnet if clash is None else "is also the address or name of %s" % clash.label
            raise PlanError(
                "%s: the network's static DHCP host %s, which the options cannot express (no MAC), %s; it is never "
                "deleted unasked: remove it first (virsh net-update NETWORK delete ip-dhcp-host ...) or keep it in place"
                % (family, host.label, why)
            )
    return wanted.with_changes(hosts=wanted.hosts + kept)


def guests_matter(request: NetworkRequest, state: NetworkState) -> bool:
    """Whether the plan could disconnect guests, so the runner reads who is on the network (every
    guest's XML: never for a run that changes nothing)."""
    if state.existing is None:
        return False
    if request.state == "absent" or (request.state == "inactive" and state.active):
        return True
    if not state.active or request.state == "inactive":
        return False
    wanted = wanted_network(request, state.existing)
    live = state.live or state.existing
    changes = differences(state.existing, wanted) or differences(live, wanted)
    return bool(changes) and running_updates(request.uri, state.existing, state.live, wanted) is None


def _runs_after(request: NetworkRequest, state: NetworkState) -> Tuple[bool, bool]:
    """(active, autostart) once the plan is applied."""
    if state.existing is None:
        return request.state == "active", bool(request.autostart)
    active = state.active if request.state == "present" else request.state == "active"
    return active, state.autostart if request.autostart is None else request.autostart


def _subnets(network: Network) -> Tuple[str, ...]:
    return tuple(ip.subnet for ip in (network.ipv4, network.ipv6) if ip is not None)


def subnets_matter(request: NetworkRequest, state: NetworkState) -> bool:
    """Whether the plan could put the network on a subnet another one uses, so the runner reads the
    other networks and the host's routes: where it would define or start the network, set it to
    start at boot or change its addresses (never for a run that changes nothing)."""
    if request.state == "absent" or (state.existing is not None and not state.persistent):
        return False
    wanted = wanted_network(request, state.existing)
    active, autostart = _runs_after(request, state)
    if not _subnets(wanted) or not (active or autostart):
        return False
    if state.existing is None:
        return True
    return (active and not state.active) or (autostart and not state.autostart) or _subnets(state.existing) != _subnets(wanted)


def _check_subnets(request: NetworkRequest, state: NetworkState, wanted: Network) -> None:
    if state.address_users is None:
        return
    # Imported here: only runs that would start a network or change its addresses compare subnets.
    from ansible_collections.remotevirt.install.plugins.module_utils._network.subnets import colliding, describe

    active, autostart = _runs_after(request, state)
    found = colliding(request.name, _subnets(wanted), state.address_users, active, autostart)
    if not found:
        return
    clashes = "; ".join("its subnet %s overlaps %s" % (subnet, describe(user, autostart)) for subnet, user in found)
    compared = "" if state.routes_read else " (only the host's libvirt networks were compared: the URI is remote)"
    raise PlanError(
        "network %s: %s; libvirt refuses to start a network on addresses the host already uses: give it "
        "another subnet%s" % (request.name, clashes, compared)
    )


def _check_complete(wanted: Network, state: NetworkState) -> None:
    if wanted.forward == "bridge":
        if not wanted.bridge:
            raise PlanError("network %s: forward: bridge needs bridge: the name of an existing host bridge" % wanted.name)
        if state.bridge_exists is False:
            raise PlanError(
                "network %s: the host bridge %s does not exist on this host; create it first (forward: bridge "
                "connects guests to an existing bridge)" % (wanted.name, wanted.bridge)
            )
    else:
        _check_own_bridge(wanted, state)
    if wanted.forward == "nat" and wanted.ipv4 is None:
        raise PlanError(
            "network %s: forward: nat needs ipv4 (the host's address on the network, like 10.213.1.1/24)" % wanted.name
        )
    if wanted.forward == "route" and wanted.ipv4 is None and wanted.ipv6 is None:
        raise PlanError("network %s: forward: route needs ipv4 or ipv6 (the host's address on the network)" % wanted.name)


def _check_own_bridge(wanted: Network, state: NetworkState) -> None:
    """A NAT, routed or isolated network makes its bridge when it starts: refuse a name another network
    has (libvirt refuses it only at define time) or an interface the host has already, such as its
    uplink (libvirt fails at start: "error creating bridge interface")."""
    if not wanted.bridge:
        return
    for network, bridge in state.other_bridges:
        if bridge == wanted.bridge:
            raise PlanError(
                "network %s: bridge %s is the bridge of network %s; give this network a bridge name of its own, "
                "or leave bridge out for libvirt to pick one" % (wanted.name, wanted.bridge, network)
            )
    existing = state.existing
    ours = existing is not None and existing.bridge == wanted.bridge and state.active
    if state.interface_exists and not ours:
        raise PlanError(
            "network %s: the host has an interface %s already; a %s network creates its own bridge, so it cannot "
            "start on it (to connect guests to an existing host bridge, use forward: bridge)"
            % (wanted.name, wanted.bridge, wanted.forward or "nat")
        )


# -- who is on the network -----------------------------------------------------------------------
def _guest_list(guests: Tuple[GuestOnNetwork, ...]) -> str:
    return ", ".join("%s (%s)" % (guest.name, "running" if guest.running else "shut off") for guest in guests)


def _running(state: NetworkState) -> List[str]:
    # A guest name is libvirt's; whitespace is folded so a name cannot start a new line in a plan.
    return [" ".join(guest.name.split()) for guest in state.guests or () if guest.running]


def _stop(uri: str, name: str, state: NetworkState) -> Action:
    command = virsh(uri, "net-destroy", name)
    running = _running(state)
    if running:
        command += "  # disconnects the running guests %s" % ", ".join(running)
    return Action(STOP, KIND, name, command, NetworkTarget(name), destructive=True)


def _start(uri: str, name: str) -> Action:
    return Action(START, KIND, name, virsh(uri, "net-start", name), NetworkTarget(name))


def _define(uri: str, name: str, xml: str, previous: Optional[str]) -> Action:
    return Action(DEFINE, KIND, name, virsh(uri, "net-define", "%s.xml" % name), DefinePayload(name, xml, previous))


def _autostart(uri: str, name: str, enable: bool) -> Action:
    argv = ["net-autostart", name] + ([] if enable else ["--disable"])
    return Action(AUTOSTART, KIND, name, virsh(uri, *argv), AutostartPayload(name, enable))


# -- absent ------------------------------------------------------------------------------------
def _plan_absent(request: NetworkRequest, state: NetworkState) -> Plan:
    existing = state.existing
    if existing is None:
        return Plan()
    guests = state.guests or ()
    if guests and not request.delete_in_use:
        raise PlanError(
            "network %s has guests with a card on it: %s; remove their cards, or set delete_in_use: true to "
            "delete it anyway (their cards then point at a network that does not exist)" % (request.name, _guest_list(guests))
        )
    plan = Plan(before=shown(existing.managed_view().to_xml(), state.active, state.autostart))
    if state.active:
        plan.add(_stop(request.uri, request.name, state))
    if state.persistent:
        command = virsh(request.uri, "net-undefine", request.name)
        plan.add(Action(UNDEFINE, KIND, request.name, command, NetworkTarget(request.name), destructive=True))
    return plan


def shown(definition: str, active: bool, autostart: bool) -> str:
    """A network as diff mode shows it: whether it runs and starts with the host, which no
    definition holds (a run that only starts it or changes its autostart shows that too), then its
    definition."""
    return "<!-- %s, autostart %s -->\n%s" % ("active" if active else "inactive", "on" if autostart else "off", definition)


def _running_apart(state: NetworkState, stored: Network) -> str:
    """The running network's definition, for diff mode, where it differs from the stored one (a
    ``net-update`` of only the running network): a plan that makes the two alike again shows what it
    changes in the running network too. Empty when the network does not run or both are alike."""
    if not state.active or state.live is None or not differences(stored, state.live):
        return ""
    return "<!-- running, unlike the stored definition -->\n%s" % state.live.managed_view().to_xml()


# -- new network -------------------------------------------------------------------------------
def _plan_new(request: NetworkRequest, wanted: Network) -> Plan:
    xml = wanted.to_xml()
    plan = Plan(after=shown(xml, request.state == "active", bool(request.autostart)))
    plan.add(_define(request.uri, request.name, xml, None))
    if request.state == "active":
        plan.add(_start(request.uri, request.name))
    if request.autostart:
        plan.add(_autostart(request.uri, request.name, True))
    return plan


# -- existing network --------------------------------------------------------------------------
def _plan_existing(request: NetworkRequest, state: NetworkState, existing: Network, wanted: Network) -> Plan:
    definition = state.definition or existing.to_xml()
    changes = differences(existing, wanted)
    before = existing.managed_view().to_xml()
    active_after = state.active if request.state == "present" else request.state == "active"
    autostart_after = state.autostart if request.autostart is None else request.autostart
    # Equal definitions show the same text: the request may list DHCP ranges and hosts in another
    # order than libvirt keeps them, which is no change.
    plan = Plan(
        before=shown(before, state.active, state.autostart) + _running_apart(state, existing),
        after=shown(wanted.managed_view().to_xml() if changes else before, active_after, autostart_after),
    )
    if state.active and not active_after:
        plan.add(_stop(request.uri, request.name, state))
    # What the running network has differs from its stored definition after a net-update of only one.
    running_changes = differences(state.live, wanted) if state.active and state.live is not None else changes
    if (changes or running_changes) and state.active and active_after:
        updates = running_updates(request.uri, existing, state.live, wanted)
        if updates is not None:
            for action in updates:
                plan.add(action)
        elif not request.recreate:
            raise PlanError(
                "network %s is active and differs in what libvirt changes only when it starts again (%s); set "
                "recreate: true to redefine and restart it%s, or stop it first (state: inactive)"
                % (request.name, _changes_text(changes, running_changes), _disconnects(state))
            )
        else:
            # Stopped first, so rollback (start again, then the previous definition) leaves it as it was.
            plan.add(_stop(request.uri, request.name, state))
            plan.add(_define(request.uri, request.name, wanted.redefinition(definition), definition))
            plan.add(_start(request.uri, request.name))
    elif changes:
        plan.add(_define(request.uri, request.name, wanted.redefinition(definition), definition))
    if active_after and not state.active:
        plan.add(_start(request.uri, request.name))
    if request.autostart is not None and request.autostart != state.autostart:
        plan.add(_autostart(request.uri, request.name, request.autostart))
    return plan


def _changes_text(stored: List[str], running: List[str]) -> str:
    """What differs from the request, in the stored definition and, where it differs otherwise, in the running network."""
    if running == stored:
        return "; ".join(stored)
    parts = (["stored: %s" % "; ".join(stored)] if stored else []) + (["running: %s" % "; ".join(running)] if running else [])
    return "; ".join(parts)


def _disconnects(state: NetworkState) -> str:
    guests = state.guests or ()
    if not guests:
        return " (no guest has a card on it)"
    lose = "; the running ones lose their link" if any(guest.running for guest in guests) else ""
    return " (guests with a card on it: %s%s)" % (_guest_list(guests), lose)


# -- differences -------------------------------------------------------------------------------
def _text(value: object) -> str:
    return "none" if value is None or value == () else str(value)


def _ip_text(ip: Optional[IpConfig]) -> str:
    return "none" if ip is None else "%s/%d" % (ip.address, ip.prefix)


def differences(existing: Network, wanted: Network) -> List[str]:
    """What differs, one 'field: before -> after' each (for refusals)."""
    found = []
    for key in ("forward", "bridge", "domain"):
        before, after = getattr(existing, key), getattr(wanted, key)
        if before != after:
            found.append("%s: %s -> %s" % (key, _text(before), _text(after)))
    for family in ("ipv4", "ipv6"):
        before_ip, after_ip = getattr(existing, family), getattr(wanted, family)
        if before_ip is None or after_ip is None:
            if before_ip != after_ip:
                found.append("%s: %s -> %s" % (family, _ip_text(before_ip), _ip_text(after_ip)))
            continue
        if (before_ip.address, before_ip.prefix) != (after_ip.address, after_ip.prefix):
            found.append("%s.address: %s -> %s" % (family, _ip_text(before_ip), _ip_text(after_ip)))
        for key in ("tftp_root", "bootp_file", "bootp_server"):
            before, after = getattr(before_ip, key), getattr(after_ip, key)
            if before != after:
                found.append("%s.%s: %s -> %s" % (family, key, _text(before), _text(after)))
        if set(before_ip.ranges) != set(after_ip.ranges):
            found.append("%s.dhcp_ranges: %s -> %s" % (family, _ranges_text(before_ip), _ranges_text(after_ip)))
        if set(before_ip.hosts) != set(after_ip.hosts):
            found.append("%s.dhcp_hosts: %s" % (family, _hosts_change(before_ip, after_ip)))
    return found


def _ranges_text(ip: IpConfig) -> str:
    return ", ".join("%s-%s" % (item.start, item.end) for item in ip.ranges) or "none"


def _hosts_change(before: IpConfig, after: IpConfig) -> str:
    removed = [host.mac for host in before.hosts if host not in after.hosts]
    added = [host.mac for host in after.hosts if host not in before.hosts]
    parts = (["removed %s" % ", ".join(removed)] if removed else []) + (["added %s" % ", ".join(added)] if added else [])
    return "; ".join(parts)


def running_updates(uri: str, stored: Network, live: Optional[Network], wanted: Network) -> Optional[List[Action]]:
    """The net-update actions that make an active network's stored definition ``stored`` and what it
    runs with, ``live``, both ``wanted``: each action changes both where they agree (the usual case);
    where a net-update of only one of them made them differ, each gets its own. None when something
    else differs."""
    if live is None or not differences(live, stored):
        return in_place_updates(uri, stored, wanted, live=True)
    stored_updates = in_place_updates(uri, stored, wanted, live=False)
    live_updates = in_place_updates(uri, live, wanted, live=True, config=False)
    if stored_updates is None or live_updates is None:
        return None
    return stored_updates + live_updates


def in_place_updates(uri: str, existing: Network, wanted: Network, live: bool, config: bool = True) -> Optional[List[Action]]:
    """The net-update actions that make ``existing`` ``wanted`` in the running network (``live``)
    and in the stored definition (``config``), or None when something else differs (or DHCP would be
    switched on or off: dnsmasq is then started with other options)."""
    for key in ("forward", "bridge", "domain"):
        if getattr(existing, key) != getattr(wanted, key):
            return None
    actions: List[Action] = []
    for family in ("ipv4", "ipv6"):
        before, after = getattr(existing, family), getattr(wanted, family)
        if before is None or after is None:
            if before != after:
                return None
            continue
        if before.with_changes(ranges=(), hosts=()) != after.with_changes(ranges=(), hosts=()):
            return None
        if set(before.ranges) == set(after.ranges) and set(before.hosts) == set(after.hosts):
            continue
        if not before.ranges or not after.ranges:
            return None
        actions.extend(_dhcp_updates(uri, wanted.name, before, after, live, config))
    return actions


def _dhcp_updates(uri: str, name: str, before: IpConfig, after: IpConfig, live: bool, config: bool) -> List[Action]:
    """New ranges first: libvirt drops a <dhcp> left without ranges and hosts, PXE settings and all
    (it accepts overlapping ranges meanwhile). Then the hosts that go (a MAC, address or name may
    move to a new entry), the ranges that go, and the hosts that come."""
    steps = (
        [(ADD_LAST, DHCP_RANGE, item) for item in after.ranges if item not in before.ranges]
        + [(DELETE, DHCP_HOST, host) for host in before.hosts if host not in after.hosts]
        + [(DELETE, DHCP_RANGE, item) for item in before.ranges if item not in after.ranges]
        + [(ADD_LAST, DHCP_HOST, host) for host in after.hosts if host not in before.hosts]
    )
    actions = []
    for command, section, entry in steps:
        xml = entry.to_xml().strip()
        argv = ["net-update", name, command, section, xml] + (["--live"] if live else []) + (["--config"] if config else [])
        argv += ["--parent-index", str(before.index)]
        payload = UpdatePayload(name, command, section, before.index, xml, live, config)
        actions.append(Action(UPDATE, KIND, name, virsh(uri, *argv), payload, destructive=False))
    return actions
