# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The filter of the hypervisor role; documented in network_clashes.yml next to this one.
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import HOST_URI
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
    uri = str(item.get("uri") or HOST_URI)
    return uri, str(network.get("name") or ""), tuple(subnets), bool(network.get("active")), bool(network.get("autostart"))


def _run_together(first: Tuple[bool, bool], second: Tuple[bool, bool]) -> bool:
    """Whether two networks, each (active, autostart) as planned, run at the same time: both now, or
    one at boot while the other runs or starts at boot too."""
    (active, autostart), (other_active, other_autostart) = first, second
    return (active and other_active) or (autostart and (other_active or other_autostart)) or (other_autostart and active)


def network_clashes(results: Sequence[Any], list_name: str = "hypervisor_networks") -> List[Dict[str, Any]]:
    """The entries of one host's network list whose subnets overlap those of an earlier entry on the
    same URI, when the two would run at the same time: each is planned alone against the host, and
    the later one would fail at its start after the earlier one changed the host. One ``{index,
    problem}`` per entry."""
    planned = [_planned(result) for result in results or ()]
    clashes = []
    for index, (uri, name, subnets, active, autostart) in enumerate(planned):
        for earlier, (other_uri, other, other_subnets, other_active, other_autostart) in enumerate(planned[:index]):
            if other_uri != uri or other == name or not _run_together((active, autostart), (other_active, other_autostart)):
                continue  # another libvirt, the same network given twice (a problem of its own), or never together
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


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"network_clashes": network_clashes}
