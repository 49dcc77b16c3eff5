"""The backing file named in a qcow2 header, from images qemu-img writes."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common import image_header
from ansible_collections.remotevirt.install.plugins.module_utils._common.image_header import qcow2_backing_file

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")


def qemu_img(*args):
    subprocess.run(["qemu-img"] + list(args), check=True, capture_output=True)


def test_backing_file_of_an_overlay_absolute_and_relative(tmp_path):
    base = tmp_path / "base.qcow2"
    qemu_img("create", "-f", "qcow2", str(base), "1M")
    qemu_img("create", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(tmp_path / "abs.qcow2"))
    qemu_img("create", "-f", "qcow2", "-F", "qcow2", "-b", "base.qcow2", str(tmp_path / "rel.qcow2"))
    assert qcow2_backing_file(str(tmp_path / "abs.qcow2")) == str(base)
    assert qcow2_backing_file(str(tmp_path / "rel.qcow2")) == str(tmp_path / "base.qcow2")
    assert qcow2_backing_file(str(base)) is None


@pytest.mark.parametrize("content", [b"", b"QFI", b"\\x00" * 64, b"QFI\xfb" + b"\xff" * 16])
def test_other_or_broken_files_have_none(tmp_path, content):
    image = tmp_path / "x.img"
    image.write_bytes(content)
    assert qcow2_backing_file(str(image)) is None


def test_missing_file_has_none(tmp_path):
    assert qcow2_backing_file(str(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    "content, kind",
    [
        (b"QFI\xfb\0\0\0\3", image_header.QCOW_BACKING),
        (b"QED\0" + b"\0" * 60, image_header.OTHER_BACKING),
        (b"KDMV" + b"\0" * 60, image_header.OTHER_BACKING),
        (b"# Disk DescriptorFile\nparentFileNameHint=x\n", image_header.OTHER_BACKING),
        (b"", image_header.NO_BACKING),
        (b"\0" * 512, image_header.NO_BACKING),
        (b"CD001" * 10, image_header.NO_BACKING),
    ],
)
def test_backing_kind_by_magic(tmp_path, content, kind):
    image = tmp_path / "x.img"
    image.write_bytes(content)
    assert image_header.backing_kind(str(image)) == kind


def test_an_unreadable_file_is_left_to_libvirt(tmp_path):
    assert image_header.backing_kind(str(tmp_path / "missing")) == image_header.OTHER_BACKING


def test_a_dot_dot_after_a_symbolic_link_is_left_to_the_kernel(tmp_path):
    # pool/linked -> elsewhere/deeper: 'linked/../base.qcow2' is elsewhere/base.qcow2, not pool/base.qcow2.
    (tmp_path / "elsewhere" / "deeper").mkdir(parents=True)
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "linked").symlink_to(tmp_path / "elsewhere" / "deeper")
    qemu_img("create", "-f", "qcow2", str(tmp_path / "elsewhere" / "base.qcow2"), "1M")
    overlay = tmp_path / "pool" / "overlay.qcow2"
    qemu_img("create", "-f", "qcow2", "-F", "qcow2", "-b", "linked/../base.qcow2", str(overlay))
    backing = qcow2_backing_file(str(overlay))
    assert backing == str(tmp_path / "pool" / "linked" / ".." / "base.qcow2")
    assert os.path.samefile(backing, tmp_path / "elsewhere" / "base.qcow2")


def test_the_external_data_file_of_a_qcow2_image_is_read(tmp_path):
    absolute, relative, plain = tmp_path / "absolute.qcow2", tmp_path / "relative.qcow2", tmp_path / "plain.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=%s" % (tmp_path / "a.raw"), str(absolute), "1M"], check=True
    )
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=r.raw", str(relative), "1M"], cwd=str(tmp_path), check=True
    )
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(plain), "1M"], check=True)
    assert image_header.qcow2_data_file(str(absolute)) == str(tmp_path / "a.raw")
    assert image_header.qcow2_data_file(str(relative)) == "/r.raw"  # from QEMU's working directory
    assert image_header.qcow2_data_file(str(plain)) is None
    assert image_header.qcow2_data_file(str(tmp_path / "a.raw")) is None
    assert image_header.qcow2_data_file(str(tmp_path / "missing")) is None


def qcow2_naming(path, backing: bytes):
    """A qcow2 header naming the raw bytes ``backing`` as backing file."""
    import struct

    path.write_bytes(struct.pack(">4sIQI", b"QFI\xfb", 3, 64, len(backing)) + b"\0" * 44 + backing)


@pytest.mark.parametrize(
    "name, named",
    [
        (b"/srv/a://b.img", "/srv/a://b.img"),  # a colon after the first slash: a file
        (b"nbd://host/export", None),
        (b"http://mirror/base.qcow2", None),
        (b"file:/srv/base.qcow2", "/srv/base.qcow2"),
        (b'json:{"driver": "file", "filename": "/srv/j.qcow2"}', "/srv/j.qcow2"),
        (b'json:{"driver": "qcow2", "file": {"driver": "file", "filename": "/srv/n.qcow2"}}', "/srv/n.qcow2"),
        (b'json:{"file.filename": "/srv/f.qcow2"}', "/srv/f.qcow2"),
        (b'json:{"file": {"filename": "/srv/d.qcow2"}}', "/srv/d.qcow2"),  # no driver: QEMU finds the file
        (b'json:{"driver": "nbd", "server": {"host": "h"}}', None),
        (b"json:{not json", None),
        (b'json:{"file": {"filename": "srv/r.raw"}}', "/srv/r.raw"),  # relative: from QEMU's working directory
        (b"file:srv/r.raw", "/srv/r.raw"),
        (b"/srv/\xff/base.qcow2", "/srv/\udcff/base.qcow2"),  # not UTF-8: the bytes as the file system has them
    ],
)
def test_backing_names_as_qemu_reads_them(tmp_path, name, named):
    image = tmp_path / "over.qcow2"
    qcow2_naming(image, name)
    assert qcow2_backing_file(str(image)) == named


def test_only_regular_files_and_block_devices_are_opened(tmp_path):
    """A FIFO in a chain would block every in-use check; some character devices act when opened."""
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))
    assert image_header.open_image(str(fifo)) is None
    assert qcow2_backing_file(str(fifo)) is None and image_header.qcow2_data_file(str(fifo)) is None
    assert image_header.backing_kind(str(fifo)) == image_header.NO_BACKING
    assert image_header.open_image("/dev/null") is None  # a character device
    assert image_header.open_image(str(tmp_path)) is None
    (tmp_path / "f").write_bytes(b"x")
    with image_header.open_image(str(tmp_path / "f")) as opened:
        assert opened.read() == b"x"


def test_a_relative_data_file_is_opened_from_qemus_working_directory(tmp_path):
    """QEMU opens a relative data file name from its working directory (/ under libvirt), not from
    the image's directory as it does a backing file's."""
    image = tmp_path / "rel.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=r.raw", str(image), "1M"], cwd=str(tmp_path), check=True
    )
    assert image_header.qcow2_data_file(str(image)) == "/r.raw"


@pytest.mark.parametrize("fmt", ["qed", "vmdk"])
def test_the_backing_file_of_other_formats_is_read(tmp_path, fmt):
    """libvirt and QEMU follow a QED or VMDK image's backing file as they follow a qcow2 image's."""
    base_format = "raw" if fmt == "qed" else fmt  # a VMDK image is backed by a VMDK image only
    base = tmp_path / ("base." + base_format)
    qemu_img("create", "-f", base_format, str(base), "1M")
    overlay = tmp_path / ("over." + fmt)
    qemu_img("create", "-f", fmt, "-F", base_format, "-b", str(base), str(overlay))
    assert image_header.named_files(str(overlay)).backing == str(base)
    assert image_header.named_files(str(overlay)) == (str(base), None)
    plain = tmp_path / ("plain." + fmt)
    qemu_img("create", "-f", fmt, str(plain), "1M")
    assert image_header.named_files(str(plain)).backing is None


@pytest.mark.parametrize("compat", ["0.10", "1.1"])
@pytest.mark.parametrize("backing_format", ["raw", "qcow2"])
def test_the_format_recorded_for_a_backing_file_is_read(tmp_path, compat, backing_format):
    base, top = tmp_path / "base.qcow2", tmp_path / "top.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "1M"], check=True)
    command = [
        "qemu-img",
        "create",
        "-q",
        "-f",
        "qcow2",
        "-o",
        "compat=%s" % compat,
        "-F",
        backing_format,
        "-b",
        str(base),
        str(top),
    ]
    subprocess.run(command, check=True)
    assert image_header.qcow2_backing_format(str(top)) == backing_format
    assert image_header.qcow2_backing_format(str(base)) is None
