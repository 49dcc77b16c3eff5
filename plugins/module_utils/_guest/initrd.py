# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Adding a file to an initrd: Linux unpacks every cpio archive concatenated in the initramfs,
compressed or not, so appending one small uncompressed archive puts a kickstart at ``/``."""

from __future__ import annotations

import os
import time

_TRAILER = "TRAILER!!!"


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _entry(name: str, data: bytes, mode: int, inode: int, mtime: int) -> bytes:
    encoded = name.encode("utf-8") + b"\0"
    fields = (inode, mode, 0, 0, 1, mtime, len(data), 0, 0, 0, 0, len(encoded), 0)
    header = b"070701" + b"".join(b"%08X" % value for value in fields)
    header += encoded
    return header + _pad(len(header)) + data + _pad(len(data))


def newc_archive(name: str, data: bytes, mode: int = 0o100600) -> bytes:
    """A cpio archive in the kernel's "newc" format holding one regular file ``name``."""
    mtime = int(time.time())
    return _entry(name, data, mode, 1, mtime) + _entry(_TRAILER, b"", 0, 0, 0)


def append_file(initrd_path: str, name: str, data: bytes) -> None:
    """Append ``data`` as file ``/name`` to the initrd at ``initrd_path`` (4-byte aligned)."""
    with open(initrd_path, "ab") as initrd:
        size = initrd.tell()
        initrd.write(_pad(size))
        initrd.write(newc_archive(name, data))
        initrd.flush()
        os.fsync(initrd.fileno())
