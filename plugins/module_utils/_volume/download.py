# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fetching install media on the host: size probes, streamed downloads that are counted against
the size the server announced and checked against the declared format, and remembered digests
of files already verified."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import time
from typing import Any, Callable, Dict, Iterable, Iterator, NamedTuple, Optional, Tuple
from urllib.parse import quote, urlsplit, urlunsplit

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import ReportedError
from ansible_collections.remotevirt.install.plugins.module_utils._common.own_directory import foreign_directory_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field, Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_text
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import whole_number

CHUNK_SIZE = 1 << 20
# Bytes written between two hints to the kernel to write them out and drop them from the page cache.
WRITE_BEHIND_BYTES = 16 << 20
CONNECT_TIMEOUT = 30
# How long the first bytes read when planning may take in all: each read waits CONNECT_TIMEOUT at
# most, but a server sending a byte at a time would hold check mode for as long as it likes.
HEAD_SECONDS = 60
# Extended attribute that remembers a verified digest together with the file's size and mtime,
# so a re-run does not read a multi-gigabyte image again when nothing touched it, and the
# length of the download, so a raw image grown after its download still verifies by its prefix.
DIGEST_XATTR = "user.remotevirt.digest"
# Bytes to see before anything is written: an ISO 9660 volume descriptor ends at 0x8006.
HEAD_BYTES = 0x8006
QCOW2_MAGIC = b"QFI\xfb"
ISO9660_MAGIC_OFFSET = 0x8001
ISO9660_MAGIC = b"CD001"
# Where each format's header gives its disk's size, as libvirt reads it (its storage file probe):
# (offset of the signature, signature, offset of the size, byte order, bytes per unit); 8-byte sizes.
_HEADER_SIZES = {
    "qcow2": (0, QCOW2_MAGIC, 24, "big", 1),
    "qed": (0, b"QED\0", 48, "little", 1),
    "vmdk": (0, b"KDMV", 12, "little", 512),  # a sparse extent; a text descriptor names other files
    "vdi": (0x40, b"\x7f\x10\xda\xbe", 0x170, "little", 1),
    "vpc": (0, b"conectix", 40, "big", 1),  # a dynamic VHD's copy of its footer; a fixed one has it at its end
}
# Leading bytes of images whose format puts its signature at the start.
_MAGICS = {
    "qcow2": ((0, QCOW2_MAGIC),),
    "qed": ((0, b"QED\0"),),
    "vdi": ((0x40, b"\x7f\x10\xda\xbe"),),
    "vmdk": ((0, b"KDMV"), (0, b"# Disk DescriptorFile")),
    "iso": ((ISO9660_MAGIC_OFFSET, ISO9660_MAGIC),),
}
# Headers libvirt reads a directory pool's file by (it probes formats from content): a raw download
# that starts with one would be described as that format, its backing file whatever the header names.
_NOT_RAW = (
    ("qcow2", QCOW2_MAGIC),
    ("qed", b"QED\0"),
    ("vmdk", b"KDMV"),
    ("vmdk", b"# Disk DescriptorFile"),
    ("vpc", b"conectix"),
    ("luks", b"LUKS\xba\xbe"),
)
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<?xml")
# Leading bytes of the compressed formats a download can be decompressed from.
COMPRESSED_MAGICS = {"xz": b"\xfd7zXZ\x00", "gzip": b"\x1f\x8b", "bzip2": b"BZh", "zstd": b"\x28\xb5\x2f\xfd"}


# Why a download without a checksum needs a body whose end the server marks.
UNMARKED_END = (
    "served without a length (no Content-Length, not in HTTP chunks): where it ends cannot be told "
    "from a connection that broke off, so a cut image would be kept; give checksum to download it"
)


class DownloadError(ReportedError):
    """The URL could not be read, or what it gave is not what was asked for.

    The message never shows the user information of a URL.
    """

    def __init__(self, message: str) -> None:
        super().__init__(redact_text(message))


class UrlAccess(Record):
    """How the host reads URLs: certificate checks and the credentials of ``url_username``/``url_password``."""

    validate_certs: bool = True
    username: Optional[str] = None
    password: Optional[str] = Field(default=None, in_repr=False)

    @classmethod
    def from_params(cls, params: Any) -> "UrlAccess":
        return cls(
            validate_certs=params.get("validate_certs", True),
            username=params.get("url_username"),
            password=params.get("url_password"),
        )


def with_credentials(url: str, access: UrlAccess) -> str:
    """``url`` with ``access``'s credentials as its user information, for schemes that only take them there (FTP)."""
    if not access.username:
        return url
    parts = urlsplit(url)
    userinfo = quote(access.username, safe="") + (":" + quote(access.password, safe="") if access.password else "")
    return urlunsplit(parts._replace(netloc="%s@%s" % (userinfo, parts.netloc.rpartition("@")[2])))


def without_credentials(url: str) -> str:
    """``url`` without user information: url_username and url_password take its place."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _auth(url: str, access: UrlAccess) -> Tuple[str, Dict[str, Any]]:
    """The URL and open_url's credential arguments for ``access``."""
    if not access.username:
        return url, {}
    if url.lower().startswith("ftp:"):
        return with_credentials(url, access), {}
    if not url.lower().startswith(("http:", "https:")):
        return url, {}
    from ansible.module_utils.urls import basic_auth_header

    # Sent with the first request (servers that hide private files answer 404, not 401, without
    # them), never carried along a redirect to another host; a redirect on the same host gets
    # them again when it asks (the password manager is bound to this host).
    password = access.password or ""
    return without_credentials(url), {
        "url_username": access.username,
        "url_password": password,
        "force_basic_auth": False,
        "unredirected_headers": ["Authorization"],
        "headers": {"Authorization": basic_auth_header(access.username, password)},
    }


class _LocalResponse:
    """A file of the host opened for a ``file:`` URL, read as a response is."""

    def __init__(self, source: Any, length: int, content_type: Optional[str]) -> None:
        self.source = source
        self.headers = {"Content-Length": str(length), "Content-Type": content_type or "application/octet-stream"}

    def read(self, size: int = -1) -> bytes:
        return self.source.read(size)

    def close(self) -> None:
        self.source.close()


def _open_local(url: str) -> _LocalResponse:
    """The file a ``file:`` URL names, opened where it leads as planning judged it (see the
    runner's source checks) and judged again on what was opened: each directory on the way opened
    without following a link, so a link swapped in after the plan fails to open, and the file must
    be a regular file, readable by everyone, none of the host's own files."""
    # Imported here: only file: downloads ask.
    import mimetypes
    from urllib.parse import unquote

    from ansible_collections.remotevirt.install.plugins.module_utils._common.host_files import host_file_problem

    path = unquote(url[len("file://") :].split("#", 1)[0])
    real = os.path.realpath(path)
    try:
        descriptor = _open_without_links(real)
    except OSError as error:
        raise DownloadError("cannot download %s: %s" % (url, error.strerror or error))
    try:
        info = os.fstat(descriptor)
        problem = ""
        if not stat.S_ISREG(info.st_mode):
            problem = "not a regular file"
        elif not info.st_mode & stat.S_IROTH:
            problem = "a file that not every user of the host may read"
        else:
            problem = host_file_problem(real, "source_url")
            now = os.stat(real)
            if not problem and (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
                problem = "replaced while it was opened"
        if problem:
            raise DownloadError("cannot download %s: %s" % (url, problem))
        source = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    return _LocalResponse(source, info.st_size, mimetypes.guess_type(real)[0])


def _open_without_links(real: str) -> int:
    """A descriptor of the file at the link-free path ``real``, each directory on the way opened in
    the one before, none of them a link, each searchable by everyone (O_NONBLOCK: a FIFO never blocks)."""
    directory = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        parts = [part for part in real.split("/") if part]
        for index, part in enumerate(parts):
            if not os.fstat(directory).st_mode & stat.S_IXOTH:
                raise OSError(errno.EACCES, "a directory on the way keeps others out")
            last = index == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_NONBLOCK if last else os.O_DIRECTORY)
            opened = os.open(part, flags, dir_fd=directory)
            os.close(directory)
            directory = opened
        return directory
    except BaseException:
        os.close(directory)
        raise


def _open(url: str, method: str, access: UrlAccess, headers: Optional[Dict[str, str]] = None) -> Any:
    # Imported here: ansible's URL support (TLS, cryptography) costs tens of milliseconds, and
    # most runs never download anything.
    from urllib.error import HTTPError

    from ansible.module_utils.urls import open_url

    if url[:5].lower() == "file:":
        return _open_local(url)
    target, auth = _auth(url, access)
    if headers and url.lower().startswith(("http:", "https:")):
        auth = dict(auth, headers=dict(auth.get("headers") or {}, **headers))
    try:
        # decompress=False: the bytes as served (an image is never unpacked behind the user's back),
        # so they can be counted against Content-Length.
        return open_url(
            target,
            method=method,
            validate_certs=access.validate_certs,
            timeout=CONNECT_TIMEOUT,
            follow_redirects="safe",
            decompress=False,
            **auth,
        )
    except HTTPError as error:
        raise DownloadError("cannot download %s: HTTP Error %s %s" % (url, error.code, _without_parameters(error.reason)))
    except Exception as error:  # urllib, ssl and socket errors all mean "cannot read this URL"
        raise DownloadError("cannot download %s: %s" % (url, _without_parameters(getattr(error, "reason", None) or error)))


def _without_parameters(reason: Any) -> str:
    """A server's or the system's error text with every query and path parameter masked: it may quote a
    path with those of a URL the user never gave (a redirect's ``;jsessionid=...``), or a short token
    Ansible does not mask."""
    text = re.sub(r";[^\s/?#'\"]+", ";***", str(reason))
    return re.sub(r"\?[^\s'\"]*", "?***", text)


def _announced_length(response: Any) -> Optional[int]:
    """The Content-Length, None without one or when it is no number (ASCII digits only: ``str.isdigit``
    also takes ``²``, which ``int`` refuses)."""
    length = response.headers.get("Content-Length")
    return int(length) if length is not None and re.fullmatch(r"[0-9]+", length.strip()) else None


def _end_marked(response: Any) -> bool:
    """Whether the server marks where the body ends: by its Content-Length, or by HTTP chunks (the
    last, empty one ends it; a chunked body cut short is an error). A body that simply ends when the
    connection closes (HTTP/1.0 without a length, FTP) looks complete however early it stops."""
    # http.client's own verdict: it reads chunks only for a Transfer-Encoding of exactly "chunked", and
    # reads any other body (x-chunked, "gzip, chunked") until the connection closes.
    return _announced_length(response) is not None or getattr(response, "chunked", False) is True


def end_problem(url: str, access: Optional[UrlAccess] = None) -> Optional[str]:
    """Why a download of ``url`` that no checksum verifies could keep a cut image (UNMARKED_END), or
    None: asked when planning a download whose length the server did not give, so that check mode
    refuses what the download would. Only the response's headers are read."""
    if url[:5].lower() == "file:":
        return None  # a file of the host: its length is known
    try:
        response = _open(url, "GET", access or UrlAccess())
    except DownloadError:
        return None  # the download itself fails, and says why
    try:
        return None if _end_marked(response) else UNMARKED_END
    finally:
        response.close()


def probe_size(url: str, access: Optional[UrlAccess] = None) -> Optional[int]:
    """Content length the server reports for ``url`` (None when it reports none); nothing is read."""
    access = access or UrlAccess()
    method = "HEAD" if url.lower().startswith(("http:", "https:")) else "GET"
    try:
        response = _open(url, method, access)
    except DownloadError:
        if method != "HEAD":
            raise
        response = _open(url, "GET", access)  # some servers refuse HEAD
    try:
        length = _announced_length(response)
    finally:
        response.close()
    if length is None and url.lower().startswith("ftp:"):
        # Python's FTP client reads the length from the server's transfer reply, which many servers
        # (pyftpdlib's among them) leave out; the SIZE command asks for it.
        length = _ftp_size(with_credentials(url, access))
    return length


class ServedHead(NamedTuple):
    """What the first bytes a download serves tell when planning: ``problem``, why the upload would
    refuse them (None: it would not); ``image_size``, the size of the disk the image's header gives
    (None: not read, or a format whose header this module does not read)."""

    problem: Optional[str] = None
    image_size: Optional[int] = None


def judge_head(url: str, fmt: str, refuse_compressed: bool, access: Optional[UrlAccess] = None) -> ServedHead:
    """The first bytes ``url`` serves, judged as an image of format ``fmt`` (see content_problem) and
    read for its size: at plan time, so that check mode refuses what the download would and predicts
    the volume it makes. Only the first HEAD_BYTES are read; the connection is closed then."""
    try:
        head, content_type = first_bytes(url, HEAD_BYTES, access or UrlAccess())
    except DownloadError:
        return ServedHead()  # the download itself fails (or a body cut short is read again), and says why
    return judged_image(head, fmt, content_type, refuse_compressed)


def judged_image(head: bytes, fmt: str, content_type: Optional[str], refuse_compressed: bool = False) -> ServedHead:
    """An image's first bytes ``head`` judged as format ``fmt``, with the size its header gives."""
    problem = content_problem(head, fmt, content_type, refuse_compressed)
    return ServedHead(problem, None if problem else image_size(head, fmt))


def image_size(head: bytes, fmt: str) -> Optional[int]:
    """The size of the disk an image's header gives (what libvirt reports as the volume's capacity
    once the image is in it: qcow2, qed, a sparse vmdk, vdi, a dynamic vpc), or None where the
    image's first bytes do not say it."""
    layout = _HEADER_SIZES.get(fmt)
    if layout is None:
        return None
    where, signature, offset, order, unit = layout
    if head[where : where + len(signature)] != signature or len(head) < offset + 8:
        return None
    return int.from_bytes(head[offset : offset + 8], "big" if order == "big" else "little") * unit


def open_head(url: str, size: int, access: UrlAccess, asked_whole: Callable[[DownloadError], bool] = lambda _error: True) -> Any:
    """The response to a request for the first ``size`` bytes of ``url``, asked as a range: a server
    that honours it sends no more (one that does not is cut off by its reader). When the ranged
    request fails (an empty file's 416, a server refusing ranges) and ``asked_whole`` says so for its
    error, asked again as a download asks. Raises DownloadError when it cannot be opened."""
    try:
        return _open(url, "GET", access, {"Range": "bytes=0-%d" % (size - 1)})
    except DownloadError as error:
        if not asked_whole(error):
            raise
        return _open(url, "GET", access)


def first_bytes(
    url: str, size: int, access: UrlAccess, asked_whole: Callable[[DownloadError], bool] = lambda _error: True
) -> Tuple[bytes, Optional[str]]:
    """The first ``size`` bytes ``url`` serves and its Content-Type (see open_head); the connection is
    closed then. Raises DownloadError when they cannot be read."""
    response = open_head(url, size, access, asked_whole)
    try:
        return read_head(response, size)
    except Exception as error:  # a connection dropped in the first bytes
        raise DownloadError("cannot download %s: %s" % (url, error))
    finally:
        response.close()


class SlowHead(DownloadError):
    """The first bytes did not arrive within HEAD_SECONDS."""


def head_deadline() -> float:
    """When the first bytes read from now, to judge them when planning, must have arrived."""
    return time.monotonic() + HEAD_SECONDS


def read_some(response: Any, size: int, deadline: float) -> bytes:
    """At most ``size`` bytes of ``response``, as soon as some arrived (one read of the connection
    where the response allows it, so that a server sending a byte at a time meets ``deadline``);
    SlowHead once ``deadline`` passed."""
    if time.monotonic() > deadline:
        raise SlowHead("the server sent the first bytes too slowly to judge them when planning (%d s)" % HEAD_SECONDS)
    read1 = getattr(response, "read1", None)
    return read1(size) if read1 is not None else response.read(size)


def read_head(response: Any, size: int, deadline: Optional[float] = None) -> Tuple[bytes, Optional[str]]:
    """The first ``size`` bytes of ``response`` (fewer when its body is shorter), and its Content-Type
    (None for a stream without headers, such as a pipe); SlowHead when they take longer than
    HEAD_SECONDS (or until ``deadline``)."""
    deadline = head_deadline() if deadline is None else deadline
    head = b""
    while len(head) < size:
        chunk = read_some(response, size - len(head), deadline)
        if not chunk:
            break
        head += chunk
    headers = getattr(response, "headers", None)
    return head, headers.get("Content-Type") if headers is not None else None


def served_length(response: Any) -> Optional[int]:
    """The length of the whole body that ``response`` is (or, for a ranged answer, is the start of):
    its Content-Range's total, else its Content-Length where it answers with the whole body; None
    when it does not say."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    content_range = headers.get("Content-Range")
    if content_range is not None:
        total = re.fullmatch(r"bytes [0-9]+-[0-9]+/([0-9]+)", content_range.strip())
        return int(total.group(1)) if total else None
    status = getattr(response, "status", None)
    return _announced_length(response) if status in (None, 200) else None


def _ftp_size(url: str) -> Optional[int]:
    """The size the FTP server reports for ``url`` by its SIZE command (None when it reports none),
    reached as Python's FTP client reaches the file: logged in, then into each directory in turn."""
    # Imported here: only FTP downloads need it.
    import ftplib
    from urllib.parse import unquote

    parts = urlsplit(url)
    directories = [unquote(part) for part in parts.path.split("/")]
    name = directories.pop()
    try:
        with ftplib.FTP(timeout=CONNECT_TIMEOUT) as ftp:
            ftp.connect(parts.hostname or "", parts.port or ftplib.FTP_PORT)
            ftp.login(unquote(parts.username or ""), unquote(parts.password or ""))
            ftp.voidcmd("TYPE I")  # SIZE is the byte count in binary mode
            for directory in directories:
                if directory:
                    ftp.cwd(directory)
            return ftp.size(name)
    except ftplib.all_errors + (ValueError,):  # no answer, no SIZE, a bad port: the length stays unknown
        return None


# Checks the first bytes (at most HEAD_BYTES, fewer for a shorter body) and the Content-Type
# before anything is written; returns why the content is refused, or None.
ContentCheck = Callable[[bytes, Optional[str]], Optional[str]]


def _media_type(content_type: Optional[str]) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def looks_like_html(head: bytes, content_type: Optional[str]) -> bool:
    """Whether a body starting with ``head`` is plainly an HTML page (an error or login page)."""
    return _media_type(content_type) == "text/html" or head.lstrip()[:16].lower().startswith(_HTML_STARTS)


def compressed_as(head: bytes) -> Optional[str]:
    """The compression (xz, gzip, bzip2, zstd) whose signature ``head`` starts with, or None."""
    for name, magic in COMPRESSED_MAGICS.items():
        if head.startswith(magic):
            return name
    return None


def content_problem(head: bytes, fmt: str, content_type: Optional[str], refuse_compressed: bool = False) -> Optional[str]:
    """Why content starting with ``head`` is not an image of format ``fmt``, or None when it can be.

    Formats with a signature must show it; raw (any bytes) only refuses what is plainly an
    error page: HTML or text served as ``text/html``, and with ``refuse_compressed`` data that
    starts like a compressed file (a URL without a compression suffix, compression auto).
    """
    html = looks_like_html(head, content_type)
    compressed = compressed_as(head)
    hint = "; it is %s-compressed: set compression: %s" % (compressed, compressed) if compressed else ""
    magics = _MAGICS.get(fmt)
    if magics is not None:
        if any(head[offset : offset + len(magic)] == magic for offset, magic in magics):
            return _qcow2_problem(head) if fmt == "qcow2" else _backing_file_problem(head, fmt)
        what = "an HTML page" if html else "not a %s image" % fmt
        return "the content is %s (format %s needs %r at offset %d)%s" % (what, fmt, magics[0][1], magics[0][0], hint)
    if fmt == "raw" and html:
        return "the content is an HTML page (Content-Type %s), not a raw image" % (_media_type(content_type) or "unknown")
    header = _image_header(head)
    if fmt == "raw" and header is not None:
        return (
            "the content is a %s image, not a raw image: libvirt would read it as %s, with any backing file its "
            "header names; set format: %s if it is the image you meant" % (header, header, header)
        )
    if fmt == "raw" and compressed and refuse_compressed:
        return (
            "the content is %s-compressed, not a raw image: set compression: %s to decompress it, or "
            "compression: none to store it as it is" % (compressed, compressed)
        )
    return None


# qcow2 header fields: the version (libvirt takes 2 and 3 as qcow2; QEMU's qcow, version 1, has the same
# signature), a version 3 header's incompatible features (bit 2: the data is in an external file, a
# path on the host) and its length; a version 2 header is 72 bytes.
_QCOW2_VERSIONS = (2, 3)
_QCOW2_V2_HEADER = 72
_QCOW2_V3_FIELDS_END = 104
_QCOW2_EXTERNAL_DATA_FILE = 1 << 2


def _qcow2_problem(head: bytes) -> Optional[str]:
    """Why content with qcow2's signature is not a qcow2 image that a volume may hold: another version,
    a header cut short, a disk of no size, or data kept in another file (see _backing_file_problem)."""
    version = int.from_bytes(head[4:8], "big")
    if version not in _QCOW2_VERSIONS:
        return "the content is a qcow image of version %d, not a qcow2 image (versions 2 and 3)" % version
    needed = _QCOW2_V2_HEADER if version == 2 else max(_QCOW2_V3_FIELDS_END, int.from_bytes(head[100:104], "big"))
    if len(head) < needed:
        return "the content is too short for a qcow2 image: %d bytes, where its header alone takes %d" % (len(head), needed)
    if not image_size(head, "qcow2"):
        return "the qcow2 image's disk has no size (0 bytes)"
    if version == 3 and int.from_bytes(head[72:80], "big") & _QCOW2_EXTERNAL_DATA_FILE:
        return (
            "the qcow2 image keeps its data in an external data file, a path on this host that a guest on it would "
            "read and write; a downloaded image must hold all of its content (qemu-img convert makes one that does)"
        )
    return _backing_file_problem(head, "qcow2")


# Where a header keeps the offset of the backing file's name (big-endian qcow2, little-endian qed).
_BACKING_OFFSETS = {"qcow2": (8, ">Q"), "qed": (56, "<I")}


def _backing_file_problem(head: bytes, fmt: str) -> Optional[str]:
    """Why a downloaded image that names a backing file is refused: the name is a path on this host
    (any host file, /etc/shadow as well as a disk) that libvirt would label and a guest would read."""
    if fmt == "vmdk" and head.startswith(b"# Disk DescriptorFile"):
        return (
            "the content is a vmdk descriptor, whose extents are paths on this host (any host file); a downloaded "
            "image must hold all of its content (a monolithic sparse vmdk, or qemu-img convert makes one)"
        )
    where = _BACKING_OFFSETS.get(fmt)
    if where is None:
        return None
    # Imported here: only downloads of these formats ask.
    import struct

    start, layout = where
    field = head[start : start + struct.calcsize(layout)]
    if len(field) < struct.calcsize(layout) or struct.unpack(layout, field)[0] == 0:
        return None
    return (
        "the %s image names a backing file, a path on this host that a guest on it would read; a downloaded "
        "image must hold all of its content (qemu-img convert makes one that does)" % fmt
    )


def _image_header(head: bytes) -> Optional[str]:
    """The format (other than raw and iso) whose header ``head`` starts with, or None."""
    for fmt, magic in _NOT_RAW:
        if head.startswith(magic):
            return fmt
    if head[0x40:0x44] == _MAGICS["vdi"][0][1]:
        return "vdi"
    return None


class _Body:
    """The chunks of one response, counted: a body shorter or longer than announced is an error."""

    def __init__(self, url: str, response: Any, expected: Optional[int], limit: Optional[int]) -> None:
        self.url = url
        self.response = response
        self.announced = _announced_length(response)
        self.expected = expected
        self.limit = limit
        self.count = 0

    def check_announcement(self) -> None:
        if self.expected is not None and self.announced is not None and self.announced != self.expected:
            raise DownloadError(
                "%s now announces %d bytes, not the %d planned; it changed on the server, run "
                "again" % (self.url, self.announced, self.expected)
            )
        if self.limit is not None and self.announced is not None and self.announced > self.limit:
            raise DownloadError(
                "%s announces %d bytes, more than the %d the volume takes" % (self.url, self.announced, self.limit)
            )

    def chunks(self) -> Iterator[bytes]:
        while True:
            try:
                chunk = self.response.read(CHUNK_SIZE)
            except Exception as error:  # a dropped connection mid-body
                # A read stopped part of the way through a chunk loses what it had of it: at least
                # this many bytes came.
                raise DownloadError("download of %s broke off after at least %d bytes: %s" % (self.url, self.count, error))
            if not chunk:
                self._check_end()
                return
            self.count += len(chunk)
            self._check_overrun()
            yield chunk

    def _wanted(self) -> Optional[int]:
        return self.announced if self.announced is not None else self.expected

    def _check_overrun(self) -> None:
        wanted = self._wanted()
        if wanted is not None and self.count > wanted:
            raise DownloadError("download of %s sent more than the %d bytes announced" % (self.url, wanted))
        if self.limit is not None and self.count > self.limit:
            raise DownloadError("download of %s is longer than the %d bytes the volume takes" % (self.url, self.limit))

    def _check_end(self) -> None:
        wanted = self._wanted()
        if wanted is not None and self.count != wanted:
            raise DownloadError("download of %s ended after %d of %d bytes (truncated)" % (self.url, self.count, wanted))


def with_checked_head(chunks: Iterator[bytes], check: ContentCheck, content_type: Optional[str], url: str) -> Iterator[bytes]:
    """``chunks`` again, the first HEAD_BYTES held back until ``check`` accepted them."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= HEAD_BYTES:
            break
    problem = check(head, content_type)
    if problem:
        raise DownloadError("%s: %s" % (url, problem))
    if head:
        yield head
    yield from chunks


def stream(
    url: str,
    hasher: Any,
    access: Optional[UrlAccess] = None,
    expected: Optional[int] = None,
    limit: Optional[int] = None,
    check: Optional[ContentCheck] = None,
    end_needed: bool = False,
) -> Iterator[bytes]:
    """The body of ``url`` in chunks, each also fed to ``hasher``.

    The body must be as long as the server's Content-Length, and as ``expected`` (the size
    planned with) when given; it may not exceed ``limit`` (the bytes the target takes). ``check``
    sees the first bytes before any is yielded. With ``end_needed`` (nothing else verifies the body),
    a body of no known length whose end the server does not mark is refused before it is read.
    Any of these failing raises DownloadError.
    """
    response = _open(url, "GET", access or UrlAccess())
    try:
        body = _Body(url, response, expected, limit)
        body.check_announcement()
        if end_needed and expected is None and not _end_marked(response):
            raise DownloadError("%s: %s" % (url, UNMARKED_END))
        chunks = body.chunks()
        if check is not None:
            chunks = with_checked_head(chunks, check, response.headers.get("Content-Type"), url)
        for chunk in chunks:
            hasher.update(chunk)
            yield chunk
    finally:
        response.close()


def digest_of(chunks: Iterable[bytes], algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()


def read_file(path: str, length: Optional[int] = None) -> Iterator[bytes]:
    """The bytes of ``path``, or only its first ``length`` bytes."""
    left = length
    with open(path, "rb") as handle:
        while left is None or left > 0:
            chunk = handle.read(CHUNK_SIZE if left is None else min(CHUNK_SIZE, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk


def write_file(path: str, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` over the start of the existing file ``path`` and flush them to the disk, as
    libvirt's upload does. The file is never created, truncated or reached through a symbolic link.

    Behind the bytes written, every WRITE_BEHIND_BYTES, the kernel is told to start writing them
    out, and the range before, written out by then, leaves the page cache: the download reuses a
    few pages instead of dirtying as many as it has bytes (fresh page-cache pages made writing
    1 GiB two to three times slower than the network, benchmarks/download). The fdatasync at the
    end still makes every byte durable before success is reported."""
    descriptor = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        written = started = dropped = 0
        for chunk in chunks:
            _write_all(descriptor, chunk)
            written += len(chunk)
            if written - started >= WRITE_BEHIND_BYTES:
                _drop_from_cache(descriptor, started, written - started)  # starts their writeback
                if started > dropped:
                    _drop_from_cache(descriptor, dropped, started - dropped)  # written out by now
                dropped, started = started, written
        os.fdatasync(descriptor)
        _drop_from_cache(descriptor, dropped, 0)  # 0: to the end of the file
    finally:
        os.close(descriptor)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _drop_from_cache(descriptor: int, offset: int, length: int) -> None:
    """Advise the kernel that ``length`` bytes from ``offset`` are not needed again: clean pages
    leave the page cache, dirty ones are queued for writeback. Only advice: errors are ignored."""
    try:
        os.posix_fadvise(descriptor, offset, length, os.POSIX_FADV_DONTNEED)
    except (OSError, AttributeError):  # a file system that refuses advice, or a platform without it
        pass


def _stamp(path: str, algorithm: str) -> str:
    info = os.stat(path)
    return "%s:%d:%d" % (algorithm, info.st_size, info.st_mtime_ns)


class DigestRecord(Record):
    """A remembered digest of the first ``length`` bytes (the download, decompressed when it was
    compressed), and whether the file is unchanged since; ``download_digest`` is the digest of the
    compressed download those bytes came from (None for a download stored as it was served)."""

    algorithm: str
    digest: str
    length: Optional[int]
    current: bool
    download_digest: Optional[str] = None


def read_digest_record(path: str, algorithm: Optional[str] = None) -> Optional[DigestRecord]:
    """What ``remember_digest`` recorded on ``path`` (for ``algorithm``, when given), or None;
    None too for a file another user could have written the record on (see _written_only_by_us)."""
    try:
        if not _written_only_by_us(path, os.stat(path)):
            return None
        fields = os.getxattr(path, DIGEST_XATTR).decode("ascii").split(":")
        # algorithm:size:mtime[:length]:digest[:download digest]; records without a length are
        # from older releases, records with a download digest are of decompressed downloads.
        if len(fields) not in (4, 5, 6) or algorithm not in (None, fields[0]):
            return None
        stamp = _stamp(path, fields[0])
    except (OSError, AttributeError, UnicodeDecodeError, ValueError):  # no xattrs, no record, or unreadable
        return None
    length = whole_number(fields[3]) if len(fields) >= 5 else None
    digest, download_digest = (fields[4], fields[5]) if len(fields) == 6 else (fields[-1], None)
    return DigestRecord(fields[0], digest, length, ":".join(fields[:3]) == stamp, download_digest=download_digest)


def _written_only_by_us(path: str, info: os.stat_result) -> bool:
    """Whether only this module's user (or the user it gave the file to) can have written a file
    and its ``user.*`` attributes. Anyone who may write a file may set those attributes, so on an
    image another user put in a pool directory they may write, a record would let them pass off
    their own bytes as a verified download. A file nobody but its owner may write counts when this
    module's user owns it, or when it lies in a directory of this user's that nobody else may
    write, where no one else can have put it (libvirt gives a running guest's images, backing
    images too, to QEMU's user). Without a trusted record the file is read and hashed again."""
    if info.st_mode & 0o022:
        return False
    if info.st_uid == os.geteuid():
        return True
    directory = os.path.dirname(os.path.realpath(path))
    return foreign_directory_problem(directory, "pool directory") is None and os.path.isdir(directory)


def remember_digest(
    path: str, algorithm: str, digest: str, length: Optional[int] = None, download_digest: Optional[str] = None
) -> None:
    """Record a verified digest (of the first ``length`` bytes, decompressed from a download of
    ``download_digest``) on the file; skipped where xattrs are unsupported."""
    if download_digest is not None and length is None:
        raise ValueError("a download digest is remembered with the length of its decompressed bytes")
    try:
        value = _stamp(path, algorithm) + ("" if length is None else ":%d" % length) + ":" + digest
        if download_digest is not None:
            value += ":" + download_digest
        os.setxattr(path, DIGEST_XATTR, value.encode("ascii"))
    except (OSError, AttributeError):
        pass
