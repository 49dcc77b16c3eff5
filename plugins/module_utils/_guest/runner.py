# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt_guest_install's flow: lock, read the host, plan, apply, report (reading the host is
_guest.host's, the result _guest.result's: virt_preflight uses both, never this module)."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import REPORTED_ERRORS, RunError
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import (
    apply_plan,
    changing,
    connected,
    file_key,
    volume_key,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import same_path
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._guest.changes import update_refusal
from ansible_collections.remotevirt.install.plugins.module_utils._guest.host import (
    host_clashes,
    pool_volume_at,
    read_state,
    storage_of,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.plan import plan_guest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest, Refusals
from ansible_collections.remotevirt.install.plugins.module_utils._guest.result import await_reachable, run_result, waits_read_only
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain
from ansible_collections.remotevirt.install.plugins.module_utils._volume.runner import volume_file_key


def run(params: Mapping[str, Any], check_mode: bool, diff: bool) -> Dict[str, Any]:
    """Everything virt_guest_install does after argument parsing; raises RunError to fail."""
    try:
        request = GuestRequest.from_params(params)
    except PlanError as error:
        raise RunError(str(error))
    validate_certs = params.get("validate_certs", True)
    plan = None
    applied = False
    try:
        with connected(params["uri"]) as client:
            held = _lock_keys(request) if check_mode else _real_run_lock_keys(client, request)
            with changing(client.uri, held, _lock_seconds(request), check_mode):
                if not check_mode and not set(_real_run_lock_keys(client, request)) <= set(held):
                    raise PlanError(_CHANGED_WHILE_WAITING % request.name)
                state = read_state(client, request, validate_certs)
                planned = plan_guest(request, state)
                if params.get("update_existing") is False:
                    unasked = update_refusal(request.name, request.reinstall, state, planned, params["update_hint"])
                    if unasked:
                        raise PlanError(unasked)
                clashes = host_clashes(client, request, state, planned)
                if clashes:  # refused like the host's other refusals: before there is a plan to report
                    raise Refusals(clashes)
                plan = planned
                if plan.changed and not check_mode:
                    if any(volume_key(pool, volume) not in held for pool, volume in state.storage):
                        raise PlanError(_CHANGED_WHILE_WAITING % request.name)
                    apply_plan(client, plan, params, VERBS, lambda audit: _handlers(client, audit, validate_certs))
                    applied = True
                later = waits_read_only(request, plan, check_mode, applied)
                result = run_result(client, request, state, plan, check_mode, applied, diff, wait=not later)
            if later:
                await_reachable(client, request, result)
    except REPORTED_ERRORS as error:
        raise RunError(str(error), plan, changed=applied)
    return result


_CHANGED_WHILE_WAITING = (
    "guest %s, or a file or volume it names, changed while this run waited for another run; run the task again"
)


def _real_run_lock_keys(client: Client, request: GuestRequest) -> List[str]:
    """Every lock a real run takes, all at once (keys sort file < guest < volume, so two runs never
    wait for each other in a circle); taken again once they are held, to see that nothing they
    stand for changed meanwhile."""
    return _lock_keys(request) + _lock_keys_of_paths(client, request) + _lock_keys_of_removal(client, request)


def _lock_keys_of_removal(client: Client, request: GuestRequest) -> List[str]:
    """For a removal with remove_storage: the volumes it deletes, and on the host their files (a
    guest being defined on one of them under another name holds the file's lock)."""
    if request.state != "absent" or not request.remove_storage:
        return []
    try:
        domain = client.find_domain(request.name)
        storage = storage_of(client, Domain.from_xml(client.domain_definition(domain))) if domain is not None else ()
    except (PlanError, LibvirtError):
        return []  # the run's own reading of the guest refuses, with its own message
    files = (volume_file_key(client, pool, volume) for pool, volume in storage)
    return [volume_key(pool, volume) for pool, volume in storage] + [key for key in files if key]


def _lock_keys(request: GuestRequest) -> List[str]:
    """The guest, and the pool volumes it names by pool and volume (its disks, its install ISO):
    what a run of it may change, or needs to stay while it runs. A removal names none: the volumes
    it deletes are those the guest has (see _lock_keys_of_removal)."""
    if request.state == "absent":
        return ["guest %s" % request.name]
    named = [(disk.pool, disk.volume) for disk in request.disks or ()]
    named.append((request.install.cdrom.pool, request.install.cdrom.volume) if request.install.cdrom else (None, None))
    return ["guest %s" % request.name] + [volume_key(pool, volume) for pool, volume in named if pool and volume]


def _lock_keys_of_paths(client: Client, request: GuestRequest) -> List[str]:
    """The pool volumes it names by their file's path, and on this host the files those paths and
    their backing chains reach, whatever name reaches them: a run that deletes such a volume takes
    turns with this one as with a disk given by pool and volume (none for a removal, see
    _lock_keys). Where libvirt cannot tell (no storage driver answers), no volume can be deleted
    either."""
    # Imported here: only real runs lock, and read image headers for it.
    from ansible_collections.remotevirt.install.plugins.module_utils._common import host_files

    if request.state == "absent":
        return []
    paths = [disk.path for disk in request.disks or () if disk.path and not disk.pool]
    if request.install.cdrom and request.install.cdrom.path:
        paths.append(request.install.cdrom.path)
    keys: Dict[str, None] = {}
    for path in paths:
        # libvirt knows a volume by its own path, not a link to it
        spellings = {same_path(path) or path: None, os.path.realpath(path): None} if client.files_here() else {path: None}
        for spelling in spellings:
            try:
                at_path = pool_volume_at(client, spelling)
            except LibvirtError:
                at_path = None  # check mode does not ask: the real run must not fail where it promised success
            if at_path is not None:
                keys[volume_key(*at_path)] = None
        if client.files_here():
            keys.update((file_key(identity), None) for identity in host_files.chain_identities(path))
    return list(keys)


def _lock_seconds(request: GuestRequest) -> float:
    """Long enough for another run's install of the same guest to finish its wait."""
    waits = (request.wait_timeout if request.waits else 0) + (request.wait_for_timeout if request.wait_for else 0)
    return waits + 600


def _handlers(client: Client, audit: Any, validate_certs: bool) -> Mapping[str, Any]:
    # Imported here: only runs that change something use them (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.handlers import GuestHandlers

    return GuestHandlers(client, audit, validate_certs).as_mapping()
