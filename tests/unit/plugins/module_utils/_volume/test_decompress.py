"""Compressed downloads decompressed while they stream, against a real HTTP server on 127.0.0.1:
complete streams only, corrupt data and truncation refused, output bounded, the zstd program."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import shutil
import subprocess

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._volume import decompress, download
from ansible_collections.remotevirt.install.plugins.module_utils._volume.decompress import (
    can_decompress,
    compressed_problem,
    decompressed,
    judge_compressed_head,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.download import (
    CHUNK_SIZE,
    DownloadError,
    ServedHead,
    UrlAccess,
)
from qcow2_headers import qcow2_header
from scripted_http import Route

# Random bytes do not compress: every chunk of the body decompresses to about as much.
IMAGE = os.urandom(300_000) + bytes(range(256)) * 2000


def _zstd(data):
    return subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout


COMPRESSORS = {"xz": lzma.compress, "gzip": gzip.compress, "bzip2": bz2.compress}
if shutil.which("zstd"):
    COMPRESSORS["zstd"] = _zstd
needs_zstd = pytest.mark.skipif(not shutil.which("zstd"), reason="no zstd program on this machine")


def chunked(data, size=4096):
    return iter([data[i : i + size] for i in range(0, len(data), size)])


def unpack(data, compression, size=4096, limit=None):
    return b"".join(decompressed(chunked(data, size), compression, "http://h/i", limit=limit))


def served(scripted_http, path, body, **route):
    scripted_http.routes[path] = Route(body, **route)
    hasher = hashlib.sha256()
    return download.stream(scripted_http.url(path), hasher), hasher


# -- complete streams -------------------------------------------------------------------------------------
@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_streamed_body_is_decompressed(scripted_http, compression):
    body = COMPRESSORS[compression](IMAGE)
    chunks, hasher = served(scripted_http, "/image.raw.x", body)
    out = b"".join(decompressed(chunks, compression, "u"))
    assert out == IMAGE
    assert hasher.hexdigest() == hashlib.sha256(body).hexdigest()  # the compressed bytes, as served


@pytest.mark.parametrize("compression", ["xz", "gzip", "bzip2"])
def test_chunks_are_bounded_even_for_a_bomb(compression):
    """64 MiB of zeros compress to a few KiB: the output still comes CHUNK_SIZE at a time."""
    bomb = COMPRESSORS[compression](bytes(64 << 20))
    sizes = [len(chunk) for chunk in decompressed(chunked(bomb, 1 << 20), compression, "u")]
    assert max(sizes) <= CHUNK_SIZE and sum(sizes) == 64 << 20


@pytest.mark.parametrize("compression", ["xz", "gzip", "bzip2"])
def test_concatenated_members_are_read_whole(compression):
    compress = COMPRESSORS[compression]
    assert unpack(compress(IMAGE[:1000]) + compress(IMAGE[1000:]), compression) == IMAGE


@pytest.mark.parametrize("size", [1, 7, 4096, 1 << 20])
def test_any_chunking_gives_the_same_bytes(size):
    assert unpack(lzma.compress(IMAGE[:20000]), "xz", size=size) == IMAGE[:20000]


@pytest.mark.parametrize("size", [3, 4096])
def test_nul_padding_between_and_after_members_is_skipped(size):
    body = lzma.compress(IMAGE[:5000]) + b"\0" * 8 + lzma.compress(IMAGE[5000:]) + b"\0" * 12
    assert unpack(body, "xz", size=size) == IMAGE


def test_data_after_the_last_member_is_refused():
    with pytest.raises(DownloadError, match="not valid xz-compressed data"):
        unpack(lzma.compress(IMAGE) + b"\0" * 4 + b"junk", "xz")


# -- truncated and corrupt --------------------------------------------------------------------------------
@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_truncated_stream_is_refused(compression, cut):
    """A stream cut before its end marker (gzip's trailer, xz's index) is an error, not a short image."""
    body = COMPRESSORS[compression](IMAGE)
    with pytest.raises(DownloadError, match="truncated|not valid"):
        unpack(body[: int(len(body) * cut)], compression)


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_stream_without_its_last_bytes_is_refused(compression):
    body = COMPRESSORS[compression](IMAGE)
    with pytest.raises(DownloadError, match="truncated|not valid"):
        unpack(body[:-1], compression)


@pytest.mark.parametrize("compression", ["xz", "gzip", "bzip2"])
def test_empty_stream_is_refused(compression):
    with pytest.raises(DownloadError, match="truncated"):
        unpack(b"", compression)


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_corrupt_data_is_refused(compression):
    body = bytearray(COMPRESSORS[compression](IMAGE))
    middle = len(body) // 2
    body[middle : middle + 64] = bytes(64)
    with pytest.raises(DownloadError, match="not valid"):
        unpack(bytes(body), compression)


def test_gzip_trailer_crc_is_checked():
    body = bytearray(gzip.compress(IMAGE))
    body[-8] ^= 0xFF  # CRC-32 of the trailer
    with pytest.raises(DownloadError, match="not valid gzip-compressed data"):
        unpack(bytes(body), "gzip")


def test_truncated_download_reports_the_broken_body(scripted_http):
    """The server closes halfway through what it announced: the download's own error comes first."""
    body = lzma.compress(IMAGE)
    chunks, _hasher = served(scripted_http, "/i.raw.xz", body, send=len(body) // 2)
    with pytest.raises(DownloadError, match=r"truncated|broke off"):
        b"".join(decompressed(chunks, "xz", "u"))


# -- limits -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_longer_than_the_limit_is_refused_before_passing_the_limit(compression):
    body = COMPRESSORS[compression](IMAGE)
    passed = 0
    with pytest.raises(DownloadError, match="decompresses to more than the 100000 bytes the volume takes"):
        for chunk in decompressed(chunked(body), compression, "u", limit=100_000):
            passed += len(chunk)
    assert passed <= 100_000


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_exactly_the_limit_is_accepted(compression):
    assert unpack(COMPRESSORS[compression](IMAGE), compression, limit=len(IMAGE)) == IMAGE


# -- what the compressed body must look like ----------------------------------------------------------
@pytest.mark.parametrize(
    "head, compression, content_type, problem",
    [
        (lzma.compress(b"x")[:16], "xz", "application/x-xz", None),
        (gzip.compress(b"x")[:16], "gzip", None, None),
        (b"<!DOCTYPE html><html>", "xz", "text/html", "an HTML page, not xz-compressed"),
        (lzma.compress(b"x")[:16], "xz", "text/html; charset=utf-8", None),
        (gzip.compress(b"x")[:16], "xz", None, "gzip-compressed, not xz-compressed: set compression: gzip"),
        (b"QFI\xfb\0\0\0\3", "bzip2", None, "not bzip2-compressed data"),
        (b"", "zstd", None, "not zstd-compressed data"),
    ],
)
def test_compressed_problem(head, compression, content_type, problem):
    found = compressed_problem(head, compression, content_type)
    assert (found is None) if problem is None else (problem in found)


def test_html_page_for_a_compressed_url_is_refused_before_decompressing(scripted_http):
    page = b"<!doctype html><title>Not here</title>" * 20
    scripted_http.routes["/i.raw.xz"] = Route(page, content_type="text/html")

    def check(head, content_type):
        return compressed_problem(head, "xz", content_type)

    chunks = download.stream(scripted_http.url("/i.raw.xz"), hashlib.sha256(), check=check)
    with pytest.raises(DownloadError, match="an HTML page, not xz-compressed data"):
        b"".join(decompressed(chunks, "xz", "u"))


# -- judged when planning -----------------------------------------------------------------------------
# A qcow2 image of a 5 GiB disk: its header, then data that does not compress.
QCOW2_IMAGE = qcow2_header(5 << 30) + b"\0" * 408 + IMAGE


def judged(scripted_http, body, compression, fmt="qcow2", **route):
    scripted_http.routes["/i.x"] = Route(body, **route)
    return judge_compressed_head(scripted_http.url("/i.x"), compression, fmt, UrlAccess())


@pytest.mark.parametrize("compression", ["xz", "gzip", "bzip2"])
def test_the_image_size_is_read_from_the_decompressed_header(scripted_http, compression):
    assert judged(scripted_http, COMPRESSORS[compression](QCOW2_IMAGE), compression) == ServedHead(None, 5 << 30)


@pytest.mark.parametrize("compression", ["xz", "gzip", "bzip2"])
def test_an_image_of_another_format_is_refused_when_planning(scripted_http, compression):
    head = judged(scripted_http, COMPRESSORS[compression](IMAGE), compression)
    assert "the content is not a qcow2 image" in head.problem and head.image_size is None


def test_an_error_page_is_refused_when_planning(scripted_http):
    head = judged(scripted_http, b"<html>sign in</html>", "xz", content_type="text/html")
    assert head == ServedHead("the content is an HTML page, not xz-compressed data")


def test_corrupt_data_is_refused_when_planning(scripted_http):
    head = judged(scripted_http, lzma.compress(QCOW2_IMAGE)[:12] + os.urandom(5000), "xz")
    assert head.problem.startswith("the content is not valid xz-compressed data")


def test_a_whole_image_shorter_than_the_head_is_judged(scripted_http):
    assert "not a qcow2 image" in judged(scripted_http, gzip.compress(b"hello"), "gzip").problem
    assert judged(scripted_http, gzip.compress(QCOW2_IMAGE[:600]), "gzip") == ServedHead(None, 5 << 30)


def test_a_body_cut_short_is_left_to_the_download(scripted_http):
    """Truncated here may be a connection that dropped: the download reads it again and says."""
    body = gzip.compress(b"hello")
    assert judged(scripted_http, body, "gzip", send=len(body) - 4) == ServedHead()


def test_what_the_head_limit_does_not_reach_is_left_to_the_download(scripted_http, monkeypatch):
    """bzip2 gives nothing out before a block ends: a block beyond the limit leaves the judgement open."""
    monkeypatch.setattr(decompress, "COMPRESSED_HEAD_LIMIT", 32 << 10)
    assert judged(scripted_http, bz2.compress(IMAGE), "bzip2") == ServedHead()


def test_an_unreadable_url_is_left_to_the_download(scripted_http):
    assert judged(scripted_http, b"", "xz", status=500) == ServedHead()


@needs_zstd
def test_what_the_zstd_program_decompresses_is_judged_by_its_signature_only(scripted_http, monkeypatch):
    monkeypatch.setattr(decompress, "_python_zstd", lambda: None)
    assert judged(scripted_http, _zstd(IMAGE), "zstd") == ServedHead()
    assert "not zstd-compressed" in judged(scripted_http, gzip.compress(QCOW2_IMAGE), "zstd").problem


# BREAK (fixed): a small compressed body cut short, or with bytes after its end, passed check mode
# although the plan had read all of it; the real run refused it.
@pytest.mark.parametrize("compression", ["xz", "gzip"])
@pytest.mark.parametrize("damage", ["cut", "trailing"])
def test_a_body_read_whole_must_end_where_its_data_ends(scripted_http, compression, damage):
    body = COMPRESSORS[compression](QCOW2_IMAGE)
    body = body[:-5] if damage == "cut" else body + b"garbage!"
    head = judged(scripted_http, body, compression)
    assert head.problem.startswith("the content ends before" if damage == "cut" else "the content is not valid")


def test_a_body_longer_than_the_plan_reads_is_not_judged_by_its_end(scripted_http, monkeypatch):
    monkeypatch.setattr(decompress, "COMPRESSED_HEAD_LIMIT", 64 << 10)
    body = gzip.compress(os.urandom(200_000))
    head = judged(scripted_http, body[:-5], "gzip", fmt="raw")  # its length says more than the plan reads
    assert head == ServedHead()


def test_a_server_too_slow_for_the_plan_leaves_the_judgement_to_the_download(scripted_http, monkeypatch):
    """A byte every few seconds would hold check mode as long as the server likes."""
    monkeypatch.setattr(download, "HEAD_SECONDS", -1)
    assert judged(scripted_http, lzma.compress(b"<html>page</html>"), "xz") == ServedHead()


# -- zstd ---------------------------------------------------------------------------------------------
@needs_zstd
def test_zstd_program_is_used_without_python_support(monkeypatch):
    monkeypatch.setattr(decompress, "_python_zstd", lambda: None)
    assert can_decompress("zstd")
    assert unpack(_zstd(IMAGE), "zstd") == IMAGE


@needs_zstd
def test_zstd_program_refuses_truncated_input(monkeypatch):
    monkeypatch.setattr(decompress, "_python_zstd", lambda: None)
    with pytest.raises(DownloadError, match="not valid, complete zstd-compressed data"):
        unpack(_zstd(IMAGE)[:-3], "zstd")


@needs_zstd
def test_zstd_program_passes_on_the_download_error(monkeypatch):
    """An error of the download (read in the feeding thread) is the one reported."""
    monkeypatch.setattr(decompress, "_python_zstd", lambda: None)

    def broken():
        yield _zstd(IMAGE)[:1000]
        raise DownloadError("download of u broke off after 1000 bytes")

    with pytest.raises(DownloadError, match="broke off"):
        b"".join(decompressed(broken(), "zstd", "u"))


@needs_zstd
def test_zstd_program_is_stopped_at_the_limit(monkeypatch):
    monkeypatch.setattr(decompress, "_python_zstd", lambda: None)
    with pytest.raises(DownloadError, match="more than the 1000 bytes"):
        unpack(_zstd(IMAGE), "zstd", limit=1000)


def test_without_any_zstd_decompressor(monkeypatch):
    monkeypatch.setattr(decompress, "_python_zstd", lambda: None)
    monkeypatch.setattr(decompress.shutil, "which", lambda name: None)
    assert not can_decompress("zstd")
    assert can_decompress("xz") and can_decompress("gzip") and can_decompress("bzip2")
    with pytest.raises(DownloadError, match="no zstd program"):
        unpack(b"\x28\xb5\x2f\xfd", "zstd")


@needs_zstd
def test_python_zstd_when_the_host_has_it():
    """compression.zstd (Python 3.14) or the zstandard module: bounded chunks, frames, truncation."""
    if decompress._python_zstd() is None:
        pytest.skip("neither compression.zstd nor zstandard here")
    body = _zstd(IMAGE[:1000]) + _zstd(IMAGE[1000:] + bytes(3 << 20))
    out = list(decompressed(chunked(body, 1 << 20), "zstd", "u"))
    assert b"".join(out) == IMAGE + bytes(3 << 20) and max(len(chunk) for chunk in out) <= CHUNK_SIZE
    with pytest.raises(DownloadError, match="truncated"):
        unpack(body[:-3], "zstd")
