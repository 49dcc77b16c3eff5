"""The cpio "newc" archive appended to an initrd: parsed here the way the kernel's initramfs unpacker does."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import time
import zlib

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._guest.initrd import append_file, newc_archive

HEADER_LEN = 110
FIELDS = (
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
)


def parse_newc(data, offset=0):
    """Entries of the newc archive at ``data[offset:]`` up to its trailer, as dicts with the header
    fields, ``name``, ``data`` and ``offset``; checks magic, hex fields and 4-byte alignment on the way.
    Returns (entries, offset just past the trailer entry)."""
    entries = []
    while True:
        assert offset % 4 == 0, "header at %d is not 4-byte aligned" % offset
        header = data[offset : offset + HEADER_LEN]
        assert len(header) == HEADER_LEN, "truncated header at %d" % offset
        assert header[:6] == b"070701", "bad magic %r at %d" % (header[:6], offset)
        fields = {}
        for index, name in enumerate(FIELDS):
            text = header[6 + 8 * index : 6 + 8 * (index + 1)]
            assert all(c in b"0123456789ABCDEF" for c in text), "field %s is %r" % (name, text)
            fields[name] = int(text, 16)
        name_start = offset + HEADER_LEN
        raw_name = data[name_start : name_start + fields["namesize"]]
        assert raw_name.endswith(b"\0") and b"\0" not in raw_name[:-1], "name %r not NUL-terminated" % raw_name
        data_start = name_start + fields["namesize"]
        assert data[data_start : -data_start % 4 + data_start] == b"\0" * (-data_start % 4), "name padding not zero"
        data_start += -data_start % 4
        end = data_start + fields["filesize"]
        assert end <= len(data), "file data runs past the end"
        entry = dict(fields, name=raw_name[:-1].decode("utf-8"), data=data[data_start:end], offset=offset)
        padding = -end % 4
        assert data[end : end + padding] == b"\0" * padding, "data padding not zero"
        offset = end + padding
        entries.append(entry)
        if entry["name"] == "TRAILER!!!":
            return entries, offset


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 1000, 4097])
def test_archive_is_newc_with_one_file_and_trailer(size):
    """One regular file with its exact bytes, then TRAILER!!!; everything 4-byte aligned, nothing after."""
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    before = int(time.time())
    archive = newc_archive("ks.cfg", payload)
    after = int(time.time())
    entries, end = parse_newc(archive)
    assert end == len(archive) and len(archive) % 4 == 0
    assert [(e["name"], e["data"], e["filesize"]) for e in entries] == [("ks.cfg", payload, size), ("TRAILER!!!", b"", 0)]
    entry = entries[0]
    assert entry["mode"] == 0o100600  # regular file, root only
    assert (entry["uid"], entry["gid"], entry["nlink"], entry["check"]) == (0, 0, 1, 0)
    assert entry["namesize"] == len("ks.cfg") + 1
    assert before <= entry["mtime"] <= after
    assert entry["ino"] != entries[1]["ino"]


@pytest.mark.parametrize("name", ["a", "ab", "abc", "abcd", "preseed.cfg", "ks.cfg", "dir/x", "\u00e9t\u00e9.cfg"])
def test_name_lengths_keep_the_data_aligned(name):
    """The name padding depends on the name's length (header + name is padded to 4); every length works."""
    archive = newc_archive(name, b"xyz")
    entries, end = parse_newc(archive)
    assert end == len(archive)
    assert entries[0]["name"] == name and entries[0]["data"] == b"xyz"
    assert entries[0]["namesize"] == len(name.encode("utf-8")) + 1


def test_mode_is_written_as_given():
    entries = parse_newc(newc_archive("run.sh", b"#!/bin/sh\n", mode=0o100755))[0]
    assert entries[0]["mode"] == 0o100755


@pytest.mark.skipif(shutil.which("cpio") is None, reason="no cpio binary on this machine")
def test_gnu_cpio_lists_and_extracts_the_archive(tmp_path):
    """An independent reader agrees: cpio extracts the file with its content and mode."""
    archive = newc_archive("ks.cfg", b"text\n")
    subprocess.run(["cpio", "-idm", "--quiet", "-H", "newc"], input=archive, cwd=str(tmp_path), check=True)
    assert (tmp_path / "ks.cfg").read_bytes() == b"text\n"
    assert oct((tmp_path / "ks.cfg").stat().st_mode & 0o777) == oct(0o600)


@pytest.mark.parametrize("initial", [0, 1, 2, 3, 4, 5, 6, 7])
def test_append_file_pads_the_initrd_to_four_bytes(tmp_path, initial):
    """The archive starts at the next 4-byte boundary, after zero padding; the initrd's bytes are untouched."""
    initrd = tmp_path / "initrd"
    original = b"\x1f" * initial
    initrd.write_bytes(original)
    append_file(str(initrd), "ks.cfg", b"hello")
    content = initrd.read_bytes()
    start = initial + (-initial % 4)
    assert content[:initial] == original
    assert content[initial:start] == b"\0" * (start - initial)
    entries, end = parse_newc(content, start)
    assert end == len(content)
    assert [(e["name"], e["data"]) for e in entries] == [("ks.cfg", b"hello"), ("TRAILER!!!", b"")]


def test_append_after_a_gzip_initrd_leaves_the_gzip_stream_intact(tmp_path):
    """A compressed initrd (odd length) followed by padding and the archive: the gzip stream decompresses
    to the same bytes, and what follows it is zero padding then a complete newc archive."""
    inner = newc_archive("init", b"#!/bin/sh\nexec /sbin/init\n", mode=0o100755)
    compressed = gzip.compress(inner * 50, mtime=0)
    if len(compressed) % 4 == 0:
        compressed += b"\0"  # zeros may follow a gzip member; the append must have padding to add
    initrd = tmp_path / "initrd.gz"
    initrd.write_bytes(compressed)
    append_file(str(initrd), "preseed.cfg", b"d-i debian-installer/locale string en_US\n")
    content = initrd.read_bytes()
    assert content[: len(compressed)] == compressed
    stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    assert stream.decompress(content) == inner * 50
    assert stream.eof
    rest = stream.unused_data
    skipped = len(rest) - len(rest.lstrip(b"\0"))  # the kernel skips zero padding between archives
    assert (len(content) - len(rest) + skipped) % 4 == 0
    entries, end = parse_newc(rest.lstrip(b"\0"))
    assert end == len(rest) - skipped
    assert entries[0]["name"] == "preseed.cfg"
    assert entries[0]["data"] == b"d-i debian-installer/locale string en_US\n"


def test_append_twice_adds_two_archives(tmp_path):
    """Appending again leaves the first archive as it was: each append is a self-contained archive."""
    initrd = tmp_path / "initrd"
    initrd.write_bytes(b"abc")
    append_file(str(initrd), "one", b"1")
    first = initrd.read_bytes()
    append_file(str(initrd), "two", b"22")
    content = initrd.read_bytes()
    assert content.startswith(first)
    entries, end = parse_newc(content, 4)
    more, end = parse_newc(content, end)
    assert end == len(content)
    assert [e["name"] for e in entries + more] == ["one", "TRAILER!!!", "two", "TRAILER!!!"]


def test_append_file_to_missing_initrd_creates_it(tmp_path):
    path = tmp_path / "new-initrd"
    append_file(str(path), "ks.cfg", b"x")
    content = path.read_bytes()
    entries, end = parse_newc(content)
    assert end == len(content) and entries[0]["data"] == b"x"
