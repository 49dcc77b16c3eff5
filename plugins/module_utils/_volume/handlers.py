# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying volume actions: one handler per plan verb of virt_pool_volume.

Imported only by runs whose plan changes something, so a no-op task does not compile it.
"""

from __future__ import annotations

import binascii
import errno
import hashlib
import os
import stat
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Union

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._common.executor import Handler, Undo
from ansible_collections.remotevirt.install.plugins.module_utils._common.format_record import FORMAT_XATTR
from ansible_collections.remotevirt.install.plugins.module_utils._common.own_directory import pool_directory_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import is_local_uri
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume import download
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
from ansible_collections.remotevirt.install.plugins.module_utils._volume.request import CHECKSUM_OF_CONTENT, RAW_FORMATS
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import (
    INCOMPLETE_XATTR,
    STAGING_TOKEN_XATTR,
    staging_xattr,
)

try:
    import libvirt
except ImportError:  # the module reports the missing library before anything here runs
    libvirt = None


# errno values of "this file system keeps no user extended attributes".
_NO_XATTRS = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM)


class _NoDigest:
    """Stands for a hasher where no checksum was asked for: nothing reads its digest, so the bytes
    are not hashed (sha256 would cost a core for the whole download)."""

    def update(self, data: bytes) -> None:
        pass


def _hasher(checksum: Any) -> Any:
    """A hasher of the checksum's algorithm, or one that hashes nothing without a checksum."""
    return hashlib.new(checksum.algorithm) if checksum else _NoDigest()


def _hashed(chunks: Iterator[bytes], hasher: Any) -> Iterator[bytes]:
    """``chunks`` passed through, each also fed to ``hasher``."""
    for chunk in chunks:
        hasher.update(chunk)
        yield chunk


class _Counted:
    """Chunks passed through, their bytes counted."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.count += len(chunk)
            yield chunk


def _set_attribute(path: Union[str, int], attribute: str, value: bytes) -> None:
    """Set an extended attribute, where the file system takes user attributes: those that take none
    (some NFS pools) carry no marks, and what a mark would tell is then left to the checks that need none."""
    try:
        os.setxattr(path, attribute, value)
    except OSError as error:
        if error.errno not in _NO_XATTRS:
            raise


def _name_in_mark(descriptor: int, directory: str, attribute: str) -> None:
    """Make the directory's mark ``attribute`` name the open file ``descriptor``: its device, inode and a
    random token, which the file carries too (see state.STAGING_XATTR_PREFIX)."""
    made = os.fstat(descriptor)
    token = binascii.hexlify(os.urandom(16))
    _set_attribute(descriptor, STAGING_TOKEN_XATTR, token)
    _set_attribute(directory, attribute, b"%d:%d:%s" % (made.st_dev, made.st_ino, token))


def _mark_left_copy(directory: str, attribute: str, path: str) -> None:
    """After a copy that failed: the mark names the file it left, or goes (nothing left, or nothing
    this run can tell from a file put there)."""
    try:
        descriptor = _open_volume_file(path)
    except (OSError, RemotevirtError):
        _clear_directory_mark(directory, attribute)
        return
    try:
        _name_in_mark(descriptor, directory, attribute)
    finally:
        os.close(descriptor)


def _clear_directory_mark(directory: str, attribute: str) -> None:
    _remove_attribute(directory, attribute)


def _remove_attribute(path: Union[str, int], attribute: str) -> None:
    try:
        os.removexattr(path, attribute)
    except OSError as error:
        if error.errno not in _NO_XATTRS + (errno.ENODATA, errno.ENOENT):
            raise


def _link_open_file(descriptor: int, directory: str, name: str, staging: str) -> None:
    """Give the open file ``descriptor`` the ``name`` in ``directory`` (never replacing a file of that
    name), then remove its ``staging`` name there where that is still this file. Linked through the
    descriptor (/proc/self/fd and AT_SYMLINK_FOLLOW): the file itself, whatever the staging name holds."""
    made = os.fstat(descriptor)
    directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            os.link("/proc/self/fd/%d" % descriptor, name, src_dir_fd=directory_fd, dst_dir_fd=directory_fd, follow_symlinks=True)
        except FileNotFoundError:
            if os.fstat(descriptor).st_nlink:
                raise
            raise RemotevirtError(
                "%s, the file libvirt made for volume %s, was replaced before it was given the volume's name: "
                "nothing was named (look at who writes the pool's directory)" % (staging, name)
            )
        try:
            info = os.lstat(staging, dir_fd=directory_fd)
        except FileNotFoundError:
            return
        if (info.st_dev, info.st_ino) == (made.st_dev, made.st_ino):
            os.unlink(staging, dir_fd=directory_fd)
    finally:
        os.close(directory_fd)


def _clear_incomplete(path: str) -> None:
    try:
        os.removexattr(path, INCOMPLETE_XATTR)
    except OSError as error:
        if error.errno not in _NO_XATTRS + (errno.ENODATA,):
            raise


class VolumeHandlers:
    """One handler per plan verb; creating handlers return the undo that deletes what they made.

    Each reads only its action's payload (see ``actions.VERBS``)."""

    def __init__(self, client: Client, validate_certs: bool) -> None:
        self.client = client
        self.validate_certs = validate_certs

    def as_mapping(self) -> Dict[str, Handler]:
        return {
            CREATE: self.create,
            CLONE: self.clone,
            UPLOAD: self.upload,
            RESIZE: self.resize,
            DELETE: self.delete,
            CHMOD: self.chmod,
            REPLACE: self.replace,
        }

    def _pool(self, name: str) -> Any:
        pool = self.client.find_pool(name)
        if pool is None:
            raise LibvirtError("look up pool", name, "pool disappeared")
        return pool

    def _volume(self, pool: str, name: str) -> Any:
        volume = self.client.find_volume(self._pool(pool), name)
        if volume is None:
            raise LibvirtError("look up volume", "%s/%s" % (pool, name), "volume disappeared")
        return volume

    def _undo_delete(self, volume: Any) -> Undo:
        return lambda: self.client.delete_volume(volume)

    @staticmethod
    def _flags(prealloc_metadata: bool) -> int:
        return libvirt.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA if prealloc_metadata else 0

    def create(self, action: Action) -> Optional[Undo]:
        payload: CreatePayload = action.payload
        pool = self._pool(payload.pool)
        flags = self._flags(payload.prealloc_metadata)

        def make(xml: str) -> Any:
            return self.client.create_volume(pool, xml, flags)

        if payload.staging is None:
            volume = make(payload.xml)
            self._mark_new(volume, payload.mark_incomplete)
        else:
            volume = self._made_staged(pool, payload.pool, payload.xml, payload.staging, make, payload.mark_incomplete)
        return self._undo_delete(volume)

    def _mark_new(self, volume: Any, incomplete: bool) -> None:
        """Put a new volume's marks on its file: a download's before its first byte arrives, and the
        format it was made with while libvirt still describes it by that format (a refresh probes its
        content, which a guest may write)."""
        if incomplete:
            self._mark_incomplete(volume)
        self._record_format(volume)

    def _local_file(self, volume: Any) -> Optional[str]:
        """The volume's file, where it is a file on the machine this module runs on. Over a remote URI
        the same path here is another file (or, in a test bed sharing its disk, the same by chance):
        marks and digests are never written through it."""
        if not is_local_uri(self.client.uri):
            return None
        path = self.client.describe_volume(volume).path
        return path if path and os.path.isfile(path) else None

    def _mark_incomplete(self, volume: Any) -> None:
        path = self._local_file(volume)
        if path is None:
            return
        # Without user xattrs the download still rolls back on every error this process lives through.
        _set_attribute(path, INCOMPLETE_XATTR, b"1")

    def _record_format(self, volume: Any) -> None:
        """Keep the format the volume was made with on its file (see FORMAT_XATTR): libvirt describes
        a new volume with the format it was made with, and later ones by probing its content."""
        path = self._local_file(volume)
        fmt = self.client.describe_volume(volume).format
        if path is None or not fmt:
            return
        _set_attribute(path, FORMAT_XATTR, fmt.encode("ascii"))

    def clone(self, action: Action) -> Optional[Undo]:
        payload: ClonePayload = action.payload
        pool = self._pool(payload.pool)
        source = self.client.find_volume(self._pool(payload.source_pool), payload.source)
        if source is None:
            raise LibvirtError("look up volume", "%s/%s" % (payload.source_pool, payload.source), "clone source disappeared")
        flags = self._flags(payload.prealloc_metadata)

        def make(xml: str) -> Any:
            return self.client.clone_volume(pool, xml, source, flags)

        if payload.staging is None:
            volume = make(payload.xml)
            self._mark_new(volume, False)
        else:
            volume = self._made_staged(pool, payload.pool, payload.xml, payload.staging, make, False)
        return self._undo_delete(volume)

    def _made_staged(
        self, pool: Any, pool_name: str, xml: str, staging: str, make: Callable[[str], Any], incomplete: bool
    ) -> Any:
        """Make the volume under the staging name with ``make`` (given the volume's XML), mark it, then
        give the whole, marked volume its name: libvirtd, the host or this run going down meanwhile
        leaves a file under the staging name, which no run takes for the volume. The file is marked
        and named through a descriptor of what libvirt made: a link put in its place meanwhile is never
        followed, never given the volume's name."""
        wanted = Volume.from_xml(xml)
        described = self.client.describe_pool(pool)
        directory = described.target_path or ""
        # Judged again as the plan judged it: the way and the modes may have changed since.
        problem = pool_directory_problem(directory, described.type, "the directory of pool %s" % pool_name)
        if problem:
            raise LibvirtError("create volume", wanted.name, "%s; nothing was made" % problem)
        staging_path = os.path.join(directory, staging)
        if os.path.lexists(staging_path):  # appeared since the plan: never marked as one this run made
            raise LibvirtError("create volume", wanted.name, "%s appeared meanwhile beside it; nothing was made" % staging)
        mark = staging_xattr(staging)
        # Before libvirt makes it: a volume cut off stays marked as one, and the next run deletes it
        # (without user xattrs, the next run refuses it as a volume of that name no run left).
        _set_attribute(directory, mark, b"1")
        try:
            staged = make(wanted.with_changes(name=staging, path=None).to_xml())
        except LibvirtError:
            # libvirt removes a volume it saw fail; one it left (its daemon gone) keeps the mark, which
            # now names that file, so a volume made under the name later is never taken for it.
            _mark_left_copy(directory, mark, staging_path)
            raise
        staged_path = self.client.describe_volume(staged).path
        if not staged_path or not os.path.lexists(staged_path):
            # Not a file this host sees where libvirt made it (libvirtd mounted the pool in a mount
            # namespace of its own): nothing here can mark or rename it, so libvirt makes the volume
            # under its own name, as in any pool whose files are not this host's.
            self.client.delete_volume(staged)
            _clear_directory_mark(directory, mark)
            volume = make(xml)
            self._mark_new(volume, incomplete)
            return volume
        try:
            descriptor = _open_volume_file(staged_path)
        except BaseException:
            self.client.delete_volume(staged)  # a link put in its place: only the link goes
            _clear_directory_mark(directory, mark)
            raise
        try:
            # The mark now names this file: a file put under the staging name later is never taken for it.
            _name_in_mark(descriptor, directory, mark)
            self._mark_made(descriptor, staged, incomplete)
            # A link, then the staging name's removal: a name someone took meanwhile is never replaced.
            _link_open_file(descriptor, os.path.dirname(staged_path), wanted.name, staging)
            _remove_attribute(descriptor, STAGING_TOKEN_XATTR)
        except BaseException:
            self.client.delete_volume(staged)
            _clear_directory_mark(directory, mark)
            raise
        finally:
            os.close(descriptor)
        _clear_directory_mark(directory, mark)
        self.client.refresh_pool(pool)
        return self._volume(pool_name, wanted.name)

    def _mark_made(self, descriptor: int, volume: Any, incomplete: bool) -> None:
        """_mark_new, on the open file ``descriptor`` of the new ``volume``."""
        if incomplete:
            _set_attribute(descriptor, INCOMPLETE_XATTR, b"1")
        fmt = self.client.describe_volume(volume).format
        if fmt:
            _set_attribute(descriptor, FORMAT_XATTR, fmt.encode("ascii"))

    def upload(self, action: Action) -> Optional[Undo]:
        """Stream the URL into the volume (decompressed on the way when it is compressed); only a
        complete body of the declared format, with the expected checksum, clears the volume's mark
        of an unfinished download."""
        payload: UploadPayload = action.payload
        checksum = payload.checksum
        volume = self._volume(payload.pool, payload.volume)
        download_hasher = _hasher(checksum)
        if payload.compression is None:
            content_hasher = download_hasher
            chunks = self._served(payload, download_hasher)
        else:
            content_hasher = _hasher(checksum)
            chunks = _hashed(self._decompressed(payload, download_hasher), content_hasher)
        counted = _Counted(chunks)
        self._fill(volume, counted, payload.length)
        of_content = payload.compression is not None and payload.checksum_of == CHECKSUM_OF_CONTENT
        digest = (content_hasher if of_content else download_hasher).hexdigest() if checksum else None
        if checksum and digest != checksum.digest:
            what = "" if payload.compression is None else (" (decompressed image)" if of_content else " (compressed download)")
            raise download.DownloadError(
                "checksum mismatch for %s%s: expected %s, got %s:%s"
                % (payload.url, what, checksum.text, checksum.algorithm, digest)
            )
        # libvirt reads a qcow2 image's size from its header only on refresh.
        self.client.refresh_pool(self._pool(payload.pool))
        path = self._local_file(volume)
        if path is not None:
            # The digests first: a run stopped in between leaves a download still marked unfinished,
            # never a finished one without what a re-run verifies it by.
            if checksum:
                download_digest = None if payload.compression is None else download_hasher.hexdigest()
                download.remember_digest(path, checksum.algorithm, content_hasher.hexdigest(), counted.count, download_digest)
            if payload.finishes:
                _clear_incomplete(path)
        return None

    def replace(self, action: Action) -> Optional[Undo]:
        """Rename the verified replacement over the volume's file: one rename in one directory, so the
        name holds the old content or the new one, whole, whatever happens around it. The new file keeps
        the mark of an unfinished download until it has the name: a run stopped in between leaves either
        a replacement to make again or a volume to download again, never one taken as done."""
        payload: ReplacePayload = action.payload
        pool = self._pool(payload.pool)
        old = self._local_file(self._volume(payload.pool, payload.volume))
        new = self._local_file(self._volume(payload.pool, payload.replacement))
        if old is None or new is None or os.path.dirname(old) != os.path.dirname(new):
            raise LibvirtError(
                "replace volume",
                "%s/%s" % (payload.pool, payload.volume),
                "the volume and its replacement are not files side by side here",
            )
        os.rename(new, old)
        self.client.refresh_pool(pool)
        _clear_incomplete(old)
        return None

    def _fill(self, volume: Any, chunks: Iterable[bytes], length: int) -> None:
        """Write ``chunks`` (``length`` bytes, 0 when not known ahead) to the start of the volume:
        straight into its file when it is on this host, else through libvirt. libvirt's upload carries every byte
        through the daemon and its I/O helper, several times slower than the disk (benchmarks/download)."""
        path = self._local_file(volume) if is_local_uri(self.client.uri) else None
        if path is None:
            self.client.upload_volume(volume, chunks, length)
        else:
            download.write_file(path, chunks)

    def _access(self, payload: UploadPayload) -> download.UrlAccess:
        return download.UrlAccess(validate_certs=self.validate_certs, username=payload.username, password=payload.password)

    @staticmethod
    def _format_check(payload: UploadPayload) -> download.ContentCheck:
        fmt = payload.format or "raw"
        return lambda head, content_type: download.content_problem(head, fmt, content_type, payload.refuse_compressed)

    def _served(self, payload: UploadPayload, hasher: Any) -> Iterator[bytes]:
        """The body as served: as long as announced, no longer than the volume takes, of the declared format."""
        return download.stream(
            payload.url,
            hasher,
            self._access(payload),
            expected=payload.size,
            limit=payload.length or None,  # 0: an image served without a length, bounded by the pool only
            check=self._format_check(payload),
            end_needed=payload.checksum is None,
        )

    def _decompressed(self, payload: UploadPayload, hasher: Any) -> Iterator[bytes]:
        """The body decompressed: the compressed bytes (fed to ``hasher``) as long as announced and
        of the declared compression, the decompressed ones complete, no longer than ``length``
        and of the declared format."""
        # Imported here: only compressed downloads use it.
        from ansible_collections.remotevirt.install.plugins.module_utils._volume import decompress

        compression = payload.compression or ""

        def compressed_check(head: bytes, content_type: Optional[str]) -> Optional[str]:
            return decompress.compressed_problem(head, compression, content_type)

        # Without a checksum, a body cut right after one of several compressed members (a .bz2 of pbzip2,
        # concatenated .gz or .xz) would decompress cleanly: the server must mark where it ends.
        served = download.stream(
            payload.url,
            hasher,
            self._access(payload),
            expected=payload.size,
            check=compressed_check,
            end_needed=payload.checksum is None,
        )
        holder = (
            "the volume takes"
            if payload.format in RAW_FORMATS
            else "that were free in pool %s when the download was planned" % payload.pool
        )
        content = decompress.decompressed(served, compression, payload.url, limit=payload.length or None, limit_holder=holder)
        return download.with_checked_head(content, self._format_check(payload), None, payload.url)

    def resize(self, action: Action) -> Optional[Undo]:
        payload: ResizePayload = action.payload
        volume = self._volume(payload.pool, payload.volume)
        path = self._local_file(volume)
        record = download.read_digest_record(path) if path else None
        if payload.allocate and not payload.shrink:
            self._grow_allocated(volume, payload.capacity, path)
        else:
            self.client.resize_volume(volume, payload.capacity, shrink=payload.shrink)
        if path and record is not None and record.current and record.length is not None and not payload.shrink:
            # Growing keeps the downloaded bytes: their digest stays valid for the grown file.
            download.remember_digest(path, record.algorithm, record.digest, record.length, record.download_digest)
        return None

    def _grow_allocated(self, volume: Any, capacity: int, path: Optional[str]) -> None:
        """Grow ``volume`` with its new part allocated on disk. libvirt allocates that part after it
        grew the file, so a full disk stops it halfway with the file larger already (and libvirt
        still reporting the old size): the file is then cut back to its size before, where it is on
        this host (only the new, empty part goes), so nothing half-grown is left."""
        before = self.client.describe_volume(volume).capacity
        try:
            self.client.resize_volume(volume, capacity, allocate=True)
        except LibvirtError as error:
            if path is None:
                raise LibvirtError("resize volume", volume.name(), "%s; it may be left larger than before" % error.message)
            descriptor = _open_volume_file(path, os.O_WRONLY)
            try:
                if stat.S_ISREG(os.fstat(descriptor).st_mode) and os.fstat(descriptor).st_size > before:
                    os.ftruncate(descriptor, before)
            finally:
                os.close(descriptor)
            raise LibvirtError("resize volume", volume.name(), "%s; it was set back to its size before" % error.message)

    def delete(self, action: Action) -> Optional[Undo]:
        payload: VolumeTarget = action.payload
        self.client.delete_volume(self._volume(payload.pool, payload.volume))
        if payload.volume.endswith(".part") and self.client.files_here():
            # What a stopped run left under a staging name is gone, and so is the directory's mark of
            # it: a file someone makes under that name later is never taken for one cut off.
            directory = self.client.describe_pool(self._pool(payload.pool)).directory
            if directory:
                _clear_directory_mark(directory, staging_xattr(payload.volume))
        return None

    def chmod(self, action: Action) -> Optional[Undo]:
        payload: ChmodPayload = action.payload
        descriptor = _open_volume_file(payload.path)
        try:
            if payload.mode is not None:
                os.fchmod(descriptor, int(payload.mode, 8))
            if payload.owner is not None or payload.group is not None:
                owner = -1 if payload.owner is None else payload.owner
                os.fchown(descriptor, owner, -1 if payload.group is None else payload.group)
        finally:
            os.close(descriptor)
        return None


def _open_volume_file(path: str, access: int = os.O_RDONLY) -> int:
    """The volume's own file, as planned: never the file a symbolic link put at its path since
    leads to (whoever may write the pool's directory can swap one in after the plan read the
    path), nor a file with other names (hard links), whose mode those names would share."""
    try:
        descriptor = os.open(path, access | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise RemotevirtError("volume file %s became a symbolic link since it was planned: not changed" % path)
        raise
    info = os.fstat(descriptor)
    regular = stat.S_ISREG(info.st_mode)
    if not (regular or stat.S_ISBLK(info.st_mode)) or (regular and info.st_nlink != 1):
        os.close(descriptor)
        raise RemotevirtError("volume file %s is another file than planned (its kind, or other names): not changed" % path)
    return descriptor
