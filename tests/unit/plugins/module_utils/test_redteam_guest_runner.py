"""Hostile and careless inputs against virt_guest_install's flow through libvirt's test driver.

Each test was a way found to break a promise; it now guards the fix.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils.guest_runner import run
from ansible_collections.remotevirt.install.plugins.module_utils.volume_plan import INCOMPLETE_XATTR
from ansible_collections.remotevirt.install.plugins.module_utils.volume_runner import RunError
from ansible_collections.remotevirt.install.plugins.module_utils.volume_runner import run as run_volume
from test_guest_runner import disk, guest, install
from test_volume_runner import params as volume_params


def volume_path(client, pool, name):
    return client.describe_volume(client.find_volume(client.find_pool(pool), name)).path


def half_made_download(client, pool, name):
    """A volume whose file still carries the mark of a download that was killed mid-way."""
    run_volume(volume_params(pool=pool, name=name, capacity="1M", format="raw"), check_mode=False, diff=False)
    path = volume_path(client, pool, name)
    with open(path, "wb") as image:
        image.write(b"\0" * 4096)
    os.setxattr(path, INCOMPLETE_XATTR, b"1")
    return path


# -- a disk another guest or volume needs -----------------------------------------------------
def test_a_volume_that_backs_another_volume_is_not_installed_onto(unique_name, test_client):
    base, overlay = unique_name(".qcow2"), unique_name(".qcow2")
    run_volume(volume_params(name=base, capacity="1M"), check_mode=False, diff=False)
    run_volume(volume_params(name=overlay, backing_volume=base), check_mode=False, diff=False)
    with pytest.raises(RunError, match="allow_in_use"):
        run(guest(unique_name(""), disks=[disk(volume=base)]), check_mode=True, diff=False)


def test_the_path_of_another_guests_volume_is_not_attached_without_allow_in_use(unique_name, test_client, file_pool):
    first = unique_name("")
    run(guest(first, disks=[disk(pool=file_pool, size="1M")]), check_mode=False, diff=False)
    path = volume_path(test_client, file_pool, "%s-disk0.qcow2" % first)
    with open(path, "wb") as image:
        image.write(b"\0" * 4096)
    with pytest.raises(RunError, match="used by guest"):
        run(guest(unique_name(""), disks=[disk(pool=None, path=path, format="qcow2")]), check_mode=True, diff=False)


@pytest.mark.parametrize("spelling", ["%s//%s", "%s/./%s"])
def test_another_spelling_of_a_used_path_is_not_attached_without_allow_in_use(unique_name, test_client,
                                                                              tmp_path, spelling):
    image = tmp_path / "shared.img"
    image.write_bytes(b"\0" * 4096)
    run(guest(unique_name(""), disks=[disk(pool=None, path=str(image))]), check_mode=False, diff=False)
    alias = spelling % (tmp_path, "shared.img")
    with pytest.raises(RunError, match="used by guest"):
        run(guest(unique_name(""), disks=[disk(pool=None, path=alias)]), check_mode=True, diff=False)


def test_the_same_spelling_of_a_used_path_is_refused(unique_name, test_client, tmp_path):
    """What holds: the path exactly as the other guest has it."""
    image = tmp_path / "shared.img"
    image.write_bytes(b"\0" * 4096)
    run(guest(unique_name(""), disks=[disk(pool=None, path=str(image))]), check_mode=False, diff=False)
    with pytest.raises(RunError, match="used by guest"):
        run(guest(unique_name(""), disks=[disk(pool=None, path=str(image))]), check_mode=True, diff=False)


# -- half-made downloads ----------------------------------------------------------------------
def test_a_half_made_download_is_refused_as_a_volume_disk(unique_name, test_client, file_pool):
    """What holds: a pool disk on an unfinished download."""
    half_made_download(test_client, file_pool, "half.img")
    with pytest.raises(RunError, match="never finished"):
        run(guest(unique_name(""), disks=[disk(pool=file_pool, volume="half.img")]), check_mode=True, diff=False)


def test_a_half_made_download_is_not_booted_as_install_cdrom(unique_name, test_client, file_pool):
    half_made_download(test_client, file_pool, "half.iso")
    wanted = guest(unique_name(""), disks=[disk(pool=file_pool, size="1M")],
                   install=install(method="cdrom", cdrom=dict(pool=file_pool, volume="half.iso", path=None)))
    with pytest.raises(RunError, match="never finished"):
        run(wanted, check_mode=True, diff=False)


def test_a_half_made_download_is_not_attached_by_its_path(unique_name, test_client, file_pool):
    path = half_made_download(test_client, file_pool, "half-path.img")
    with pytest.raises(RunError, match="never finished"):
        run(guest(unique_name(""), disks=[disk(pool=None, path=path, format="raw")]), check_mode=True, diff=False)
