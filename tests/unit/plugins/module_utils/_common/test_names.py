from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common import names
from ansible_collections.remotevirt.install.plugins.module_utils._common.names import (
    bridge_name_problem,
    given_more_than_once,
    name_problem,
)


@pytest.mark.parametrize("name", ["web01.qcow2", "a", "debian-12.7_amd64+netinst.iso", "x:y@z", "A" * 255])
def test_accepts_plain_names(name):
    assert name_problem(name, "volume") == ""


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("", "must not be empty"),
        (None, "must not be empty"),
        ("a/b", "may only contain"),
        ("..", "'..'"),
        ("a..b", "'..'"),
        ("<x>", "may only contain"),
        ("a&b", "may only contain"),
        ("it's", "may only contain"),
        ('say"hi"', "may only contain"),
        ("white space", "may only contain"),
        (".hidden", "must not start"),
        ("-rf", "must not start"),
        ("A" * 256, "longer than 255 bytes"),
        ("\u00e9" * 128, "longer than 255 bytes"),
        ("tab\tname", "may only contain"),
    ],
)
def test_refuses_unsafe_names(name, fragment):
    assert fragment in name_problem(name, "volume")


@pytest.mark.parametrize("name", ["web01\n", "web01\r\n", "\nweb01", "web\x0001", "web01\u2028", "web\u0661"])
def test_refuses_names_with_line_ends_and_foreign_characters(name):
    """The whole name must match: "$" alone would accept "web01\\n"."""
    assert "may only contain" in name_problem(name, "guest")


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("br0", ""),
        ("virbr-prov_1", ""),
        ("b" * 15, ""),
        ("b" * 16, "longer than the kernel's 15 bytes"),
        ("br:0", "must not contain ':'"),
        ("br0\n", "may only contain"),
        ("br/0", "may only contain"),
    ],
)
def test_bridge_names_follow_the_kernel(name, fragment):
    problem = bridge_name_problem(name, "networks[0] bridge")
    assert fragment in problem and bool(problem) == bool(fragment)


@pytest.mark.parametrize(
    "values, repeated",
    [([], []), (["vda", "vdb"], []), (["vdb", "vda", "vdb", "vdb", "vda"], ["vda", "vdb"]), (iter(["a", "a"]), ["a"])],
)
def test_values_given_more_than_once_are_named_once_and_sorted(values, repeated):
    assert given_more_than_once(values) == repeated


def test_a_name_libvirt_keeps_files_under_fits_in_them():
    """libvirt keeps a guest's, network's or pool's definition in <name>.xml and a guest's UEFI
    variables in <name>_VARS.fd: a 255-byte name would pass check mode and fail the define."""
    assert name_problem("a" * names.MAX_DEFINED_NAME_BYTES, "guest", names.MAX_DEFINED_NAME_BYTES) == ""
    assert "longer than 247 bytes" in name_problem("a" * 248, "guest", names.MAX_DEFINED_NAME_BYTES)
    assert len(("a" * names.MAX_DEFINED_NAME_BYTES + "_VARS.fd").encode()) == 255


def test_a_guest_name_leaves_room_for_the_names_of_its_files():
    """Its longest file name on the host: the private directory its initrd is written in."""
    longest = "a" * names.MAX_GUEST_NAME_BYTES
    assert names.MAX_GUEST_NAME_BYTES == 227
    for name in (longest + "-serial.log", "remotevirt-%s-cidata.iso" % longest, ".remotevirt-%s-initrd.AbCdEfGh" % longest):
        assert len(name.encode()) <= 255
