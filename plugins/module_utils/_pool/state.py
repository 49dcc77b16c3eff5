# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the host has for a pool request, as the runner reads it."""

from __future__ import annotations

from typing import Dict, FrozenSet, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import PoolDefinition, PoolTypeCapability


class PoolState(Record):
    """The pool as the host has it.

    ``existing`` is its persistent definition (None: no such pool); ``volumes`` the names of its
    volumes (read only when they could be deleted, and only from an active pool); ``users`` the
    guests with a disk in it as ``(name, running)`` (read only where it could be stopped or its
    volumes deleted); where its volumes could be deleted, ``reaching`` the other guests that open
    their files (as the backing file or data file of a disk elsewhere, or as a kernel or initrd) and
    ``dependents`` the volumes of other pools that name them as backing file or data file, and for a
    directory pool on this host ``left_behind``, what its directory would still hold once they are
    deleted (see the runner's _left_behind), and ``sharing`` the other pools whose directories are,
    hold or lie in its own where they lead;
    ``capabilities`` the host's pool types (None where libvirt does not say);
    ``other_targets`` ``(name, target path)`` of the host's other pools (read only where a
    definition may be written); ``real_target`` the directory the wanted target_path leads to through
    symbolic links, where that differs (read only on a local host and where the target may change);
    ``persistent`` whether libvirt keeps a definition of the existing pool (one started with
    pool-create has none);
    ``unbuilt``: the inactive pool cannot start before its build, as a run stopped between the define
    and the build leaves it (read only on a local host): its target directory is missing (dir, netfs
    and fs pools: the build makes it), or every device of an fs or logical pool holds nothing (no file
    system, volume group or partition table: the build makes them); or the active directory pool's
    directory was deleted behind libvirt's back (stopped, built and started again, it works);
    ``other_sources``: the definitions of the host's other pools (read only where the pool's source
    may change: libvirt keeps one pool per source); ``emptied``: the inactive directory pool's
    directory on this host holds nothing, or is gone (read only for a removal with delete_volumes: no
    volume is left to delete); ``device_keys``: ``(device as spelled, keys)`` for each source device of
    the wanted pool and of the other pools, what it is on this host (see runner.device_keys; read with other_sources,
    on a local host): two spellings of one device, or a loop device and the image it reads, share keys.
    """

    uri: str
    existing: Optional[PoolDefinition] = None
    active: bool = False
    autostart: bool = False
    persistent: bool = True
    volumes: Tuple[str, ...] = ()
    users: Tuple[Tuple[str, bool], ...] = ()
    reaching: Tuple[str, ...] = ()
    dependents: Tuple[str, ...] = ()
    left_behind: Tuple[str, ...] = ()
    sharing: Tuple[str, ...] = ()
    capabilities: Optional[Dict[str, PoolTypeCapability]] = None
    other_targets: Tuple[Tuple[str, str], ...] = ()
    real_target: Optional[str] = None
    unbuilt: bool = False
    emptied: bool = False
    other_sources: Tuple[PoolDefinition, ...] = ()
    device_keys: Tuple[Tuple[str, FrozenSet[str]], ...] = ()

    @property
    def running_users(self) -> Tuple[str, ...]:
        return tuple(name for name, running in self.users if running)

    @property
    def user_names(self) -> Tuple[str, ...]:
        """Every guest that needs its volumes' files: those with a disk in it, then the others that open them."""
        return tuple(name for name, _running in self.users) + self.reaching
