from __future__ import annotations

import fixtures
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from conftest import assert_valid

LIBVIRT_POOL = fixtures.read(__file__, "dir-pool.xml")


def test_built_pool_is_valid_and_round_trips():
    pool = Pool(name="rv", type="dir", target_path="/var/lib/rv")
    xml = pool.to_xml()
    assert_valid("storagepool", xml)
    assert Pool.from_xml(xml) == pool


def test_reads_what_libvirt_reports():
    pool = Pool.from_xml(LIBVIRT_POOL)
    assert pool == Pool(
        name="default-pool",
        type="dir",
        target_path="/default-pool",
        uuid="dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566",
        capacity=100 << 30,
        allocation=0,
        available=100 << 30,
    )
    assert pool.holds_files
    assert not Pool(name="lv", type="logical").holds_files
