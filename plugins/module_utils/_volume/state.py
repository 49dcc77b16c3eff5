# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the host has for a volume request, as the runner reads it."""

from __future__ import annotations

import hashlib
import os
from typing import Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.format_record import PLAIN_FORMATS, recorded_format
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume

# Extended attribute on the file of a volume being filled from source_url, removed once the
# download is verified complete: a volume that still carries it is a half-made download
# (the module was killed mid-upload) and is never accepted as done.
INCOMPLETE_XATTR = "user.remotevirt.incomplete"
# Extended attribute on a directory pool's directory while libvirt makes a volume under its staging
# name (plan.staging_name): a file left under that name with the mark still there is a volume cut off
# while it was made (or before its own marks were on it), which the next run deletes; one without it
# is somebody's volume, never deleted.
# Its value: "1" while libvirt makes the file, then "DEV:INODE:TOKEN" of the file made, which carries
# the same random TOKEN under STAGING_TOKEN_XATTR until it has its name: a file made under the staging
# name later (even one given the same inode number, which file systems reuse at once) is never taken
# for the one cut off.
STAGING_XATTR_PREFIX = "user.remotevirt.staging."
STAGING_TOKEN_XATTR = "user.remotevirt.staging"

# What a volume's staging name holds, where the pool's files are this host's (None: nothing):
# a volume the pool's directory marks as cut off while it was made; another name of the existing
# volume's own file (a run stopped between giving the made volume its name and removing the staging
# name); anything else, which is not this collection's.
STAGED_CUT = "cut"
STAGED_SECOND_NAME = "second name"
STAGED_FOREIGN = "foreign"


def staging_xattr(staging: str) -> str:
    """The directory's attribute for a volume made under ``staging`` (a digest: names may be as long
    as the attribute's whole name may be)."""
    return STAGING_XATTR_PREFIX + hashlib.sha256(staging.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def as_made(volume: Volume) -> Optional[Volume]:
    """``volume`` as this collection made it, when it made it raw (or iso) and libvirt, which probes a
    directory pool's files from their content on every refresh, now reads it as another format (whoever
    writes the volume, its guest, chooses that content, a backing file naming any host file included):
    its own format and file size, without that backing file. None for any other volume."""
    if not volume.path or volume.format in (None,) + PLAIN_FORMATS:
        return None
    made = recorded_format(volume.path)
    if made not in PLAIN_FORMATS:
        return None
    try:
        size = os.stat(volume.path).st_size
    except OSError:
        size = volume.capacity
    return volume.with_changes(format=made, capacity=size, backing_path=None, backing_format=None)


def as_recorded_plain(volume: Volume) -> Volume:
    """``volume`` with the plain format this collection made it with where libvirt reads it as the
    other plain one (an iso volume not filled yet reads as raw, a raw one holding an ISO 9660 image
    as iso): the bytes are read alike, and a re-run asking for it as made converges."""
    if not volume.path or volume.format not in PLAIN_FORMATS:
        return volume
    made = recorded_format(volume.path)
    return volume.with_changes(format=made) if made in PLAIN_FORMATS and made != volume.format else volume


class VolumeState(Record):
    """What the host has, as read by the runner.

    ``origin`` is the described clone or backing source; ``download_size`` the size the server
    reports for ``source_url`` (None when it reports none) and ``download_image_size`` the size of the
    disk the served image's header gives (qcow2; None when not read); ``content_digest`` the digest of the
    existing volume's content (only read when a checksum is requested); ``users`` the guests
    with a disk on the volume (only read for deletion); ``incomplete`` whether the existing
    volume still carries the mark of a download that never finished; ``local`` whether the
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
    list (a dangling link) has its name (read only when the existing volume is replaced); ``staged`` and
    ``replacement_staged`` what the staging names (see plan.staging_name) of the volume and of its
    replacement hold (one of STAGED_*, None for nothing; read where the pool's files are this host's);
    ``files_here`` whether the pool's files are files this module can rename (a local uri, not libvirt's
    test driver); ``directory_problem`` why the pool's directory is no place to make a new volume in
    (another user could make the way to it lead elsewhere, may write it or owns it, and could put a link
    where the volume is made; read where the plan may make a volume and the pool's files are this host's).
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
    incomplete: bool = False
    can_decompress: bool = True
    link_target: Optional[str] = None
    other_names: int = 0
    origin_writers: Tuple[str, ...] = ()
    origin_running_writers: Tuple[str, ...] = ()
    running_users: Tuple[str, ...] = ()
    replacement: Optional[Volume] = None
    replacement_unfinished: bool = False
    replacement_blocked: bool = False
    staged: Optional[str] = None
    replacement_staged: Optional[str] = None
    files_here: bool = False
    directory_problem: Optional[str] = None
