# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying pool actions: one handler per plan verb of virt_pool.

Imported only by runs whose plan changes something, so a no-op task does not compile it.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.executor import Handler, Undo
from ansible_collections.remotevirt.install.plugins.module_utils._common.own_directory import pool_target_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError, is_already_built
from ansible_collections.remotevirt.install.plugins.module_utils._pool.actions import (
    AUTOSTART,
    BUILD,
    DEFINE,
    DELETE,
    DELETE_VOLUME,
    START,
    STOP,
    UNDEFINE,
    AutostartPayload,
    BuildPayload,
    DefinePayload,
    PoolTarget,
    UndefinePayload,
    VolumeTarget,
)
from ansible_collections.remotevirt.install.plugins.module_utils._pool.request import DIRECTORY_TYPES


class PoolHandlers:
    """One handler per plan verb; each reads only its action's payload (see ``actions.VERBS``) and
    returns, for the verbs rollback undoes, what reverses it."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def as_mapping(self) -> Dict[str, Handler]:
        return {
            DEFINE: self.define,
            BUILD: self.build,
            START: self.start,
            AUTOSTART: self.autostart,
            STOP: self.stop,
            DELETE_VOLUME: self.delete_volume,
            DELETE: self.delete,
            UNDEFINE: self.undefine,
        }

    def _pool(self, name: str) -> Any:
        pool = self.client.find_pool(name)
        if pool is None:
            raise PlanError("storage pool %r disappeared while the plan ran" % name)
        return pool

    def define(self, action: Action) -> Optional[Undo]:
        payload: DefinePayload = action.payload
        pool = self.client.define_pool(payload.xml)
        previous = payload.previous
        if previous is None:
            return lambda: self.client.undefine_pool(pool)
        return lambda: self.client.define_pool(previous)

    def build(self, action: Action) -> Optional[Undo]:
        payload: BuildPayload = action.payload
        pool = self._pool(payload.pool)
        try:
            self.client.build_pool(pool, payload.no_overwrite)
        except LibvirtError as error:
            if not (payload.mount_existing and is_already_built(error)):
                raise
            # libvirt refuses to format a device that has a file system (what --no-overwrite is for);
            # that file system is the one to mount, so only the mount directory is made (a build
            # without flags never formats).
            self.client.build_pool(pool, False)
        self._refuse_foreign_directory(pool)
        return None

    def _refuse_foreign_directory(self, pool: Any) -> None:
        """The directory the build made (or found) judged again before the pool starts, by the rules
        the plan judged it by (own_directory.pool_target_problem): another user may have put a link
        or a directory of theirs there meanwhile. The run then fails and its define is undone."""
        if not self.client.local:
            return
        described = self.client.describe_pool(pool)
        if described.type not in DIRECTORY_TYPES or not described.target_path:
            return
        problem = pool_target_problem(described.target_path, described.type, "target_path")
        if problem:
            raise PlanError("pool %s: %s (since the plan); not started" % (described.name, problem))

    def start(self, action: Action) -> Optional[Undo]:
        payload: PoolTarget = action.payload
        pool = self._pool(payload.pool)
        self.client.start_pool(pool)
        return lambda: self.client.stop_pool(pool)

    def stop(self, action: Action) -> Optional[Undo]:
        payload: PoolTarget = action.payload
        pool = self._pool(payload.pool)
        self.client.stop_pool(pool)
        return lambda: self.client.start_pool(pool)

    def autostart(self, action: Action) -> Optional[Undo]:
        payload: AutostartPayload = action.payload
        pool = self._pool(payload.pool)
        self.client.set_pool_autostart(pool, payload.enable)
        return lambda: self.client.set_pool_autostart(pool, not payload.enable)

    def delete_volume(self, action: Action) -> Optional[Undo]:
        payload: VolumeTarget = action.payload
        pool = self._pool(payload.pool)
        volume = self.client.find_volume(pool, payload.volume)
        if volume is not None:  # gone already: what this action was for
            self.client.delete_volume(volume)
        return None

    def delete(self, action: Action) -> Optional[Undo]:
        payload: PoolTarget = action.payload
        self.client.delete_pool_storage(self._pool(payload.pool))
        return None

    def undefine(self, action: Action) -> Optional[Undo]:
        payload: UndefinePayload = action.payload
        self.client.undefine_pool(self._pool(payload.pool))
        return lambda: self.client.define_pool(payload.previous)
