# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The format a volume this collection made was made with, kept on its file.

libvirt probes a directory pool's files from their content on every refresh, so a raw volume into
which a guest wrote a qcow2 header (naming any host file as its backing file) reads as qcow2. The
record on the file says what the content is: the guest's data.
"""

from __future__ import annotations

import os
from typing import Optional

# Extended attribute on the file of a volume this collection made: the format it was made with.
FORMAT_XATTR = "user.remotevirt.format"
# Formats without a header that names other files: what a guest writes into them stays content.
PLAIN_FORMATS = ("raw", "iso")


def recorded_format(path: str) -> Optional[str]:
    """The format this collection made the file's volume with (see FORMAT_XATTR); None for a
    volume made otherwise, or on a file system without user extended attributes."""
    try:
        return os.getxattr(path, FORMAT_XATTR).decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None


def made_plain(path: str) -> bool:
    """Whether the file is a volume this collection made raw or iso: whatever header its content
    holds, nothing reads it as an image that names other files."""
    return recorded_format(path) in PLAIN_FORMATS
