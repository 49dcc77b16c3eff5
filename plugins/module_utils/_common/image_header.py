# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a disk image's header says about other files: the backing file of a qcow2 image.

Read only to protect files from deletion (a backing file that an overlay still needs), never to
decide how a guest's disk is attached.
"""

from __future__ import annotations

import os
import struct
from typing import Optional

QCOW2_MAGIC = b"QFI\xfb"
# magic, version, backing_file_offset, backing_file_size: the first 20 bytes of every qcow2 header.
_HEADER = struct.Struct(">4sIQI")
# QEMU refuses backing file names longer than 1023 bytes.
_MAX_BACKING_NAME = 1023


def qcow2_backing_file(path: str) -> Optional[str]:
    """The backing file of the qcow2 image at ``path`` as QEMU opens it (a relative name joined to the
    image's directory); None for other files or on errors. A '..' is kept: after a symbolic link the
    kernel takes it to the parent of the link's target, not to the directory the name spells."""
    try:
        with open(path, "rb") as image:
            header = image.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return None
            magic, _version, offset, size = _HEADER.unpack(header)
            if magic != QCOW2_MAGIC or not offset or not 0 < size <= _MAX_BACKING_NAME:
                return None
            image.seek(offset)
            name = image.read(size).decode("utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if "://" in name or name.startswith("json:"):
        return None  # a network backing, not a file on this host
    return os.path.join(os.path.dirname(path), name)


# Formats other than qcow/qcow2 that libvirt reads a backing file from: QED, VMDK (sparse or a
# text descriptor) and the old UML COW. Their headers are left to libvirt to read.
_OTHER_BACKING_MAGICS = (b"QED\0", b"KDMV", b"OOOM", b"# Disk Descriptor")
_MAGIC_BYTES = max(len(magic) for magic in _OTHER_BACKING_MAGICS + (QCOW2_MAGIC,))

# What backing_kind says of a file.
NO_BACKING = "none"
QCOW_BACKING = "qcow"
OTHER_BACKING = "other"


def backing_kind(path: str) -> str:
    """Whether the image at ``path`` can name a backing file: QCOW_BACKING (qcow2_backing_file reads
    it), OTHER_BACKING (a format whose header libvirt reads, or a file this user cannot read, which
    libvirt may) or NO_BACKING (raw, ISO and every other content, as libvirt's format probe sees them)."""
    try:
        with open(path, "rb") as image:
            head = image.read(_MAGIC_BYTES)
    except OSError:
        return OTHER_BACKING
    if head.startswith(QCOW2_MAGIC):
        return QCOW_BACKING
    return OTHER_BACKING if head.startswith(_OTHER_BACKING_MAGICS) else NO_BACKING
