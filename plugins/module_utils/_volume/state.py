# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the host has for a volume request, as the runner reads it."""

from __future__ import annotations

import hashlib
from typing import Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume

# Extended attribute on the file of a volume being filled from source_url, removed once the
# download is verified complete: a volume that still carries it is a half-made download
# (the module was killed mid-upload) and is never accepted as done.
INCOMPLETE_XATTR = "user.remotevirt.incomplete"
# Extended attribute on the file of a volume this collection made: the format it was made with.
# libvirt probes a directory pool's files from their content on every refresh, so a raw volume into
# which a guest wrote a qcow2 header (naming any host file as its backing file) reads as qcow2.
FORMAT_XATTR = "user.remotevirt.format"
# Extended attribute on a directory pool's directory, one per volume name, while libvirt clones into
# that volume: libvirt makes the clone's file inside its copy call, so the file cannot carry a mark
# before the copy; a name still marked after the call (libvirtd or the host went down mid-copy) is a
# half-made clone and is never accepted as done.
CLONING_XATTR_PREFIX = "user.remotevirt.cloning."
DOWNLOAD = "download"
CLONE = "clone"


def cloning_xattr(name: str) -> str:
    """The directory's attribute for a clone into volume ``name`` (a digest: a name may be as long as
    an attribute's whole name may be)."""
    return CLONING_XATTR_PREFIX + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:32]


class VolumeState(Record):
    """What the host has, as read by the runner.

    ``origin`` is the described clone or backing source; ``download_size`` the size the server
    reports for ``source_url`` (None when it reports none) and ``download_image_size`` the size of the
    disk the served image's header gives (qcow2; None when not read); ``content_digest`` the digest of the
    existing volume's content (only read when a checksum is requested); ``users`` the guests
    with a disk on the volume (only read for deletion); ``incomplete`` what the existing volume is
    marked as, when it is a download or a clone that never finished (DOWNLOAD, CLONE); ``local`` whether the
    module runs on the host that holds the pool (its volume files can be marked);
    ``can_decompress`` whether the host can decompress the request's compression (zstd needs
    Python's zstd support or the zstd program; only read for zstd); ``link_target`` the file
    the existing volume's file leads to when it is a symbolic link on this host (libvirt lists
    a link in a directory pool as a volume, and changes made through it land on that file);
    ``other_names`` how many other names (hard links) the existing volume's file has on this host;
    ``origin_writers`` the guests that write the backing volume of a new overlay (read only then),
    ``origin_running_writers`` the running guests that write the volume a new clone copies (read only
    then), ``running_users`` the running guests with a disk on the existing volume, when the plan would
    resize an image that qemu-img changes (read only then: QEMU holds a lock on the images it opened);
    ``replacement`` the volume a replacement of the existing one is downloaded into (see
    plan.replacement_name), when an earlier run left it, and ``replacement_unfinished`` whether it
    carries the mark of an unfinished download, ``replacement_blocked`` whether a file libvirt does not
    list (a dangling link) has its name (read only when the existing volume is replaced).
    """

    pool: Pool
    existing: Optional[Volume] = None
    origin: Optional[Volume] = None
    download_size: Optional[int] = None
    download_image_size: Optional[int] = None
    content_digest: Optional[str] = None
    users: Tuple[str, ...] = ()
    dependents: Tuple[str, ...] = ()
    local: bool = True
    incomplete: Optional[str] = None
    can_decompress: bool = True
    link_target: Optional[str] = None
    other_names: int = 0
    origin_writers: Tuple[str, ...] = ()
    origin_running_writers: Tuple[str, ...] = ()
    running_users: Tuple[str, ...] = ()
    replacement: Optional[Volume] = None
    replacement_unfinished: bool = False
    replacement_blocked: bool = False
