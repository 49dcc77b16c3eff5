# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small ISO 9660 writer with Joliet names, for cloud-init's NoCloud seed (volume ``cidata``).

The host builds the seed itself, so its base system needs no genisoimage or xorriso. One root
directory of a few small files is all a seed holds; Joliet keeps their names as written
(``user-data``, ``meta-data``, ``network-config``), which is what Linux reads when it mounts the
ISO. The plain ISO 9660 names (``USER_DAT.;1``) are there for readers without Joliet.

The image is a pure function of its files: fixed dates, sorted names, no padding that varies.
So check mode and the run compute the same size and digest.
"""

from __future__ import annotations

import re
import struct
from typing import List, Mapping, Tuple

SECTOR = 2048
# Sectors 0-15 are the system area; the volume descriptors follow.
_PVD_SECTOR = 16
_SVD_SECTOR = 17
_TERMINATOR_SECTOR = 18
_PATH_TABLE_SECTORS = (19, 20, 21, 22)  # L and M tables of the primary, then of the Joliet tree
_ROOT_SECTOR = 23
_JOLIET_ROOT_SECTOR = 24
_FIRST_FILE_SECTOR = 25
# 1 January 2000, 00:00 UTC: every recorded date, so equal files give an equal image.
_DATE = bytes((100, 1, 1, 0, 0, 0, 0))
_UNSET_DATE = b"0" * 16 + b"\x00"
_JOLIET_ESCAPE = b"%/E"  # UCS-2 level 3
_DIRECTORY = 0x02


class IsoError(ValueError):
    """Files that do not fit a seed ISO."""


def both_16(value: int) -> bytes:
    return struct.pack("<H", value) + struct.pack(">H", value)


def both_32(value: int) -> bytes:
    return struct.pack("<I", value) + struct.pack(">I", value)


def _padded(text: bytes, size: int, fill: bytes = b" ") -> bytes:
    if len(text) > size:
        raise IsoError("identifier %r is longer than %d bytes" % (text, size))
    return text + fill * ((size - len(text)) // len(fill))


def _ucs2(text: str) -> bytes:
    return text.encode("utf-16-be")


def iso9660_name(name: str) -> str:
    """The 8.3 upper-case name (level 1) of ``name``: user-data -> USER_DAT.;1."""
    stem, _dot, suffix = name.partition(".")
    stem = re.sub(r"[^A-Z0-9_]", "_", stem.upper())[:8]
    suffix = re.sub(r"[^A-Z0-9_]", "_", suffix.upper())[:3]
    return "%s.%s;1" % (stem, suffix)


def _record(identifier: bytes, sector: int, size: int, flags: int = 0) -> bytes:
    """A directory record (ECMA-119 9.1); an even identifier length gets one padding byte."""
    length = 33 + len(identifier) + (1 - len(identifier) % 2)
    record = (
        bytes((length, 0))
        + both_32(sector)
        + both_32(size)
        + _DATE
        + bytes((flags, 0, 0))
        + both_16(1)
        + bytes((len(identifier),))
        + identifier
    )
    return _padded(record, length, b"\x00")


def _directory(entries: List[Tuple[bytes, int, int]], own_sector: int) -> bytes:
    """The root directory's sector: ``.``, ``..`` (both the root) and the files in order."""
    records = [_record(b"\x00", own_sector, SECTOR, _DIRECTORY), _record(b"\x01", own_sector, SECTOR, _DIRECTORY)]
    records.extend(_record(identifier, sector, size) for identifier, sector, size in entries)
    data = b"".join(records)
    if len(data) > SECTOR:
        raise IsoError("too many files for a seed ISO's one directory sector")
    return _padded(data, SECTOR, b"\x00")


def _path_table(root_sector: int, big_endian: bool) -> bytes:
    """The path table of a volume with only its root directory."""
    location = struct.pack(">I" if big_endian else "<I", root_sector)
    parent = struct.pack(">H" if big_endian else "<H", 1)
    return bytes((1, 0)) + location + parent + b"\x00\x00"


def _descriptor(
    kind: int, volume_id: bytes, system_id: bytes, sectors: int, root_sector: int, path_tables: Tuple[int, int], joliet: bool
) -> bytes:
    """A primary (kind 1) or Joliet supplementary (kind 2) volume descriptor (ECMA-119 8.4)."""
    blank = b"\x00\x20" if joliet else b" "
    fields = [
        bytes((kind,)),
        b"CD001",
        b"\x01",
        b"\x00",
        _padded(system_id, 32, blank),
        _padded(volume_id, 32, blank),
        b"\x00" * 8,
        both_32(sectors),
        _padded(_JOLIET_ESCAPE if joliet else b"", 32, b"\x00"),
        both_16(1),
        both_16(1),
        both_16(SECTOR),
        both_32(10),
        struct.pack("<I", path_tables[0]),
        b"\x00" * 4,
        struct.pack(">I", path_tables[1]),
        b"\x00" * 4,
        _record(b"\x00", root_sector, SECTOR, _DIRECTORY),
        blank * (128 // len(blank)) * 4,  # volume set, publisher, data preparer, application
        blank * (36 // len(blank)) + (b"\x00" if joliet else b" ") * 1,  # copyright file
        blank * (36 // len(blank)) + (b"\x00" if joliet else b" ") * 1,  # abstract file
        blank * (36 // len(blank)) + (b"\x00" if joliet else b" ") * 1,  # bibliographic file
        _UNSET_DATE * 4,
        b"\x01",
        b"\x00",
    ]
    return _padded(b"".join(fields), SECTOR, b"\x00")


def _terminator() -> bytes:
    return _padded(b"\xffCD001\x01", SECTOR, b"\x00")


def build(files: Mapping[str, bytes], volume_id: str = "cidata") -> bytes:
    """The ISO image holding ``files`` (name -> content) in its root directory."""
    names = sorted(files)
    if len({iso9660_name(name) for name in names}) != len(names):
        raise IsoError("two file names map to the same ISO 9660 name")
    placed: List[Tuple[str, int, int]] = []
    sector = _FIRST_FILE_SECTOR
    for name in names:
        size = len(files[name])
        placed.append((name, sector, size))
        sector += (size + SECTOR - 1) // SECTOR
    total = sector
    primary_entries = sorted((iso9660_name(name).encode("ascii"), start, size) for name, start, size in placed)
    joliet_entries = sorted((_ucs2(name), start, size) for name, start, size in placed)
    system_id = "LINUX"
    sectors = [
        b"\x00" * SECTOR * _PVD_SECTOR,
        _descriptor(
            1, volume_id.encode("ascii"), system_id.encode("ascii"), total, _ROOT_SECTOR, _PATH_TABLE_SECTORS[:2], joliet=False
        ),
        _descriptor(2, _ucs2(volume_id), _ucs2(system_id), total, _JOLIET_ROOT_SECTOR, _PATH_TABLE_SECTORS[2:], joliet=True),
        _terminator(),
        _padded(_path_table(_ROOT_SECTOR, False), SECTOR, b"\x00"),
        _padded(_path_table(_ROOT_SECTOR, True), SECTOR, b"\x00"),
        _padded(_path_table(_JOLIET_ROOT_SECTOR, False), SECTOR, b"\x00"),
        _padded(_path_table(_JOLIET_ROOT_SECTOR, True), SECTOR, b"\x00"),
        _directory(primary_entries, _ROOT_SECTOR),
        _directory(joliet_entries, _JOLIET_ROOT_SECTOR),
    ]
    for name in names:
        content = files[name]
        sectors.append(content + b"\x00" * (-len(content) % SECTOR))
    image = b"".join(sectors)
    if len(image) != total * SECTOR:  # the layout above is fixed: a mismatch is a bug here
        raise IsoError("seed ISO layout is %d bytes, not %d sectors" % (len(image), total))
    return image
