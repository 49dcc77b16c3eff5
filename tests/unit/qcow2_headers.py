"""qcow2 headers for tests: the fields this collection reads, the rest zero."""

from __future__ import annotations

import struct

# magic, version, backing file offset and size, cluster bits, disk size
_START = struct.Struct(">4sIQIIQ")
V3_HEADER_LENGTH = 104


def qcow2_header(size: int, version: int = 3, incompatible: int = 0, backing: bytes = b"") -> bytes:
    """A qcow2 header of a ``size``-byte disk (version 3: 104 bytes with its incompatible features;
    version 2: 72), naming ``backing`` as its backing file when given (stored right after the header)."""
    length = V3_HEADER_LENGTH if version == 3 else 72
    offset = length if backing else 0
    header = _START.pack(b"QFI\xfb", version, offset, len(backing), 16, size).ljust(length, b"\0")
    if version == 3:
        header = header[:72] + incompatible.to_bytes(8, "big") + header[80:100] + length.to_bytes(4, "big")
    return header + backing
