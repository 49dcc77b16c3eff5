# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying volume actions: one handler per plan verb of virt_pool_volume.

Imported only by runs whose plan changes something, so a no-op task does not compile it.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Dict, Optional

from ansible_collections.remotevirt.install.plugins.module_utils import download
from ansible_collections.remotevirt.install.plugins.module_utils.client import Client, LibvirtError
from ansible_collections.remotevirt.install.plugins.module_utils.executor import Handler, Undo
from ansible_collections.remotevirt.install.plugins.module_utils.plan import Action

try:
    import libvirt
except ImportError:  # the module reports the missing library before anything here runs
    libvirt = None


class VolumeHandlers:
    """One handler per plan verb; creating handlers return the undo that deletes what they made."""

    def __init__(self, client: Client, validate_certs: bool) -> None:
        self.client = client
        self.validate_certs = validate_certs

    def as_mapping(self) -> Dict[str, Handler]:
        return {"create": self.create, "clone": self.clone, "upload": self.upload, "resize": self.resize,
                "delete": self.delete, "chmod": self.chmod}

    def _pool(self, name: str) -> Any:
        pool = self.client.find_pool(name)
        if pool is None:
            raise LibvirtError("look up pool", name, "pool disappeared")
        return pool

    def _volume(self, action: Action) -> Any:
        pool_name, name = action.name.split("/", 1)
        volume = self.client.find_volume(self._pool(pool_name), name)
        if volume is None:
            raise LibvirtError("look up volume", action.name, "volume disappeared")
        return volume

    def _undo_delete(self, volume: Any) -> Undo:
        return lambda: self.client.delete_volume(volume)

    def _flags(self, action: Action) -> int:
        return libvirt.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA if action.payload.get("prealloc_metadata") else 0

    def create(self, action: Action) -> Optional[Undo]:
        payload = action.payload
        volume = self.client.create_volume(self._pool(payload["pool"]), payload["xml"], self._flags(action))
        return self._undo_delete(volume)

    def clone(self, action: Action) -> Optional[Undo]:
        payload = action.payload
        source = self.client.find_volume(self._pool(payload["source_pool"]), payload["source"])
        if source is None:
            raise LibvirtError("look up volume", "%s/%s" % (payload["source_pool"], payload["source"]),
                               "clone source disappeared")
        volume = self.client.clone_volume(self._pool(payload["pool"]), payload["xml"], source, self._flags(action))
        return self._undo_delete(volume)

    def upload(self, action: Action) -> Optional[Undo]:
        payload = action.payload
        checksum = payload["checksum"]
        hasher = hashlib.new(checksum.algorithm if checksum else "sha256")
        volume = self._volume(action)
        self.client.upload_volume(volume, download.stream(payload["url"], hasher, self.validate_certs),
                                  payload["length"])
        digest = hasher.hexdigest()
        if checksum and digest != checksum.digest:
            raise download.DownloadError("checksum mismatch for %s: expected %s, got %s:%s"
                                         % (payload["url"], checksum.text, checksum.algorithm, digest))
        # libvirt reads a qcow2 image's size from its header only on refresh.
        self.client.refresh_pool(self._pool(payload["pool"]))
        path = self.client.describe_volume(volume).path
        if checksum and path and os.path.isfile(path):
            download.remember_digest(path, checksum.algorithm, digest)
        return None

    def resize(self, action: Action) -> Optional[Undo]:
        payload = action.payload
        self.client.resize_volume(self._volume(action), payload["capacity"], shrink=payload["shrink"])
        return None

    def delete(self, action: Action) -> Optional[Undo]:
        self.client.delete_volume(self._volume(action))
        return None

    def chmod(self, action: Action) -> Optional[Undo]:
        payload = action.payload
        if payload["mode"] is not None:
            os.chmod(payload["path"], int(payload["mode"], 8))
        if payload["owner"] is not None or payload["group"] is not None:
            os.chown(payload["path"], -1 if payload["owner"] is None else payload["owner"],
                     -1 if payload["group"] is None else payload["group"])
        return None
