# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a directory given to a guest or to the network (a virtiofs share, a TFTP root) is, holds
or lies in a storage pool's directory: whoever it is given to would reach the pool's volumes, other
guests' disks.

Imported only by runs that give a directory away.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    MountLocation,
    directories_overlap,
    directory_spellings,
    locations_overlap,
    mount_location,
    read_mount_table,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import PoolDefinition


class PoolDirectory(NamedTuple):
    name: str
    target: str
    spellings: List[str]  # see directory_spellings
    location: Optional[MountLocation]  # see mount_location


class PoolDirectories:
    """The directories of every pool of ``client``, read once, as they lead on this host (``local``)."""

    def __init__(self, client: Client, local: bool) -> None:
        self.local = local
        self.table: Optional[List[Tuple[str, str, str]]] = read_mount_table() if local else None
        self.pools = []
        for pool in client.all_pools():
            target = PoolDefinition.from_xml(client.pool_definition(pool)).target_path
            if target and target.startswith("/"):
                self.pools.append(
                    PoolDirectory(pool.name(), target, directory_spellings(target, local), mount_location(target, self.table))
                )

    def overlap(self, directory: str) -> Optional[Tuple[str, str]]:
        """(how ``directory`` overlaps a pool's directory, that pool's name), or None where it does not."""
        mine = directory_spellings(directory, self.local)
        mine_location = mount_location(directory, self.table)
        for pool in self.pools:
            how = next(filter(None, (directories_overlap(mine, spelling, pool.target) for spelling in pool.spellings)), None)
            if how is None and locations_overlap(mine_location, pool.location):
                how = "reaches the directory of"  # by other ways (a bind mount)
            if how is not None:
                return how, pool.name
        return None


def describe(found: Tuple[str, str]) -> str:
    """ "is the target of pool NAME", from PoolDirectories.overlap."""
    how, name = found
    return "%s pool %s" % (how, name)
