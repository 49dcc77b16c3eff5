# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for pool volumes: (request, actual state) -> Plan. No I/O here."""

from __future__ import annotations

import hashlib
import os
from typing import Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Plan, PlanError, shell, virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_url
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import format_size
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Permissions, Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import (
    CHMOD,
    CLONE,
    CREATE,
    DELETE,
    REPLACE,
    RESIZE,
    UPLOAD,
    ChmodPayload,
    ClonePayload,
    CreatePayload,
    ReplacePayload,
    ResizePayload,
    UploadPayload,
    VolumeTarget,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.request import (
    CHECKSUM_OF_CONTENT,
    RAW_FORMATS,
    VolumeRef,
    VolumeRequest,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import (
    STAGED_CUT,
    STAGED_FOREIGN,
    STAGED_SECOND_NAME,
    VolumeState,
)


def plan_volume(request: VolumeRequest, state: VolumeState) -> Plan:
    """The actions that take ``state`` to ``request``; raises PlanError when that is refused."""
    if request.state == "absent":
        plan = _plan_absent(request, state)
    elif state.existing is None:
        plan = _plan_new(request, state)
    else:
        plan = _plan_existing(request, state, state.existing)
    if plan.actions and state.existing is not None and state.existing.format == DIRECTORY_FORMAT:
        raise PlanError(_directory_problem(request.label))
    if state.existing is not None or request.state == "absent":
        # A new volume's plan deals with its staging name where it makes the volume.
        plan = _with_staging_cleared(request, state, plan)
    return plan


def _with_staging_cleared(request: VolumeRequest, state: VolumeState, plan: Plan) -> Plan:
    """``plan``, first removing what a stopped run left under the volume's staging name: a volume cut
    off while it was made, or a second name of the volume's file (neither holds anything of value)."""
    if state.staged not in (STAGED_CUT, STAGED_SECOND_NAME):
        return plan
    cleanup = _staging_removal(request.uri, request.pool, request.name, state.staged)
    return plan.with_changes(actions=[cleanup] + list(plan.actions))


def _staging_removal(uri: str, pool: str, name: str, staged: str) -> Action:
    staging = staging_name(name)
    if staged == STAGED_SECOND_NAME:
        why = "a second name of %s, left by a run stopped while it named the volume" % name
    else:
        why = "unfinished: a run stopped while it made the volume"
    command = virsh(uri, "vol-delete", "--pool", pool, staging) + "  # " + why
    return Action(DELETE, "volume", "%s/%s" % (pool, staging), command, VolumeTarget(pool, staging))


# What libvirt lists a directory inside a pool's directory as: a volume of this format, which qemu-img
# cannot resize, clone or back an image with, and which libvirt deletes only when empty.
DIRECTORY_FORMAT = "dir"


def _directory_problem(label: str) -> str:
    return "volume %s is a directory in the pool's directory, not an image: this module changes only images" % label


def managed_view(volume: Volume) -> Volume:
    """The fields a user can set, for diffs: allocation and libvirt's path/key are left out."""
    return Volume(
        name=volume.name,
        capacity=volume.capacity,
        format=volume.format,
        permissions=volume.permissions,
        backing_path=volume.backing_path,
        backing_format=volume.backing_format,
    )


# -- absent ------------------------------------------------------------------------------------
def depended_on(state: VolumeState) -> str:
    """Who needs the volume, for refusals: 'is used by guest(s) a, b and backs volume(s) p/c'
    (a volume backed by it names it as its backing file or its data file)."""
    parts = []
    if state.users:
        parts.append("is used by guest(s) %s" % ", ".join(state.users))
    if state.dependents:
        parts.append("backs volume(s) %s (their backing file or data file)" % ", ".join(state.dependents))
    return " and ".join(parts)


def _plan_absent(request: VolumeRequest, state: VolumeState) -> Plan:
    existing = state.existing
    if existing is None:
        return _plan_leftover_replacement(request, state, Plan())
    if (state.users or state.dependents) and not request.delete_in_use:
        raise PlanError(
            "volume %s %s; detach it, or set delete_in_use: true to delete it anyway" % (request.label, depended_on(state))
        )
    plan = Plan(before=managed_view(existing).to_xml())
    command = virsh(request.uri, "vol-delete", "--pool", request.pool, request.name)
    plan.add(Action(DELETE, "volume", request.label, command, VolumeTarget(request.pool, request.name), destructive=True))
    return _plan_leftover_replacement(request, state, plan)


def _plan_leftover_replacement(request: VolumeRequest, state: VolumeState, plan: Plan) -> Plan:
    """``plan`` with the deletion of the unfinished replacement a stopped run left beside the volume."""
    name = replacement_name(request.name)
    if request.state == "absent" and state.replacement_staged in (STAGED_CUT, STAGED_SECOND_NAME):
        plan.add(_staging_removal(request.uri, request.pool, name, state.replacement_staged))
    if state.replacement is None or not state.replacement_unfinished:
        return plan
    command = virsh(request.uri, "vol-delete", "--pool", request.pool, name) + "  # unfinished replacement"
    plan.add(Action(DELETE, "volume", "%s/%s" % (request.pool, name), command, VolumeTarget(request.pool, name)))
    return plan


# -- new volume --------------------------------------------------------------------------------
def _plan_new(request: VolumeRequest, state: VolumeState) -> Plan:
    if not request.creates:
        raise PlanError(
            "volume %s does not exist; set capacity, clone_from, backing_volume or source_url to create it" % request.label
        )
    if request.source_url:
        return _plan_download(request, state, request.source_url)
    if request.clone_from:
        return _plan_clone(request, state, request.clone_from, _origin(state, request.clone_from, "clone_from"))
    return _plan_create(request, state)


def _origin(state: VolumeState, ref: VolumeRef, what: str) -> Volume:
    """The clone or backing source the runner described (it refuses a missing one as it reads the host)."""
    if state.origin is None:
        raise PlanError("%s volume %s does not exist" % (what, ref.label))
    if state.origin.format == DIRECTORY_FORMAT:
        raise PlanError("%s %s" % (what, _directory_problem(ref.label)))
    return state.origin


def _default_format(request: VolumeRequest, pool: Pool) -> Optional[str]:
    if request.format:
        return request.format
    # File pools get qcow2 (sparse, snapshots, overlays); others keep their native format.
    return "qcow2" if pool.holds_files else None


def predicted_path(pool: Pool, name: str) -> Optional[str]:
    return "%s/%s" % (pool.target_path.rstrip("/"), name) if pool.holds_files and pool.target_path else None


# -- capacities in libvirt's units ---------------------------------------------------------------
# In file pools libvirt makes every format but raw with qemu-img, which it gives the capacity in
# whole KiB, rounded up, when creating ("1GB" becomes 1000000512 bytes), and rounded up to 512
# bytes when resizing; raw files get the exact byte count both ways (measured with libvirt 9.0).
# Other pool types store the bytes asked for as far as this collection knows.
CREATE_UNIT = 1024


RESIZE_UNIT = 512


def _capacity_unit(pool: Pool, fmt: Optional[str], creating: bool) -> int:
    if not pool.holds_files or fmt in (None, "raw"):
        return 1
    return CREATE_UNIT if creating else RESIZE_UNIT


# The largest volume libvirt makes: qemu-img's qcow2 with its default 64K clusters maps at most 2P
# (its L1 table is capped at 32M), and libvirt refuses a volume of 8E or more (measured: "numerical
# overflow"). Larger requests are refused at plan time, where check mode sees them.
QCOW2_MAX_CAPACITY = 1 << 51
VOLUME_MAX_CAPACITY = (1 << 63) - 1


def stored_capacity(pool: Pool, fmt: Optional[str], wanted: int, creating: bool) -> int:
    """The capacity libvirt stores when asked for ``wanted`` bytes (creating or resizing a volume of
    ``fmt``); PlanError beyond what libvirt can make."""
    unit = _capacity_unit(pool, fmt, creating)
    stored = -(-wanted // unit) * unit
    kind, limit = _capacity_limit(pool, fmt)
    if stored > limit:
        raise PlanError("capacity %s is larger than a %s volume can be (%s)" % (format_size(wanted), kind, format_size(limit)))
    return stored


def _capacity_limit(pool: Pool, fmt: Optional[str]) -> Tuple[str, int]:
    """The kind of volume (qcow2, libvirt) whose largest size bounds a volume of ``fmt`` in ``pool``, and that size."""
    if pool.holds_files and fmt == "qcow2":
        return "qcow2", QCOW2_MAX_CAPACITY
    return "libvirt", VOLUME_MAX_CAPACITY


def capacity_reached(pool: Pool, fmt: Optional[str], wanted: int, actual: int) -> bool:
    """Whether a volume of ``actual`` bytes is what asking for ``wanted`` bytes makes: libvirt and
    qemu-img only round up (a vpc image to whole cylinders)."""
    return wanted <= actual <= made_capacity(pool, fmt, wanted)


def made_capacity(pool: Pool, fmt: Optional[str], wanted: int) -> int:
    """The capacity of the volume that creating one of ``wanted`` bytes makes: what libvirt stores, and for a
    vpc image of a file pool what qemu-img makes of that."""
    stored = stored_capacity(pool, fmt, wanted, creating=True)
    return vpc_image_size(stored) if pool.holds_files and fmt == "vpc" else stored


# The largest disk a vpc (VHD) image's geometry describes: 65535 cylinders of 16 heads of 255 sectors.
_VPC_MAX_GEOMETRY_SECTORS = 65535 * 16 * 255


def vpc_image_size(size: int) -> int:
    """The size of the vpc image qemu-img creates for ``size`` bytes: whole cylinders of the first disk
    geometry (as the VHD format computes it) that holds that many sectors; above what a geometry can
    describe, the size itself. Checked against qemu-img 7.2 (1G makes 1073995776 bytes)."""
    sectors = size // 512
    cylinders = heads = per_track = 0
    extra = 0
    while sectors > cylinders * heads * per_track:
        if sectors + extra > _VPC_MAX_GEOMETRY_SECTORS:
            return sectors * 512
        cylinders, heads, per_track = _vpc_geometry(sectors + extra)
        extra += 1
    return cylinders * heads * per_track * 512


def _vpc_geometry(sectors: int) -> Tuple[int, int, int]:
    """(cylinders, heads, sectors per track) of a VHD disk of ``sectors`` sectors, as the VHD
    specification's algorithm (and qemu-img) computes them."""
    if sectors >= 65535 * 16 * 63:
        per_track, heads = 255, 16
        cylinders_times_heads = sectors // per_track
    else:
        per_track = 17
        cylinders_times_heads = sectors // per_track
        heads = max(-(-cylinders_times_heads // 1024), 4)
        if cylinders_times_heads >= heads * 1024 or heads > 16:
            per_track, heads = 31, 16
            cylinders_times_heads = sectors // per_track
        if cylinders_times_heads >= heads * 1024:
            per_track, heads = 63, 16
            cylinders_times_heads = sectors // per_track
    return cylinders_times_heads // heads, heads, per_track


# libvirt makes a volume of these pools whose allocation is below its capacity an LVM snapshot of
# that size: once writes fill it, the snapshot is invalid and the volume's data is lost.
WHOLE_ALLOCATION_POOL_TYPES = frozenset({"logical"})


def _allocation_for(request: VolumeRequest, pool: Pool, capacity: int) -> int:
    if pool.type in WHOLE_ALLOCATION_POOL_TYPES:
        _refuse_partial_allocation(request, pool, capacity)
        return capacity
    if request.allocation is not None:
        return request.allocation
    # libvirt allocates the full capacity when <allocation> is missing; sparse must say 0.
    return capacity if request.preallocation == "full" else 0


def _refuse_partial_allocation(request: VolumeRequest, pool: Pool, capacity: int) -> None:
    partial = request.preallocation in ("sparse", "metadata") or (
        request.allocation is not None and request.allocation < capacity
    )
    if partial:
        raise PlanError(
            "volumes of %s pool %s are allocated whole: libvirt would make this one an LVM snapshot whose data is "
            "lost once writes fill its allocation; leave out preallocation and allocation (or give preallocation: full)"
            % (pool.type, pool.name)
        )


def _preallocate_flag(request: VolumeRequest, fmt: Optional[str], allocation: int) -> bool:
    """Whether libvirt is asked to preallocate (virsh's ``--prealloc-metadata``). For qcow2, qemu-img
    makes the image, and libvirt hands it an allocation only with this flag: ``preallocation=falloc``
    when the allocation is the capacity, ``preallocation=metadata`` below it. Without the flag a
    qcow2 volume is sparse whatever its allocation (preallocation: full allocated nothing)."""
    return request.preallocation == "metadata" or (fmt == "qcow2" and allocation > 0)


def _refuse_sparse_conversion(request: VolumeRequest, pool: Pool, fmt: Optional[str], source: Volume, allocation: int) -> None:
    """A raw clone of a volume of another format is made by qemu-img's convert, which writes it
    sparse; libvirt's preallocation flag is for qcow2 only, so an allocation asked for would be lost."""
    if allocation and fmt == "raw" and source.format != "raw" and pool.type not in WHOLE_ALLOCATION_POOL_TYPES:
        raise PlanError(
            "a raw clone of %s volume %s is written sparse (qemu-img converts it), so the allocation asked for "
            "cannot be made; leave out preallocation and allocation, or clone it as qcow2"
            % (source.format or "unknown-format", request.clone_from.label if request.clone_from else source.name)
        )


# qcow2's cluster size (qemu-img's default, which libvirt does not change) and what a table entry takes.
_QCOW2_CLUSTER = 65536


def qcow2_metadata_size(capacity: int) -> int:
    """What a preallocated qcow2 image takes beyond its data, at most: its header, L1 table and
    refcount table (a cluster each for any size libvirt makes here, counted as three more), an L2
    table entry (8 bytes) and a refcount entry (2 bytes) for every cluster, in whole clusters. A
    pool that has room for the data alone ran out of space in qemu-img otherwise."""
    clusters = -(-capacity // _QCOW2_CLUSTER)
    tables = -(-clusters * 8 // _QCOW2_CLUSTER) + -(-clusters * 2 // _QCOW2_CLUSTER)
    return (tables + 6) * _QCOW2_CLUSTER


class NoSpace(PlanError):
    """A pool lacks the space a volume needs. ``fact`` says so without a hint, for callers whose
    options differ (a guest's disks have no overcommit); the text adds the volume module's hint."""

    def __init__(self, fact: str, hint: str) -> None:
        super().__init__("%s; %s" % (fact, hint) if hint else fact)
        self.fact = fact


def _check_space(request: VolumeRequest, pool: Pool, capacity: int, allocation: int, what: str, tables: int = 0) -> None:
    """Refuse what the pool's free space cannot hold: the ``allocation`` (and ``tables``, the qcow2
    metadata a preallocated image writes beside it), and unless overcommit, the ``capacity``."""
    available = pool.available
    if available is None:
        return
    if allocation + tables > available:
        also = " and up to %s of qcow2 tables" % format_size(tables) if tables else ""
        raise NoSpace(
            "%s needs %s allocated%s but pool %s has %s free"
            % (what, format_size(allocation), also, pool.name, format_size(available)),
            "",
        )
    if capacity > available and not request.overcommit:
        raise NoSpace(
            "%s of %s is larger than the %s free in pool %s" % (what, format_size(capacity), format_size(available), pool.name),
            "set overcommit: true to allow a sparse volume that can outgrow its pool",
        )


def _check_permissions(request: VolumeRequest, pool: Pool) -> None:
    if not request.permissions.is_empty() and not pool.holds_files:
        raise PlanError("mode, owner and group apply to file-based pools; pool %s is of type %s" % (pool.name, pool.type))


def _create_command(request: VolumeRequest, volume: Volume, prealloc_metadata: bool, local: bool) -> str:
    argv = ["vol-create-as", "--pool", request.pool, "--name", request.name, "--capacity", str(volume.capacity)]
    if volume.allocation is not None:
        argv += ["--allocation", str(volume.allocation)]
    if volume.format:
        argv += ["--format", volume.format]
    if volume.backing_path:
        argv += ["--backing-vol", volume.backing_path, "--backing-vol-format", volume.backing_format or "raw"]
    if prealloc_metadata:
        argv.append("--prealloc-metadata")
    command = virsh(request.uri, *argv)
    return command + _permission_commands(volume.path, volume.permissions, local)


def _permission_commands(path: Optional[str], permissions: Permissions, local: bool = True) -> str:
    """`` && chmod ... && chown ...`` as run after virsh on the host; through a remote URI a
    comment instead: libvirt applies them on the host, and a preview pasted where the module ran
    (the controller) must not change a file of the same path there."""
    if permissions.is_empty() or not path:
        return ""
    if not local:
        return "  # libvirt sets %s on the host" % _permission_words(permissions)
    command = ""
    if permissions.mode is not None:
        command += " && " + shell("chmod", permissions.mode, path)
    if permissions.owner is not None or permissions.group is not None:
        owner = "" if permissions.owner is None else str(permissions.owner)
        group = "" if permissions.group is None else str(permissions.group)
        command += " && " + shell("chown", owner + (":" + group if group else ""), path)
    return command


def _plan_create(request: VolumeRequest, state: VolumeState) -> Plan:
    pool = state.pool
    _check_permissions(request, pool)
    ref = request.backing_volume
    backing = _origin(state, ref, "backing_volume") if ref is not None else None
    if ref is not None and state.origin_writers:
        writers = state.origin_writers
        raise PlanError(
            "backing volume %s is a writable disk of %s %s (itself, its data file or a file on its backing chain): "
            "an overlay on it is corrupt after the next write. "
            "Give the guest the overlay instead, make its disk read-only, or make the volume with clone_from"
            % (ref.label, "guest" if len(writers) == 1 else "guests", ", ".join(writers))
        )
    fmt = "qcow2" if backing else _default_format(request, pool)
    if request.preallocation == "metadata" and fmt != "qcow2":
        raise PlanError("preallocation=metadata applies to qcow2 volumes only")
    capacity = request.capacity if request.capacity is not None else (backing.capacity if backing else 0)
    if backing and capacity_reached(pool, fmt, capacity, backing.capacity):
        capacity = backing.capacity  # the base's own size, which a request in other units rounds to
    capacity = stored_capacity(pool, fmt, capacity, creating=True)
    if ref is not None and backing is not None and capacity < backing.capacity:
        raise PlanError(
            "capacity %s is smaller than backing volume %s (%s)"
            % (format_size(capacity), ref.label, format_size(backing.capacity))
        )
    allocation = _allocation_for(request, pool, capacity)
    metadata = qcow2_metadata_size(capacity) if fmt == "qcow2" and (allocation or request.preallocation == "metadata") else 0
    _check_space(request, pool, capacity, allocation, "volume %s" % request.label, metadata)
    volume = Volume(
        name=request.name,
        capacity=capacity,
        format=fmt,
        allocation=allocation,
        permissions=request.permissions,
        backing_path=backing.path if backing else None,
        backing_format=(backing.format or "raw") if backing else None,
        path=predicted_path(pool, request.name),
    )
    prealloc_metadata = _preallocate_flag(request, fmt, allocation)
    made = volume.with_changes(capacity=made_capacity(pool, fmt, capacity))
    plan = Plan(after=managed_view(made).to_xml())
    staging = _staging(request, state, plan)
    plan.add(
        Action(
            CREATE,
            "volume",
            request.label,
            _create_command(request, volume, prealloc_metadata, state.local) + _staged_comment(staging, request.name),
            CreatePayload(pool=request.pool, xml=volume.to_xml(), prealloc_metadata=prealloc_metadata, staging=staging),
        )
    )
    return plan


def _plan_clone(request: VolumeRequest, state: VolumeState, ref: VolumeRef, source: Volume) -> Plan:
    if state.origin_running_writers:
        writers = state.origin_running_writers
        raise PlanError(
            "clone source %s is a disk that running %s %s write%s: a copy taken while it is written is torn (and "
            "QEMU's lock on the image refuses it); shut %s down first"
            % (
                ref.label,
                "guest" if len(writers) == 1 else "guests",
                ", ".join(writers),
                "s" if len(writers) == 1 else "",
                "it" if len(writers) == 1 else "them",
            )
        )
    pool = state.pool
    _check_permissions(request, pool)
    fmt = request.format or source.format
    if request.preallocation == "metadata" and fmt != "qcow2":
        # The clone takes the source's format when none is given: refused here, as for a new volume.
        raise PlanError("preallocation=metadata applies to qcow2 volumes only; clone %s is %s" % (ref.label, fmt))
    capacity = request.capacity if request.capacity is not None else source.capacity
    if capacity_reached(pool, fmt, capacity, source.capacity):
        capacity = source.capacity
    if capacity < source.capacity:
        raise PlanError(
            "capacity %s is smaller than clone_from volume %s (%s); a clone cannot shrink"
            % (format_size(capacity), ref.label, format_size(source.capacity))
        )
    if capacity > source.capacity:
        _check_resizable(request, pool, fmt, source.capacity)
    capacity = stored_capacity(pool, fmt, capacity, creating=False)
    allocation = _allocation_for(request, pool, source.capacity)
    _refuse_sparse_conversion(request, pool, fmt, source, allocation)
    _check_space(request, pool, capacity, max(allocation, source.allocation or 0), "clone %s" % request.label)
    clone = Volume(
        name=request.name,
        capacity=source.capacity,
        format=fmt,
        allocation=allocation,
        permissions=request.permissions,
        path=predicted_path(pool, request.name),
    )
    prealloc_metadata = _preallocate_flag(request, fmt, allocation)
    argv = [
        "vol-create-from",
        "--pool",
        request.pool,
        "--file",
        "%s.xml" % request.name,
        "--inputpool",
        ref.pool,
        "--vol",
        ref.name,
    ]
    if prealloc_metadata:
        argv.append("--prealloc-metadata")
    plan = Plan(after=managed_view(clone.with_changes(capacity=capacity)).to_xml())
    staging = _staging(request, state, plan)
    command = virsh(request.uri, *argv) + _permission_commands(clone.path, clone.permissions, state.local)
    command += _staged_comment(staging, request.name)
    grows = capacity > source.capacity
    # A clone grown after the copy is made at the source's size: allocating more than that would
    # leave it with more allocated than its capacity, which libvirt's resize refuses as a shrink.
    # The grown part is allocated by the resize where the whole volume is asked for.
    made = clone.with_changes(allocation=min(allocation, source.capacity)) if grows else clone
    payload = ClonePayload(
        pool=request.pool,
        xml=made.to_xml(),
        source_pool=ref.pool,
        source=ref.name,
        prealloc_metadata=prealloc_metadata,
        staging=staging,
    )
    plan.add(Action(CLONE, "volume", request.label, command, payload))
    if grows:
        plan.add(_resize_action(request, capacity, shrink=False, allocate=_allocates_growth(request, made, capacity)))
    return plan


def _plan_download(request: VolumeRequest, state: VolumeState, url: str) -> Plan:
    pool = state.pool
    _check_permissions(request, pool)
    compression = request.decompress
    if compression is not None:
        return _plan_compressed_download(request, state, url, compression)
    size = state.download_size
    fmt = request.format or "raw"
    placeholder = size is None and fmt not in RAW_FORMATS
    if placeholder:
        # An image that says its size in its header, served without a length: the volume starts as a
        # placeholder the image overwrites, and the image may be as long as the pool's free space.
        initial, length = PLACEHOLDER_CAPACITY, pool.available or 0
    else:
        initial = length = _download_length(request, size)
    image = _image_size(request, state, pool, fmt)
    allocation = 0 if placeholder else initial
    _check_space(request, pool, max(initial, request.capacity or 0, image or 0), allocation, "download into %s" % request.label)
    volume = _download_volume(request, pool, initial, fmt)
    # Other formats: libvirt reads the size from the image's header once it is in the volume.
    final = stored_capacity(pool, fmt, initial, creating=True) if fmt in RAW_FORMATS else image or initial
    grown = None
    if request.capacity is not None and not capacity_reached(pool, fmt, request.capacity, final):
        _check_resizable(request, pool, fmt, final)
        grown = stored_capacity(pool, fmt, request.capacity, creating=False)
    plan = Plan(after=managed_view(volume.with_changes(capacity=grown or final)).to_xml())
    _add_download_volume(request, state, volume, plan)
    plan.add(_upload_action(request, url, fmt, size, length))
    if grown is not None:
        plan.add(_resize_action(request, grown, shrink=False))
    return plan


# -- compressed downloads ----------------------------------------------------------------------
# How long a compressed image is once decompressed is known only after it was read, so the plan
# sizes the volume without it. A raw (or iso) image needs capacity: the volume is created that
# large and the image is written into it (a longer image is refused, never cut; a shorter one
# leaves zeros after it), so the plan states the volume exactly. Other formats say their size in
# their header: as for an uncompressed download, the volume is created with the length the server
# announces (a placeholder that the image overwrites; libvirt reads the real size from the header
# after the upload; the plan states that size where it read the image's header: qcow2), and the image
# may grow the file up to the pool's free space.
# What libvirt's upload does here (virStorageVolUpload into a file volume, measured with libvirt
# 9.0, dir pool): ``length`` is only an upper bound (0: none); the file grows to what is written,
# keeps its size when less is written (no truncation), and a body longer than ``length`` fails
# with ENOSPC. So a raw volume created at its capacity keeps that capacity, and the handler
# refuses a longer image itself, with a clear message, before libvirt would.
# Placeholder capacity when the server announces no length.
PLACEHOLDER_CAPACITY = 1 << 20


def _plan_compressed_download(request: VolumeRequest, state: VolumeState, url: str, compression: str) -> Plan:
    pool = state.pool
    if not state.can_decompress:
        raise PlanError(
            "%s is %s-compressed, and this host has no %s decompressor: neither Python's (compression.zstd, "
            "the zstandard module) nor the %s program; install one, or download an uncompressed image"
            % (redact_url(url), compression, compression, compression)
        )
    _check_reverifiable(request, state)
    fmt = request.format or "raw"
    size = state.download_size
    if fmt in RAW_FORMATS:
        if request.capacity is None:
            raise PlanError(
                "%s is %s-compressed: how large its image is shows only once it is decompressed; set "
                "capacity (the size of the volume, which the image must fit)" % (redact_url(url), compression)
            )
        capacity = stored_capacity(pool, fmt, request.capacity, creating=True)
        _check_space(request, pool, capacity, 0, "download into %s" % request.label)
        length = capacity
    else:
        capacity = size if size is not None else PLACEHOLDER_CAPACITY
        image = _image_size(request, state, pool, fmt)
        _check_space(request, pool, max(capacity, image or 0), size or 0, "download into %s" % request.label)
        # 0: no limit for libvirt; the handler then only stops at the pool's end.
        length = pool.available or 0
    volume = _download_volume(request, pool, capacity, fmt)
    after = volume if fmt in RAW_FORMATS else volume.with_changes(capacity=image or capacity)
    plan = Plan(after=managed_view(after).to_xml())
    _add_download_volume(request, state, volume, plan)
    plan.add(_upload_action(request, url, fmt, size, length, compression))
    return plan


def _image_size(request: VolumeRequest, state: VolumeState, pool: Pool, fmt: str) -> Optional[int]:
    """The size of the disk the downloaded image's header gives (read when planning: qcow2), refused
    when no volume of its format can be that large; None when not read."""
    image = state.download_image_size
    kind, limit = _capacity_limit(pool, fmt)
    if image is not None and image > limit:
        raise PlanError(
            "%s: the image's header gives its disk %s, larger than a %s volume can be (%s)"
            % (redact_url(request.source_url), format_size(image), kind, format_size(limit))
        )
    return image


def _download_volume(request: VolumeRequest, pool: Pool, capacity: int, fmt: str) -> Volume:
    """The new volume a download fills, empty (its content comes with the upload)."""
    return Volume(
        name=request.name,
        capacity=capacity,
        format=fmt,
        allocation=_allocation_for(request, pool, capacity) if pool.type in WHOLE_ALLOCATION_POOL_TYPES else 0,
        permissions=request.permissions,
        path=predicted_path(pool, request.name),
    )


def _add_download_volume(request: VolumeRequest, state: VolumeState, volume: Volume, plan: Plan) -> None:
    """Add the new volume a download fills to ``plan``, marked as a download in progress (where its
    file is on this host) until the upload is verified complete."""
    marks = state.local and state.pool.holds_files
    staging = _staging(request, state, plan)
    payload = CreatePayload(pool=request.pool, xml=volume.to_xml(), mark_incomplete=marks, staging=staging)
    command = _create_command(request, volume, False, state.local) + _staged_comment(staging, request.name)
    plan.add(Action(CREATE, "volume", request.label, command, payload))


def _check_reverifiable(request: VolumeRequest, state: VolumeState) -> None:
    """The checksum of a decompressed download is verified again, on re-runs, by the digests and the
    decompressed length remembered on the volume's file: that needs a file on this host."""
    if request.checksum and not (state.local and state.pool.holds_files):
        raise PlanError(
            "volume %s: a checksum of a compressed download is verified again by what is remembered on "
            "the volume's file, which needs a file-based pool and a local uri; leave checksum out, or "
            "download an uncompressed image" % request.label
        )


def _download_length(request: VolumeRequest, size: Optional[int]) -> int:
    """The bytes a new volume for a download starts with: what the server reports, else the capacity asked for."""
    if size is None:
        if request.capacity is None:
            raise PlanError(
                "the server does not report the size of %s; set capacity (format raw) to size the volume"
                % redact_url(request.source_url)
            )
        return request.capacity
    if request.capacity is not None and request.capacity < size:
        raise PlanError(
            "capacity %s is smaller than the %s that %s holds; a download is never cut short"
            % (format_size(request.capacity), format_size(size), redact_url(request.source_url))
        )
    return size


def _upload_action(
    request: VolumeRequest, url: str, fmt: str, size: Optional[int], length: int, compression: Optional[str] = None
) -> Action:
    # The URL's credentials are masked on the command line; the payload keeps them for the download.
    curl = ["curl", "-fsSL"] + (["-u", request.url_username] if request.url_username else [])
    command = shell(*curl, redact_url(url)) + " | "
    if compression is not None:
        command += shell(compression, "-dc") + " | "
    command += virsh(request.uri, "vol-upload", "--pool", request.pool, "--vol", request.name, "--file", "/dev/stdin")
    if request.checksum:
        command += "  # expect %s" % request.checksum.text
        if compression is not None:
            command += " of the %s" % (
                "decompressed image" if request.checksum_of == CHECKSUM_OF_CONTENT else "compressed download"
            )
    return Action(
        UPLOAD,
        "volume",
        request.label,
        command,
        UploadPayload(
            pool=request.pool,
            volume=request.name,
            url=url,
            format=fmt,
            size=size,
            length=length,
            checksum=request.checksum,
            username=request.url_username,
            password=request.url_password,
            compression=compression,
            checksum_of=request.checksum_of,
            refuse_compressed=compression is None and request.compression == "auto",
        ),
    )


# Image formats qemu-img resizes in no direction ("Image format driver does not support resize",
# measured with qemu-img 7.2), which libvirt's vol-resize of a file volume runs.
UNRESIZABLE_FORMATS = frozenset(("vmdk", "vpc", "vdi", "qcow"))


def _check_resizable(request: VolumeRequest, pool: Pool, fmt: Optional[str], capacity: int) -> None:
    """Refuses at plan time a resize the real run's qemu-img would refuse."""
    if pool.holds_files and fmt in UNRESIZABLE_FORMATS:
        raise PlanError(
            "volume %s: a %s image cannot be resized (qemu-img refuses it), so it stays %s; ask for that capacity, "
            "or use a qcow2 or raw volume" % (request.label, fmt, format_size(capacity))
        )


def _resize_action(request: VolumeRequest, capacity: int, shrink: bool, allocate: bool = False) -> Action:
    argv = ["vol-resize", "--pool", request.pool, request.name, str(capacity)]
    if shrink:
        argv.append("--shrink")
    if allocate:
        argv.append("--allocate")
    return Action(
        RESIZE,
        "volume",
        request.label,
        virsh(request.uri, *argv),
        ResizePayload(pool=request.pool, volume=request.name, capacity=capacity, shrink=shrink, allocate=allocate),
        destructive=shrink,
    )


# -- existing volume ---------------------------------------------------------------------------
def _plan_existing(request: VolumeRequest, state: VolumeState, existing: Volume) -> Plan:
    if state.incomplete:
        return _plan_resumed_download(request, state)
    if request.format and existing.format and request.format != existing.format:
        raise PlanError(
            "volume %s has format %s, not %s; converting would rewrite its data: create a new volume "
            "with clone_from and format: %s instead" % (request.label, existing.format, request.format, request.format)
        )
    if request.backing_volume and state.origin is not None and existing.backing_path != state.origin.path:
        raise PlanError(
            "volume %s is backed by %s, not %s; a backing file is only set when the volume is created"
            % (request.label, existing.backing_path or "nothing", request.backing_volume.label)
        )
    if request.checksum and request.decompress:
        _check_reverifiable(request, state)
    # A checksum comes with a source_url (the request refuses one without it).
    if request.checksum and request.source_url and state.content_digest and state.content_digest != request.checksum.digest:
        if not request.replace_content:
            raise PlanError(
                "volume %s exists with different content (%s:%s) than checksum %s; set replace_content: "
                "true to replace it with %s"
                % (
                    request.label,
                    request.checksum.algorithm,
                    state.content_digest,
                    request.checksum.text,
                    redact_url(request.source_url),
                )
            )
        if state.users or state.dependents:
            raise PlanError(
                "volume %s exists with different content than checksum %s, but it %s: it is never "
                "replaced while in use" % (request.label, request.checksum.text, depended_on(state))
            )
        return _plan_staged_replace(request, state, existing, request.source_url)
    plan = Plan(before=managed_view(existing).to_xml())
    target = existing
    if request.capacity is not None and not capacity_reached(state.pool, existing.format, request.capacity, target.capacity):
        if state.running_users:
            raise PlanError(
                "volume %s is a disk of running %s %s: QEMU holds a lock on its image, so qemu-img cannot resize it "
                "while %s; shut %s down first (or grow the disk live with virsh blockresize)"
                % (
                    request.label,
                    "guest" if len(state.running_users) == 1 else "guests",
                    ", ".join(state.running_users),
                    "it runs" if len(state.running_users) == 1 else "they run",
                    "it" if len(state.running_users) == 1 else "them",
                )
            )
        target = _plan_capacity_change(request, state, target, request.capacity, plan)
    wanted = request.permissions
    if not wanted.is_empty() and not wanted.covers(existing.permissions):
        _check_permissions(request, state.pool)
        if not state.local:
            raise PlanError(
                "mode, owner and group of an existing volume can only be changed through a local URI "
                "(the module runs on the host that holds the file)"
            )
        if not existing.path:
            raise PlanError("volume %s has no file that mode, owner and group could be set on" % request.label)
        plan.add(_chmod_action(request, existing.path))
        target = target.with_changes(
            permissions=Permissions(
                mode=wanted.mode or existing.permissions.mode,
                owner=existing.permissions.owner if wanted.owner is None else wanted.owner,
                group=existing.permissions.group if wanted.group is None else wanted.group,
            )
        )
    if plan.changed and state.link_target:
        raise PlanError(
            "volume %s is a symbolic link to %s: resizing it or setting its mode, owner or group would "
            "change that file. Change the file where it is, or delete the link (state: absent deletes "
            "only the link) and create the volume" % (request.label, state.link_target)
        )
    # A second name a stopped run left under the staging name goes first (plan_volume).
    other_names = state.other_names - (1 if state.staged == STAGED_SECOND_NAME else 0)
    if plan.changed and other_names:
        raise PlanError(
            "volume %s's file has %d other name%s (hard links): resizing it or setting its mode, owner or group "
            "would change the file under those names too. Remove the other names first"
            % (request.label, other_names, "" if other_names == 1 else "s")
        )
    if plan.changed:
        plan.after = managed_view(target).to_xml()
    else:
        plan.after = plan.before
    return plan


def _plan_replace(request: VolumeRequest, state: VolumeState, url: str) -> Plan:
    """Delete the volume and download it again: refilling in place could leave old bytes behind."""
    delete = _plan_absent(request, VolumeState(pool=state.pool, existing=state.existing))
    refill = _plan_download(request, _download_state(state), url)
    return Plan(actions=delete.actions + refill.actions, before=delete.before, after=refill.after)


def _download_state(state: VolumeState, staged: Optional[str] = None) -> VolumeState:
    """What a download into a new volume plans from: ``state`` without its existing volume, ``staged``
    what its staging name holds (what the volume's own held is removed first, see plan_volume)."""
    return VolumeState(
        pool=state.pool,
        download_size=state.download_size,
        download_image_size=state.download_image_size,
        local=state.local,
        can_decompress=state.can_decompress,
        files_here=state.files_here,
        staged=staged,
        directory_problem=state.directory_problem,
    )


def staging_name(name: str) -> str:
    """The volume a new volume ``name`` is made as, beside it, and given its name once whole and marked
    (its format recorded, a download marked unfinished): a run cut off while libvirt makes or copies it,
    or before its marks are on it, leaves it under this name, never under the volume's. A name too long
    for a file name with the dot and the suffix is stood for by its digest."""
    staging = ".%s.part" % name
    if len(staging.encode("utf-8", "surrogateescape")) <= _MAX_VOLUME_NAME_BYTES:
        return staging
    return ".%s.part" % hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()


def _staging(request: VolumeRequest, state: VolumeState, plan: Plan) -> Optional[str]:
    """staging_name for a new volume in a directory pool on this host (where the module gives the file
    its name), after what a stopped run left there goes (added to ``plan``); None elsewhere."""
    if not (state.files_here and state.pool.directory):
        return None
    staging = staging_name(request.name)
    if state.directory_problem:
        raise PlanError("volume %s is not made: %s" % (request.label, state.directory_problem))
    if state.staged == STAGED_FOREIGN:
        raise PlanError(
            "volume %s is to be made as %s/%s and renamed once whole, but something that no run of this collection "
            "left has that name (the pool's directory has no mark of a volume cut off there): rename or delete it first"
            % (request.label, request.pool, staging)
        )
    if state.staged is not None:
        plan.add(_staging_removal(request.uri, request.pool, request.name, state.staged))
    return staging


def _staged_comment(staging: Optional[str], name: str) -> str:
    return "" if staging is None else "  # made as %s, renamed %s once whole" % (staging, name)


def replacement_name(name: str) -> str:
    """The volume a replacement of volume ``name`` is downloaded into, beside it."""
    return ".%s.replacement" % name


# A volume name is a file name in a directory pool.
_MAX_VOLUME_NAME_BYTES = 255


def _plan_staged_replace(request: VolumeRequest, state: VolumeState, existing: Volume, url: str) -> Plan:
    """Download the new content into a volume beside the old one, and rename it over the old one's
    file once it is verified: until then the old content stays whole under its name, whatever fails
    (the server, the checksum, the disk, the run itself)."""
    staging = replacement_name(request.name)
    if not (state.local and state.pool.holds_files and existing.path):
        raise PlanError(
            "volume %s exists with different content than checksum %s; it is replaced by downloading the new "
            "content beside it and renaming that over its file once verified, which needs a file-based pool "
            "and a local uri. Delete it (state: absent) and download it again instead"
            % (request.label, request.checksum.text if request.checksum else "")
        )
    if len(staging.encode("utf-8")) > _MAX_VOLUME_NAME_BYTES:
        raise PlanError(
            "volume %s: its replacement is downloaded as %r beside it, a name longer than %d bytes; "
            "use a shorter name" % (request.label, staging, _MAX_VOLUME_NAME_BYTES)
        )
    if state.link_target:
        raise PlanError(
            "volume %s is a symbolic link to %s: replacing its content would replace the link, not that file. "
            "Change the file where it is, or delete the link (state: absent) and download the volume"
            % (request.label, state.link_target)
        )
    plan = Plan(before=managed_view(existing).to_xml())
    # The new file takes the old one's mode, owner and group, unless the task sets them.
    wanted, had = request.permissions, existing.permissions
    permissions = Permissions(
        mode=wanted.mode or had.mode,
        owner=had.owner if wanted.owner is None else wanted.owner,
        group=had.group if wanted.group is None else wanted.group,
    )
    staged = request.with_changes(name=staging, permissions=permissions)
    if state.replacement_blocked:
        raise PlanError(
            "volume %s is to be replaced through %s, where a file libvirt does not list as a volume (a link "
            "that leads nowhere) is; remove it first" % (request.label, staged.label)
        )
    if state.replacement is not None:
        if not state.replacement_unfinished:
            raise PlanError(
                "volume %s is to be replaced through volume %s, which exists and is not an unfinished "
                "replacement this collection left; delete or rename it first" % (request.label, staged.label)
            )
        # What an earlier run left when it stopped before renaming: never used, made again.
        _plan_leftover_replacement(request, state, plan)
    fill = _plan_download(staged, _download_state(state, state.replacement_staged), url)
    for action in fill.actions:
        if isinstance(action.payload, UploadPayload):  # the mark stays until the rename
            action = action.with_changes(payload=action.payload.with_changes(finishes=False))
        plan.add(action)
    path = existing.path
    staged_path = os.path.join(os.path.dirname(path), staging)
    plan.add(
        Action(
            REPLACE,
            "volume",
            request.label,
            shell("mv", "-f", staged_path, path) + " && " + virsh(request.uri, "pool-refresh", request.pool),
            ReplacePayload(pool=request.pool, volume=request.name, replacement=staging),
            destructive=True,
        )
    )
    if fill.after is not None:  # the volume a download fills, under the name it will have
        plan.after = managed_view(Volume.from_xml(fill.after).with_changes(name=request.name, path=path)).to_xml()
    return plan


def _plan_resumed_download(request: VolumeRequest, state: VolumeState) -> Plan:
    """A volume an earlier run was still filling from its URL when it was stopped: never accepted,
    deleted and downloaded again (or refused, when the task cannot say how to refill it)."""
    url = request.source_url
    if not url:
        raise PlanError(
            "volume %s is a download that never finished (an earlier run was stopped while filling it); "
            "run the task that downloads it again, or delete it with state: absent" % request.label
        )
    if state.users or state.dependents:
        raise PlanError(
            "volume %s is a download that never finished, and it %s; detach it first (or delete it with "
            "state: absent and delete_in_use: true)" % (request.label, depended_on(state))
        )
    plan = _plan_replace(request, state, url)
    delete = plan.actions[0]
    # Deleting a half-made download destroys nothing of value.
    plan.actions[0] = delete.with_changes(destructive=False, command_line=delete.command_line + "  # unfinished download")
    return plan


def _plan_capacity_change(request: VolumeRequest, state: VolumeState, current: Volume, capacity: int, plan: Plan) -> Volume:
    _check_resizable(request, state.pool, current.format, current.capacity)
    wanted = stored_capacity(state.pool, current.format, capacity, creating=False)
    if wanted < current.capacity:
        if not request.allow_shrink:
            raise PlanError(
                "volume %s is %s; shrinking it to %s can destroy data: set allow_shrink: true to do it"
                % (request.label, format_size(current.capacity), format_size(capacity))
            )
        plan.add(_resize_action(request, wanted, shrink=True))
        return current.with_changes(capacity=wanted)
    allocate = _allocates_growth(request, current, capacity)
    growth = wanted - current.capacity
    # libvirt's --allocate fills the whole file, a sparse part it had already included, and asks the pool for that.
    unallocated = max(wanted - (current.allocation or 0), 0) if allocate else 0
    _check_space(request, state.pool, growth, unallocated, "the growth of volume %s" % request.label)
    plan.add(_resize_action(request, wanted, shrink=False, allocate=allocate))
    return current.with_changes(capacity=wanted)


def _allocates_growth(request: VolumeRequest, current: Volume, wanted: int) -> bool:
    """Whether a grow allocates the new part: asked with preallocation full or an allocation of the
    whole new capacity, which libvirt does for raw volumes only (a qcow2 one would grow sparse,
    unlike what was asked). libvirt allocates all of a growth or none of it: an allocation between
    what the volume has and its new capacity cannot be met, and is refused rather than dropped."""
    raw = current.format in (None, "raw")
    if request.allocation is not None and request.allocation < wanted:
        allocated = current.allocation or 0
        if request.allocation > allocated and raw:
            raise PlanError(
                "volume %s grows to %s with allocation %s, but libvirt allocates all of a growth or none of it: "
                "give allocation equal to the new capacity, or at most what it has allocated now (%s), to grow "
                "it sparse" % (request.label, format_size(wanted), format_size(request.allocation), format_size(allocated))
            )
        if request.allocation <= allocated:
            return False
    if request.preallocation != "full" and request.allocation is None:
        return False
    how = "preallocation full" if request.preallocation == "full" else "allocation %s" % format_size(request.allocation or 0)
    if not raw:
        raise PlanError(
            "volume %s is %s: libvirt allocates the grown part of raw volumes only, so it cannot grow with "
            "%s; leave out %s to grow it sparse"
            % (request.label, current.format, how, "preallocation" if request.preallocation == "full" else "allocation")
        )
    return True


def _permission_words(permissions: Permissions) -> str:
    """'mode 0640, owner 64055, group 64055'."""
    words = [("mode", permissions.mode), ("owner", permissions.owner), ("group", permissions.group)]
    return ", ".join("%s %s" % (word, value) for word, value in words if value is not None)


def _chmod_action(request: VolumeRequest, path: str) -> Action:
    command = _permission_commands(path, request.permissions)[len(" && ") :]
    return Action(
        CHMOD,
        "volume",
        request.label,
        command,
        ChmodPayload(path=path, mode=request.permissions.mode, owner=request.permissions.owner, group=request.permissions.group),
    )
