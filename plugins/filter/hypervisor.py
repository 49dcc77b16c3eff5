# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The filters of the hypervisor role; documented in network_clashes.yml and pool_clashes.yml next to this one.
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import HOST_URI
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import lock_uri
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import same_path
from ansible_collections.remotevirt.install.plugins.module_utils._network.subnets import overlaps


def _planned(result: Any) -> Tuple[str, str, Tuple[str, ...], bool, bool]:
    """(uri, name, subnets, active, autostart) of a network as its entry's plan leaves it; no
    subnets for an entry that was refused, skipped or has no addresses."""
    item = result.get("item") if isinstance(result, Mapping) else None
    network = result.get("network") if isinstance(result, Mapping) else None
    if not isinstance(item, Mapping) or not isinstance(network, Mapping) or result.get("msg"):
        return "", "", (), False, False
    subnets = []
    for family in ("ipv4", "ipv6"):
        if network.get(family):
            # Imported here: a role run without networks never needs it.
            import ipaddress

            subnets.append(str(ipaddress.ip_interface(network[family]).network))
    uri = libvirt_daemon(item.get("uri"))
    return uri, str(network.get("name") or ""), tuple(subnets), bool(network.get("active")), bool(network.get("autostart"))


def libvirt_daemon(uri: Any) -> str:
    """The libvirt daemon an entry's URI reaches, one spelling for all of them ('qemu+unix:///system',
    'QEMU:///system/' and no URI at all are 'qemu:///system'): entries are compared by it."""
    return lock_uri(str(uri or HOST_URI))


def _run_together(first: Tuple[bool, bool], second: Tuple[bool, bool]) -> bool:
    """Whether two networks, each (active, autostart) as planned, run at the same time: both now, or
    one at boot while the other runs or starts at boot too."""
    (active, autostart), (other_active, other_autostart) = first, second
    return (active and other_active) or (autostart and (other_active or other_autostart)) or (other_autostart and active)


def _own_bridge(result: Any) -> str:
    """The bridge a planned NAT, routed or isolated network makes when it starts ("" for none, or for
    forward: bridge, which joins a bridge of the host's)."""
    network = result.get("network") if isinstance(result, Mapping) else None
    if not isinstance(network, Mapping) or result.get("msg") or network.get("forward") == "bridge":
        return ""
    return str(network.get("bridge") or "")


def network_clashes(results: Sequence[Any], list_name: str = "hypervisor_networks") -> List[Dict[str, Any]]:
    """The entries of one host's network list that make the bridge an earlier entry on the same URI
    makes, or whose subnets overlap those of an earlier entry when the two would run at the same time:
    each is planned alone against the host, and the later one would be refused, or fail at its start,
    after the earlier one changed the host. One ``{index, problem}`` per entry."""
    results = list(results or ())
    planned = [_planned(result) for result in results]
    bridges = [_own_bridge(result) for result in results]
    clashes = []
    for index, (uri, name, subnets, active, autostart) in enumerate(planned):
        for earlier, (other_uri, other, other_subnets, other_active, other_autostart) in enumerate(planned[:index]):
            if other_uri != uri or other == name:
                continue  # another libvirt, or the same network given twice (a problem of its own)
            if bridges[index] and bridges[index] == bridges[earlier]:
                clashes.append(
                    {
                        "index": index,
                        "problem": "its bridge %s is the bridge of network %s (%s[%d]); give each network a bridge "
                        "name of its own" % (bridges[index], other, list_name, earlier),
                    }
                )
                break
            if not _run_together((active, autostart), (other_active, other_autostart)):
                continue  # never running together
            found = [(mine, theirs) for mine in subnets for theirs in other_subnets if overlaps(mine, theirs)]
            if found:
                clashes.append(
                    {
                        "index": index,
                        "problem": "its subnet %s overlaps %s of network %s (%s[%d]), and the two "
                        "would run at the same time (now or at boot): libvirt would refuse to start the second; give "
                        "each network its own subnet" % (found[0][0], found[0][1], other, list_name, earlier),
                    }
                )
                break
    return clashes


# Pool types whose target is a directory of the host (an fs or netfs pool mounts there).
_DIRECTORY_POOLS = ("dir", "fs", "netfs")


def _target_directory(result: Any) -> Tuple[str, str, str]:
    """(uri, name, target directory as same_path writes it, as the pool module compares them) of a
    planned pool with a directory target;
    empty for others, and for an entry that was refused or skipped."""
    item = result.get("item") if isinstance(result, Mapping) else None
    pool = result.get("pool") if isinstance(result, Mapping) else None
    if not isinstance(item, Mapping) or not isinstance(pool, Mapping) or result.get("msg"):
        return "", "", ""
    target = pool.get("target_path")
    if pool.get("type") not in _DIRECTORY_POOLS or not isinstance(target, str) or not target.startswith("/"):
        return "", "", ""
    return libvirt_daemon(item.get("uri")), str(pool.get("name") or ""), same_path(target) or ""


def pool_clashes(results: Sequence[Any], list_name: str = "hypervisor_pools") -> List[Dict[str, Any]]:
    """The entries of one host's pool list whose target directory is, holds or lies in that of an
    earlier entry on the same URI: each is planned alone against the host, and the later one would be
    refused after the earlier one was made (one pool's volumes would be the other's files). One
    ``{index, problem}`` per entry."""
    planned = [_target_directory(result) for result in results or ()]
    clashes = []
    for index, (uri, name, target) in enumerate(planned):
        for earlier, (other_uri, other, other_target) in enumerate(planned[:index]):
            if not target or not other_target or other_uri != uri or other == name:
                continue
            if target == other_target:
                how = "is the target"
            elif target.startswith(other_target.rstrip("/") + "/"):
                how = "lies in the target %s" % other_target
            elif other_target.startswith(target.rstrip("/") + "/"):
                how = "holds the target %s" % other_target
            else:
                continue
            clashes.append(
                {
                    "index": index,
                    "problem": "its target_path %s %s of pool %s (%s[%d]); give each pool a directory of its own"
                    % (target, how, other, list_name, earlier),
                }
            )
            break
    return clashes


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"network_clashes": network_clashes, "pool_clashes": pool_clashes, "libvirt_daemon": libvirt_daemon}
