from __future__ import annotations

import pytest

import fixtures
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Permissions, Volume, normalise_mode
from conftest import assert_valid

LIBVIRT_QCOW2 = fixtures.read(__file__, "web-qcow2-volume.xml")


@pytest.mark.parametrize(
    "volume",
    [
        Volume(name="a.qcow2", capacity=1 << 30, format="qcow2", allocation=0),
        Volume(
            name="b.img",
            capacity=1 << 20,
            format="raw",
            allocation=1 << 20,
            permissions=Permissions(mode="0640", owner=0, group=64055),
        ),
        Volume(
            name="c.qcow2", capacity=1 << 30, format="qcow2", allocation=0, backing_path="/p/base.qcow2", backing_format="qcow2"
        ),
        Volume(name="d.iso", capacity=4096, format="iso", permissions=Permissions(mode="0644")),
    ],
)
def test_built_xml_is_valid_and_round_trips(volume):
    xml = volume.to_xml()
    assert_valid("storagevol", xml)
    assert Volume.from_xml(xml) == volume
    assert Volume.from_xml(xml).to_xml() == xml  # deterministic


def test_reads_what_libvirt_reports():
    volume = Volume.from_xml(LIBVIRT_QCOW2)
    assert volume == Volume(
        name="web.qcow2",
        capacity=20 << 30,
        format="qcow2",
        allocation=196 * 1024,
        physical=200704,
        path="/pool/web.qcow2",
        key="/pool/web.qcow2",
        permissions=Permissions(mode="0600", owner=64055, group=64055),
        backing_path="/pool/base.qcow2",
        backing_format="qcow2",
    )
    assert volume.facts("p") == {
        "name": "web.qcow2",
        "pool": "p",
        "path": "/pool/web.qcow2",
        "key": "/pool/web.qcow2",
        "format": "qcow2",
        "capacity": 20 << 30,
        "allocation": 196 * 1024,
        "backing_path": "/pool/base.qcow2",
    }


def test_unset_owner_is_none():
    xml = LIBVIRT_QCOW2.replace("<owner>64055</owner>", "<owner>-1</owner>")
    assert Volume.from_xml(xml).permissions.owner is None


def test_element_order_is_fixed():
    xml = Volume(
        name="x",
        capacity=1,
        format="raw",
        allocation=0,
        permissions=Permissions(mode="0600", owner=1, group=2),
        backing_path="/b",
    ).to_xml()
    tags = [line.strip().split(">")[0] for line in xml.splitlines()]
    assert tags == [
        "<volume",
        "<name",
        '<capacity unit="bytes"',
        '<allocation unit="bytes"',
        "<target",
        '<format type="raw"/',
        "<permissions",
        "<mode",
        "<owner",
        "<group",
        "</permissions",
        "</target",
        "<backingStore",
        "<path",
        "</backingStore",
        "</volume",
    ]


@pytest.mark.parametrize("mode, expected", [("644", "0644"), ("0600", "0600"), ("2750", "2750"), (None, None)])
def test_normalise_mode(mode, expected):
    assert normalise_mode(mode) == expected


def test_permissions_covers_only_the_fields_set():
    actual = Permissions(mode="0600", owner=107, group=107)
    assert Permissions().covers(actual)
    assert Permissions(mode="0600").covers(actual)
    assert not Permissions(mode="0640").covers(actual)
    assert not Permissions(owner=0).covers(actual)
