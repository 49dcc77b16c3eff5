# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials in URLs, kept out of everything a run shows or logs.

A URL such as ``http://user:secret@mirror/tree`` works on the host, but its user information
must never reach a plan, a message, a diff or the host log: there it is shown as ``***@``. The
values of its query and of its path's parameters are shown as ``***`` too (``?token=***``,
``;jsessionid=***``): a token, a signature or a session id there is a credential as well.

Admins write passwords as they are, not percent-encoded: ``http://admin:p#w/rd?x@host/``. Where
the user information ends is therefore read the careful way: from the first ``://`` up to the
*last* ``@`` of the URL, unless what comes first is plainly a host with a path
(``http://host/a@b``, ``host:80/a@b``). A URL in free text runs to the next whitespace; an option's
whole value is one URL, spaces included. Every step is a linear scan: values can be large.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Optional, Tuple

# A host (and port) followed by a path, query or fragment: an '@' after it is not user information.
_HOST_THEN_PATH_RE = r"(\[[^\]/?#@\s]*\]|[^/?#@:\s\[]*)(:[0-9]*)?[/?#]"
_WORD_RE = r"\S+"
# A scheme, then slashes or backslashes: the start of a value written as a URL, its '://' mistyped.
_LOOSE_START_RE = r"([A-Za-z][A-Za-z0-9+.-]*:)?([/\\]*)"
# What may come before a URL's '://' for it to be the URL's own: a scheme, after spaces.
_SCHEME_RE = r"\s*[A-Za-z][A-Za-z0-9+.-]*\Z"
# A data: URL, also quoted, bracketed, spaced or mistyped ("data :", 'data;', data%3A): its content follows.
_DATA_URL_RE = r"""(?i)[\s"'`<(\[{]*data\s*(?::|;|,|%3a)"""
_DELIMITERS = "/?#"
# Characters that look like a URL's '@' or ':' (fullwidth and small forms), read as them.
_LOOKALIKES = {0xFF20: "@", 0xFE6B: "@", 0xFF1A: ":", 0xFE55: ":"}
# Pieces of a password split at characters URLs reserve are masked too when at least this long
# (a parser may show only the part after a '#' or '/'); shorter ones would garble every text.
_MIN_PIECE = 6

MASK = "***"
# Options of an NFS URL that libnfs reads (``nfs://server/export?version=4&nfsport=2049``), as libnfs
# compares them (exactly), with the values it takes: settings, never secrets, so they stay shown. libnfs
# reads all but ``sec`` as numbers. Any other query value of any URL is masked, and so is an option's
# second value (libnfs reads the last, so a token could follow a real setting).
_LIBNFS_NUMBERS = frozenset(
    (
        "auto-traverse-mounts",
        "autoreconnect",
        "debug",
        "dircache",
        "gid",
        "mountport",
        "nfsport",
        "pagecache",
        "readahead",
        "retrans",
        "rsize",
        "tcp-syncnt",
        "timeo",
        "uid",
        "version",
        "wsize",
    )
)
_LIBNFS_SECURITY = frozenset(("sys", "krb5", "krb5i", "krb5p"))
_NUMBER_RE = r"[0-9]{1,10}\Z"
# What may close the word a URL is in, after its last query value.
_CLOSING = "'\":,;.)"


def _userinfo_end(text: str, start: int, end: int) -> Optional[int]:
    """Index of the '@' that ends the user information of the URL whose authority starts at
    ``start`` (right after ``://``) and that runs to ``end``; None when it has none."""
    last_at = text.rfind("@", start, end)
    if last_at < 0:
        return None
    host_then_path = re.compile(_HOST_THEN_PATH_RE).match(text, start, last_at)  # re's cache: compiled once
    if not host_then_path or host_then_path.group(2) is not None:
        # No host first; or 'user:2024/Pass@host', which reads as host 'user' with port 2024 and a
        # path, and as a password with a '/': which one cannot be told, so it is masked as one.
        return last_at
    # A host and a path come first: only an '@' before the path's start ends user information.
    path_start = min(found for found in (text.find(c, start, last_at) for c in _DELIMITERS) if found >= 0)
    at = text.rfind("@", start, path_start)
    return at if at >= 0 else None


def _loose_authority(text: str) -> Optional[int]:
    """Where the host part of an option's value written as a URL without its ``://`` would start
    (``http:/u:pw@host``, ``http:u:pw@host``, ``//u:pw@host``, ``u:pw@host``): after a scheme, or two
    slashes, and the slashes or backslashes that follow. None for a value not written so (a path)."""
    match = re.match(_LOOSE_START_RE, text)
    if match is None or not (match.group(1) or match.group(2).startswith(("//", "\\\\"))):
        return None
    return match.end()


def _loose_url(text: str) -> Iterator[Tuple[int, Optional[int], int]]:
    """_urls of an option's whole value whose part before its query has no ``://`` of its own (see
    _mistyped_before_separator): written as a URL
    (``http:/u:pw@host/x``), holding ``user:password@`` (``https//u:pw@host``, ``host/u:p/w@x``), or
    with a query (``https//host/x?token=...``, ``host?token=...``). Passwords are written as they are
    (``p#w/rd?x``): the user information runs to the last ``@`` before any URL in the query."""
    query = min((found for found in (text.find("?"), text.find("#")) if found >= 0), default=len(text))
    inner = text.find("://", query)
    at = text.rfind("@", 0, inner if inner >= 0 else len(text))
    start = _loose_authority(text)
    if start is None and at >= 0 and not text.startswith("/"):
        # user:password@ (the password may hold '/'), or a token alone as the user (token@host)
        colon = text.find(":", 0, at)
        before = colon if colon >= 0 else at
        start = max(text.rfind("/", 0, before), text.rfind("\\", 0, before)) + 1
    if start is None and ("?" in text or "#" in text or "=" in text):
        start = 0  # no user information; the query's values are masked
    if start is None:
        return
    userinfo_end = at if at >= start else None
    yield start, userinfo_end, len(text)
    parameters = _parameters_without_query(text, start if userinfo_end is None else userinfo_end + 1)
    if parameters is not None:
        yield parameters, len(text), len(text)


def _parameters_without_query(text: str, start: int) -> Optional[int]:
    """Where the parameters of a mistyped URL without a query start (``host/x;token=...``,
    ``host/x&token=...``): all of them are masked, as user information is."""
    if "?" in text[start:] or "#" in text[start:]:
        return None
    found = [position for position in (text.find(";", start), text.find("&", start)) if position >= 0]
    return min(found) + 1 if found and min(found) + 1 < len(text) else None


def _is_data_url(text: str) -> bool:
    """Whether ``text`` is written as a data: URL, also mistyped (quoted, spaces before or after
    ``data``, ``data;``, ``data,``, ``data%3A``)."""
    return re.match(_DATA_URL_RE, text) is not None


def _data_url(text: str) -> Iterator[Tuple[int, Optional[int], int]]:
    """A data: URL carries its content (an inline kickstart with its passwords): everything after its
    ``data`` and separator is masked, as user information is, whatever it holds (a kickstart's own URLs
    among them, a media type mistyped)."""
    match = re.match(_DATA_URL_RE, text)
    if match is not None and match.end() < len(text):
        yield match.end(), len(text), len(text)


def _mistyped_before_separator(text: str) -> bool:
    """Whether the part of ``text`` before its query has no ``://``, or one that is not a URL's own (not
    after a scheme: ``http:/u:pa://ss@host``, a password holding it): read the careful way."""
    before_query = text.split("?", 1)[0].split("#", 1)[0]
    separator = before_query.find("://")
    return separator < 0 or re.match(_SCHEME_RE, before_query[:separator]) is None


def _urls(text: str, whole: bool, loose: bool = True) -> Iterator[Tuple[int, Optional[int], int]]:
    """(start of the authority, end of the user information or None, end) of each URL in ``text``.

    With ``loose``, an option's whole value written as a URL whose ``://`` is mistyped or left out (a
    typo a refusal names, perhaps with another URL in its query) is read the careful way too: its user
    information runs to the last ``@`` before its query; a data: URL's content is masked whole."""
    # Read with look-alikes of '@' and ':' as those (one character each: the spans stay the text's own):
    # a password before a fullwidth '＠' is what a refusal of that URL would otherwise show.
    text = text.translate(_LOOKALIKES)
    if whole and loose and _is_data_url(text):
        yield from _data_url(text)
        return
    if whole and loose and _mistyped_before_separator(text):
        yield from _loose_url(text)
        return
    if "://" not in text:
        return
    regions = [(0, len(text))] if whole else [match.span() for match in re.finditer(_WORD_RE, text)]
    for start, end in regions:
        separator = text.find("://", start, end)
        if separator >= 0:
            authority = separator + 3
            while authority < end and text[authority] == "/":
                authority += 1  # 'https:///u:pw@host': the slashes too many come before the authority
            yield authority, _userinfo_end(text, authority, end), end


def _spans(text: str, whole: bool, loose: bool = True) -> Iterator[Tuple[int, int]]:
    """(start, end) of the user information of each URL in ``text``."""
    for start, at, _end in _urls(text, whole, loose):
        if at is not None:
            yield start, at


def _is_nfs(text: str, start: int) -> bool:
    """Whether the URL whose authority starts at ``start`` (right after ``://``) is an ``nfs:`` URL (not
    ``foo-nfs:`` nor ``x+nfs:``: a scheme may hold letters, digits, ``+``, ``-`` and ``.``)."""
    scheme = start - 6
    return (
        scheme >= 0
        and text[scheme : start - 3].lower() == "nfs"
        and (scheme == 0 or not (text[scheme - 1].isalnum() or text[scheme - 1] in "+-."))
    )


def _libnfs_setting(name: str, value: str) -> bool:
    """Whether ``name=value`` is a setting libnfs reads, with a value it takes."""
    if name in _LIBNFS_NUMBERS:
        return re.match(_NUMBER_RE, value) is not None
    return name == "sec" and value in _LIBNFS_SECURITY


def _query_value_spans(text: str, start: int, end: int, nfs: bool = False) -> Iterator[Tuple[int, int]]:
    """(start, end) of each path parameter's value (``;jsessionid=...``) and each query value of the URL
    whose host part starts at ``start``, of each query piece without a name (``?TOKEN``), and of its
    fragment (``#access_token=...``): the short plain values of libnfs's options excepted when it is an
    ``nfs`` URL."""
    fragment = text.find("#", start, end)
    stop = end if fragment < 0 else fragment
    query = text.find("?", start, stop)
    yield from _path_parameter_spans(text, start, stop if query < 0 else query)
    position = stop if query < 0 else query + 1
    named = set()  # the libnfs options seen: a second value is no setting
    while position < stop:
        amp = text.find("&", position, stop)
        amp = stop if amp < 0 else amp
        equals = text.find("=", position, amp)
        value_start = equals + 1 if equals >= 0 else position
        value_end = _word_end(text, value_start, amp)
        name = text[position:equals] if equals >= 0 else ""
        setting = nfs and name not in named and _libnfs_setting(name, text[value_start:value_end])
        named.add(name)
        if value_end > value_start and not setting:
            yield value_start, value_end
        position = amp + 1
    if fragment >= 0 and _word_end(text, fragment + 1, end) > fragment + 1:
        yield fragment + 1, _word_end(text, fragment + 1, end)


def _path_parameter_spans(text: str, start: int, end: int) -> Iterator[Tuple[int, int]]:
    """(start, end) of the value of each parameter of the path between ``start`` and ``end``
    (``/x.iso;jsessionid=...``): a session id there is a credential, as a query value is."""
    semicolon = text.find(";", start, end)
    while semicolon >= 0:
        following = min((found for found in (text.find(c, semicolon + 1, end) for c in ";/") if found >= 0), default=end)
        equals = text.find("=", semicolon + 1, following)
        value_end = _word_end(text, equals + 1, following) if equals >= 0 else -1
        if value_end > equals + 1:
            yield equals + 1, value_end
        semicolon = text.find(";", following, end) if following < end else -1


def _word_end(text: str, start: int, end: int) -> int:
    """``end`` before the quotes or punctuation that close the word (a URL quoted in a command line,
    followed by ':' in a message): they stay shown; one inside the value is masked with it."""
    while end > start and text[end - 1] in _CLOSING:
        end -= 1
    return end


def _masked_spans(text: str, whole: bool) -> Iterator[Tuple[int, int]]:
    """The user information and the query values of each URL in ``text``, in order: a query may
    carry a token or a signature (``?token=...``, ``X-Amz-Signature=...``), as secret as a password."""
    for start, at, end in _urls(text, whole):
        if at is not None:
            yield start, at
        yield from _query_value_spans(text, start if at is None else at + 1, end, _is_nfs(text, start))


def redact_text(text: str, whole: bool = False) -> str:
    """``text`` with the user information, the query values and the fragment of every URL in it masked
    (for messages and logs)."""
    pieces, position = [], 0
    # Sorted and joined where they overlap: a mistyped URL's parameters are masked whole, and again
    # each value among them.
    for start, end in sorted(_masked_spans(text, whole)):
        if start < position:  # within the span masked last: one mask to the further end
            position = max(position, end)
            continue
        pieces.append(text[position:start] + MASK)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


# 'user:password@' written without a scheme in free text (a refused value quoted in a message): a name,
# a colon, anything up to an '@' followed by more, none of it spaces or quotes. Not a URL's scheme and
# slashes, nor after a '/' (redact_text has masked a URL's user information already).
_BARE_USERINFO_RE = r"(?<![\w/@:.+-])[^\s'\"`/@:]+:(?![/\\])[^\s'\"`@]*@(?=[^\s'\"`@])"


def redact_message(text: str) -> str:
    """A message, an error or a problem as a run shows or logs it: redact_text, and the credentials of
    a value written 'user:password@host' without a scheme (where the message quotes what it refuses)."""
    return re.sub(_BARE_USERINFO_RE, MASK + "@", redact_text(text))


def redact_url(url: Optional[str]) -> Optional[str]:
    """``url`` with its user information (name and password), its query values and its fragment
    replaced by ``***``."""
    if url is None:
        return None
    return redact_text(url, whole=True)


def userinfo_secrets(text: Any) -> Iterator[str]:
    """The credentials of a host name written with URL habits ('user:password@host', where
    libvirt takes no credentials), and the password alone: to be masked wherever the value shows."""
    if not isinstance(text, str) or "@" not in text:
        return
    userinfo = text[: text.rindex("@")]
    if userinfo:
        yield userinfo
    password = userinfo.partition(":")[2]
    if password:
        yield password


def url_secrets(text: str, loose: bool = True) -> Iterator[str]:
    """The user information of each URL in ``text`` (an option's whole value), its password
    alone, and the longer pieces of that password between reserved characters, for masking.
    ``loose``: also of a value written as a URL with its ``://`` mistyped (see _urls), which only
    options that take URLs are read as (a path such as ``deb:1@amd64.iso`` would make ``1`` a secret)."""
    for start, at in _spans(text, whole=True, loose=loose):
        userinfo = text[start:at]
        if not userinfo:
            continue
        yield userinfo
        if loose and _is_data_url(text):
            return  # a data: URL's content, whole: no password inside to pick out
        colon = userinfo.translate(_LOOKALIKES).find(":")
        password = userinfo[colon + 1 :] if colon >= 0 else ""
        if not password:
            continue
        yield password
        for piece in re.split(r"[/?#@\s]", password):
            if len(piece) >= _MIN_PIECE and piece != password:
                yield piece


def query_secrets(text: str, loose: bool = True) -> Iterator[str]:
    """The query values of each URL in ``text`` (an option's whole value) at least ``_MIN_PIECE``
    long, for masking wherever the value shows; shorter ones (``?raw=1``) would garble every text.
    ``loose`` as for url_secrets."""
    for start, at, end in _urls(text, whole=True, loose=loose):
        for value_start, value_end in _query_value_spans(text, start if at is None else at + 1, end, _is_nfs(text, start)):
            if value_end - value_start >= _MIN_PIECE:
                yield text[value_start:value_end]
