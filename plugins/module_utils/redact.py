# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials in URLs, kept out of everything a run shows or logs.

A URL such as ``http://user:secret@mirror/tree`` works on the host, but its user information
must never reach a plan, a message, a diff or the host log: there it is shown as ``***@``.

Admins write passwords as they are, not percent-encoded: ``http://admin:p#w/rd?x@host/``. Where
the user information ends is therefore read the careful way: up to the *last* ``@`` of the URL,
unless what comes before it is plainly a host with a path (``http://host/a@b``, ``host:80/a@b``).
"""

from __future__ import annotations

import re
from typing import Iterator, Optional, Tuple

_SCHEME_RE = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://")
# A host (and port) followed by a path, query or fragment: an '@' after it is not user information.
_HOST_THEN_PATH_RE = re.compile(r"[^/?#@:\s]*(:[0-9]*)?[/?#]")
_DELIMITERS = "/?#"
# Pieces of a password split at characters URLs reserve are masked too when at least this long
# (a parser may show only the part after a '#' or '/'); shorter ones would garble every text.
_MIN_PIECE = 6

MASK = "***"


def _userinfo_end(text: str, start: int, end: int) -> Optional[int]:
    """Index of the '@' that ends the user information of the URL whose authority starts at
    ``start`` (right after ``scheme://``) and that runs to ``end``; None when it has none."""
    last_at = text.rfind("@", start, end)
    if last_at < 0:
        return None
    if not _HOST_THEN_PATH_RE.match(text, start, last_at):
        return last_at
    # A host and a path come first: only an '@' before the path's start ends user information.
    first_delimiter = min((text.find(c, start, last_at) for c in _DELIMITERS if text.find(c, start, last_at) >= 0))
    at = text.rfind("@", start, first_delimiter)
    return at if at >= 0 else None


def _spans(text: str, whole: bool) -> Iterator[Tuple[int, int]]:
    """(start, end) of the user information of each URL in ``text``; a URL runs to the next
    whitespace, or to the end of ``text`` when ``whole`` (a single option value)."""
    position = 0
    while True:
        match = _SCHEME_RE.search(text, position)
        if match is None:
            return
        start = match.end()
        following = _SCHEME_RE.search(text, start)
        space = re.compile(r"\s").search(text, start)
        end = len(text) if whole else (space.start() if space else len(text))
        if following is not None and following.start() < end:
            end = following.start()
        at = _userinfo_end(text, start, end)
        if at is not None:
            yield start, at
        position = end if end > start else start + 1


def redact_text(text: str, whole: bool = False) -> str:
    """``text`` with the user information of every URL in it masked (for messages and logs)."""
    if "://" not in text:
        return text
    pieces, position = [], 0
    for start, at in _spans(text, whole):
        pieces.append(text[position:start] + MASK)
        position = at
    pieces.append(text[position:])
    return "".join(pieces)


def redact_url(url: Optional[str]) -> Optional[str]:
    """``url`` with its user information (name and password) replaced by ``***``."""
    if url is None:
        return None
    return redact_text(url, whole=True)


def url_secrets(text: str) -> Iterator[str]:
    """The user information of each URL in ``text`` (an option's whole value), its password
    alone, and the longer pieces of that password between reserved characters, for masking."""
    for start, at in _spans(text, whole=True):
        userinfo = text[start:at]
        if not userinfo:
            continue
        yield userinfo
        _user, sep, password = userinfo.partition(":")
        if not (sep and password):
            continue
        yield password
        for piece in re.split(r"[/?#@\s]", password):
            if len(piece) >= _MIN_PIECE and piece != password:
                yield piece
