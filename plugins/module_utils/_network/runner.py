# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt_network's flow: read the host, plan, apply, report."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import REPORTED_ERRORS, RunError
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Plan, PlanError, shell
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import (
    apply_plan,
    changing,
    connected,
    is_local_uri,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.network import IpConfig, Network
from ansible_collections.remotevirt.install.plugins.module_utils._network.actions import VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._network.plan import guests_matter, plan_network, subnets_matter
from ansible_collections.remotevirt.install.plugins.module_utils._network.request import NetworkRequest, tftp_root_problem
from ansible_collections.remotevirt.install.plugins.module_utils._network.state import AddressUser, GuestOnNetwork, NetworkState

# How long a run waits for another run that changes the same network (its steps take seconds).
NETWORK_LOCK_SECONDS = 300


def network_key(name: str) -> str:
    return "network %s" % name


def host_bridge_exists(name: str) -> bool:
    """Whether this host has a bridge called ``name`` (the kernel lists bridges under /sys/class/net)."""
    return os.path.isdir(os.path.join("/sys/class/net", name, "bridge"))


# The host's directly connected routes (IPv4, IPv6), where libvirt looks when a network starts.
ROUTE_TABLES = ("/proc/net/route", "/proc/net/ipv6_route")


def host_routes() -> List[Tuple[str, str]]:
    """``(interface, subnet)`` of the host's directly connected routes; a table the host lacks (no
    IPv6) has none."""
    # Imported here: read only where a plan would start a network or change its addresses.
    from ansible_collections.remotevirt.install.plugins.module_utils._network.subnets import ipv4_routes, ipv6_routes

    found: List[Tuple[str, str]] = []
    for path, parse_routes in zip(ROUTE_TABLES, (ipv4_routes, ipv6_routes)):
        try:
            with open(path) as table:
                found.extend(parse_routes(table.read()))
        except OSError:
            continue
    return found


def address_users(client: Client) -> Tuple[Tuple[AddressUser, ...], bool]:
    """The subnets of the host's networks that are active or start at boot and, when the module
    runs on the host, of its interfaces (``True`` then): a route on the bridge of a listed network
    is that network's own, named by the network."""
    # Imported here: read only where a plan would start a network or change its addresses.
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.network import subnets_of

    users: List[AddressUser] = []
    bridges = set()
    for name, xml, active, autostart in client.networks_in_use():
        bridge = Network.from_xml(xml).bridge
        if bridge and active:
            bridges.add(bridge)
        users.extend(AddressUser("network", name, subnet, active, autostart) for subnet in subnets_of(xml))
    if not is_local_uri(client.uri):
        return tuple(users), False
    users.extend(AddressUser("interface", interface, subnet) for interface, subnet in host_routes() if interface not in bridges)
    return tuple(users), True


def _other_bridges(client: Client, name: str) -> Tuple[Tuple[str, str], ...]:
    """``(network, bridge)`` of the host's other networks, to refuse a bridge name one of them has."""
    bridges = []
    for network in client.all_networks():
        if network.name() == name:
            continue
        bridge = Network.from_xml(client.network_definition(network)).bridge
        if bridge:
            bridges.append((network.name(), bridge))
    return tuple(bridges)


def _with_bridge_users(client: Client, request: NetworkRequest, state: NetworkState) -> NetworkState:
    """``state`` with who else has the requested bridge name; read only where the network is new or
    its bridge changes (a network keeps its own bridge, and a converged run lists nothing)."""
    existing = state.existing
    if not request.bridge or (existing is not None and existing.bridge == request.bridge):
        return state
    local = is_local_uri(client.uri)
    return state.with_changes(
        other_bridges=_other_bridges(client, request.name),
        interface_exists=os.path.exists(os.path.join("/sys/class/net", request.bridge)) if local else None,
    )


def read_state(client: Client, request: NetworkRequest) -> NetworkState:
    """The network (if any), its run state, who is on it where the plan could disconnect them, and
    the subnets others use where the plan could start it on one."""
    state = _read_network(client, request)
    if client.files_here():
        _refuse_missing_tftp_root(request, state)
        _refuse_tftp_root_of_pools(client, request, state)
    if subnets_matter(request, state):
        users, routes_read = address_users(client)
        state = state.with_changes(address_users=users, routes_read=routes_read)
    return state


def _refuse_missing_tftp_root(request: NetworkRequest, state: NetworkState) -> None:
    """A tftp_root must not lead (through symbolic links) to the host's own files; a new or changed one
    must be a directory on the host: dnsmasq refuses to start without it (after check mode said yes).
    A network that has it already is left as it is."""
    if request.state == "absent":
        return
    for wanted in (request.ipv4, request.ipv6):
        if wanted is None or not wanted.tftp_root:
            continue
        problem = tftp_root_problem(wanted.tftp_root, os.path.realpath(wanted.tftp_root), wanted.family)
        if problem:
            raise PlanError(problem)
        if os.path.isdir(wanted.tftp_root):
            continue
        if _is_new_tftp_root(wanted, state):
            raise PlanError(
                "%s.tftp_root %s is not a directory on the host, so dnsmasq could not start the network: make it "
                "first (install -d %s)" % (wanted.family, wanted.tftp_root, shell(wanted.tftp_root))
            )


def _is_new_tftp_root(wanted: IpConfig, state: NetworkState) -> bool:
    """Whether ``wanted`` (a family's request) gives the network a TFTP root it does not have yet."""
    had = getattr(state.existing, wanted.family) if state.existing is not None else None
    return had is None or had.tftp_root != wanted.tftp_root


def _refuse_tftp_root_of_pools(client: Client, request: NetworkRequest, state: NetworkState) -> None:
    """A new or changed tftp_root is no storage pool's directory, nor holds or lies in one: dnsmasq
    serves every file under it to anyone on the network, other guests' disks included."""
    new = [
        wanted
        for wanted in (request.ipv4, request.ipv6)
        if wanted is not None and wanted.tftp_root and _is_new_tftp_root(wanted, state)
    ]
    if request.state == "absent" or not new:
        return
    # Imported here: only networks given a new TFTP root ask.
    from ansible_collections.remotevirt.install.plugins.module_utils._common.pool_directories import PoolDirectories, describe

    pools = PoolDirectories(client, True)
    for wanted in new:
        found = pools.overlap(wanted.tftp_root or "")
        if found is not None:
            raise PlanError(
                "%s.tftp_root %s %s: every guest on the network could read its volumes (other guests' disks) over "
                "TFTP; give the boot files a directory of their own" % (wanted.family, wanted.tftp_root, describe(found))
            )


def _read_network(client: Client, request: NetworkRequest) -> NetworkState:
    state = NetworkState()
    if request.forward == "bridge" and request.bridge and is_local_uri(client.uri):
        state = state.with_changes(bridge_exists=host_bridge_exists(request.bridge))
    network = client.find_network(request.name)
    if network is None:
        return _with_bridge_users(client, request, state)
    definition = client.network_definition(network)
    persistent = client.network_is_persistent(network)
    active = client.network_is_active(network)
    state = state.with_changes(
        existing=Network.from_xml(definition),
        definition=definition,
        live=Network.from_xml(client.network_live_definition(network)) if active else None,
        active=active,
        persistent=persistent,
        autostart=persistent and client.network_autostart(network),
    )
    state = _with_bridge_users(client, request, state)
    if guests_matter(request, state):
        existing = state.existing
        # A bridge-mode network's bridge is the host's, and stays when the network stops.
        bridge = existing.bridge if existing is not None and existing.forward != "bridge" else None
        users = client.domains_on_network(request.name, bridge)
        state = state.with_changes(guests=tuple(GuestOnNetwork(name, running) for name, running in users))
    return state


def run(params: Mapping[str, Any], check_mode: bool, diff: bool) -> Dict[str, Any]:
    """Everything virt_network does after argument parsing; raises RunError to fail."""
    try:
        request = NetworkRequest.from_params(params)
    except PlanError as error:
        raise RunError(str(error))
    plan = None
    applied = False
    try:
        with connected(params["uri"]) as client, changing(
            client.uri, [network_key(request.name)], NETWORK_LOCK_SECONDS, check_mode
        ):
            state = read_state(client, request)
            plan = plan_network(request, state)
            if plan.changed and not check_mode:
                apply_plan(client, plan, params, VERBS, lambda _audit: _handlers(client))
                applied = True
            facts = _network_facts(client, request, plan, state, check_mode)
    except REPORTED_ERRORS as error:
        raise RunError(str(error), plan, changed=applied)
    result = {"changed": plan.changed, "plan": plan.summaries(), "network": facts}
    if diff:
        result["diff"] = plan.diff("network %s" % request.name)
    return result


def _handlers(client: Client) -> Mapping[str, Any]:
    # Imported here: only runs that change something use them (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._network.handlers import NetworkHandlers

    return NetworkHandlers(client).as_mapping()


def facts_of(described: Network, active: bool, autostart: bool, persistent: bool = True) -> Dict[str, Any]:
    """The small result: what the network is and whether it runs."""
    ipv4 = described.ipv4
    ipv6 = described.ipv6
    return {
        "name": described.name,
        "uuid": described.uuid,
        "forward": described.forward,
        "bridge": described.bridge,
        "domain": described.domain,
        "ipv4": None if ipv4 is None else "%s/%d" % (ipv4.address, ipv4.prefix),
        "ipv6": None if ipv6 is None else "%s/%d" % (ipv6.address, ipv6.prefix),
        "active": active,
        "autostart": autostart,
        "persistent": persistent,
    }


def _network_facts(client: Client, request: NetworkRequest, plan: Plan, state: NetworkState, check_mode: bool) -> Dict[str, Any]:
    if request.state == "absent":
        return {}
    if check_mode or not plan.changed:
        return _predicted_facts(request, plan, state)
    network = client.find_network(request.name)
    if network is None:  # the plan defined it; gone means someone removed it meanwhile
        return {}
    persistent = client.network_is_persistent(network)
    return facts_of(
        Network.from_xml(client.network_definition(network)),
        client.network_is_active(network),
        persistent and client.network_autostart(network),
        persistent,
    )


def _predicted_facts(request: NetworkRequest, plan: Plan, state: NetworkState) -> Dict[str, Any]:
    described: Optional[Network] = Network.from_xml(plan.after) if plan.after else state.existing
    if described is None:
        return {}
    if state.existing is not None:
        # A definition written by libvirt keeps its uuid, MAC and bridge name.
        described = described.with_changes(uuid=state.existing.uuid, bridge=described.bridge or state.existing.bridge)
    active = state.active if request.state == "present" else request.state == "active"
    autostart = state.autostart if request.autostart is None else request.autostart
    return facts_of(described, active, autostart, True)
