# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verbs of a volume plan: what each handler is given, and what rollback does with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import KEPT, UNDONE, Payload, Verb
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.remotevirt.install.plugins.module_utils._volume.request import Checksum

CREATE = "create"
CLONE = "clone"
UPLOAD = "upload"
RESIZE = "resize"
CHMOD = "chmod"
DELETE = "delete"
REPLACE = "replace"


class VolumeTarget(Payload):
    """The volume an action changes, by pool and name."""

    pool: str
    volume: str


class CreatePayload(Payload):
    """A new volume from its XML; ``mark_incomplete`` marks it as a download not finished yet;
    ``staging``: the name libvirt makes it under, beside the volume, renamed to the volume's once made
    and marked (a directory pool on this host; None elsewhere: libvirt makes the volume itself)."""

    pool: str
    xml: str
    prealloc_metadata: bool = False
    mark_incomplete: bool = False
    staging: Optional[str] = None


class ClonePayload(Payload):
    """``staging``: the name libvirt copies into, beside the volume, renamed to the volume's once whole
    (a directory pool on this host; None elsewhere: libvirt copies into the volume itself)."""

    pool: str
    xml: str
    source_pool: str
    source: str
    prealloc_metadata: bool = False
    staging: Optional[str] = None


class UploadPayload(Payload):
    """``size``: what the server announced when planning (the body must be exactly that long);
    ``length``: the bytes libvirt is told to expect (the body, decompressed when ``compression``
    is set, may not be longer; 0 for no limit); ``checksum_of``: whether ``checksum`` is of the
    body as served (download) or decompressed (content); ``refuse_compressed``: a body that
    starts like compressed data is refused for a raw volume (compression auto found no suffix);
    ``finishes``: a verified body clears the volume's mark of an unfinished download (a replacement
    keeps it until it is renamed into place)."""

    pool: str
    volume: str
    url: str = Field(in_repr=False)
    format: str
    size: Optional[int]
    length: int
    checksum: Optional[Checksum] = None
    username: Optional[str] = None
    password: Optional[str] = Field(default=None, in_repr=False)
    compression: Optional[str] = None
    checksum_of: str = "download"
    refuse_compressed: bool = False
    finishes: bool = True


class ResizePayload(Payload):
    """``allocate``: the grown part is allocated on disk (a raw volume made with preallocation full)."""

    pool: str
    volume: str
    capacity: int
    shrink: bool = False
    allocate: bool = False


class ReplacePayload(Payload):
    """Volume ``replacement`` (a verified download beside it) renamed over volume ``volume``'s file."""

    pool: str
    volume: str
    replacement: str


class ChmodPayload(Payload):
    path: str
    mode: Optional[str] = None
    owner: Optional[int] = None
    group: Optional[int] = None


# An upload, a resize and permissions change a volume that exists: a new volume is undone by
# deleting it (its create), an existing one keeps what was written, and a deletion or a
# replacement is final.
VERBS: Dict[str, Verb] = {
    CREATE: Verb(CREATE, CreatePayload, UNDONE),
    CLONE: Verb(CLONE, ClonePayload, UNDONE),
    UPLOAD: Verb(UPLOAD, UploadPayload, KEPT),
    RESIZE: Verb(RESIZE, ResizePayload, KEPT),
    CHMOD: Verb(CHMOD, ChmodPayload, KEPT),
    DELETE: Verb(DELETE, VolumeTarget, KEPT),
    REPLACE: Verb(REPLACE, ReplacePayload, KEPT),
}
