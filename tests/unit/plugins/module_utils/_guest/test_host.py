"""What virt_guest_install and virt_preflight read of the host: a disk image's format, an install's boot_dir."""

from __future__ import annotations

import os

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._guest.host import check_boot_dir, sniff_format


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"QFI\xfb\x00\x00\x00\x03" + bytes(100), "qcow2"),
        (b"QFI\xfb", "qcow2"),
        (b"\xeb\x63\x90" + bytes(509), "raw"),
        (b"QFI", "raw"),
        (b"", "raw"),
    ],
)
def test_sniff_format_of_files(tmp_path, content, expected):
    """The qcow2 magic makes a file qcow2; any other readable file is raw."""
    image = tmp_path / "disk.img"
    image.write_bytes(content)
    assert sniff_format(str(image)) == expected


def test_sniff_format_of_missing_and_unreadable_paths(tmp_path):
    """A path that does not exist or cannot be read as a file gives None."""
    assert sniff_format(str(tmp_path / "missing.img")) is None
    assert sniff_format(str(tmp_path)) is None


def test_boot_dir_checks(tmp_path):
    boot = tmp_path / "boot"
    assert check_boot_dir(str(boot)) is False  # made 0711 by the fetch
    boot.mkdir(mode=0o711)
    assert check_boot_dir(str(boot)) is True
    os.chmod(boot, 0o777)
    with pytest.raises(PlanError, match="can be written by its group or by others"):
        check_boot_dir(str(boot))
    plain = tmp_path / "file"
    plain.write_text("x")
    with pytest.raises(PlanError, match="is not a directory"):
        check_boot_dir(str(plain))


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_boot_dir_of_another_user_is_refused(tmp_path):
    boot = tmp_path / "boot"
    boot.mkdir(mode=0o711)
    os.chown(boot, 4321, -1)
    with pytest.raises(PlanError, match="install.boot_dir .* belongs to uid 4321, who could make it lead elsewhere"):
        check_boot_dir(str(boot))


def test_a_missing_boot_dir_whose_parent_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    assert check_boot_dir(str(tmp_path / "new" / "boot")) is False
    with pytest.raises(PlanError, match="cannot be created: .*/file is not a directory"):
        check_boot_dir(str(tmp_path / "file" / "boot"))


@pytest.mark.parametrize("under", ["ssh", ".", "", "new/boot"])
def test_a_boot_dir_through_a_link_to_a_system_directory_is_refused(tmp_path, under):
    link = tmp_path / "link"
    link.symlink_to("/etc")
    path = str(link) + "/" + under
    with pytest.raises(PlanError, match="leads to /etc.* one of the host's system directories"):
        check_boot_dir(path)


def test_a_boot_dir_through_a_link_to_a_directory_of_its_own_is_allowed(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o711)
    (tmp_path / "link").symlink_to(real)
    assert check_boot_dir(str(tmp_path / "link" / "boot")) is False
