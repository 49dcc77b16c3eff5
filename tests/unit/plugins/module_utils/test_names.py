from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils.names import name_problem


@pytest.mark.parametrize("name", ["web01.qcow2", "a", "debian-12.7_amd64+netinst.iso", "x:y@z", "A" * 255])
def test_accepts_plain_names(name):
    assert name_problem(name, "volume") == ""


@pytest.mark.parametrize("name, fragment", [
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
])
def test_refuses_unsafe_names(name, fragment):
    assert fragment in name_problem(name, "volume")
