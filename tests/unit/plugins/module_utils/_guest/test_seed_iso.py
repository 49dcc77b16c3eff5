"""The seed ISO writer: ISO 9660 with Joliet names, read back by a tiny parser here and by xorriso
and blkid when the machine has them."""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._guest import seed_iso

FILES = {
    "user-data": b"#cloud-config\nhostname: h\n",
    "meta-data": b"instance-id: i-1\n",
    "network-config": b"version: 2\n" * 400,
}


def descriptor(image, sector):
    return image[sector * seed_iso.SECTOR : (sector + 1) * seed_iso.SECTOR]


def read_root(image, joliet):
    """{name: content} of the root directory of the primary or the Joliet tree."""
    volume = descriptor(image, 17 if joliet else 16)
    root = volume[156:190]
    sector = struct.unpack("<I", root[2:6])[0]
    directory = descriptor(image, sector)
    files, offset = {}, 0
    while offset < len(directory) and directory[offset]:
        length = directory[offset]
        record = directory[offset : offset + length]
        start, size = struct.unpack("<I", record[2:6])[0], struct.unpack("<I", record[10:14])[0]
        identifier = record[33 : 33 + record[32]]
        if identifier not in (b"\x00", b"\x01"):
            name = identifier.decode("utf-16-be" if joliet else "ascii")
            files[name] = image[start * seed_iso.SECTOR : start * seed_iso.SECTOR + size]
        offset += length
    return files


def test_volume_descriptors_name_the_cidata_volume():
    image = seed_iso.build(FILES)
    primary, joliet, terminator = (descriptor(image, sector) for sector in (16, 17, 18))
    assert primary[:7] == b"\x01CD001\x01" and primary[40:46] == b"cidata"
    assert joliet[:7] == b"\x02CD001\x01" and joliet[88:91] == b"%/E" and joliet[40:52] == "cidata".encode("utf-16-be")
    assert terminator[:7] == b"\xffCD001\x01"
    assert struct.unpack("<I", primary[80:84])[0] * seed_iso.SECTOR == len(image)


def test_joliet_keeps_names_and_content():
    assert read_root(seed_iso.build(FILES), joliet=True) == FILES


def test_primary_names_are_8_3():
    assert read_root(seed_iso.build(FILES), joliet=False) == {
        "META_DAT.;1": FILES["meta-data"],
        "NETWORK_.;1": FILES["network-config"],
        "USER_DAT.;1": FILES["user-data"],
    }


def test_same_files_same_image():
    """Fixed dates and order: check mode and the run compute the same size and digest."""
    assert seed_iso.build(FILES) == seed_iso.build(dict(reversed(list(FILES.items()))))


def test_names_that_collide_are_refused():
    with pytest.raises(seed_iso.IsoError):
        seed_iso.build({"user-data": b"", "user-data2": b""})


@pytest.mark.skipif(shutil.which("xorriso") is None, reason="xorriso not installed")
def test_xorriso_reads_the_files(tmp_path):
    iso = tmp_path / "seed.iso"
    iso.write_bytes(seed_iso.build(FILES))
    subprocess.run(
        ["xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", "/", str(tmp_path / "out")], check=True, capture_output=True
    )
    assert {path.name: path.read_bytes() for path in (tmp_path / "out").iterdir()} == FILES


@pytest.mark.skipif(shutil.which("blkid") is None, reason="blkid not installed")
def test_blkid_sees_the_label_cloud_init_looks_for(tmp_path):
    iso = tmp_path / "seed.iso"
    iso.write_bytes(seed_iso.build(FILES))
    result = subprocess.run(["blkid", "-p", "-o", "export", str(iso)], capture_output=True, text=True, check=True)
    assert "LABEL=cidata" in result.stdout.split() and "TYPE=iso9660" in result.stdout.split()
