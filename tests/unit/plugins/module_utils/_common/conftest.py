"""Fixtures of the tests of the private lock directory: a directory every user can reach, and a
sticky shared temporary directory standing in for /tmp."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common import code_store


@pytest.fixture
def world():
    """A directory every user can reach (pytest's tmp_path is root's 0700)."""
    base = tempfile.mkdtemp(prefix="rtp-world-")
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def sticky_tmp(world, monkeypatch):
    """The shared temporary directory of the lock directory's last resort, here rather than /tmp."""
    tmp = os.path.join(world, "tmp")
    os.mkdir(tmp)
    os.chmod(tmp, 0o1777)
    monkeypatch.setattr(code_store, "SHARED_TEMPORARY", tmp)
    return tmp
