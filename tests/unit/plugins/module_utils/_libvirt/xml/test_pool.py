from __future__ import annotations

import os

import pytest

import fixtures
import golden
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import XmlError, parse
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import (
    Pool,
    PoolDefinition,
    pool_capabilities,
    unmanaged_parts,
)
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


# -- pool definitions --------------------------------------------------------------------------
# Beside the domain builder's golden files, which its own test lists.
POOL_GOLDEN = os.path.join(golden.folder(__file__), "pool")
DEFINITIONS = {
    "dir": PoolDefinition(name="images", type="dir", target_path="/srv/images", mode="0711", owner=0, group=0),
    "fs": PoolDefinition(name="fast", type="fs", source_devices=("/dev/vdb1",), source_format="xfs", target_path="/srv/fast"),
    "netfs": PoolDefinition(
        name="isos",
        type="netfs",
        source_hosts=("nas.example.com",),
        source_dir="/export/isos",
        source_format="nfs",
        target_path="/srv/isos",
    ),
    "logical": PoolDefinition(
        name="vg_guests",
        type="logical",
        source_devices=("/dev/sdb", "/dev/sdc"),
        source_name="vg_guests",
        source_format="lvm2",
        target_path="/dev/vg_guests",
    ),
    "iscsi": PoolDefinition(
        name="san",
        type="iscsi",
        source_hosts=("san.example.com",),
        source_devices=("iqn.2004-04.com.example:storage.lun1",),
        initiator="iqn.2024-01.com.example:hv1",
        target_path="/dev/disk/by-path",
    ),
}


@pytest.mark.parametrize("case", sorted(DEFINITIONS))
def test_pool_definitions_match_their_golden_xml_and_libvirt_schema(case):
    definition = DEFINITIONS[case]
    xml = definition.to_xml()
    assert_valid("storagepool", xml)
    golden.compare(os.path.join(POOL_GOLDEN, "pool-%s.xml" % case), xml)
    assert PoolDefinition.from_xml(xml) == definition


def test_no_stale_pool_golden_files():
    expected = ["pool-%s.xml" % case for case in DEFINITIONS]
    assert golden.stale(POOL_GOLDEN, ".xml", expected) == []


def test_definition_reads_libvirt_spelling():
    xml = (
        "<pool type='dir'><name>a</name><uuid>u-1</uuid><capacity unit='bytes'>5</capacity><source>\n</source>"
        "<target><path>/srv//a/</path><permissions><mode>755</mode><owner>-1</owner><group>107</group></permissions>"
        "</target></pool>"
    )
    definition = PoolDefinition.from_xml(xml)
    assert definition == PoolDefinition(name="a", type="dir", target_path="/srv/a", mode="0755", group=107)
    assert definition.uuid == "u-1"  # carried for a redefinition, never compared
    assert definition.with_changes(uuid="other") == definition


def test_bad_permissions_are_xml_errors():
    with pytest.raises(XmlError):
        PoolDefinition.from_xml(
            "<pool type='dir'><name>a</name><target><permissions><mode>rwx</mode></permissions></target></pool>"
        )


def test_unmanaged_parts_are_named():
    root = parse(
        "<pool type='iscsi' x='1'><name>a</name><source><host name='h' port='3261'/><auth type='chap'/></source>"
        "<target><path>/dev/disk/by-path</path></target><!-- note --></pool>"
    )
    assert unmanaged_parts(root) == ["source/host@port", "source/auth", "pool@x"]


def test_capabilities_by_type():
    xml = (
        "<storagepoolCapabilities><pool type='dir' supported='yes'/><pool type='rbd' supported='no'/>"
        "<pool type='fs' supported='yes'><poolOptions><defaultFormat type='auto'/><enum name='sourceFormatType'>"
        "<value>auto</value><value>ext4</value></enum></poolOptions></pool></storagepoolCapabilities>"
    )
    capabilities = pool_capabilities(xml)
    assert capabilities["dir"].supported and not capabilities["rbd"].supported
    assert capabilities["fs"].source_formats == ("auto", "ext4")


@pytest.mark.parametrize(
    "target, named",
    [
        ("<path>/srv/p<!-- a comment -->x</path>", "comments, processing instructions or entities in a text"),
        ("<path>/srv/p&e;</path>", "comments, processing instructions or entities in a text"),
        ("<path>/srv/p<?pi x?>x</path>", "comments, processing instructions or entities in a text"),
        ("<path>/srv/p</path><path>/etc</path>", "a second target/path"),
    ],
)
def test_what_would_be_read_otherwise_than_libvirt_reads_it_is_named(target, named):
    """Text cut by a comment or an entity, or a second element, would be read one way here and
    another way by libvirt."""
    root = parse("<!DOCTYPE pool [<!ENTITY e 'x'>]><pool type='dir'><name>p</name><target>%s</target></pool>" % target)
    assert named in unmanaged_parts(root)


@pytest.mark.parametrize("value", ["4294967295", "4294967296", "99999999999", "9" * 5000, "-2", "1e3", "٣"])
def test_a_permission_id_libvirt_cannot_store_is_refused(value):
    """libvirt refuses them only in the real run ("malformed group element"); one of thousands of digits
    is no traceback either."""
    xml = "<pool type='dir'><name>p</name><target><path>/srv/p</path><permissions><group>%s</group></permissions></target></pool>"
    with pytest.raises(XmlError, match="target/permissions/group .* is not a numeric id .-1, or 0 to 4294967294."):
        PoolDefinition.from_xml(xml % value)


@pytest.mark.parametrize("value, expected", [("-1", None), ("0", 0), ("4294967294", 4294967294), (" 107 ", 107)])
def test_permission_ids_libvirt_stores_are_taken(value, expected):
    xml = "<pool type='dir'><name>p</name><target><path>/srv/p</path><permissions><owner>%s</owner></permissions></target></pool>"
    assert PoolDefinition.from_xml(xml % value).owner == expected
