# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials in URLs, kept out of everything a run shows or logs.

A URL such as ``http://user:secret@mirror/tree`` works on the host, but its user information
must never reach a plan, a message, a diff or the host log: there it is shown as ``***@``.
"""

from __future__ import annotations

import re
from typing import Iterator, Optional

# scheme://userinfo@ where userinfo is anything up to the first '@' that comes before the host's
# end ('/', '?', '#' or whitespace): the same split urllib makes.
_USERINFO_RE = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s@]*)@")

MASK = "***"


def redact_url(url: Optional[str]) -> Optional[str]:
    """``url`` with its user information (name and password) replaced by ``***``."""
    if url is None:
        return None
    return _USERINFO_RE.sub(lambda match: match.group("scheme") + MASK + "@", url)


def redact_text(text: str) -> str:
    """``text`` with the user information of every URL in it masked (for messages and logs)."""
    return redact_url(text) or ""


def url_secrets(text: str) -> Iterator[str]:
    """The user information of each URL in ``text``, and its password part alone, for masking."""
    for match in _USERINFO_RE.finditer(text):
        userinfo = match.group("userinfo")
        if not userinfo:
            continue
        yield userinfo
        _user, sep, password = userinfo.partition(":")
        if sep and password:
            yield password
