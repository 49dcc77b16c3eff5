"""Every changelog fragment is YAML whose sections are the ones changelogs/config.yaml names and
whose entries are strings (a ': ' in a plain scalar makes a mapping, or no YAML at all)."""

from __future__ import annotations

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRAGMENTS = os.path.join(ROOT, "changelogs", "fragments")


def _sections():
    with open(os.path.join(ROOT, "changelogs", "config.yaml")) as config:
        data = yaml.safe_load(config)
    return {name for name, _title in data["sections"]} | {data.get("trivial_section_name", "trivial")}


@pytest.mark.parametrize("name", sorted(name for name in os.listdir(FRAGMENTS) if name.endswith((".yml", ".yaml"))))
def test_fragment_parses_into_known_sections_of_strings(name):
    with open(os.path.join(FRAGMENTS, name)) as fragment:
        data = yaml.safe_load(fragment)
    assert isinstance(data, dict) and data, name
    assert set(data) <= _sections(), name
    for entries in data.values():
        assert isinstance(entries, list) and all(isinstance(entry, str) for entry in entries), name
