"""Hostile and careless inputs against virt_pool_volume's flow through libvirt's test driver.

Each test was a way found to break a promise; it now guards the fix.
"""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils.volume_runner import RunError, run
from test_redteam_guest_runner import half_made_download
from test_volume_runner import params


def test_a_half_made_download_is_refused_when_asserted(test_client, file_pool):
    """What holds: the volume itself, asserted or grown."""
    half_made_download(test_client, file_pool, "half.img")
    for extra in ({}, {"capacity": "2M"}):
        with pytest.raises(RunError, match="never finished"):
            run(params(pool=file_pool, name="half.img", **extra), check_mode=True, diff=False)


def test_a_half_made_download_is_not_cloned(test_client, file_pool):
    half_made_download(test_client, file_pool, "half.img")
    with pytest.raises(RunError, match="never finished"):
        run(params(pool=file_pool, name="copy.img", clone_from="half.img"), check_mode=True, diff=False)


def test_a_half_made_download_does_not_back_an_overlay(test_client, file_pool):
    half_made_download(test_client, file_pool, "half.img")
    with pytest.raises(RunError, match="never finished"):
        run(params(pool=file_pool, name="overlay.qcow2", backing_volume="half.img"), check_mode=True, diff=False)
