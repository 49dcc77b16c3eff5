# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt_pool's flow: read the host, plan, apply, report."""

from __future__ import annotations

import os
import stat
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import REPORTED_ERRORS, RunError
from ansible_collections.remotevirt.install.plugins.module_utils._common.own_directory import (
    nearest_existing,
    pool_target_problem,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Plan, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import (
    apply_plan,
    changing,
    connected,
    file_key_at,
    image_reader,
    is_local_uri,
    volume_key,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    directories_overlap,
    directory_spellings,
    locations_overlap,
    mount_location,
    read_mount_table,
    same_path,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool, PoolDefinition, pool_capabilities
from ansible_collections.remotevirt.install.plugins.module_utils._pool.actions import VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._pool.plan import (
    DEVICE_BUILDS,
    DEVICE_SOURCE_TYPES,
    DIRECTORY_BUILDS,
    differences,
    outcome,
    plan_pool,
)
from ansible_collections.remotevirt.install.plugins.module_utils._pool.request import DIRECTORY_TYPES, PoolRequest
from ansible_collections.remotevirt.install.plugins.module_utils._pool.state import PoolState

# How long a run waits for another run that changes the same pool (a build can format a device).
POOL_LOCK_SECONDS = 600
# How long blkid may take to probe a device of an inactive pool.
_PROBE_SECONDS = 30


_CHANGED_WHILE_WAITING = (
    "a volume of pool %s was made or replaced while this run waited for another run, or was not listed yet; run the task again"
)


def _real_run_lock_keys(client: Client, request: PoolRequest) -> List[str]:
    """Every lock a real run takes, all at once (keys sort file < guest < pool < volume): the pool's;
    for a removal with delete_volumes also its volumes' and, on the host, their files' (a guest
    being defined on one of them holds one of those), as virt_pool_volume's deletion takes them.
    Taken again once they are held, to see that no volume was made or replaced meanwhile."""
    keys = [pool_key(request.name)]
    if request.state != "absent" or not request.delete_volumes:
        return keys
    try:
        pool = client.find_pool(request.name)
        volumes = client.pool_volumes(pool) if pool is not None and client.pool_is_active(pool) else []
    except LibvirtError:
        return keys  # the run's own reading of the pool refuses, with its own message
    files = (file_key_at(path) for _name, path in volumes) if client.files_here() else ()
    return keys + [volume_key(request.name, name) for name, _path in volumes] + [key for key in files if key]


def pool_key(name: str) -> str:
    return "pool %s" % name


def read_state(client: Client, request: PoolRequest) -> PoolState:
    """The pool's definition, state and autostart; its volumes and users only where the plan may
    stop it or delete them; libvirt's pool capabilities only where a definition may be written."""
    pool = client.find_pool(request.name)
    state = PoolState(uri=client.uri)
    existing = PoolDefinition.from_xml(client.pool_definition(pool)) if pool is not None else None
    if request.definition is not None:
        text = client.pool_capabilities()
        state = state.with_changes(capabilities=pool_capabilities(text) if text else None)
        if _target_may_change(request.definition, existing):
            state = state.with_changes(other_targets=_other_targets(client, request.name, client.files_here()))
            if client.local:
                state = state.with_changes(real_target=_real_target(request.definition))
                _refuse_foreign_directory(request.name, request.definition)
                _refuse_unbuilt_start(request.name, request.definition, request)
            _refuse_shared_target(client, request.name, request.definition)
        if client.local and _devices_may_change(request.definition, existing):
            _refuse_devices_in_use(request.definition)
        if _source_may_change(request.definition, existing):
            others = _other_definitions(client, request.name)
            state = state.with_changes(other_sources=others)
            if client.local:
                devices = {
                    device
                    for definition in (request.definition,) + others
                    if definition.type in DEVICE_SOURCE_TYPES
                    for device in definition.source_devices
                }
                state = state.with_changes(device_keys=tuple((device, device_keys(device)) for device in sorted(devices)))
    if pool is None or existing is None:
        return state
    active = client.pool_is_active(pool)
    state = state.with_changes(existing=existing, active=active, autostart=client.pool_autostart(pool))
    if not client.pool_is_persistent(pool):
        return state.with_changes(persistent=False)  # refused as it is (see plan_pool)
    if (
        (not active or request.recreate)
        and _starts_or_builds(request)
        and existing.type in DIRECTORY_TYPES
        and not state.other_targets
    ):
        # A directory replaced by a link since the pool was defined (to /etc, into another pool) would
        # list the files there as volumes once started (or restarted by recreate): judged as for a new pool.
        state = state.with_changes(other_targets=_other_targets(client, request.name, client.files_here()))
        if client.local:
            state = state.with_changes(real_target=_real_target(existing))
            _refuse_foreign_directory(request.name, existing)
        _refuse_shared_target(client, request.name, existing)
    if not active and client.local:
        _refuse_unbuilt_start(request.name, request.definition or existing, request)
    directory_gone = active and _directory_gone(client, existing)
    if not active and request.build and client.local:
        state = state.with_changes(unbuilt=_unbuilt_free(existing))
    elif directory_gone:
        state = state.with_changes(unbuilt=True)
    if not active and request.state == "absent" and request.delete_volumes and client.files_here() and existing.type == "dir":
        state = _with_emptied_directory(state, existing)
    if not active or not _may_stop(request, state):
        if request.definition is not None and _moves(request.definition, existing):
            # Guests whose disks a move leaves behind, which libvirt keeps no list of for an inactive pool.
            users = client.domains_using_pool(request.name, [], existing.target_path)
            state = state.with_changes(users=tuple(users))
        return state
    if request.state == "absent" and request.delete_volumes and not directory_gone:
        client.refresh_pool(pool)  # files other tools put there are volumes to delete too
    volumes = client.pool_volumes(pool)
    paths = [path for _name, path in volumes if path]
    users = client.domains_using_pool(request.name, paths, existing.target_path)
    # A directory that is gone holds no file to delete: libvirt's list of its volumes is stale.
    names = () if directory_gone else tuple(name for name, _path in volumes)
    state = state.with_changes(volumes=names, users=tuple(users))
    if request.state == "absent" and request.delete_volumes and names:
        state = _with_others_needing_its_files(client, state, paths, existing.target_path)
    if request.state == "absent" and request.delete_volumes and client.files_here():
        # Deleting its volumes deletes the files where its directory leads now: through a symbolic
        # link made on the way since (a parent directory replaced by a link to /etc), somewhere else.
        state = state.with_changes(real_target=_real_target(existing))
        if existing.type == "dir":
            state = state.with_changes(
                left_behind=_left_behind(existing.target_path, names), sharing=_pools_sharing(client, existing)
            )
    return state


def _pools_sharing(client: Client, existing: PoolDefinition) -> Tuple[str, ...]:
    """The other pools whose directories, where they lead on this host, are, hold or lie in this
    pool's: deleting its volumes would delete theirs (two pools on one directory through a link)."""
    if not existing.target_path:
        return ()
    mine = os.path.realpath(existing.target_path).rstrip("/") + "/"
    sharing = {
        name
        for name, target in _other_targets(client, existing.name, True)
        if target.startswith("/") and directories_overlap([mine], os.path.realpath(target).rstrip("/") + "/", target)
    }
    return tuple(sorted(sharing))


def _left_behind(directory: Optional[str], volumes: Tuple[str, ...]) -> Tuple[str, ...]:
    """What deleting the ``volumes`` libvirt lists would leave in a directory pool's directory, so
    that its deletion (rmdir) fails once they are gone: entries libvirt lists as no volume (a hidden
    file, a socket), listed directories that are not empty and links to directories (libvirt deletes
    a directory volume with rmdir)."""
    if not directory:
        return ()
    if os.path.islink(directory):
        return (
            "the target itself, a symbolic link to %s (libvirt deletes a directory, not a link)" % os.path.realpath(directory),
        )
    listed = set(volumes)
    left = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name not in listed:
                    left.append(entry.name)
                elif entry.is_symlink() and entry.is_dir():
                    left.append(entry.name + " (a link to a directory, which libvirt deletes with rmdir)")
                elif entry.is_dir(follow_symlinks=False) and _holds_anything(entry.path):
                    left.append(entry.name + "/ (not empty)")
    except OSError:
        return ()  # no directory to delete: nothing is left in it
    return tuple(sorted(left))


def _holds_anything(directory: str) -> bool:
    try:
        with os.scandir(directory) as entries:
            return any(True for _entry in entries)
    except OSError:
        return True  # unreadable: libvirt's rmdir would not get past it either


def _with_others_needing_its_files(client: Client, state: PoolState, paths: List[str], target_path: Optional[str]) -> PoolState:
    """``state`` with what else needs the files of the pool's volumes, which deleting them would
    break: guests whose disks elsewhere reach them as a backing file or data file on the way (or
    that boot a kernel or initrd from them), and volumes of other pools that name them so. Lists
    every guest and every image of the host's pools, as a volume's deletion does."""
    # Imported here: only a removal with delete_volumes asks (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common.usage import (
        guests_reaching,
        in_files_test,
        volumes_naming,
    )

    local = is_local_uri(client.uri)
    is_in_pool = in_files_test(paths, target_path, local)
    users = set(state.user_names)
    reaching = [name for name in guests_reaching(client, is_in_pool, image_reader(client)) if name not in users]
    own = state.existing.name + "/" if state.existing is not None else ""
    dependents = [volume for volume in volumes_naming(client, is_in_pool, local) if not volume.startswith(own)]
    return state.with_changes(reaching=tuple(reaching), dependents=tuple(dependents))


def _moves(wanted: PoolDefinition, existing: PoolDefinition) -> bool:
    """Whether a redefinition takes the pool to another target or type (its volumes stay behind)."""
    return wanted.type != existing.type or (wanted.target_path is not None and wanted.target_path != existing.target_path)


def _directory_gone(client: Client, existing: PoolDefinition) -> bool:
    """Whether the directory of an active dir pool on this host was deleted behind libvirt's back:
    libvirt keeps such a pool active, makes no volume in it, and stops it on its next refresh, so
    a run (check mode too) must not refresh it."""
    if existing.type != "dir" or not existing.target_path or not client.files_here():
        return False
    return not os.path.isdir(existing.target_path)


def _starts_or_builds(request: PoolRequest) -> bool:
    return request.state == "active" or bool(request.build)


def _target_may_change(wanted: PoolDefinition, existing: Optional[PoolDefinition]) -> bool:
    """Whether the pool is new or would move (another target or type): only then are the other
    pools' targets read, so a converged run lists none of them."""
    if existing is None:
        return True
    moved = wanted.target_path is not None and wanted.target_path != existing.target_path
    return moved or wanted.type != existing.type


def _source_may_change(wanted: PoolDefinition, existing: Optional[PoolDefinition]) -> bool:
    """Whether the pool is new or would take another source: only then are the other pools' sources read."""
    if existing is None or wanted.type != existing.type:
        return True
    fields = ("source_hosts", "source_dir", "source_devices", "source_name", "initiator")
    return any(getattr(wanted, field) != getattr(existing, field) for field in fields)


def _other_definitions(client: Client, name: str) -> Tuple[PoolDefinition, ...]:
    """The definitions of the host's pools other than ``name``."""
    return tuple(PoolDefinition.from_xml(client.pool_definition(pool)) for pool in client.all_pools() if pool.name() != name)


def device_keys(device: str) -> FrozenSet[str]:
    """What a pool's source ``device`` is on this host, as keys two spellings of it share: where it
    leads, the block device's number, the file it is (a file system image), and for a loop device the
    image it reads. Nothing for a path that leads nowhere."""
    keys = {"path:" + os.path.realpath(device)}
    try:
        info = os.stat(device)
    except (OSError, ValueError):
        return frozenset(keys)
    if stat.S_ISBLK(info.st_mode):
        keys.add("block:%d:%d" % (os.major(info.st_rdev), os.minor(info.st_rdev)))
        image = _loop_image(info.st_rdev)
        if image is not None:
            keys.add(image)
    elif stat.S_ISREG(info.st_mode):
        keys.add("file:%d:%d" % (info.st_dev, info.st_ino))
    return frozenset(keys)


def _loop_image(rdev: int) -> Optional[str]:
    """The file key of the image a loop device reads, None for another device or a free loop device."""
    backing = "/sys/dev/block/%d:%d/loop/backing_file" % (os.major(rdev), os.minor(rdev))
    try:
        with open(backing, encoding="utf-8", errors="surrogateescape") as handle:
            path = handle.read().rstrip("\n")
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return "file:%d:%d" % (info.st_dev, info.st_ino)


def _devices_may_change(wanted: PoolDefinition, existing: Optional[PoolDefinition]) -> bool:
    """Whether the pool is new or would take other devices (or, for a logical pool given none,
    another volume group): only then are its devices' uses read (an active fs pool mounts its own
    device, a logical pool's volumes hold theirs)."""
    if wanted.type not in DEVICE_BUILDS or (not wanted.source_devices and wanted.type != "logical"):
        return False
    if existing is None or existing.type != wanted.type:
        return True
    return existing.source_devices != wanted.source_devices or existing.source_name != wanted.source_name


def _refuse_devices_in_use(definition: PoolDefinition) -> None:
    """Refuse a device the host uses: an fs pool on the disk of the host's root file system would
    list (and delete with delete_volumes) the host's own files. A logical pool may take a volume
    group's devices whose volumes are not mounted (its build refuses them, an existing volume group
    is adopted); an fs pool no held device."""
    # Imported here: only a new fs or logical pool, or one given other devices, asks.
    import stat

    from ansible_collections.remotevirt.install.plugins.module_utils._common.host_files import block_device_uses, exclusive_use

    for device in definition.source_devices or _volume_group_devices(definition):
        try:
            info = os.stat(device)
        except (OSError, ValueError):
            if definition.source_devices and definition.type in _DEVICE_POOL_TYPES:
                # Refused here, so check mode says so too: the build would fail after the define.
                raise PlanError("source_devices: %s is no device on the host" % device)
            continue
        if not stat.S_ISBLK(info.st_mode):
            if definition.source_devices and definition.type in _DEVICE_POOL_TYPES and not _mountable_file(definition, info):
                raise PlanError(
                    "source_devices: %s is no block device (pools of type %s build on one)" % (device, definition.type)
                )
            continue
        uses = block_device_uses(info.st_rdev, count_holders=definition.type == "fs")
        if not uses and definition.type == "fs":
            # A logical pool may adopt a volume group whose active volumes hold its devices exclusively.
            uses = exclusive_use(device)
        if uses:
            given = (
                "source_devices: %s" % device
                if definition.source_devices
                else "volume group %s: its physical volume %s" % (definition.source_name or definition.name, device)
            )
            raise PlanError("%s holds the host's %s; a pool must never take a device the host uses" % (given, " and ".join(uses)))


# Pool types whose source devices are the host's block devices (an iscsi pool's are targets' names).
_DEVICE_POOL_TYPES = ("fs", "logical", "disk")


def _mountable_file(definition: PoolDefinition, info: os.stat_result) -> bool:
    """An fs pool may mount a file system image (a regular file, mounted through a loop device)."""
    import stat

    return definition.type == "fs" and stat.S_ISREG(info.st_mode)


def _volume_group_devices(definition: PoolDefinition) -> Tuple[str, ...]:
    """The physical volumes of the volume group a logical pool given no devices adopts, as LVM lists
    them: adopting the host's own group would hand its root and swap volumes to the pool. None when
    LVM does not know the group (the pool's start says so) or is not installed."""
    # Imported here: only a new logical pool given no devices asks.
    import subprocess

    if definition.type != "logical":
        return ()
    group = definition.source_name or definition.name
    try:
        listed = subprocess.run(
            ["vgs", "--noheadings", "-o", "pv_name", "--", group],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            check=False,
            timeout=_PROBE_SECONDS,
            env=dict(os.environ, LVM_SUPPRESS_FD_WARNINGS="1"),
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        return ()
    if listed.returncode != 0:
        return ()
    return tuple(line.strip() for line in listed.stdout.splitlines() if line.strip())


def _other_targets(client: Client, name: str, local: bool) -> Tuple[Tuple[str, str], ...]:
    """``(name, target path)`` of the host's other pools, to refuse a directory one of them has; on
    this host (``local``) also where a target leads through symbolic links, where that differs."""
    targets = []
    for pool in client.all_pools():
        if pool.name() == name:
            continue
        target = PoolDefinition.from_xml(client.pool_definition(pool)).target_path
        if target:
            targets.append((pool.name(), target))
            real = os.path.realpath(target) if local and target.startswith("/") else target
            if real != target:
                targets.append((pool.name(), real))  # where it leads: a link to it is the same directory
    return tuple(targets)


def _refuse_shared_target(client: Client, name: str, definition: Optional[PoolDefinition]) -> None:
    """A new (or moved, or started) pool's directory is never one a guest shares (virtiofs), nor in one
    or holding one: the guest could change the pool's volumes (other guests' disks) or write image
    headers into them. One definition read per guest, only where the pool's directory may change or
    the pool start."""
    if definition is None or definition.type not in DIRECTORY_TYPES or not (definition.target_path or "").startswith("/"):
        return
    target = definition.target_path or ""
    mine = directory_spellings(target, client.local)
    table = read_mount_table() if client.local else None
    location = mount_location(target, table)
    for guest, domain in client.domain_definitions_of_all():
        for source in domain.xpath("./devices/filesystem/source/@dir"):
            shared = str(source)
            if not shared.startswith("/"):
                continue
            spelled = any(directories_overlap(mine, spelling, shared) for spelling in directory_spellings(shared, client.local))
            # On this host also where both reach one place by other ways (a bind mount).
            if spelled or locations_overlap(location, mount_location(shared, table)):
                raise PlanError(
                    "pool %s: target_path %s is, holds or lies in the directory %s that guest %s shares (virtiofs): "
                    "the guest could change the pool's volumes (other guests' disks); give the pool a directory "
                    "no guest shares" % (name, target, shared, guest)
                )


def _refuse_foreign_directory(name: str, definition: Optional[PoolDefinition]) -> None:
    """A new (or moved, or started) directory pool never adopts a directory another user owns or may write:
    they could go on putting files there that root's runs then take for volumes (a qcow2 image
    with a backing file of their choice, a forged record of a verified download, a link swapped
    in while root changes a volume's mode). The mount point of a new fs or netfs pool is judged by the
    way to it: its owner is the mounted file system's (own_directory.pool_target_problem)."""
    if definition is None or definition.type not in DIRECTORY_TYPES or not definition.target_path:
        return
    target = definition.target_path
    try:
        problem = (definition.type == "dir" and _not_a_directory_problem(target)) or pool_target_problem(
            target, definition.type, "target_path"
        )
    except OSError as error:
        problem = "target_path %s: %s" % (target, error.strerror or error)
    if problem:
        raise PlanError("pool %s: %s" % (name, problem))


def _refuse_unbuilt_start(name: str, definition: Optional[PoolDefinition], request: PoolRequest) -> None:
    """A pool started without a build (new, moved or stopped) needs its directory already: libvirt's
    start would fail (after the define, rolled back), while check mode said yes."""
    if definition is None or definition.type not in DIRECTORY_TYPES or request.build or request.state != "active":
        return
    target = definition.target_path or ""
    if target and not os.path.isdir(target):
        raise PlanError(
            "pool %s: target_path %s is no directory, and build: false leaves it unmade, so libvirt cannot "
            "start the pool; make the directory first, or leave build at true" % (name, target)
        )


def _not_a_directory_problem(target: str) -> Optional[str]:
    """Why no directory can be at ``target``: the nearest part of it that exists is no directory
    (libvirt's build would fail there, after the pool was defined)."""
    path = nearest_existing(target)
    if path is None or os.path.isdir(path):
        return None
    if os.path.islink(path):
        return "target_path %s: %s is a symbolic link that leads to nothing" % (target, path)
    return "target_path %s: %s is not a directory" % (target, path)


def _with_emptied_directory(state: PoolState, existing: PoolDefinition) -> PoolState:
    """``state`` of an inactive directory pool, with whether its directory holds nothing (``emptied``),
    or is gone (``unbuilt`` too): no volume is left to delete, as a run stopped after it deleted them
    and stopped the pool leaves it. A directory that leads elsewhere through a link is neither."""
    target = existing.target_path
    if not target or _real_target(existing) is not None:
        return state
    try:
        with os.scandir(target) as entries:
            holds = any(True for _entry in entries)
    except FileNotFoundError:
        return state.with_changes(emptied=True, unbuilt=True)
    except OSError:
        return state
    return state if holds else state.with_changes(emptied=True)


def _real_target(definition: PoolDefinition) -> Optional[str]:
    """Where the target directory leads through symbolic links, when that is elsewhere."""
    target = definition.target_path
    if not target or not target.startswith("/"):
        return None
    real = os.path.realpath(target)
    return real if real != same_path(target) else None


def _unbuilt_free(existing: PoolDefinition) -> bool:
    """_unbuilt, refusing an fs or logical pool whose build would take a device the host uses: a
    device under a mapping with no signature of its own (plain dm-crypt, dm-linear) holds nothing
    blkid knows, and its build would format what the mapping holds."""
    unbuilt = _unbuilt(existing)
    if unbuilt and existing.type in DEVICE_BUILDS and existing.source_devices:
        _refuse_devices_in_use(existing)
    return unbuilt


def _unbuilt(existing: PoolDefinition) -> bool:
    """Whether an inactive pool cannot start before its build (see PoolState.unbuilt)."""
    target = existing.target_path
    if existing.type in DIRECTORY_BUILDS and target and not os.path.isdir(target):
        return True
    if existing.type in DEVICE_BUILDS and existing.source_devices:
        return all(_holds_nothing(device) for device in existing.source_devices)
    return False


def _holds_nothing(device: str) -> bool:
    """Whether the block device ``device`` holds no signature blkid knows (file system, LVM label,
    partition table), so a build with --no-overwrite formats it; False when that cannot be told."""
    # Imported here: only an inactive fs or logical pool is probed.
    import stat
    import subprocess

    try:
        if not stat.S_ISBLK(os.stat(device).st_mode):
            return False
        probe = subprocess.run(
            ["blkid", "-p", "-o", "export", "--", device],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            check=False,
            timeout=_PROBE_SECONDS,
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        return False
    # blkid's exit status 2: nothing was identified on a device it could read.
    return probe.returncode == 2 and not probe.stdout.strip() and not probe.stderr.strip()


def _may_stop(request: PoolRequest, state: PoolState) -> bool:
    """Whether the plan could stop the active pool (or delete its volumes): only then are its guests read."""
    return request.state in ("inactive", "absent") or (request.recreate and request.definition is not None)


def run(params: Mapping[str, Any], check_mode: bool, diff: bool) -> Dict[str, Any]:
    """Everything virt_pool does after argument parsing; raises RunError to fail."""
    try:
        request = PoolRequest.from_params(params)
    except PlanError as error:
        raise RunError(str(error))
    plan: Optional[Plan] = None
    applied = False
    try:
        with connected(params["uri"]) as client:
            held = [pool_key(request.name)] if check_mode else _real_run_lock_keys(client, request)
            with changing(client.uri, held, POOL_LOCK_SECONDS, check_mode):
                if not check_mode and not set(_real_run_lock_keys(client, request)) <= set(held):
                    raise PlanError(_CHANGED_WHILE_WAITING % request.name)
                state = read_state(client, request)
                # Files another tool put there are volumes only once read_state refreshed the pool.
                if (
                    not check_mode
                    and request.delete_volumes
                    and any(volume_key(request.name, name) not in held for name in state.volumes)
                ):
                    raise PlanError(_CHANGED_WHILE_WAITING % request.name)
                plan = plan_pool(request, state)
                if plan.changed and not check_mode:
                    apply_plan(client, plan, params, VERBS, lambda _audit: _handlers(client))
                    applied = True
                facts = _pool_facts(client, request, plan, state, check_mode)
    except REPORTED_ERRORS as error:
        raise RunError(str(error), plan, changed=applied)
    result: Dict[str, Any] = {"changed": plan.changed, "plan": plan.summaries(), "pool": facts}
    if diff:
        result["diff"] = plan.diff("pool %s" % request.name)
    return result


def _handlers(client: Client) -> Mapping[str, Any]:
    # Imported here: only runs that change something use them (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._pool.handlers import PoolHandlers

    return PoolHandlers(client).as_mapping()


def _pool_facts(client: Client, request: PoolRequest, plan: Plan, state: PoolState, check_mode: bool) -> Dict[str, Any]:
    """The pool after the run: read back after a real run, predicted in check mode."""
    if request.state == "absent":
        return {}
    pool = client.find_pool(request.name)
    if check_mode and plan.changed:
        after = outcome(request, state)
        if after is None:
            return {}
        # The sizes are those of the pool's storage: known only where the run keeps it as it is.
        kept = state.existing is not None and not differences(state.existing, after.definition)
        sizes = client.describe_pool(pool) if pool is not None and state.active and after.active and kept else None
        return _facts(_as_libvirt_stores(after.definition), after.active, after.autostart, sizes)
    if pool is None:
        return {}
    active = client.pool_is_active(pool)
    sizes = client.describe_pool(pool) if active else None
    return _facts(PoolDefinition.from_xml(client.pool_definition(pool)), active, client.pool_autostart(pool), sizes)


# The source format libvirt writes into a pool definition that names none: check mode reports
# the pool as the real run reads it back.
LIBVIRT_SOURCE_FORMATS = {"fs": "auto", "netfs": "auto", "logical": "lvm2"}


def _as_libvirt_stores(definition: PoolDefinition) -> PoolDefinition:
    if definition.source_format or definition.type not in LIBVIRT_SOURCE_FORMATS:
        return definition
    return definition.with_changes(source_format=LIBVIRT_SOURCE_FORMATS[definition.type])


def _facts(definition: PoolDefinition, active: bool, autostart: bool, sizes: Optional[Pool]) -> Dict[str, Any]:
    return {
        "name": definition.name,
        "type": definition.type,
        "uuid": definition.uuid,
        "active": active,
        "autostart": autostart,
        "target_path": definition.target_path,
        "source_hosts": list(definition.source_hosts),
        "source_path": definition.source_dir,
        "source_devices": list(definition.source_devices),
        "source_name": definition.source_name,
        "source_format": definition.source_format,
        "capacity": sizes.capacity if sizes is not None else None,
        "allocation": sizes.allocation if sizes is not None else None,
        "available": sizes.available if sizes is not None else None,
    }
