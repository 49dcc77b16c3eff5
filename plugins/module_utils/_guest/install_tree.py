# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding the kernel and initrd of an install tree, on a URL or a host path, and judging what a
tree serves under their names before it is used: a directory listing or an error page served
where the initrd should be would boot a guest whose kernel panics."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import threading
from typing import IO, List, Optional, Tuple, cast

from ansible_collections.remotevirt.install.plugins.module_utils._common import host_files
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_text, redact_url
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import whole_number
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import InstallTree
from ansible_collections.remotevirt.install.plugins.module_utils._volume import download

NFS_TIMEOUT = 300  # seconds for one NFS listing or copy

# Debian names architectures its own way.
DEBIAN_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "i386", "ppc64le": "ppc64el", "s390x": "s390x"}

# Bytes of a kernel or initrd judged: an x86 boot header ends well before, and a page of text shows itself.
BOOT_HEAD_BYTES = 4096
# What an initrd the kernel unpacks starts with (after any zero bytes, which it skips): one of the
# compressions it decompresses, or a cpio archive (an early microcode archive is often put first).
INITRD_MAGICS = (
    ("gzip", b"\x1f\x8b"),
    ("xz", b"\xfd7zXZ\x00"),
    ("zstd", b"\x28\xb5\x2f\xfd"),
    ("lzma", b"\x5d\x00\x00"),
    ("bzip2", b"BZh"),
    ("lz4", b"\x02\x21\x4c\x18"),
    ("lzop", b"\x89LZO"),
    ("cpio", b"070701"),
    ("cpio", b"070702"),
    ("cpio", b"070707"),
)
# An x86 kernel's boot protocol header ("HdrS" at 0x202 of a bzImage); an ELF kernel boots too (PVH).
X86_HEADER_OFFSET = 0x202
X86_HEADER = b"HdrS"
ELF_MAGIC = b"\x7fELF"
X86_ARCHES = ("x86_64", "i686", "i586", "i486", "i386", "amd64")
# A line of an ls-style listing (an FTP server's answer for a directory).
_LISTING_LINE = re.compile(rb"^[-dlbcps][-rwxsStT]{9}[.+@]?\s")
# The HTTP status or FTP reply code in a download's error ("HTTP Error 404 Not Found", "550 No such
# file", "ftp error: error_perm('550 ...')"). 404, 410 and 550 say the path is not there; any other
# one is a problem of that path (401, 403, 500: reported when no layout is found); an error without
# one is a problem of the server (refused, unreachable, TLS), reported at once.
_STATUS = re.compile(r"HTTP Error (\d{3})\b|: (?:ftp error: )?(?:error_[a-z]+\(['\"])?([1-6]\d\d)[ -]")
_MISSING_CODES = ("404", "410", "550")


def _status(message: str) -> Optional[str]:
    match = _STATUS.search(message)
    return (match.group(1) or match.group(2)) if match else None


# What libnfs reports for a path that is not there (NFSv3, NFSv4, the mount protocol, the system).
_NFS_MISSING = re.compile(r"ERR_NOENT|ERR_NOTDIR|No such file|Not a directory")
# libnfs URLs name the server's port as an option, not in the host part.
_NFS_HOST_PORT = re.compile(r"^nfs://(?:[^/?#@]*@)?(\[[^\]/?#]*\]|[^/?#:\[\]]*):([^/?#]*)(?=[/?#]|$)", re.IGNORECASE)


def layouts(arch: str) -> List[Tuple[str, str, str]]:
    """(family, kernel, initrd) relative paths of the known tree layouts, most specific first."""
    deb = DEBIAN_ARCH.get(arch, arch)
    netboot = "main/installer-%s/current/images/netboot/" % deb
    return [
        ("redhat", "images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"),
        ("debian", netboot + "debian-installer/%s/linux" % deb, netboot + "debian-installer/%s/initrd.gz" % deb),
        ("debian", netboot + "ubuntu-installer/%s/linux" % deb, netboot + "ubuntu-installer/%s/initrd.gz" % deb),
        ("debian", "debian-installer/%s/linux" % deb, "debian-installer/%s/initrd.gz" % deb),
        ("debian", "ubuntu-installer/%s/linux" % deb, "ubuntu-installer/%s/initrd.gz" % deb),
    ]


def nfs_url(location: str) -> Optional[str]:
    """``nfs://server[:port]/path[?libnfs options]`` for an NFS location (``nfs:server:/path`` too), else None."""
    if location[:6].lower() == "nfs://":
        return "nfs://" + location[6:]
    if location[:4].lower() == "nfs:":
        server, separator, path = location[4:].partition(":")
        return "nfs://%s%s" % (server, path) if separator and path.startswith("/") else None
    return None


def nfs_port_problem(url: str) -> Optional[str]:
    """Why the NFS URL ``url`` cannot be read as written: libnfs takes no port in its host part
    (it fails to resolve ``host:port``), only as the option ``nfsport``."""
    match = _NFS_HOST_PORT.match(url)
    if match is None:
        return None
    host, port = match.group(1), match.group(2)
    path, separator, query = url[match.end() :].partition("?")
    hint = "nfs://%s%s?%snfsport=%s" % (host, path or "/", query + "&" if separator and query else "", port or "2049")
    return (
        "libnfs takes no port in the server part of an NFS URL (it would not find the server %s:%s); give the "
        "port as an option: %s" % (host, port, redact_url(hint))
    )


def _join(base: str, relative: str) -> str:
    """``relative`` under ``base``, keeping a URL's query (libnfs options such as ?version=4) at the end."""
    path, separator, query = base.partition("?") if base.startswith("nfs://") else (base, "", "")
    return path.rstrip("/") + "/" + relative + separator + query


# -- what a kernel or an initrd may be -------------------------------------------------------------------
def is_x86(arch: Optional[str]) -> bool:
    """Whether guests of ``arch`` (None: the host's) boot an x86 kernel."""
    return (arch or platform.machine()).lower() in X86_ARCHES


def _text_kind(head: bytes) -> Optional[str]:
    """What ``head`` is when it is plainly text (no kernel or initrd starts so), else None."""
    if b"\0" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not a character cut off at the end: binary
            return None
        text = head[: error.start].decode("utf-8")
    # Valid UTF-8 all along, with hardly any control characters: binary data is neither.
    if not text or sum(1 for char in text if (char < " " and char not in "\t\n\r\f\v\x1b") or char == "\x7f") > 0.05 * len(text):
        return None
    if _LISTING_LINE.match(head.lstrip()) or head.lstrip().startswith(b"total "):
        return "a directory listing"
    return "a text file"


def _html_kind(head: bytes) -> str:
    lowered = head[:BOOT_HEAD_BYTES].lower()
    listing = b"index of" in lowered or b"directory listing" in lowered
    return "an HTML page (a directory listing)" if listing else "an HTML page"


def _plain_kind(head: bytes, content_type: Optional[str]) -> Optional[str]:
    """What ``head`` is when it is plainly no boot file at all: empty, zero bytes, HTML or text."""
    if not head:
        return "empty"
    if download.looks_like_html(head, content_type):
        return _html_kind(head)
    if not head.strip(b"\0"):
        return "only zero bytes"
    return _text_kind(head)


def initrd_magic(head: bytes) -> Optional[str]:
    """The compression or archive (gzip, cpio, ...) an initrd starting with ``head`` begins with, or None."""
    start = head.lstrip(b"\0")  # the kernel skips zero bytes before and between archives
    for name, magic in INITRD_MAGICS:
        if start.startswith(magic):
            return name
    return None


def boot_file_problem(kind: str, head: bytes, content_type: Optional[str] = None, arch: Optional[str] = None) -> Optional[str]:
    """Why content starting with ``head`` (served as ``content_type``) is not a ``kind`` ("kernel" or
    "initrd") a guest of ``arch`` (None: the host's) boots, or None when it can be.

    An initrd must start with a compression or cpio archive the kernel unpacks (zero bytes first
    are skipped, as the kernel does). A kernel must not be empty, HTML or text; an x86 kernel must
    have the boot header of a bzImage (or be an ELF file); other architectures' are not judged further.
    Only the first BOOT_HEAD_BYTES count, however many are given: the plan and the fetch judge alike.
    """
    head = head[:BOOT_HEAD_BYTES]
    if kind == "initrd":
        html = _media_type(content_type) == "text/html"  # even a compressed page is never an initrd
        if not html and initrd_magic(head) is not None:
            return None
        what = _html_kind(head) if html else _plain_kind(head, content_type)
        return (
            "%s, not an initrd (an initrd starts with a gzip, xz, zstd, lzma, bzip2, lz4 or lzop stream, or a cpio archive)"
            % (what or "data that starts with none of the signatures of an initrd")
        )
    if head[X86_HEADER_OFFSET : X86_HEADER_OFFSET + len(X86_HEADER)] == X86_HEADER or head.startswith(ELF_MAGIC):
        return None
    what = _plain_kind(head, content_type)
    if what is not None:
        return "%s, not a kernel" % what
    if _media_type(content_type) == "text/html":
        return "an HTML page, not a kernel"
    if is_x86(arch):
        return "not an x86 kernel (no %r at offset 0x%x as in a bzImage, and not an ELF file)" % (
            X86_HEADER.decode(),
            X86_HEADER_OFFSET,
        )
    return None


def _media_type(content_type: Optional[str]) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def url_head(url: str, access: download.UrlAccess) -> Tuple[bytes, Optional[str]]:
    """The first BOOT_HEAD_BYTES ``url`` serves and its Content-Type; the connection is closed then.
    Raises DownloadError when it cannot be read (a path that is not there: HTTP 404 or 410, FTP 550).
    Asked again whole only when the ranged request got another status (an empty file's 416): a path
    that is not there, or a server that cannot be read, answers the same again."""
    return download.first_bytes(url, BOOT_HEAD_BYTES, access, lambda error: _status(str(error)) not in (None,) + _MISSING_CODES)


def file_head(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(BOOT_HEAD_BYTES)


# -- NFS -------------------------------------------------------------------------------------------------
class NfsError(download.DownloadError):
    """An NFS server could not be read at all (not: a path that is not there)."""


def _nfs_command(argv: List[str]) -> "subprocess.CompletedProcess[str]":
    # libnfs's tools read NFS in user space: no kernel NFS client, mount or root privileges needed.
    try:
        return subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False, timeout=NFS_TIMEOUT
        )
    except FileNotFoundError:
        raise PlanError("NFS install trees need %s on the host (package libnfs-utils)" % argv[0])
    except subprocess.TimeoutExpired:
        raise PlanError(redact_text("%s timed out after %d s" % (" ".join(argv), NFS_TIMEOUT)))


def nfs_entry(url: str) -> Optional[Tuple[str, int]]:
    """(mode, size) of the entry at an NFS URL as the server lists it (mode as ``ls -l`` shows it),
    None when it is not there. Raises NfsError when the server cannot be read (not mounted,
    refused, unreachable)."""
    problem = nfs_port_problem(url)
    if problem:
        raise NfsError("cannot read %s: %s" % (url, problem))
    directory, name = _split_nfs(url)
    listing = _nfs_command(["nfs-ls", directory])
    if listing.returncode != 0:
        output = listing.stdout.strip()
        if _NFS_MISSING.search(output):
            return None
        raise NfsError("cannot list %s: %s" % (directory, output or "nfs-ls failed with status %d" % listing.returncode))
    for line in listing.stdout.splitlines():
        fields = line.split()
        # mode, links, uid, gid, size, name (names without spaces: the layouts' file names)
        size = whole_number(fields[4]) if len(fields) >= 6 else None
        if fields[-1:] == [name] and size is not None:
            return fields[0], size
    return None


def nfs_size(url: str) -> Optional[int]:
    """Size of the file at an NFS URL as the server lists it, None when it is not there or cannot be listed."""
    try:
        entry = nfs_entry(url)
    except NfsError:
        return None
    return entry[1] if entry is not None else None


def _nfs_type_problem(mode: str) -> Optional[str]:
    if mode.startswith("d"):
        return "a directory"
    if not mode.startswith(("-", "l")):  # a link is followed by the copy
        return "not a regular file (mode %s)" % mode
    return None


def _split_nfs(url: str) -> Tuple[str, str]:
    """(directory URL, file name) of an NFS file URL, the query kept on the directory."""
    path, separator, query = url.partition("?")
    directory, _slash, name = path.rpartition("/")
    return directory + "/" + separator + query, name


def nfs_head(url: str) -> bytes:
    """The first BOOT_HEAD_BYTES of the file at an NFS URL, read with nfs-cat, which is stopped then."""
    try:
        process = subprocess.Popen(["nfs-cat", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise PlanError("NFS install trees need nfs-cat on the host (package libnfs-utils)")
    out, err = cast(IO[bytes], process.stdout), cast(IO[bytes], process.stderr)
    timer = threading.Timer(NFS_TIMEOUT, process.kill)
    timer.start()
    try:
        head, _no_type = download.read_head(out, BOOT_HEAD_BYTES)
        stopped = process.poll() is None
        if stopped:
            process.kill()
        errors = err.read().decode("utf-8", "replace").strip()
        status = process.wait()
    finally:
        timer.cancel()
        out.close()
        err.close()
    if not head and not stopped and status != 0:
        raise download.DownloadError("cannot read %s: %s" % (url, errors or "nfs-cat failed with status %d" % status))
    return head


def copy_from_nfs(url: str, target: str) -> None:
    """Copy one file from an NFS URL to ``target`` (which must not exist) on the host, all of it."""
    try:
        entry = nfs_entry(url)
    except NfsError:
        entry = None  # the copy fails, and says why
    if entry is not None:
        problem = _nfs_type_problem(entry[0])
        if problem:
            raise download.DownloadError("cannot copy %s: it is %s" % (url, problem))
    expected = entry[1] if entry is not None and entry[0].startswith("-") else None
    result = _nfs_command(["nfs-cp", url, target])
    if result.returncode != 0:
        raise download.DownloadError("cannot copy %s: %s" % (url, result.stdout.strip()))
    copied = os.path.getsize(target)
    if expected is not None and copied != expected:
        raise download.DownloadError("copy of %s ended after %d of %d bytes (truncated)" % (url, copied, expected))


# -- finding the tree ------------------------------------------------------------------------------------
class _Missing(Exception):
    """Nothing is at the path: the next layout is tried."""


class _Unusable(Exception):
    """Something is at the path, or could not be read there, that is no boot file."""


def _probe(reference: str, kind: str, access: download.UrlAccess, arch: Optional[str]) -> None:
    """Return when a ``kind`` is at ``reference``; raise _Missing when nothing is, _Unusable when
    what is there is not one (or cannot be read), PlanError when the server cannot be read at all."""
    if reference.startswith("/"):
        if not os.path.isfile(reference):
            raise _Missing()
        # A link to the host's own files is refused outright, whatever the other layouts hold.
        refusal = host_files.boot_source_problem(reference, "install.location")
        if refusal:
            raise PlanError(refusal)
        return  # a host path's content is read by the copy
    if reference.startswith("nfs://"):
        _probe_nfs(reference, kind, arch)
        return
    try:
        head, content_type = url_head(reference, access)
    except download.DownloadError as error:
        message = str(error)
        status = _status(message)
        if status in _MISSING_CODES:
            raise _Missing()
        if status is not None:
            raise _Unusable(message)
        raise PlanError("install.location: %s" % message)
    problem = boot_file_problem(kind, head, content_type, arch)
    if problem:
        raise _Unusable("the %s %s is %s" % (kind, redact_url(reference), problem))


def _probe_nfs(reference: str, kind: str, arch: Optional[str]) -> None:
    try:
        entry = nfs_entry(reference)
    except NfsError as error:
        raise PlanError("install.location: %s" % error)
    if entry is None:
        raise _Missing()
    problem = _nfs_type_problem(entry[0])
    if problem is None:
        try:
            problem = boot_file_problem(kind, nfs_head(reference), None, arch)
        except download.DownloadError as error:
            raise _Unusable(str(error))
    if problem:
        raise _Unusable("the %s %s is %s" % (kind, redact_url(reference), problem))


def find_tree(location: str, arch: Optional[str], access: Optional[download.UrlAccess] = None) -> InstallTree:
    """The first known layout whose kernel and initrd both exist under ``location`` and look like
    a kernel and an initrd (their first bytes are read: what check mode reads is what the fetch
    judges again). ``arch`` is the guest's (None: the host's, with the layouts of x86_64)."""
    access = access or download.UrlAccess()
    base = nfs_url(location) or location
    if base.startswith("nfs://"):
        problem = nfs_port_problem(base)
        if problem:
            raise PlanError("install.location %s: %s" % (redact_url(location), problem))
    tried, unusable = [], []
    for family, kernel, initrd in layouts(arch or "x86_64"):
        kernel_ref, initrd_ref = _join(base, kernel), _join(base, initrd)
        try:
            _probe(kernel_ref, "kernel", access, arch)
            _probe(initrd_ref, "initrd", access, arch)
        except _Missing:
            pass
        except _Unusable as problem:
            unusable.append(str(problem))
        else:
            return InstallTree(family=family, kernel=kernel_ref, initrd=initrd_ref)
        tried.append(kernel)
    if unusable:
        more = " (and %d more)" % (len(unusable) - 1) if len(unusable) > 1 else ""
        raise PlanError(
            redact_text("install.location %s has no usable kernel and initrd: %s%s" % (redact_url(location), unusable[0], more))
        )
    raise PlanError(
        "install.location %s has no kernel and initrd in a known layout (tried %s)" % (redact_url(location), ", ".join(tried))
    )
