# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fetching install media on the host: size probes, streamed downloads with digests, and
remembered digests of files already verified."""

from __future__ import annotations

import hashlib
import os
from typing import Any, Iterable, Iterator, Optional

from ansible_collections.remotevirt.install.plugins.module_utils.errors import RemotevirtError


CHUNK_SIZE = 1 << 20
CONNECT_TIMEOUT = 30
# Extended attribute that remembers a verified digest together with the file's size and mtime,
# so a re-run does not read a multi-gigabyte image again when nothing touched it.
DIGEST_XATTR = "user.remotevirt.digest"


class DownloadError(RemotevirtError):
    """The URL could not be read."""


def _open(url: str, method: str, validate_certs: bool) -> Any:
    # Imported here: ansible's URL support (TLS, cryptography) costs tens of milliseconds, and
    # most runs never download anything.
    from urllib.error import HTTPError

    from ansible.module_utils.urls import open_url

    try:
        return open_url(url, method=method, validate_certs=validate_certs, timeout=CONNECT_TIMEOUT,
                        follow_redirects="safe")
    except HTTPError as error:
        raise DownloadError("cannot download %s: HTTP Error %s %s" % (url, error.code, error.reason))
    except Exception as error:  # urllib, ssl and socket errors all mean "cannot read this URL"
        raise DownloadError("cannot download %s: %s" % (url, getattr(error, "reason", None) or error))


def probe_size(url: str, validate_certs: bool = True) -> Optional[int]:
    """Content length the server reports for ``url`` (None when it reports none); nothing is read."""
    method = "HEAD" if url.lower().startswith(("http:", "https:")) else "GET"
    try:
        response = _open(url, method, validate_certs)
    except DownloadError:
        if method != "HEAD":
            raise
        response = _open(url, "GET", validate_certs)  # some servers refuse HEAD
    try:
        length = response.headers.get("Content-Length")
        return int(length) if length is not None and length.strip().isdigit() else None
    finally:
        response.close()


def stream(url: str, hasher: Any, validate_certs: bool = True) -> Iterator[bytes]:
    """The body of ``url`` in chunks, each also fed to ``hasher``."""
    response = _open(url, "GET", validate_certs)
    try:
        while True:
            try:
                chunk = response.read(CHUNK_SIZE)
            except Exception as error:  # a dropped connection mid-body
                raise DownloadError("download of %s broke off: %s" % (url, error))
            if not chunk:
                return
            hasher.update(chunk)
            yield chunk
    finally:
        response.close()


def digest_of(chunks: Iterable[bytes], algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()


def read_file(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK_SIZE)
            if not chunk:
                return
            yield chunk


def _stamp(path: str, algorithm: str) -> str:
    info = os.stat(path)
    return "%s:%d:%d" % (algorithm, info.st_size, info.st_mtime_ns)


def remembered_digest(path: str, algorithm: str) -> Optional[str]:
    """The digest recorded by ``remember_digest`` if the file is unchanged since, else None."""
    try:
        value = os.getxattr(path, DIGEST_XATTR).decode("ascii")
    except (OSError, AttributeError, UnicodeDecodeError):  # no xattr support, no record, or unreadable
        return None
    stamp, digest = value.rsplit(":", 1) if ":" in value else ("", value)
    return digest if stamp == _stamp(path, algorithm) else None


def remember_digest(path: str, algorithm: str, digest: str) -> None:
    """Record a verified digest on the file; silently skipped where xattrs are unsupported."""
    try:
        os.setxattr(path, DIGEST_XATTR, ("%s:%s" % (_stamp(path, algorithm), digest)).encode("ascii"))
    except (OSError, AttributeError):
        pass
