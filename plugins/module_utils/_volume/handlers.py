# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying volume actions: one handler per plan verb of virt_pool_volume.

Imported only by runs whose plan changes something, so a no-op task does not compile it.
"""

from __future__ import annotations

import errno
import hashlib
import os
from typing import Any, Dict, Iterator, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.executor import Handler, Undo
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils._volume import download
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import (
    CHMOD,
    CLONE,
    CREATE,
    DELETE,
    RESIZE,
    UPLOAD,
    ChmodPayload,
    ClonePayload,
    CreatePayload,
    ResizePayload,
    UploadPayload,
    VolumeTarget,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import INCOMPLETE_XATTR

try:
    import libvirt
except ImportError:  # the module reports the missing library before anything here runs
    libvirt = None


# errno values of "this file system keeps no user extended attributes".
_NO_XATTRS = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM)


class _Counted:
    """Chunks passed through, their bytes counted."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.count += len(chunk)
            yield chunk


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
        return {CREATE: self.create, CLONE: self.clone, UPLOAD: self.upload, RESIZE: self.resize,
                DELETE: self.delete, CHMOD: self.chmod}

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
        volume = self.client.create_volume(self._pool(payload.pool), payload.xml, self._flags(payload.prealloc_metadata))
        if payload.mark_incomplete:
            # Before the first byte arrives: if this process dies now, the next run finds the mark.
            self._mark_incomplete(volume)
        return self._undo_delete(volume)

    def _local_file(self, volume: Any) -> Optional[str]:
        path = self.client.describe_volume(volume).path
        return path if path and os.path.isfile(path) else None

    def _mark_incomplete(self, volume: Any) -> None:
        path = self._local_file(volume)
        if path is None:
            return
        try:
            os.setxattr(path, INCOMPLETE_XATTR, b"1")
        except OSError as error:
            if error.errno not in _NO_XATTRS:
                raise
            # A file system without user xattrs (some NFS pools) cannot carry the mark; the
            # download still rolls back on every error this process lives through.

    def clone(self, action: Action) -> Optional[Undo]:
        payload: ClonePayload = action.payload
        source = self.client.find_volume(self._pool(payload.source_pool), payload.source)
        if source is None:
            raise LibvirtError("look up volume", "%s/%s" % (payload.source_pool, payload.source),
                               "clone source disappeared")
        volume = self.client.clone_volume(self._pool(payload.pool), payload.xml, source,
                                          self._flags(payload.prealloc_metadata))
        return self._undo_delete(volume)

    def upload(self, action: Action) -> Optional[Undo]:
        """Stream the URL into the volume; only a complete body of the declared format, with the
        expected checksum, clears the volume's mark of an unfinished download."""
        payload: UploadPayload = action.payload
        checksum = payload.checksum
        hasher = hashlib.new(checksum.algorithm if checksum else "sha256")
        volume = self._volume(payload.pool, payload.volume)
        access = download.UrlAccess(validate_certs=self.validate_certs, username=payload.username,
                                    password=payload.password)
        fmt = payload.format or "raw"
        chunks = download.stream(payload.url, hasher, access, expected=payload.size, limit=payload.length,
                                 check=lambda head, content_type: download.content_problem(head, fmt, content_type))
        counted = _Counted(chunks)
        self.client.upload_volume(volume, counted, payload.length)
        digest = hasher.hexdigest()
        if checksum and digest != checksum.digest:
            raise download.DownloadError("checksum mismatch for %s: expected %s, got %s:%s"
                                         % (payload.url, checksum.text, checksum.algorithm, digest))
        # libvirt reads a qcow2 image's size from its header only on refresh.
        self.client.refresh_pool(self._pool(payload.pool))
        path = self._local_file(volume)
        if path is not None:
            _clear_incomplete(path)
            if checksum:
                download.remember_digest(path, checksum.algorithm, digest, counted.count)
        return None

    def resize(self, action: Action) -> Optional[Undo]:
        payload: ResizePayload = action.payload
        volume = self._volume(payload.pool, payload.volume)
        path = self._local_file(volume)
        record = download.read_digest_record(path) if path else None
        self.client.resize_volume(volume, payload.capacity, shrink=payload.shrink)
        if path and record is not None and record.current and record.length is not None and not payload.shrink:
            # Growing keeps the downloaded bytes: their digest stays valid for the grown file.
            download.remember_digest(path, record.algorithm, record.digest, record.length)
        return None

    def delete(self, action: Action) -> Optional[Undo]:
        payload: VolumeTarget = action.payload
        self.client.delete_volume(self._volume(payload.pool, payload.volume))
        return None

    def chmod(self, action: Action) -> Optional[Undo]:
        payload: ChmodPayload = action.payload
        if payload.mode is not None:
            os.chmod(payload.path, int(payload.mode, 8))
        if payload.owner is not None or payload.group is not None:
            os.chown(payload.path, -1 if payload.owner is None else payload.owner,
                     -1 if payload.group is None else payload.group)
        return None
