# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a disk image's header says about other files: the backing file and the external data
file of a qcow2 image.

Read to protect files from deletion (a backing file that an overlay still needs), to lock the
files a guest's disk reaches and to refuse an image that names a host file, never to decide how a
guest's disk is attached.
"""

from __future__ import annotations

import json
import os
import re
import stat
import struct
from typing import IO, Any, Callable, Dict, NamedTuple, Optional

QCOW2_MAGIC = b"QFI\xfb"
# magic, version, backing_file_offset, backing_file_size: the first 20 bytes of every qcow2 header.
_HEADER = struct.Struct(">4sIQI")
# QEMU refuses backing file names longer than 1023 bytes.
_MAX_BACKING_NAME = 1023


# The working directory of the QEMU processes libvirt starts: where QEMU opens a relative data
# file name from (a backing file name is relative to its image's directory instead).
QEMU_WORKING_DIRECTORY = "/"


def open_image(path: str) -> Optional[IO[bytes]]:
    """The file at ``path`` opened to read its header, when it is a regular file or a block device;
    None otherwise (or on errors). Nothing else is opened: a FIFO would block the run, and opening
    some character devices acts (a watchdog starts counting)."""
    try:
        before = os.stat(path)
        if not (stat.S_ISREG(before.st_mode) or stat.S_ISBLK(before.st_mode)):
            return None
        # O_NONBLOCK: a FIFO swapped in after the stat does not block; it is refused below.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        after = os.fstat(descriptor)
        if (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino):
            return os.fdopen(descriptor, "rb")
    except OSError:
        pass
    os.close(descriptor)
    return None


def host_file_named(name: str, relative_to: str) -> Optional[str]:
    """The file on this host that QEMU opens for a file name an image's header holds (a relative
    plain name joined to ``relative_to``, a relative json: or file: one to QEMU's working
    directory); None for a name that is no file on this host (a protocol such as nbd:// or
    http://, a json: description of another kind of storage).

    QEMU reads a name as a protocol only where a colon comes before the first slash
    ('/srv/a://b' is a file); 'file:' is a file; 'json:' describes the storage as JSON."""
    if name.startswith("json:"):
        # QEMU opens the file a json: or file: name gives from its working directory, not from the image's.
        named, relative_to = _json_file_name(name[len("json:") :]), QEMU_WORKING_DIRECTORY
    elif name.startswith("file:"):
        named, relative_to = name[len("file:") :], QEMU_WORKING_DIRECTORY
    elif 0 < name.find(":") < (name.find("/") if "/" in name else len(name)):
        return None
    else:
        named = name
    if not named:
        return None
    return os.path.join(relative_to, named)


def _json_file_name(text: str) -> Optional[str]:
    """The file a json: name describes: the first "filename" in it (at any depth, flattened keys
    such as "file.filename" too) that is no protocol's. The driver is not asked: QEMU finds a file
    without one, and a name that could be a file is one to protect and to judge."""
    try:
        spec: Any = json.loads(text)
    except ValueError:
        return None
    pending = [spec]
    while pending:
        item = pending.pop(0)
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str) and (key == "filename" or str(key).endswith(".filename")):
                    named = None if value.startswith("json:") else host_file_named(value, "")
                    if named:
                        return named
                elif isinstance(value, (dict, list)):
                    pending.append(value)
    return None


def qcow2_backing_file(path: str) -> Optional[str]:
    """The backing file of the qcow2 image at ``path`` as QEMU opens it (a relative name joined to the
    image's directory); None for other files, a backing that is no file on this host, or on errors. A
    '..' is kept: after a symbolic link the kernel takes it to the parent of the link's target, not
    to the directory the name spells."""
    return _backing_named(_read_name(path, _qcow2_backing_name), path)


def _qcow2_backing_name(image: IO[bytes], head: bytes) -> Optional[str]:
    if len(head) < _HEADER.size:
        return None
    magic, _version, offset, size = _HEADER.unpack(head[: _HEADER.size])
    if magic != QCOW2_MAGIC or not offset or not 0 < size <= _MAX_BACKING_NAME:
        return None
    image.seek(offset)
    return os.fsdecode(image.read(size))


# Enough of an image's first bytes for every magic below and qcow2's version 3 fields.
_HEAD_SIZE = 112
# What a name reader takes: the open image and its first _HEAD_SIZE bytes.
NameReader = Callable[[IO[bytes], bytes], Optional[str]]


def _read_name(path: str, reader: NameReader) -> Optional[str]:
    """What ``reader`` reads from the image at ``path`` (opened by open_image); None on errors."""
    image = open_image(path)
    if image is None:
        return None
    with image:
        return _name_or_none(reader, image, _head_of(image))


def _head_of(image: IO[bytes]) -> bytes:
    try:
        return image.read(_HEAD_SIZE)
    except OSError:
        return b""


def _name_or_none(reader: NameReader, image: IO[bytes], head: bytes) -> Optional[str]:
    try:
        return reader(image, head)
    except (OSError, struct.error, ValueError):
        return None


def _backing_named(name: Optional[str], path: str) -> Optional[str]:
    """The file a backing name of the image at ``path`` leads to (relative to the image's directory)."""
    return host_file_named(name, os.path.dirname(path)) if name else None


def _data_file_named(name: Optional[str]) -> Optional[str]:
    """The file a data file name leads to (relative to QEMU's working directory)."""
    return host_file_named(name, QEMU_WORKING_DIRECTORY) if name else None


# qcow2 version 3: incompatible features at byte 72 (bit 2: an external data file), the header's
# length at byte 100; header extensions follow the header, each a type, a length and its data
# padded to 8 bytes, until type 0. QEMU keeps them within the first cluster.
_V3_FIELDS = struct.Struct(">Q20xI")
_EXTENSION = struct.Struct(">II")
_DATA_FILE_EXTENSION = 0x44415441
_EXTERNAL_DATA_FILE = 1 << 2
_MAX_HEADER_READ = 2 * 1024 * 1024


def qcow2_data_file(path: str) -> Optional[str]:
    """The external data file of the qcow2 image at ``path`` (``qemu-img create -o data_file=``),
    where QEMU reads and writes the guest's data, as QEMU under libvirt opens it (a relative name
    from QEMU's working directory, not from the image's); None for other files, an image without
    one, or on errors."""
    return _data_file_named(_read_name(path, _qcow2_data_name))


def _qcow2_data_name(image: IO[bytes], head: bytes) -> Optional[str]:
    if len(head) < 104 or head[:4] != QCOW2_MAGIC or _HEADER.unpack(head[:20])[1] < 3:
        return None
    incompatible = _V3_FIELDS.unpack(head[72:104])[0]
    if not incompatible & _EXTERNAL_DATA_FILE:
        return None
    data = _qcow2_extensions(image, head).get(_DATA_FILE_EXTENSION)
    return os.fsdecode(data) if data is not None else None


# The header extension that names the backing file's format (qcow2 versions 2 and 3).
_BACKING_FORMAT_EXTENSION = 0xE2792ACA
_V2_HEADER_LENGTH = 72


def qcow2_backing_format(path: str) -> Optional[str]:
    """The format the qcow2 image at ``path`` records for its backing file (``qemu-img create -F``;
    a raw one is read as raw, whatever its content), or None."""
    return _read_name(path, _qcow2_backing_format)


def _qcow2_backing_format(image: IO[bytes], head: bytes) -> Optional[str]:
    if head[:4] != QCOW2_MAGIC:
        return None
    found = _qcow2_extensions(image, head).get(_BACKING_FORMAT_EXTENSION)
    return found.decode("ascii", "replace") if found is not None else None


def _qcow2_extensions(image: IO[bytes], head: bytes) -> Dict[int, bytes]:
    """The header extensions of a qcow2 image, by type (the first of each)."""
    version = _HEADER.unpack(head[:20])[1]
    if version < 3:
        header_length = _V2_HEADER_LENGTH
    elif len(head) >= 104:
        header_length = _V3_FIELDS.unpack(head[72:104])[1]
    else:
        return {}
    cluster_bits = struct.unpack(">I", head[20:24])[0]
    image.seek(len(head))
    data = head + image.read(min(1 << min(cluster_bits, 21), _MAX_HEADER_READ))
    found: Dict[int, bytes] = {}
    offset = header_length
    while offset + _EXTENSION.size <= len(data):
        kind, length = _EXTENSION.unpack(data[offset : offset + _EXTENSION.size])
        if kind == 0:
            break
        start = offset + _EXTENSION.size
        found.setdefault(kind, data[start : start + length])
        offset = start + (length + 7) // 8 * 8
    return found


class NamedFiles(NamedTuple):
    """The other files a qcow2 image makes QEMU open, as QEMU opens them: its ``backing`` file (an
    image, which may name files in turn) and its external ``data_file`` (raw data, names none)."""

    backing: Optional[str]
    data_file: Optional[str]


def named_files(path: str) -> NamedFiles:
    """The files the image at ``path`` names: the backing file of a qcow2, QED or VMDK image, the
    data file of a qcow2 image (None for what it has not, for other files or on errors); the image
    is opened once."""
    image = open_image(path)
    if image is None:
        return NamedFiles(None, None)
    with image:
        head = _head_of(image)
        if head.startswith(QCOW2_MAGIC):
            backing = _name_or_none(_qcow2_backing_name, image, head)
            return NamedFiles(_backing_named(backing, path), _data_file_named(_name_or_none(_qcow2_data_name, image, head)))
        if head.startswith(b"QED\0"):
            return NamedFiles(_backing_named(_name_or_none(_qed_backing_name, image, head), path), None)
        if head.startswith((b"KDMV", b"# Disk Descriptor")):
            return NamedFiles(_backing_named(_name_or_none(_vmdk_parent_name, image, head), path), None)
    return NamedFiles(None, None)


# QED, little-endian: magic, cluster, table and header sizes, then features (bit 0: a backing
# file), compatible and autoclear features, L1 table offset, image size, and the offset and length
# of the backing file's name.
_QED_HEADER = struct.Struct("<4sIIIQQQQQII")
_QED_BACKING_FILE = 1


def _qed_backing_name(image: IO[bytes], head: bytes) -> Optional[str]:
    fields = _QED_HEADER.unpack(head[: _QED_HEADER.size])
    features, offset, size = fields[4], fields[9], fields[10]
    if not features & _QED_BACKING_FILE or not 0 < size <= _MAX_BACKING_NAME:
        return None
    image.seek(offset)
    return os.fsdecode(image.read(size))


# VMDK: a text descriptor, in its own file or inside a sparse extent (its offset and length in
# sectors at bytes 28 and 36 of the sparse header), names the parent as parentFileNameHint="...".
_VMDK_DESCRIPTOR_MAX = 64 * 1024
_PARENT_HINT = re.compile(rb'^\s*parentFileNameHint\s*=\s*"([^"]*)"', re.M)


def _vmdk_parent_name(image: IO[bytes], head: bytes) -> Optional[str]:
    if head.startswith(b"KDMV"):
        image.seek(28)
        offset, size = struct.unpack("<QQ", image.read(16))
        if not offset or not size:
            return None
        image.seek(offset * 512)
        descriptor = image.read(min(size * 512, _VMDK_DESCRIPTOR_MAX))
    else:
        image.seek(0)
        descriptor = image.read(_VMDK_DESCRIPTOR_MAX)
    found = _PARENT_HINT.search(descriptor)
    return os.fsdecode(found.group(1)) if found and found.group(1) else None


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
    libvirt may) or NO_BACKING (raw, ISO and every other content, as libvirt's format probe sees them;
    anything but a regular file or a block device, which is not opened)."""
    try:
        kind = os.stat(path).st_mode
    except (OSError, ValueError):
        return OTHER_BACKING
    if not (stat.S_ISREG(kind) or stat.S_ISBLK(kind)):
        return NO_BACKING
    image = open_image(path)
    if image is None:
        return OTHER_BACKING
    try:
        with image:
            head = image.read(_MAGIC_BYTES)
    except OSError:
        return OTHER_BACKING
    if head.startswith(QCOW2_MAGIC):
        return QCOW_BACKING
    return OTHER_BACKING if head.startswith(_OTHER_BACKING_MAGICS) else NO_BACKING
