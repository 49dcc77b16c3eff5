"""Downloads against a real HTTP server on 127.0.0.1: counted bodies, format checks, credentials,
and the digest records kept on verified files."""

from __future__ import annotations

import hashlib
import os

import pytest

import local_ftp
from ansible_collections.remotevirt.install.plugins.module_utils._volume import download
from ansible_collections.remotevirt.install.plugins.module_utils._volume.download import (
    HEAD_BYTES,
    DownloadError,
    ServedHead,
    UrlAccess,
    content_problem,
    image_size,
    judge_head,
    probe_size,
    stream,
    with_credentials,
)
from qcow2_headers import qcow2_header
from scripted_http import Route

QCOW2 = qcow2_header(1 << 30) + b"\0" * 500
ISO = b"\0" * 0x8001 + b"CD001\x01" + b"\0" * 100
BINARY = bytes(range(256)) * 64


def remembered(path, algorithm):
    """The recorded digest while the file is unchanged, else None."""
    record = download.read_digest_record(path, algorithm)
    return record.digest if record is not None and record.current else None


def fetch(url, **kwargs):
    hasher = hashlib.sha256()
    return b"".join(stream(url, hasher, **kwargs)), hasher.hexdigest()


# -- counting the body -----------------------------------------------------------------------------------
def test_whole_body_is_streamed_and_hashed(scripted_http):
    scripted_http.routes["/disk.img"] = Route(BINARY)
    body, digest = fetch(scripted_http.url("/disk.img"), expected=len(BINARY), limit=len(BINARY))
    assert body == BINARY and digest == hashlib.sha256(BINARY).hexdigest()


def test_body_without_content_length_is_read_to_its_end(scripted_http):
    scripted_http.routes["/disk.img"] = Route(BINARY, length=None)
    assert fetch(scripted_http.url("/disk.img"))[0] == BINARY


def test_body_without_a_marked_end_is_refused_when_nothing_else_verifies_it(scripted_http):
    """Cut short, it would look complete: refused before a byte is read."""
    scripted_http.routes["/disk.img"] = Route(BINARY, length=None, send=1000)
    with pytest.raises(DownloadError, match=r"served without a length .*give checksum"):
        fetch(scripted_http.url("/disk.img"), end_needed=True)


def test_a_chunked_body_marks_its_end(scripted_http):
    scripted_http.routes["/disk.img"] = Route(BINARY, length=None, chunked=True)
    assert fetch(scripted_http.url("/disk.img"), end_needed=True)[0] == BINARY


def test_a_chunked_body_cut_short_is_an_error(scripted_http):
    scripted_http.routes["/disk.img"] = Route(BINARY, length=None, chunked=True, send=5000)
    with pytest.raises(DownloadError, match="broke off"):
        fetch(scripted_http.url("/disk.img"), end_needed=True)


@pytest.mark.parametrize("encoding", ["x-chunked", "gzip, chunked"])
def test_a_transfer_encoding_http_client_does_not_decode_marks_no_end(scripted_http, encoding):
    """http.client reads chunks only for exactly "chunked": any other body runs to the connection's close."""
    scripted_http.routes["/disk.img"] = Route(BINARY, length=None, send=1000, headers={"Transfer-Encoding": encoding})
    with pytest.raises(DownloadError, match="served without a length"):
        fetch(scripted_http.url("/disk.img"), end_needed=True)
    assert download.end_problem(scripted_http.url("/disk.img")) == download.UNMARKED_END


@pytest.mark.parametrize("length", ["\u00b2", "\u00b9\u00b3", "12 34", "-5", ""])
def test_a_content_length_of_no_ascii_number_is_no_length(scripted_http, length):
    """``str.isdigit`` takes superscript digits (headers are read as latin-1), which int() refuses."""
    scripted_http.routes["/disk.img"] = Route(BINARY, length=None, headers={"Content-Length": length})
    assert download.probe_size(scripted_http.url("/disk.img")) is None
    assert download.end_problem(scripted_http.url("/disk.img")) == download.UNMARKED_END


@pytest.mark.parametrize(
    "route, problem",
    [
        (Route(BINARY), None),
        (Route(BINARY, length=None, chunked=True), None),
        (Route(BINARY, length=None), download.UNMARKED_END),
        (Route(BINARY, status=404), None),  # the download fails, and says why
    ],
)
def test_end_problem(scripted_http, route, problem):
    scripted_http.routes["/disk.img"] = route
    assert download.end_problem(scripted_http.url("/disk.img")) == problem


def test_short_body_is_an_error(scripted_http):
    """The connection closes after half the announced bytes: truncated, not a smaller image."""
    scripted_http.routes["/disk.img"] = Route(BINARY, send=len(BINARY) // 2)
    with pytest.raises(DownloadError, match=r"ended after 8192 of 16384 bytes \(truncated\)|broke off"):
        fetch(scripted_http.url("/disk.img"))


def test_body_shorter_than_planned_without_content_length(scripted_http):
    """No Content-Length on GET, but the size planned with (from HEAD) must still arrive in full."""
    scripted_http.routes["/disk.img"] = Route(BINARY, length=None, send=1000)
    with pytest.raises(DownloadError, match="ended after 1000 of 16384 bytes"):
        fetch(scripted_http.url("/disk.img"), expected=len(BINARY))


def test_body_longer_than_planned_is_an_error(scripted_http):
    scripted_http.routes["/disk.img"] = Route(BINARY, length=None)
    with pytest.raises(DownloadError, match="more than the 1000 bytes announced"):
        fetch(scripted_http.url("/disk.img"), expected=1000)


def test_body_longer_than_the_volume_is_an_error(scripted_http):
    scripted_http.routes["/disk.img"] = Route(BINARY, length=None)
    with pytest.raises(DownloadError, match="longer than the 4096 bytes the volume takes"):
        fetch(scripted_http.url("/disk.img"), limit=4096)


def test_changed_announcement_is_refused_before_reading(scripted_http):
    """The server now announces another size than when the plan was made: nothing is read."""
    scripted_http.routes["/disk.img"] = Route(BINARY)
    chunks = stream(scripted_http.url("/disk.img"), hashlib.sha256(), expected=len(BINARY) + 1)
    with pytest.raises(DownloadError, match="now announces 16384 bytes, not the 16385 planned"):
        next(chunks)


def test_announced_length_beyond_the_volume_is_refused(scripted_http):
    scripted_http.routes["/disk.img"] = Route(BINARY)
    with pytest.raises(DownloadError, match="announces 16384 bytes, more than the 100"):
        fetch(scripted_http.url("/disk.img"), limit=100)


def test_probe_size_reads_content_length_without_the_body(scripted_http):
    scripted_http.routes["/disk.img"] = Route(BINARY)
    assert probe_size(scripted_http.url("/disk.img")) == len(BINARY)
    assert [request[0] for request in scripted_http.requests] == ["HEAD"]


def test_gzip_encoded_bodies_are_not_unpacked(scripted_http):
    """An image served with Content-Encoding would otherwise be inflated and miscounted."""
    import gzip

    packed = gzip.compress(BINARY)
    scripted_http.routes["/disk.img.gz"] = Route(packed, content_type="application/gzip")
    assert fetch(scripted_http.url("/disk.img.gz"))[0] == packed


# -- the declared format ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "head, fmt, content_type, refused",
    [
        (QCOW2, "qcow2", None, None),
        (b"hello, I am text\n", "qcow2", "text/plain", "not a qcow2 image"),
        (b"<!DOCTYPE html><html>Not found</html>", "qcow2", "text/html", "an HTML page"),
        (ISO, "iso", None, None),
        (b"\0" * 0x8001 + b"XXXXX", "iso", None, "not a iso image"),
        (b"short", "iso", None, "not a iso image"),
        (BINARY, "raw", None, None),
        # raw takes other bytes, but not a qcow2 header: libvirt probes a directory pool's files.
        (QCOW2, "raw", None, "a qcow2 image, not a raw image"),
        (b"", "raw", None, None),
        (b"  <!doctype HTML>\n<title>404</title>", "raw", None, "HTML page"),
        (b"<html><body>error</body></html>", "raw", None, "HTML page"),
        (BINARY, "raw", "text/html; charset=utf-8", "Content-Type text/html"),
        (b"QED\0" + b"\0" * 60, "qed", None, None),
        (b"\0" * 0x40 + b"\x7f\x10\xda\xbe", "vdi", None, None),
        (b"KDMV" + b"\0" * 60, "vmdk", None, None),
        # A descriptor names its extents as host paths (RW 2048 FLAT "/etc/hostname" 0): refused on purpose.
        (b"# Disk DescriptorFile\n", "vmdk", None, "a vmdk descriptor"),
        (BINARY, "vpc", None, None),  # no signature at the start to check
        # A raw download libvirt would probe as an image with a header (and backing file): refused.
        (b"QFI\xfb\0\0\0\x02" + b"\0" * 56, "raw", None, "a qcow2 image, not a raw image"),
        (b"QED\0" + b"\0" * 60, "raw", None, "a qed image"),
        (b"KDMV" + b"\0" * 60, "raw", None, "a vmdk image"),
        (b"conectix" + b"\0" * 56, "raw", None, "a vpc image"),
        (b"\0" * 0x40 + b"\x7f\x10\xda\xbe", "raw", None, "a vdi image"),
        (b"\0" * 0x8001 + b"CD001", "raw", None, None),  # an ISO stays content libvirt names iso
        # An image naming a backing file: the name is a path on the host (any host file).
        (qcow2_header(1 << 30, backing=b"/etc/shadow") + b"\0" * 500, "qcow2", None, "names a backing file"),
        (b"QED\0" + b"\0" * 52 + (512).to_bytes(4, "little") + b"\0" * 8, "qed", None, "names a backing file"),
    ],
)
def test_content_problem(head, fmt, content_type, refused):
    problem = content_problem(head, fmt, content_type)
    if refused is None:
        assert problem is None
    else:
        assert refused in problem


# BREAK (fixed): a downloaded qcow2 with an external data file (a host path a guest would write) was
# kept; a qcow image of another version, a header cut short or a disk of no size passed check mode and
# left a volume libvirt reads as raw, or that QEMU cannot open.
@pytest.mark.parametrize(
    "head, refused",
    [
        (qcow2_header(1 << 30), None),
        (qcow2_header(1 << 30, version=2), None),
        (qcow2_header(1 << 30, incompatible=1 << 2), "keeps its data in an external data file"),
        (qcow2_header(1 << 30, version=1), "a qcow image of version 1, not a qcow2 image"),
        (qcow2_header(1 << 30, version=99), "a qcow image of version 99"),
        (qcow2_header(1 << 30)[:20], "too short for a qcow2 image: 20 bytes, where its header alone takes 104"),
        (qcow2_header(1 << 30, version=2)[:60], "too short for a qcow2 image: 60 bytes, where its header alone takes 72"),
        (qcow2_header(0), "the qcow2 image's disk has no size"),
    ],
)
def test_what_a_qcow2_download_must_be(head, refused):
    problem = content_problem(head, "qcow2", None)
    assert problem is None if refused is None else refused in problem


@pytest.mark.parametrize(
    "head, fmt, size",
    [
        (qcow2_header(64 << 20), "qcow2", 64 << 20),
        (qcow2_header((1 << 64) - 1), "qcow2", (1 << 64) - 1),  # libvirt reports what the header says
        (qcow2_header(64 << 20)[:31], "qcow2", None),  # cut before the size ends
        (qcow2_header(64 << 20), "raw", None),  # only a qcow2 download reads it
        # BREAK (fixed): the other formats' sizes were not read: a 320 KiB qed image of a 60 TiB disk
        # passed the pool's free-space check, and check mode predicted its file's size.
        (b"QED\0" + bytes(44) + (60 << 40).to_bytes(8, "little"), "qed", 60 << 40),
        (b"QED\0" + bytes(44), "qed", None),  # cut before the size
        (b"KDMV" + bytes(8) + (131072).to_bytes(8, "little"), "vmdk", 64 << 20),
        (b"# Disk DescriptorFile\n", "vmdk", None),  # a descriptor names its extents: no size here
        (bytes(0x40) + b"\x7f\x10\xda\xbe" + bytes(0x170 - 0x44) + (64 << 20).to_bytes(8, "little"), "vdi", 64 << 20),
        (b"conectix" + bytes(32) + (67125248).to_bytes(8, "big"), "vpc", 67125248),
        (bytes(512), "vpc", None),  # a fixed VHD: its footer is at its end
        (b"QED\0" + bytes(44) + (60 << 40).to_bytes(8, "little"), "qcow2", None),
        (ISO, "iso", None),
    ],
)
def test_image_size(head, fmt, size):
    assert image_size(head, fmt) == size


def test_judge_head_reads_the_size_of_a_served_qcow2_image(scripted_http):
    scripted_http.routes["/i.qcow2"] = Route(qcow2_header(5 << 30) + BINARY)
    assert judge_head(scripted_http.url("/i.qcow2"), "qcow2", False) == ServedHead(None, 5 << 30)


def test_judge_head_gives_no_size_with_a_problem(scripted_http):
    scripted_http.routes["/i.qcow2"] = Route(b"<html>gone</html>", content_type="text/html")
    head = judge_head(scripted_http.url("/i.qcow2"), "qcow2", False)
    assert "HTML page" in head.problem and head.image_size is None


def test_judge_head_leaves_an_unreadable_url_to_the_download(scripted_http):
    scripted_http.routes["/i.qcow2"] = Route(b"", status=500)
    assert judge_head(scripted_http.url("/i.qcow2"), "qcow2", False) == ServedHead()


def test_wrong_format_is_refused_before_any_byte_is_passed_on(scripted_http):
    """A text file declared qcow2: the first next() fails, so nothing reaches the volume."""
    scripted_http.routes["/image.qcow2"] = Route(b"this is not an image\n" * 5000, content_type="text/plain")
    chunks = stream(
        scripted_http.url("/image.qcow2"), hashlib.sha256(), check=lambda head, ctype: content_problem(head, "qcow2", ctype)
    )
    with pytest.raises(DownloadError, match="image.qcow2: the content is not a qcow2 image"):
        next(chunks)


def test_check_sees_the_first_head_bytes_even_from_small_chunks(scripted_http, monkeypatch):
    monkeypatch.setattr(download, "CHUNK_SIZE", 1000)
    scripted_http.routes["/cd.iso"] = Route(ISO)
    seen = []
    body, _digest = fetch(
        scripted_http.url("/cd.iso"), check=lambda head, ctype: seen.append(len(head)) or content_problem(head, "iso", ctype)
    )
    assert body == ISO and seen[0] >= HEAD_BYTES


def test_html_error_page_is_refused_for_raw(scripted_http):
    scripted_http.routes["/disk.img"] = Route(b"<html>login first</html>", content_type="text/html")
    with pytest.raises(DownloadError, match="HTML page"):
        fetch(scripted_http.url("/disk.img"), check=lambda head, ctype: content_problem(head, "raw", ctype))


# -- credentials -----------------------------------------------------------------------------------------
def test_url_username_and_password_authenticate(scripted_http):
    scripted_http.routes["/private.img"] = Route(BINARY, credentials=("alice", "s3cret:x"))
    with pytest.raises(DownloadError, match="HTTP Error 401"):
        fetch(scripted_http.url("/private.img"))
    access = UrlAccess(username="alice", password="s3cret:x")
    assert fetch(scripted_http.url("/private.img"), access=access)[0] == BINARY
    assert probe_size(scripted_http.url("/private.img"), access) == len(BINARY)


def test_credentials_in_the_url_work_and_never_show(scripted_http):
    scripted_http.routes["/private.img"] = Route(BINARY, credentials=("alice", "s3cret"))
    url = scripted_http.url("/private.img").replace("http://", "http://alice:s3cret@")
    assert fetch(url)[0] == BINARY
    with pytest.raises(DownloadError) as error:
        fetch(url.replace("private", "missing"))
    assert "s3cret" not in str(error.value) and "alice" not in str(error.value)
    assert "http://***@127.0.0.1" in str(error.value)


def test_credentials_do_not_follow_a_redirect_to_another_host(scripted_http):
    """127.0.0.1 redirects to localhost: the Authorization header stays with 127.0.0.1."""
    scripted_http.routes["/private.img"] = Route(
        b"", status=302, length=0, location=scripted_http.url("/public.img", host="localhost")
    )
    scripted_http.routes["/public.img"] = Route(BINARY)
    access = UrlAccess(username="alice", password="s3cret")
    assert fetch(scripted_http.url("/private.img"), access=access)[0] == BINARY
    first, redirected = scripted_http.requests
    assert first[1] == "/private.img" and "Authorization" in first[2]
    assert redirected[1] == "/public.img" and "Authorization" not in redirected[2]


@pytest.mark.parametrize(
    "url, username, password, result",
    [
        ("ftp://mirror/pub/x.iso", "anna", "p@ss:w/rd", "ftp://anna:p%40ss%3Aw%2Frd@mirror/pub/x.iso"),
        ("ftp://old:pw@mirror:2121/x", "anna", None, "ftp://anna@mirror:2121/x"),
        ("ftp://mirror/x", None, None, "ftp://mirror/x"),
    ],
)
def test_with_credentials_for_ftp(url, username, password, result):
    assert with_credentials(url, UrlAccess(username=username, password=password)) == result


def test_url_access_never_shows_the_password():
    access = UrlAccess(validate_certs=False, username="alice", password="s3cret")
    assert "s3cret" not in repr(access) and "alice" in repr(access)


def test_download_error_messages_are_redacted():
    assert str(DownloadError("cannot download ftp://u:pw@h/x")) == "cannot download ftp://***@h/x"


# -- remembered digests ----------------------------------------------------------------------------------
def test_digest_record_with_length_survives_growth(tmp_path):
    image = tmp_path / "disk.img"
    image.write_bytes(BINARY)
    digest = hashlib.sha256(BINARY).hexdigest()
    download.remember_digest(str(image), "sha256", digest, len(BINARY))
    record = download.read_digest_record(str(image), "sha256")
    assert (record.digest, record.length, record.current) == (digest, len(BINARY), True)
    assert remembered(str(image), "sha256") == digest
    with open(image, "ab") as grown:
        grown.write(b"\0" * 4096)
    record = download.read_digest_record(str(image))
    assert record.length == len(BINARY) and not record.current
    assert remembered(str(image), "sha256") is None
    prefix = download.digest_of(download.read_file(str(image), record.length), "sha256")
    assert prefix == digest
    assert download.read_digest_record(str(image), "md5") is None


@pytest.mark.parametrize("mode", [0o666, 0o664])
def test_a_record_on_a_file_others_may_write_is_not_trusted(tmp_path, mode):
    """Whoever may write a file may set its user attributes: a record there could pass off their
    bytes as a verified download."""
    image = tmp_path / "disk.img"
    image.write_bytes(BINARY)
    download.remember_digest(str(image), "sha256", hashlib.sha256(BINARY).hexdigest())
    os.chmod(image, mode)
    assert download.read_digest_record(str(image), "sha256") is None
    os.chmod(image, 0o644)
    assert download.read_digest_record(str(image), "sha256") is not None


@pytest.mark.skipif(os.geteuid() != 0, reason="a file of another user needs root to make")
def test_a_record_on_another_users_file_counts_only_in_a_directory_nobody_else_may_write(tmp_path):
    """libvirt gives a running guest's images (a cloud image under its overlays too) to QEMU's
    user: in a pool directory of root's the record still counts; in one everyone may write, the
    file may be another user's own, and it does not."""
    image = tmp_path / "disk.img"
    image.write_bytes(BINARY)
    download.remember_digest(str(image), "sha256", hashlib.sha256(BINARY).hexdigest())
    os.chown(image, 65534, 65534)
    os.chmod(tmp_path, 0o711)
    assert download.read_digest_record(str(image), "sha256") is not None
    os.chmod(tmp_path, 0o777)
    assert download.read_digest_record(str(image), "sha256") is None


def test_digest_records_of_older_releases_still_read(tmp_path):
    image = tmp_path / "old.iso"
    image.write_bytes(BINARY)
    info = os.stat(image)
    os.setxattr(str(image), download.DIGEST_XATTR, ("sha256:%d:%d:%s" % (info.st_size, info.st_mtime_ns, "ab" * 32)).encode())
    record = download.read_digest_record(str(image), "sha256")
    assert (record.digest, record.length, record.current) == ("ab" * 32, None, True)


def test_read_file_prefix(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "CHUNK_SIZE", 1000)
    image = tmp_path / "disk.img"
    image.write_bytes(BINARY)
    assert b"".join(download.read_file(str(image), 2500)) == BINARY[:2500]
    assert b"".join(download.read_file(str(image))) == BINARY


def test_write_file_writes_over_the_start_and_keeps_the_rest(tmp_path):
    image = tmp_path / "volume.img"
    image.write_bytes(b"x" * 10)
    download.write_file(str(image), [b"ab", b"cd"])
    assert image.read_bytes() == b"abcd" + b"x" * 6


def test_write_file_never_creates_a_file_nor_follows_a_link(tmp_path):
    with pytest.raises(FileNotFoundError):
        download.write_file(str(tmp_path / "missing.img"), [b"a"])
    assert not (tmp_path / "missing.img").exists()
    target = tmp_path / "elsewhere"
    target.write_bytes(b"keep")
    (tmp_path / "link.img").symlink_to(target)
    with pytest.raises(OSError):
        download.write_file(str(tmp_path / "link.img"), [b"gone"])
    assert target.read_bytes() == b"keep"


def test_write_file_writes_behind_and_flushes_everything_at_the_end(tmp_path, monkeypatch):
    """Every WRITE_BEHIND_BYTES the range just written is queued for writeback and the one
    before leaves the page cache; the one fdatasync comes after the last byte, then the rest leaves."""
    monkeypatch.setattr(download, "WRITE_BEHIND_BYTES", 4)
    calls = []
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, offset, length, advice: calls.append(("advise", offset, length)))
    real_fdatasync = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: calls.append(("fdatasync",)) or real_fdatasync(fd))
    image = tmp_path / "volume.img"
    image.write_bytes(b"x" * 16)
    download.write_file(str(image), [b"ab", b"cd", b"ef", b"gh", b"ij"])
    assert image.read_bytes() == b"abcdefghij" + b"x" * 6
    assert calls == [
        ("advise", 0, 4),
        ("advise", 4, 4),
        ("advise", 0, 4),
        ("fdatasync",),
        ("advise", 4, 0),  # 0: to the end of the file
    ]


def test_write_file_ignores_refused_advice(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "WRITE_BEHIND_BYTES", 1)

    def refuse(*args):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "posix_fadvise", refuse)
    image = tmp_path / "volume.img"
    image.write_bytes(b"xxxx")
    download.write_file(str(image), [b"a", b"b", b"c"])
    assert image.read_bytes() == b"abcx"


# -- FTP ------------------------------------------------------------------------------------------------
@pytest.fixture
def ftp_root(tmp_path):
    """An anonymous, read-only FTP server (pyftpdlib, whose transfer reply gives no length) of ``tmp_path``."""
    with local_ftp.serving(str(tmp_path)) as base:
        yield tmp_path, base


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyftpdlib imports asyncore
def test_probe_size_asks_an_ftp_server_that_does_not_announce_the_length(ftp_root):
    root, base = ftp_root
    (root / "images").mkdir()
    (root / "images" / "disk.img").write_bytes(BINARY)
    assert probe_size(base + "/images/disk.img") == len(BINARY)


@pytest.fixture
def public_dir():
    """A directory every user may search (pytest's own tmp_path is under a private one)."""
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="rv-public-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


def test_a_file_url_is_opened_without_following_a_link_swapped_in(public_dir):
    """Planning judged where the path led; a link put on the way since fails to open."""
    secret = os.path.join(public_dir, "secret")
    os.mkdir(secret, 0o700)
    with open(os.path.join(secret, "key.img"), "wb") as key:
        key.write(b"FAKESECRET")
    os.symlink(secret, os.path.join(public_dir, "images"))
    with pytest.raises(OSError):
        download._open_without_links(os.path.join(public_dir, "images", "key.img"))


@pytest.mark.parametrize("kind, message", [("fifo", "not a regular file"), ("private", "not every user of the host may read")])
def test_a_file_url_of_a_fifo_or_a_private_file_is_refused_when_opened(public_dir, kind, message):
    path = os.path.join(public_dir, "source.img")
    if kind == "fifo":
        os.mkfifo(path, 0o644)
    else:
        with open(path, "wb") as source:
            source.write(b"\0" * 512)
        os.chmod(path, 0o600)
    with pytest.raises(download.DownloadError, match=message):
        download.probe_size("file://" + path)


def test_a_file_url_of_a_public_image_is_read(public_dir):
    path = os.path.join(public_dir, "image.img")
    with open(path, "wb") as image:
        image.write(b"\1" * 1000)
    os.chmod(path, 0o644)
    assert download.probe_size("file://" + path) == 1000
    assert (
        download.digest_of(download.stream("file://" + path, hashlib.sha256()), "sha256")
        == hashlib.sha256(b"\1" * 1000).hexdigest()
    )


def test_a_servers_error_text_never_shows_a_query_or_a_path_parameter():
    assert download._without_parameters("Not Found: /echo/a.img?token=REDIRSECRET99 (x)") == "Not Found: /echo/a.img?*** (x)"
    assert download._without_parameters("Gone: /a.img;jsessionid=S3SS10N;v=1 (x)") == "Gone: /a.img;*** (x)"
    assert download._without_parameters("refused; try again") == "refused; try again"


@pytest.mark.parametrize("session", ["jsessionid=SESSIONSECRET77", "sid=Q7zX9"])
def test_a_redirects_session_id_quoted_by_the_server_never_shows(scripted_http, session):
    """The server sends the download to a path with a session id, then quotes that path in its error."""
    target = "/a.raw;%s" % session
    scripted_http.routes["/start.raw"] = Route(status=302, location=target)
    scripted_http.routes[target] = Route(status=404, reason="Reason echo %s" % target)
    with pytest.raises(DownloadError) as refused:
        fetch(scripted_http.url("/start.raw"))
    assert "HTTP Error 404 Reason echo /a.raw;***" in str(refused.value)
    assert session.partition("=")[2] not in str(refused.value)


class _Trickle:
    """A response that gives one byte a read."""

    headers = {"Content-Type": "application/octet-stream"}

    def read1(self, size):
        return b"x"


def test_reading_the_first_bytes_stops_at_its_deadline():
    import time

    with pytest.raises(download.SlowHead, match="too slowly"):
        download.read_head(_Trickle(), 1 << 40, deadline=time.monotonic() + 0.05)


@pytest.mark.parametrize(
    "headers, status, length",
    [
        ({"Content-Range": "bytes 0-99/5000", "Content-Length": "100"}, 206, 5000),
        ({"Content-Length": "5000"}, 200, 5000),
        ({"Content-Length": "100"}, 206, None),  # part of a body that does not say its length
        ({}, 200, None),
        ({"Content-Range": "bytes 0-99/*"}, 206, None),
    ],
)
def test_served_length(headers, status, length):
    response = type("Response", (), {"headers": headers, "status": status})()
    assert download.served_length(response) == length
