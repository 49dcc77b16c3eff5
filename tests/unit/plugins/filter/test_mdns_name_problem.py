"""The mdns_name_problem filter: the advertise role refuses what the mdns inventory plugin skips."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.filter.mdns_name_problem import mdns_name_problem


@pytest.mark.parametrize("name", ["hv1", "rack 3 hv-07", "hyperviseur-été", "hv1.example"])
def test_a_name_the_plugin_keeps_has_no_problem(name):
    assert mdns_name_problem(name) == ""


@pytest.mark.parametrize(
    "name, reason",
    [
        ("hv1\nansible_host=10.0.0.1", "control characters"),
        ("ＬｏｃａｌＨｏｓｔ", "the controller itself"),
        ("localhost.", "the controller itself"),
        ("::1", "one of"),
        ("10.253.0.11", "an IP address"),
        ("hv\u202e1", "control characters"),
        ("hv\u00a01", "control characters"),
        ("../hv", "'..'"),
        ("x" * 64, "longer than 63 bytes"),
        (" hv1", "white space"),
    ],
)
def test_a_name_the_plugin_skips_is_refused_with_its_reason(name, reason):
    assert reason in mdns_name_problem(name)


@pytest.mark.parametrize("name", [None, 0, 123, 1.5, True, b"hv1", ["hv1"], {"hv1": 1}])
def test_anything_but_a_string_is_refused(name):
    """str() would make None the name 'None', bytes "b'hv1'" and a number its digits, all accepted."""
    assert "not a string" in mdns_name_problem(name)


def test_very_long_unicode_is_refused_by_its_bytes():
    assert "longer than 63 bytes" in mdns_name_problem("\U0001f600" * 16)
    assert mdns_name_problem("\u00e9" * 31) == ""
