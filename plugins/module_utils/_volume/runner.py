# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt_pool_volume's flow: read the host, plan, apply, report."""

from __future__ import annotations

import grp
import hmac
import os
import pwd
import stat
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import REPORTED_ERRORS, RunError
from ansible_collections.remotevirt.install.plugins.module_utils._common.format_record import PLAIN_FORMATS, recorded_format
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Plan, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_url
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import (
    VOLUME_LOCK_SECONDS,
    apply_plan,
    changing,
    connected,
    file_key_at,
    image_reader,
    is_local_uri,
    open_pool,
    volume_key,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    account_problem,
    is_ascii_number,
    octal_mode,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Permissions, Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._volume.plan import (
    capacity_reached,
    plan_volume,
    predicted_path,
    replacement_name,
    staging_name,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.request import (
    CHECKSUM_OF_DOWNLOAD,
    Checksum,
    VolumeRef,
    VolumeRequest,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import (
    INCOMPLETE_XATTR,
    STAGED_CUT,
    STAGED_FOREIGN,
    STAGED_SECOND_NAME,
    STAGING_TOKEN_XATTR,
    VolumeState,
    as_made,
    as_recorded_plain,
    staging_xattr,
)


def resolve_permissions(params: Mapping[str, Any]) -> Permissions:
    """Mode as four octal digits (0000-0777) and owner/group as numeric ids, as libvirt stores them."""
    mode = params.get("mode")
    local = is_local_uri(params.get("uri") or "qemu:///system")
    return Permissions(
        mode=None if mode is None else octal_mode(mode),
        owner=_numeric_id(params.get("owner"), pwd.getpwnam, "user", local),
        group=_numeric_id(params.get("group"), grp.getgrnam, "group", local),
    )


def _numeric_id(value: Optional[str], lookup: Any, what: str, local: bool) -> Optional[int]:
    """A numeric id (ASCII digits only) as it is, a name looked up on the host (which needs the
    module to run there: over a remote URI this machine's accounts are not the host's)."""
    if value is None:
        return None
    text = str(value)
    option = "owner" if what == "user" else "group"
    problem = account_problem(text, what)
    if problem:
        raise PlanError(option + ": " + problem)
    if is_ascii_number(text):
        return int(text)
    if not local:
        raise PlanError(
            "%s: give the numeric %s id over a remote uri; the %s name %r would be looked up on the machine "
            "the module runs on, not on the hypervisor" % (option, what, what, text)
        )
    try:
        return lookup(text)[2]
    except KeyError:
        raise PlanError("%s %r does not exist on this host" % (what, value))


# -- reading the host --------------------------------------------------------------------------
def _described_origin(client: Client, pool: Any, ref: VolumeRef, what: str) -> Volume:
    origin_pool = pool if ref.pool == pool.name() else open_pool(client, ref.pool)
    volume = client.find_volume(origin_pool, ref.name)
    if volume is None:
        raise PlanError("%s volume %s does not exist" % (what, ref.label))
    described = client.describe_volume(volume)
    refuse_incomplete(described, is_local_uri(client.uri), "%s volume %s" % (what, ref.label))
    refuse_reprobed(described, is_local_uri(client.uri), "%s volume %s" % (what, ref.label))
    if is_local_uri(client.uri) and described.path and described.format not in PLAIN_FORMATS:
        _refuse_unsafe_backing(described.path, "%s volume %s" % (what, ref.label))
    return described


def _refuse_unsafe_backing(path: str, what: str) -> None:
    """A clone copies what the origin's backing chain holds, an overlay reads through it: a chain
    that leads to the host's own files, or to a file the image's owner may not read, is refused."""
    # Imported here: only clones and overlays of this host's files ask.
    from ansible_collections.remotevirt.install.plugins.module_utils._common.host_files import backing_chain_problem

    problem = backing_chain_problem(path, what)
    if problem:
        raise PlanError(problem)


def _local_file(described: Volume) -> Optional[str]:
    path = described.path
    return path if path and os.access(path, os.R_OK) and os.path.isfile(path) else None


def existing_digest(client: Client, volume: Any, described: Volume, algorithm: str, length: Optional[int] = None) -> str:
    """Digest of a volume's content (its first ``length`` bytes, when given), from the file when
    the host holds it, else through libvirt.

    A digest remembered on the file counts when the file is unchanged since; a remembered
    download length means only those bytes are the download (a raw image grown afterwards).
    """
    # Imported here: only downloads use it (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._volume import download

    path = _local_file(described)
    if path is not None:
        record = download.read_digest_record(path, algorithm)
        if record is not None and record.current and length is None:
            return record.digest
        if record is not None and length is None:
            length = record.length
        return download.digest_of(download.read_file(path, length), algorithm)
    return download.digest_of(client.download_volume(volume, length=length or 0), algorithm)


def download_digest(client: Client, volume: Any, described: Volume, algorithm: str) -> str:
    """Digest of the compressed download a volume's bytes were decompressed from, as remembered on
    its file: while the decompressed bytes still have their remembered digest (a changed file is
    read again up to the decompressed length). Without a record, the digest of the volume's content
    (which then differs)."""
    # Imported here: only downloads use it (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._volume import download

    path = _local_file(described)
    record = download.read_digest_record(path, algorithm) if path is not None else None
    if path is None or record is None or record.download_digest is None:
        return existing_digest(client, volume, described, algorithm)
    if record.current:
        return record.download_digest
    content = download.digest_of(download.read_file(path, record.length), algorithm)
    return record.download_digest if content == record.digest else content


def file_is_incomplete(path: str) -> bool:
    """Whether the file on this host carries the mark of a download that never finished."""
    try:
        os.getxattr(path, INCOMPLETE_XATTR)
    except OSError:  # no mark (ENODATA), no xattrs here, or no such file: nothing to go by
        return False
    return True


def is_incomplete(described: Volume, local: bool) -> bool:
    """Whether the volume's file still carries the mark of a download that never finished."""
    return bool(local and described.path and file_is_incomplete(described.path))


def refuse_incomplete_file(path: str, what: str) -> None:
    """A half-made download is never used as the origin of anything (clone, overlay, media, disk)."""
    if file_is_incomplete(path):
        raise PlanError(
            "%s is a download that never finished (an earlier run was stopped while filling it); run "
            "the task that downloads it again first" % what
        )


def refuse_incomplete(described: Volume, local: bool, what: str) -> None:
    """refuse_incomplete_file for a volume whose file is on this host."""
    if local and described.path:
        refuse_incomplete_file(described.path, what)


def _refuse_plain_copy_of_an_image(request: VolumeRequest, origin: Volume, local: bool) -> None:
    """A raw (or iso) clone of a raw volume whose content is an image header (a guest may write one,
    naming any host file as its backing file) is refused: libvirt reads a new file's format from its
    content, so the copy would be listed as that image, as the source is once its pool is refreshed."""
    fmt = request.format or origin.format
    if not (local and origin.path) or fmt not in PLAIN_FORMATS or origin.format not in PLAIN_FORMATS:
        return
    # Imported here: only clones into plain formats read the source's header (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common.image_header import NO_BACKING, backing_kind

    if backing_kind(origin.path) != NO_BACKING:
        raise PlanError(
            "clone_from volume %s is %s, but its content reads as an image that can name other files (a qcow2, "
            "QED or VMDK header, which whoever writes it can put there): libvirt would list a %s copy as that "
            "image, with whatever backing file the header names. Look at what wrote it; copy it with another "
            "format (format: qcow2 keeps its bytes as data)"
            % (request.clone_from.label if request.clone_from else "", origin.format, fmt)
        )


def staged_leftover(client: Client, pool: Any, directory: Optional[str], name: str, existing: Optional[Volume]) -> Optional[str]:
    """What the staging name of volume ``name`` holds in the pool's ``directory`` (None: nothing, or not
    a directory pool on this host): one of STAGED_* (see state). A file there costs a look only."""
    if not directory:
        return None
    staging = staging_name(name)
    try:
        info = os.lstat(os.path.join(directory, staging))
    except (OSError, ValueError):
        return None
    if not _marked_as_staged(directory, staging, info):
        return STAGED_FOREIGN  # no run of this collection was making it: not ours to delete
    if existing is not None and existing.path:
        try:
            made = os.lstat(existing.path)
        except OSError:
            made = None
        if made is not None and (made.st_dev, made.st_ino) == (info.st_dev, info.st_ino):
            return STAGED_SECOND_NAME
    if client.find_volume(pool, staging) is None:
        return STAGED_FOREIGN  # a file libvirt does not list as a volume (a dangling link): not a volume to delete
    return STAGED_CUT


def _new_volume_directory_problem(pool: Pool, directory: str) -> Optional[str]:
    """Why the pool's ``directory`` is no place to make a new volume in (see
    own_directory.pool_directory_problem): another user could put a link under the name libvirt makes
    the volume as (qemu-img would create the file it leads to) or swap one in before the volume gets
    its name."""
    # Imported here: only runs that may make a volume judge its directory (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common.own_directory import pool_directory_problem

    try:
        return pool_directory_problem(directory, pool.type, "the directory of pool %s" % pool.name)
    except OSError as error:
        return "the directory of pool %s, %s: %s" % (pool.name, directory, error.strerror or error)


def _marked_as_staged(directory: str, staging: str, info: os.stat_result) -> bool:
    """Whether the file under ``staging`` (``info``: what lstat says of it) is a volume a run was making:
    the directory marks the name while libvirt makes it ("1"), then names the file made, by its device,
    inode and a token the file carries (see STAGING_XATTR_PREFIX)."""
    try:
        mark = os.getxattr(directory, staging_xattr(staging))
    except OSError:  # no mark (ENODATA), or none on this file system
        return False
    if mark == b"1":
        return True
    fields = mark.split(b":")
    names_this_file = fields[:2] == [b"%d" % info.st_dev, b"%d" % info.st_ino] and stat.S_ISREG(info.st_mode)
    if len(fields) != 3 or not fields[2] or not names_this_file:
        return False
    try:
        carried = os.getxattr(os.path.join(directory, staging), STAGING_TOKEN_XATTR, follow_symlinks=False)
    except OSError:
        return False
    return hmac.compare_digest(carried, fields[2])


def refuse_reprobed(described: Volume, local: bool, what: str) -> None:
    """A volume made raw (or iso) that libvirt now reads as another format is never used as one:
    libvirt probed it from its content, which whoever writes the volume (its guest) chose, and a
    qcow2 header can name any host file as its backing file."""
    if not (local and described.path) or described.format in (None,) + PLAIN_FORMATS:
        return
    recorded = recorded_format(described.path)
    if recorded in PLAIN_FORMATS and recorded != described.format:
        raise PlanError(
            "%s was made as %s, but its content now reads as %s: whoever writes it (a guest on it) can write "
            "such a header, naming any host file as its backing file, so it is not used as %s. Look at what "
            "wrote it; delete it, or copy its content to a new volume as %s"
            % (what, recorded, described.format, described.format, recorded)
        )


def _digest_state(
    client: Client,
    volume: Any,
    existing: Volume,
    checksum: Checksum,
    url: str,
    request: VolumeRequest,
    state: VolumeState,
    access: Any,
) -> VolumeState:
    """``state`` with the digest of the existing volume, and what replacing it needs when it differs."""
    # Imported here: only downloads use it (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._volume import download

    algorithm = checksum.algorithm
    if request.decompress is not None and request.checksum_of == CHECKSUM_OF_DOWNLOAD:
        digest = download_digest(client, volume, existing, algorithm)
    else:
        digest = existing_digest(client, volume, existing, algorithm)
    size = None
    if digest != checksum.digest and _local_file(existing) is None and request.decompress is None:
        # Without a remembered length, a volume grown after its download verifies by the prefix
        # the server still serves.
        size = download.probe_size(url, access)
        if size is not None and size < existing.capacity:
            digest = existing_digest(client, volume, existing, algorithm, size)
    state = state.with_changes(content_digest=digest)
    if digest != checksum.digest and request.replace_content:
        state = with_dependents(client, state, existing)
        if size is None:
            size = download.probe_size(url, access)
        state = _with_replacement(client, state.with_changes(download_size=size), request.pool, request.name)
        state = _judged_download(request, url, access, state)
    return state


def _with_replacement(client: Client, state: VolumeState, pool_name: str, name: str) -> VolumeState:
    """``state`` with the volume an earlier replacement of volume ``name`` left behind, if any."""
    pool = open_pool(client, pool_name)
    volume = client.find_volume(pool, replacement_name(name))
    described = client.describe_volume(volume) if volume is not None else None
    directory = state.pool.directory if state.files_here else None
    state = state.with_changes(replacement_staged=staged_leftover(client, pool, directory, replacement_name(name), described))
    if described is None:
        aside = predicted_path(state.pool, replacement_name(name))
        return state.with_changes(replacement_blocked=bool(state.local and aside and os.path.lexists(aside)))
    return state.with_changes(replacement=described, replacement_unfinished=is_incomplete(described, state.local))


def needed_by(
    client: Client, pool_name: str, volume_name: str, path: Optional[str], guest: Optional[str] = None
) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """The guests other than ``guest`` with a disk on the volume (directly or through a backing
    chain), and the volumes backed by it. Lists every guest and every image of the host's pools
    (definitions and headers are read again only where they changed, see usage): only asked where
    the volume could be deleted, replaced or attached to another guest.

    On this host one file may have several names: a symbolic link in a pool's directory is a
    volume of its own to libvirt, and a guest (or an overlay) that names the link writes the file
    it leads to. Paths are compared by the file they lead to, and the volumes that are that file
    count as this volume."""
    # Imported here: only deletions, replacements and attaching existing disks ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common.usage import domains_using

    same_file, aliases = _names_of_the_file(client, path)
    users = domains_using(client, pool_name, volume_name, path, image_reader(client), same_file, aliases)
    backed = volumes_backed_by(client, path) if path else []
    return tuple(user for user in users if user != guest), tuple(backed)


def written_by(client: Client, pool_name: str, volume_name: str, path: Optional[str]) -> Tuple[str, ...]:
    """The guests that have the volume as a disk they write (not read-only, not a cdrom), or as the
    data file of one, or that write a file QEMU reads through the volume (a file on its backing
    chain, a data file on the way): an overlay on it would be corrupt after their next write. Lists
    every guest, like needed_by."""
    # Imported here: only new overlays ask (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common import usage

    same_file, aliases = _names_of_the_file(client, path)
    read_image = image_reader(client)
    writers = set(usage.domains_writing(client, pool_name, volume_name, path, same_file, aliases, read_image))
    beyond = list(usage.files_opened_through(path, read_image))[1:] if path and read_image is not None else []
    if beyond:
        writers.update(usage.guests_writing(client, usage.in_files_test(beyond, None, True), read_image))
    return tuple(sorted(writers))


def running_among(client: Client, guests: Tuple[str, ...]) -> Tuple[str, ...]:
    """Those of ``guests`` that run now."""
    if not guests:
        return ()
    running = {name for name, active in client.guest_names() if active}
    return tuple(guest for guest in guests if guest in running)


def _resizes_an_image(request: VolumeRequest, pool: Pool, existing: Volume) -> bool:
    """Whether the plan resizes the existing volume with qemu-img (libvirt resizes a raw file itself),
    which QEMU's lock on an image a running guest opened refuses."""
    return (
        request.capacity is not None
        and existing.format not in (None, "raw")
        and not capacity_reached(pool, existing.format, request.capacity, existing.capacity)
    )


def _names_of_the_file(client: Client, path: Optional[str]) -> Tuple[Optional[Callable[[str], bool]], List[Tuple[str, str]]]:
    """On this host: the test of whether a path leads to the volume's file, and the other pool
    volumes that are that file (a link, or a hard link, in a pool's directory); elsewhere neither."""
    from ansible_collections.remotevirt.install.plugins.module_utils._common.usage import pool_names_of, same_file_as

    if not (path and is_local_uri(client.uri)):
        return None, []
    in_pools = pool_names_of(_pool_directories(client), path)
    return same_file_as(path, in_pools), list(in_pools.volumes)


def _pool_directories(client: Client) -> List[Tuple[str, str]]:
    """(pool, directory) of the active pools whose volumes are the files of a directory."""
    found = []
    for pool in client.active_pools():
        described = client.describe_pool(pool)
        if described.directory:
            found.append((described.name, described.directory))
    return found


def volumes_backed_by(client: Client, path: str) -> List[str]:
    """``pool/volume`` of every volume in an active pool whose backing file or data file is
    ``path`` or, on this host, leads to the file ``path`` leads to (see usage.volumes_naming)."""
    # Imported here: only deletions and new disks read image headers (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._common import usage

    local = is_local_uri(client.uri)
    is_the_file = usage.path_test(path, usage.same_file_as(path) if local else None)
    return usage.volumes_naming(client, is_the_file, local) if is_the_file is not None else []


def with_dependents(client: Client, state: VolumeState, existing: Volume) -> VolumeState:
    """``state`` with the guests and volumes that need its ``existing`` volume."""
    users, dependents = needed_by(client, state.pool.name, existing.name, existing.path)
    return state.with_changes(users=users, dependents=dependents)


def pool_space(client: Client, pool: Any) -> Pool:
    """The pool as libvirt describes it, with its space as of now.

    libvirt's figures are those of its last refresh, which reads every volume of the pool. A
    directory on this host is sized as libvirt's refresh does it (statvfs of the directory),
    whatever the number of volumes; other pools are refreshed once.
    """
    described = client.describe_pool(pool)
    if is_local_uri(client.uri) and described.directory:
        try:
            fs = os.statvfs(described.directory)
        except OSError:
            pass  # not a directory this host sees (a test driver's pool): ask libvirt
        else:
            # libvirt's own figures (virStorageBackendRefreshLocal): free blocks, root's reserve included.
            return described.with_changes(
                capacity=fs.f_blocks * fs.f_frsize,
                allocation=(fs.f_blocks - fs.f_bfree) * fs.f_frsize,
                available=fs.f_bfree * fs.f_frsize,
            )
    client.refresh_pool_once(pool)
    return client.describe_pool(pool)


def _with_file_names(state: VolumeState, path: str) -> VolumeState:
    """The file a symbolic link at the volume's path leads to, or the other names (hard links) of
    the volume's file: changes made through the volume would land on those files too."""
    try:
        info = os.lstat(path)
    except OSError:
        return state  # gone: libvirt's stale volume, handled where it is read
    if stat.S_ISLNK(info.st_mode):
        return state.with_changes(link_target=os.path.realpath(path))
    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
        return state.with_changes(other_names=info.st_nlink - 1)
    return state


def read_state(client: Client, pool: Any, request: VolumeRequest, validate_certs: bool) -> VolumeState:
    """The pool, the volume (if any) and whatever else this request's plan depends on."""
    described_pool = pool_space(client, pool)
    volume = client.find_volume(pool, request.name)
    existing = client.describe_volume(volume) if volume is not None else None
    local = is_local_uri(client.uri)
    files_here = client.files_here()
    if existing is not None and files_here:
        existing = as_recorded_plain(existing)
    # What a run stopped while it made the volume left under the name it makes it as.
    directory = described_pool.directory if files_here else None
    staged = staged_leftover(client, pool, directory, request.name, existing)
    state = VolumeState(pool=described_pool, existing=existing, local=local, files_here=files_here, staged=staged)
    if directory and request.state != "absent" and (existing is None or request.source_url):
        # A new volume, or one a download may make again (unfinished) or replace (other content).
        state = state.with_changes(directory_problem=_new_volume_directory_problem(described_pool, directory))
    if request.state == "absent":
        if local:  # what a replacement stopped midway left beside the volume goes with it
            state = _with_replacement(client, state, request.pool, request.name)
        return with_dependents(client, state, existing) if existing is not None else state
    if existing is not None and is_incomplete(existing, local):
        state = state.with_changes(incomplete=True)
    if existing is not None and local and existing.path:
        state = _with_file_names(state, existing.path)
    origin_ref = request.clone_from or request.backing_volume
    if origin_ref is not None and (existing is None or request.backing_volume):
        what = "clone_from" if request.clone_from else "backing_volume"
        origin = _described_origin(client, pool, origin_ref, what)
        state = state.with_changes(origin=origin)
        if request.backing_volume and existing is None:
            state = state.with_changes(origin_writers=written_by(client, origin_ref.pool, origin_ref.name, origin.path))
        if request.clone_from and existing is None:
            _refuse_plain_copy_of_an_image(request, origin, local)
            writers = written_by(client, origin_ref.pool, origin_ref.name, origin.path)
            state = state.with_changes(origin_running_writers=running_among(client, writers))
    if existing is not None and _resizes_an_image(request, state.pool, existing):
        users, _dependents = needed_by(client, state.pool.name, existing.name, existing.path)
        state = state.with_changes(running_users=running_among(client, users))
    url = request.source_url
    if url:
        # Imported here: only downloads use it (import cost on every task).
        from ansible_collections.remotevirt.install.plugins.module_utils._volume import download

        if url[:5].lower() == "file:":
            _refuse_private_source(url)

        access = download.UrlAccess(validate_certs=validate_certs, username=request.url_username, password=request.url_password)
        if request.decompress == "zstd":
            # Imported here: only compressed downloads use it.
            from ansible_collections.remotevirt.install.plugins.module_utils._volume.decompress import can_decompress

            state = state.with_changes(can_decompress=can_decompress("zstd"))
        if existing is None:
            state = _judged_download(request, url, access, state.with_changes(download_size=download.probe_size(url, access)))
        elif state.incomplete:
            # A half-made download is replaced, unless a guest or another volume needs it.
            state = with_dependents(client, state, existing)
            state = _judged_download(request, url, access, state.with_changes(download_size=download.probe_size(url, access)))
        elif request.checksum:
            state = _digest_state(client, volume, existing, request.checksum, url, request, state, access)
    return state


def _judged_download(request: VolumeRequest, url: str, access: Any, state: VolumeState) -> VolumeState:
    """``state`` with the size the download's image header gives, its first bytes judged at plan time
    (check mode too) as the upload judges them: an HTML page, an image of another format, compressed
    data that is not valid, are refused; so is a body of no known size that no checksum verifies,
    served without a mark of its end, compressed or not (a body cut right after one of several
    compressed members decompresses cleanly)."""
    # Imported here: only downloads use them (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._volume import download

    fmt = request.format or "raw"
    if request.decompress is None:
        head = download.judge_head(url, fmt, request.compression == "auto", access)
    else:
        from ansible_collections.remotevirt.install.plugins.module_utils._volume.decompress import judge_compressed_head

        head = download.ServedHead() if not state.can_decompress else judge_compressed_head(url, request.decompress, fmt, access)
    problem = head.problem
    if not problem and state.download_size is None and request.checksum is None:
        problem = download.end_problem(url, access)
    if problem:
        raise PlanError("%s: %s" % (redact_url(url), problem))
    return state.with_changes(download_image_size=head.image_size)


def _refuse_private_source(url: str) -> None:
    """A ``file:`` URL copies a file of the host into a volume a guest reads: never one of the host's
    own files, nor one that not every user of the host may read (a key, a password database)."""
    # Imported here: only file: downloads ask.
    from urllib.parse import unquote

    from ansible_collections.remotevirt.install.plugins.module_utils._common.host_files import host_file_problem

    path = unquote(url[len("file://") :].split("#", 1)[0])
    problem = host_file_problem(path, "source_url")
    if problem:
        raise PlanError(problem.replace("give a disk image or ISO of its own", "copy an image of its own"))
    if os.path.exists(path) and not _readable_by_everyone(path):
        raise PlanError(
            "source_url: %s is a file that not every user of the host may read (it, or a directory on its way, "
            "keeps others out); a guest would read it in the volume. Make the image readable, or copy an image "
            "of its own" % path
        )


def _readable_by_everyone(path: str) -> bool:
    """Whether any user may read the file ``path`` leads to: it readable by others, every directory
    on its way searchable by them."""
    real = os.path.realpath(path)
    try:
        if not os.stat(real).st_mode & stat.S_IROTH:
            return False
        directory = os.path.dirname(real)
        while True:
            if not os.stat(directory).st_mode & stat.S_IXOTH:
                return False
            if directory == "/":
                return True
            directory = os.path.dirname(directory)
    except OSError:
        return False


# -- the module's flow -------------------------------------------------------------------------
def volume_file_key(client: Client, pool_name: str, volume_name: str) -> Optional[str]:
    """The lock key of the file of volume ``pool_name/volume_name`` on this host (see file_key);
    None where there is none (no such volume, or its files are not on this host) or it cannot be
    told. A deletion of the volume holds it, as a guest's run on that file does."""
    if not client.files_here():
        return None
    try:
        pool = client.find_pool(pool_name)
        volume = client.find_volume(pool, volume_name) if pool is not None and client.pool_is_active(pool) else None
        return file_key_at(client.describe_volume(volume).path) if volume is not None else None
    except LibvirtError:
        return None


def _source_keys(request: VolumeRequest) -> List[str]:
    """The locks of the volume a clone copies and of the one an overlay is made on: a run deleting that
    volume at the same time waits for this one (libvirt would refuse it halfway, or the overlay would
    lose its backing file), and then finds it in use where it is."""
    sources = (request.clone_from, request.backing_volume) if request.state != "absent" else ()
    return [volume_key(source.pool, source.name) for source in sources if source is not None]


def run(params: Mapping[str, Any], check_mode: bool, diff: bool) -> Dict[str, Any]:
    """Everything virt_pool_volume does after argument parsing; raises RunError to fail."""
    try:
        request = VolumeRequest.from_params(params, resolve_permissions(params))
    except PlanError as error:
        raise RunError(str(error))
    plan = None
    applied = False
    try:
        with connected(params["uri"]) as client:
            # A deletion also takes the lock of the volume's file, which a guest's run takes under
            # whatever name its disk reaches that file by (see the guest runner's lock keys).
            deletion = request.state == "absent" and not check_mode
            deleted = volume_file_key(client, request.pool, request.name) if deletion else None
            keys = [volume_key(request.pool, request.name)] + _source_keys(request) + ([deleted] if deleted else [])
            with changing(client.uri, keys, VOLUME_LOCK_SECONDS, check_mode):
                now = volume_file_key(client, request.pool, request.name) if deletion else None
                if now is not None and now != deleted:
                    raise PlanError(
                        "volume %s was made again while this run waited for another run; run the task again" % request.label
                    )
                pool = open_pool(client, request.pool)
                state = read_state(client, pool, request, params.get("validate_certs", True))
                probed = state.existing
                made = asked_as_made(request, state)
                if made is not None:
                    state = state.with_changes(existing=made)
                elif probed is not None and request.state != "absent":
                    refuse_reprobed(probed, state.local, "volume %s" % request.label)
                plan = plan_volume(request, state)
                if made is not None and probed is not None and plan.changed and request.state != "absent":
                    refuse_changing_reprobed("volume %s" % request.label, made, probed.format or "")
                if plan.changed and not check_mode:
                    apply_plan(client, plan, params, VERBS, lambda _audit: _handlers(client, params))
                    applied = True
                facts = _volume_facts(client, pool, request, plan, state, check_mode)
    except REPORTED_ERRORS as error:
        raise RunError(str(error), plan, changed=applied)
    result = {"changed": plan.changed, "plan": plan.summaries(), "volume": facts}
    if diff:
        result["diff"] = plan.diff("volume %s" % request.label)
    return result


def _handlers(client: Client, params: Mapping[str, Any]) -> Mapping[str, Any]:
    # Imported here: only runs that change something use them (import cost on every task).
    from ansible_collections.remotevirt.install.plugins.module_utils._volume.handlers import VolumeHandlers

    return VolumeHandlers(client, params.get("validate_certs", True)).as_mapping()


def asked_as_made(request: VolumeRequest, state: VolumeState) -> Optional[Volume]:
    """The existing volume as it was made, when it was made raw (or iso), libvirt now reads it as
    another format (see refuse_reprobed), and the request deletes it or asks for it as made (that
    format, or none): a volume whose guest wrote an image header into it is still that raw volume
    to its own re-run."""
    existing = state.existing
    made = as_made(existing) if existing is not None and state.local else None
    if made is None or (request.state != "absent" and (request.format or made.format) != made.format):
        return None
    return made  # a deletion's diff shows it as made too, not the backing file its header names


def refuse_changing_reprobed(
    what: str, made: Volume, probed_format: str, as_it_is: str = "capacity %d bytes, its mode and owner"
) -> None:
    """A volume read as made (see asked_as_made) is left as it is: libvirt, which would resize or
    upload into it, acts on it as the format it probed. ``as_it_is`` names the options that ask
    for it as it is (a format with its capacity in bytes)."""
    raise PlanError(
        "%s was made as %s, but its content now reads as %s: whoever writes it (a guest on it) can write "
        "such a header, and libvirt would change it as %s, so it is used only as it is. Ask for it as it is "
        "(%s), or delete it" % (what, made.format, probed_format, probed_format, as_it_is % made.capacity)
    )


def _volume_facts(
    client: Client, pool: Any, request: VolumeRequest, plan: Plan, state: VolumeState, check_mode: bool
) -> Dict[str, Any]:
    if request.state == "absent":
        return {}
    if check_mode or not plan.changed:
        # Plans for state: present always show the volume after; an unchanged one exists.
        if not plan.changed or plan.after is None:
            return state.existing.facts(request.pool) if state.existing is not None else {}
        predicted = Volume.from_xml(plan.after)
        path = state.existing.path if state.existing else None
        return predicted.with_changes(path=path or predicted_path(state.pool, request.name), key=None).facts(request.pool)
    described = client.describe_volume(client.find_volume(pool, request.name))
    return (as_recorded_plain(described) if state.files_here else described).facts(request.pool)
