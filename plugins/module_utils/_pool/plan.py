# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt_pool's planner: from a request and what the host has, the actions that reach it (pure)."""

from __future__ import annotations

import shlex
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import closest_option
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Plan, PlanError, virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    directories_overlap,
    is_host_data_directory,
    same_path,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import PoolDefinition, PoolTypeCapability
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
from ansible_collections.remotevirt.install.plugins.module_utils._pool.request import DIRECTORY_TYPES, PoolRequest
from ansible_collections.remotevirt.install.plugins.module_utils._pool.state import PoolState

# Pool types whose build formats their devices (a file system, a volume group): always built with
# --no-overwrite, and built again only when every device holds nothing (see PoolState.unbuilt).
DEVICE_BUILDS = ("fs", "logical")
# Pool types libvirt has nothing to build for.
_UNBUILT = ("iscsi",)
# Pool types whose build makes the target directory (fs: its mount point): built again whenever that
# directory is missing.
DIRECTORY_BUILDS = ("dir", "netfs", "fs")

# How each compared field is named in a refusal or a diff summary.
_FIELD_LABELS = (
    ("type", "type"),
    ("target_path", "target path"),
    ("source_hosts", "source host"),
    ("source_dir", "source path"),
    ("source_devices", "source devices"),
    ("source_name", "source name"),
    ("source_format", "source format"),
    ("initiator", "initiator"),
    ("mode", "target mode"),
    ("owner", "target owner"),
    ("group", "target group"),
)


def plan_pool(request: PoolRequest, state: PoolState) -> Plan:
    if state.existing is not None and not state.persistent:
        # Stopping it removes it, and libvirt keeps no autostart for it: no state but its own fits.
        raise PlanError(
            "pool %s is transient (started without a definition); this module manages defined pools: define it "
            "(%s) or stop it (%s) first"
            % (request.name, virsh(request.uri, "pool-define"), virsh(request.uri, "pool-destroy", request.name))
        )
    if request.state == "absent":
        return _plan_absent(request, state)
    if state.existing is None:
        return _plan_new(request, state)
    return _plan_existing(request, state, state.existing)


class Outcome(Record):
    """What the pool is after the plan: its definition, whether it is active, its autostart."""

    definition: PoolDefinition
    active: bool
    autostart: bool


def outcome(request: PoolRequest, state: PoolState) -> Optional[Outcome]:
    """The pool a run leaves (None: no pool), whatever the plan takes to get there."""
    existing = state.existing
    if request.state == "absent":
        return None
    if existing is None:
        if request.definition is None:
            return None
        return Outcome(request.definition, request.state == "active", bool(request.autostart))
    wanted = wanted_over(existing, request.definition) if request.definition else existing
    active = {"active": True, "inactive": False}.get(request.state, state.active)
    return Outcome(wanted, active, state.autostart if request.autostart is None else request.autostart)


def shown(definition: Optional[PoolDefinition], active: bool, autostart: bool) -> Optional[str]:
    """The pool as diff mode shows it: its state and autostart, then its definition."""
    if definition is None:
        return None
    return "<!-- %s, autostart %s -->\n%s" % (
        "active" if active else "inactive",
        "on" if autostart else "off",
        definition.with_changes(uuid=None).to_xml(),
    )


def wanted_over(existing: PoolDefinition, wanted: PoolDefinition) -> PoolDefinition:
    """``wanted`` with what it leaves unsaid taken from ``existing`` (libvirt's defaults, such as a
    logical pool's /dev/<vg> target, and parts the request does not mention), and its uuid, unless
    it is of another type: that pool is undefined and defined anew, and libvirt makes up its uuid."""
    values = {}
    for field in PoolDefinition._fields:
        value = getattr(wanted, field)
        values[field] = getattr(existing, field) if value in (None, ()) else value
    values["uuid"] = existing.uuid if values["type"] == existing.type else None
    return PoolDefinition(**values)


def differences(existing: PoolDefinition, wanted: PoolDefinition) -> List[str]:
    """What ``wanted`` changes, one ``what: old -> new`` per field."""
    found = []
    for field, label in _FIELD_LABELS:
        old, new = getattr(existing, field), getattr(wanted, field)
        if old != new:
            found.append("%s: %s -> %s" % (label, _value_text(old), _value_text(new)))
    return found


def _value_text(value: Any) -> str:
    if value in (None, ()):
        return "(none)"
    if isinstance(value, tuple):
        return ", ".join(value)
    return str(value)


# -- checks ------------------------------------------------------------------------------------
def check_capabilities(definition: PoolDefinition, capabilities: Optional[Dict[str, PoolTypeCapability]], uri: str) -> None:
    """Refuse a pool type or source format the host's libvirt does not offer (when it says which it does)."""
    if capabilities is None:
        return
    offered = capabilities.get(definition.type)
    if offered is None or not offered.supported:
        supported = sorted(name for name, capability in capabilities.items() if capability.supported)
        raise PlanError(
            "libvirt on %s does not support %s pools (%s); it supports %s"
            % (uri, definition.type, virsh(uri, "pool-capabilities"), ", ".join(supported) or "none")
        )
    fmt = definition.source_format
    if fmt and offered.source_formats and fmt not in offered.source_formats:
        suggestion = closest_option(fmt, offered.source_formats)
        raise PlanError(
            "source_format %r is not one libvirt on %s offers for %s pools: %s%s"
            % (
                fmt,
                uri,
                definition.type,
                ", ".join(offered.source_formats),
                "; did you mean %r?" % suggestion if suggestion else "",
            )
        )


def check_target_shared(definition: PoolDefinition, state: PoolState) -> None:
    """Refuse a directory that is, holds or lies in another pool's target: libvirt refuses the same one
    only when the pool is defined (after check mode said yes), and nested pools list and delete each
    other's files."""
    if definition.type not in DIRECTORY_TYPES or not definition.target_path:
        return
    if state.real_target is not None and is_host_data_directory(state.real_target):
        raise PlanError(
            "pool %s: target_path %s leads (through a symbolic link) to %s, a directory of the host's system: "
            "the pool would list its files as volumes (and delete_volumes delete them) or mount over it; give "
            "the pool a directory of its own" % (definition.name, definition.target_path, state.real_target)
        )
    # On this host both are compared as spelled and where they lead through symbolic links.
    spellings = [definition.target_path] + ([state.real_target] if state.real_target else [])
    for name, target in state.other_targets:
        theirs = target.rstrip("/") + "/"
        if name == definition.name or not theirs.startswith("/"):
            continue
        how = directories_overlap([spelling.rstrip("/") + "/" for spelling in spellings], theirs, target)
        if how is None:
            continue
        raise PlanError(
            "pool %s: target_path %s %s pool %s; pools whose directories overlap list and delete each other's "
            "volumes: give it a directory of its own" % (definition.name, definition.target_path, how, name)
        )


# Pool types whose source is a list of block devices (or file system images): two such pools on one
# device, whatever their types, would each format, mount or carve it. (An iSCSI pool's "device" is
# a target's name, compared as spelled.)
DEVICE_SOURCE_TYPES = ("fs", "logical", "disk", "zfs")


def check_source_shared(definition: PoolDefinition, state: PoolState) -> None:
    """Refuse a source another pool has already (an NFS export, an iSCSI target, a device, a volume
    group): libvirt refuses the definition only when it is written, after check mode said yes."""
    for other in state.other_sources:
        if other.name == definition.name:
            continue
        clash = _shared_source(definition, other, state.device_keys)
        if clash is not None:
            raise PlanError(
                "pool %s: its source, %s, is the source of pool %s already; libvirt keeps one pool per source: "
                "use pool %s, or remove it first" % (definition.name, clash, other.name, other.name)
            )


def _shared_source(
    wanted: PoolDefinition, other: PoolDefinition, device_keys: Tuple[Tuple[str, FrozenSet[str]], ...] = ()
) -> Optional[str]:
    """What of ``wanted``'s source ``other`` has too, as libvirt compares sources (and, for devices, as
    the host has them: ``device_keys``, see PoolState); None when nothing."""
    hosts = sorted(set(wanted.source_hosts) & set(other.source_hosts))
    if wanted.type == other.type and wanted.type in ("netfs", "gluster"):
        same_name = wanted.type == "netfs" or wanted.source_name == other.source_name
        if hosts and same_name and same_path(wanted.source_dir) == same_path(other.source_dir):
            return "%s:%s" % (hosts[0], wanted.source_dir or wanted.source_name)
    if wanted.type == other.type and wanted.type in ("iscsi", "iscsi-direct"):
        initiators_differ = wanted.initiator and other.initiator and wanted.initiator != other.initiator
        if hosts and wanted.source_devices[:1] == other.source_devices[:1] and not initiators_differ:
            return "target %s on %s" % (wanted.source_devices[0] if wanted.source_devices else "", hosts[0])
    if wanted.type in DEVICE_SOURCE_TYPES and other.type in DEVICE_SOURCE_TYPES:
        keys = dict(device_keys)
        theirs = [(same_path(device) or device, keys.get(device, frozenset())) for device in other.source_devices]
        shared = []
        for device in wanted.source_devices:
            mine = (same_path(device) or device, keys.get(device, frozenset()))
            # As spelled, or as what it is on the host (a link to it, a loop device on the image).
            match = next((spelled for spelled, found in theirs if spelled == mine[0] or found & mine[1]), None)
            if match is not None:
                shared.append(device if match == mine[0] else "%s (as %s)" % (device, match))
        if shared:
            return "device %s" % ", ".join(sorted(shared))
    if wanted.type == other.type == "logical" and wanted.source_name and wanted.source_name == other.source_name:
        return "volume group %s" % wanted.source_name
    return None


def _refuse_running_users(request: PoolRequest, state: PoolState, why: str) -> None:
    running = state.running_users
    if running:
        raise PlanError(
            "pool %s cannot be stopped to %s: running guests use its volumes: %s; shut them down first"
            % (request.name, why, ", ".join(running))
        )


# -- plans -------------------------------------------------------------------------------------
def _plan_new(request: PoolRequest, state: PoolState) -> Plan:
    wanted = request.definition
    if wanted is None:
        raise PlanError(
            "storage pool %r does not exist on %s; give its type and target_path (or xml) to define it"
            % (request.name, state.uri)
        )
    check_capabilities(wanted, state.capabilities, state.uri)
    check_target_shared(wanted, state)
    check_source_shared(wanted, state)
    start = request.state == "active"
    plan = Plan(before=None, after=shown(wanted, start, bool(request.autostart)))
    plan.add(_define_action(request.uri, wanted, None))
    if request.build and wanted.type not in _UNBUILT:
        plan.add(_build_action(request.uri, wanted))
    if start:
        plan.add(_pool_action(request.uri, START, request.name, "pool-start"))
    if request.autostart:
        plan.add(_autostart_action(request.uri, request.name, True))
    return plan


def _plan_existing(request: PoolRequest, state: PoolState, existing: PoolDefinition) -> Plan:
    after = outcome(request, state)
    if after is None:  # only for absent and missing pools, which other plans handle
        raise AssertionError("no outcome for pool %s" % request.name)
    wanted, want_active, autostart = after.definition, after.active, after.autostart
    changes = differences(existing, wanted)
    active = state.active
    plan = Plan(before=shown(existing, active, state.autostart), after=shown(wanted, want_active, autostart))
    if changes:
        _refuse_mounted_permissions(request, existing, wanted)
        check_capabilities(wanted, state.capabilities, state.uri)
        if wanted.target_path != existing.target_path or wanted.type != existing.type:
            check_target_shared(wanted, state)
        check_source_shared(wanted, state)
        retyped = wanted.type != existing.type
        if (retyped or (active and want_active)) and not request.recreate:
            raise PlanError(_redefine_refusal(request, existing, changes, active, retyped))
        if active:
            _refuse_running_users(request, state, "change its definition")
        if (retyped or wanted.target_path != existing.target_path) and state.users:
            raise PlanError(
                "pool %s would move from %s to %s, but guests have disks in it: %s; their disks would stay behind, "
                "no longer volumes of the pool (a disk named by pool and volume would not start): detach or move them first"
                % (request.name, existing.target_path, wanted.target_path, ", ".join(state.user_names))
            )
        if active:
            plan.add(_pool_action(request.uri, STOP, request.name, "pool-destroy"))
            active = False
        if retyped:
            plan.add(_undefine_action(request.uri, existing))
            plan.add(_define_action(request.uri, wanted, None))
        else:
            plan.add(_define_action(request.uri, wanted, existing))
        moved = retyped or wanted.target_path != existing.target_path or wanted.source_devices != existing.source_devices
        if request.build and wanted.type not in _UNBUILT and (moved or _directory_permissions_change(existing, wanted)):
            plan.add(_build_action(request.uri, wanted))
    unbuilt = request.build and state.unbuilt and wanted.type == existing.type
    if unbuilt and active and want_active:
        # An active directory pool whose directory is gone: libvirt builds only inactive pools.
        plan.add(_pool_action(request.uri, STOP, request.name, "pool-destroy"))
        active = False
    builds = unbuilt and not active and not any(action.verb == BUILD for action in plan.actions)
    if builds or (want_active and not active):
        check_target_shared(wanted, state)  # its directory may lead elsewhere since it was defined
    if builds:
        # Defined but never built (a run stopped after its define): the build that run planned,
        # or the pool could never start (no directory to open, no file system to mount, no volume group).
        plan.add(_build_action(request.uri, wanted))
    if want_active and not active:
        plan.add(_pool_action(request.uri, START, request.name, "pool-start"))
    elif active and not want_active:
        _refuse_running_users(request, state, "make it inactive")
        plan.add(_pool_action(request.uri, STOP, request.name, "pool-destroy"))
    if autostart != state.autostart:
        plan.add(_autostart_action(request.uri, request.name, autostart))
    if not plan.changed:
        plan.before = plan.after = None
    return plan


def _refuse_mounted_permissions(request: PoolRequest, existing: PoolDefinition, wanted: PoolDefinition) -> None:
    """An fs or netfs pool's target mode, owner and group are its mounted file system's, which libvirt
    reads back on every start and never sets: a redefinition would be undone at once, run after run."""
    if wanted.type not in ("fs", "netfs") or wanted.type != existing.type:
        return
    differing = [field for field in ("mode", "owner", "group") if getattr(wanted, field) != getattr(existing, field)]
    if differing:
        raise PlanError(
            "pool %s (%s): target %s %s, as libvirt reads it from the mounted file system, differs from the request; "
            "libvirt never sets it there: change it on the mounted directory (chmod, chown) or ask for what it is"
            % (
                request.name,
                wanted.type,
                " and ".join(differing),
                " / ".join(str(getattr(existing, field)) for field in differing),
            )
        )


def _directory_permissions_change(existing: PoolDefinition, wanted: PoolDefinition) -> bool:
    """Whether a directory pool is to get another mode, owner or group. libvirt reads them back from
    the directory whenever it refreshes the pool (a start does): only a build, which sets them on the
    directory that is there, makes new ones hold, or every run would find the old ones again."""
    fields = ("mode", "owner", "group")
    return wanted.type == "dir" and any(getattr(wanted, field) != getattr(existing, field) for field in fields)


def _redefine_refusal(request: PoolRequest, existing: PoolDefinition, changes: List[str], active: bool, retyped: bool) -> str:
    if retyped:
        how = "a pool's type cannot change: set recreate: true to undefine it and define it anew (its storage is kept)"
    else:
        how = (
            "libvirt applies a new definition to an active pool only when it is started again: set recreate: true to "
            "stop, redefine and start it, or state: inactive to stop it and redefine it"
        )
    return "pool %s (%s, %s) differs from the request: %s; %s" % (
        request.name,
        existing.type,
        "active" if active else "inactive",
        "; ".join(changes),
        how,
    )


def _plan_absent(request: PoolRequest, state: PoolState) -> Plan:
    existing = state.existing
    plan = Plan()
    if existing is None:
        return plan
    plan.before = shown(existing, state.active, state.autostart)
    if request.delete_volumes:
        if existing.type in _UNBUILT:
            raise PlanError(
                "pool %s is an iSCSI pool: its volumes are the target's LUNs, which libvirt cannot delete" % request.name
            )
        if not state.active:
            if not state.emptied:
                raise PlanError(
                    "pool %s is inactive, so its volumes cannot be listed to delete them: start it first (state: active), "
                    "or remove it without delete_volumes (its storage is kept)" % request.name
                )
            # Nothing left to delete (a run stopped after it deleted the volumes and stopped the pool).
            if not state.unbuilt:
                plan.add(_pool_action(request.uri, DELETE, request.name, "pool-delete", destructive=True))
            plan.add(_undefine_action(request.uri, existing))
            return plan
        if state.user_names:
            raise PlanError(
                "pool %s's volumes are used by guests: %s; its volumes are deleted only when no guest uses them"
                % (request.name, ", ".join(state.user_names))
            )
        if state.dependents:
            raise PlanError(
                "pool %s's volumes back volume(s) of other pools: %s (their backing file or data file); its volumes "
                "are deleted only when nothing else needs them" % (request.name, ", ".join(state.dependents))
            )
        if state.sharing:
            raise PlanError(
                "pool %s's directory %s is, holds or lies in the directory of pool(s) %s where they lead through "
                "symbolic links: deleting its volumes would delete theirs; remove it without delete_volumes"
                % (request.name, existing.target_path, ", ".join(state.sharing))
            )
        if state.left_behind:
            raise PlanError(
                "pool %s's directory %s holds what deleting its volumes would not remove: %s; its deletion would "
                "then fail with the volumes already gone: remove those first, or remove the pool without "
                "delete_volumes (its storage is kept)" % (request.name, existing.target_path, ", ".join(state.left_behind))
            )
        if state.real_target is not None and not state.unbuilt:
            raise PlanError(
                "pool %s's directory %s leads through a symbolic link to %s: deleting its volumes would delete the "
                "files there, which are not the pool's own; remove it without delete_volumes (its storage is kept), "
                "or put the directory back" % (request.name, existing.target_path, state.real_target)
            )
        for volume in state.volumes:
            command = virsh(request.uri, "vol-delete", "--pool", request.name, volume)
            label = "%s/%s" % (request.name, volume)
            plan.add(Action(DELETE_VOLUME, "volume", label, command, VolumeTarget(request.name, volume), destructive=True))
        plan.add(_pool_action(request.uri, STOP, request.name, "pool-destroy"))
        if not state.unbuilt:  # a directory deleted behind libvirt's back: nothing left to delete
            plan.add(_pool_action(request.uri, DELETE, request.name, "pool-delete", destructive=True))
    elif state.active:
        _refuse_running_users(request, state, "remove it")
        plan.add(_pool_action(request.uri, STOP, request.name, "pool-destroy"))
    plan.add(_undefine_action(request.uri, existing))
    return plan


# -- actions -----------------------------------------------------------------------------------
def _pool_action(uri: str, verb: str, name: str, command: str, destructive: bool = False) -> Action:
    return Action(verb, "pool", name, virsh(uri, command, name), PoolTarget(name), destructive=destructive)


def _undefine_action(uri: str, existing: PoolDefinition) -> Action:
    command = virsh(uri, "pool-undefine", existing.name)
    return Action(UNDEFINE, "pool", existing.name, command, UndefinePayload(existing.name, existing.to_xml()))


def _autostart_action(uri: str, name: str, enable: bool) -> Action:
    command = virsh(uri, "pool-autostart", name, *([] if enable else ["--disable"]))
    return Action(AUTOSTART, "pool", name, command, AutostartPayload(name, enable))


def _build_action(uri: str, definition: PoolDefinition) -> Action:
    no_overwrite = definition.type in DEVICE_BUILDS
    command = virsh(uri, "pool-build", definition.name, *(["--no-overwrite"] if no_overwrite else []))
    payload = BuildPayload(definition.name, no_overwrite, mount_existing=definition.type == "fs")
    return Action(BUILD, "pool", definition.name, command, payload)


def _define_action(uri: str, definition: PoolDefinition, previous: Optional[PoolDefinition]) -> Action:
    payload = DefinePayload(definition.name, definition.to_xml(), previous.to_xml() if previous else None)
    return Action(DEFINE, "pool", definition.name, define_command(uri, definition, previous is None), payload)


def define_command(uri: str, definition: PoolDefinition, new: bool) -> str:
    """``virsh pool-define-as`` for what its options express, else ``pool-define`` of the XML
    (a redefinition carries the pool's uuid, which pool-define-as cannot)."""
    if not new or len(definition.source_devices) > 1 or len(definition.source_hosts) > 1 or definition.permissions_set:
        return virsh(uri, "pool-define", "/dev/stdin") + " <<< " + shlex.quote(definition.to_line())
    argv: List[str] = ["pool-define-as", definition.name, definition.type]
    for option, value in (
        ("--source-host", definition.source_hosts[0] if definition.source_hosts else None),
        ("--source-path", definition.source_dir),
        ("--source-dev", definition.source_devices[0] if definition.source_devices else None),
        ("--source-name", definition.source_name),
        ("--source-format", definition.source_format),
        ("--source-initiator", definition.initiator),
        ("--target", definition.target_path),
    ):
        if value:
            argv.extend((option, value))
    return virsh(uri, *argv)
