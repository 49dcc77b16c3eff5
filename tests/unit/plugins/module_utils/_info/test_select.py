"""Which objects an _info module selects, and the filters it refuses."""

from __future__ import annotations

import fnmatch
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._info.select import (
    NameFilter,
    check_common,
    glob_matches,
    pool_filter,
)


def test_no_filter_selects_everything():
    names = NameFilter.from_params({}, "guest")
    assert names.matches("web01") and names.matches("x")


def test_exact_name_matches_only_itself():
    names = NameFilter.from_params({"name": "web01"}, "guest")
    assert names.matches("web01") and not names.matches("web011") and not names.matches("WEB01")


def test_pattern_is_a_case_sensitive_glob():
    names = NameFilter.from_params({"name_pattern": "web[0-9]*"}, "guest")
    assert names.matches("web01") and not names.matches("Web01") and not names.matches("db01")


@given(st.text("ab-*?[]!", max_size=12), st.text("ab-[]!", max_size=12))
def test_patterns_match_as_fnmatch_does(pattern, name):
    assert glob_matches(name, pattern) == fnmatch.fnmatchcase(name, pattern)


@pytest.mark.parametrize(
    "name, pattern, matches",
    [
        ("web01", "*", True),
        ("web01", "[", False),
        ("[", "[", True),
        ("web[1]", "web[[]1]", True),
        ("a*b", "a[*]b", True),
        ("axb", "a[*]b", False),
        ("web01", "w*0?", True),
        ("web01", "*b*b*", False),
    ],
)
def test_stars_questions_and_brackets(name, pattern, matches):
    assert glob_matches(name, pattern) is matches


def test_a_pattern_made_to_backtrack_is_matched_at_once():
    # Python 3.8's fnmatch took hours over this (each star more multiplies the ways to split the name).
    names = NameFilter.from_params({"name_pattern": "*a" * 100 + "*b"}, "guest")
    started = time.monotonic()
    assert not names.matches("a" * 255)
    assert time.monotonic() - started < 1


def test_a_pattern_fnmatch_cannot_read_is_refused(monkeypatch):
    # Python 3.8's fnmatch raised re.error on a range such as [z-a] (later ones match nothing).
    monkeypatch.setattr(fnmatch, "translate", lambda pattern: "(?s:[z-a])\\Z")
    with pytest.raises(PlanError, match="name_pattern '\\[z-a\\]' is not a pattern fnmatch can read: bad character range"):
        NameFilter.from_params({"name_pattern": "[z-a]"}, "guest")


@pytest.mark.parametrize(
    "params, message",
    [
        ({"name": "a", "name_pattern": "a*"}, "mutually exclusive"),
        ({"name": "../etc"}, "must not contain '..'"),
        ({"name": "-rf"}, "may only contain"),
        ({"name": "web01\n"}, "may only contain"),
        ({"name": "web\u0663"}, "may only contain"),
        ({"name_pattern": ""}, "must not be empty"),
        ({"name_pattern": "x" * 256}, "longer than 255 bytes"),
    ],
)
def test_hostile_names_are_refused(params, message):
    with pytest.raises(PlanError, match=message):
        NameFilter.from_params(params, "guest")


@pytest.mark.parametrize(
    "params, message",
    [
        ({"uri": "test:///default", "name_pattern": "web\x00*"}, "control character"),
        ({"uri": "test:///default", "name_pattern": "web*\u2028"}, "control character"),
        ({"uri": "qemu+ssh://root:pw@hv1/system"}, "holds a password"),
    ],
)
def test_control_characters_and_bad_uris_are_refused(params, message):
    with pytest.raises(PlanError, match=message):
        check_common(params)


def test_pool_names_follow_the_collection_rule():
    assert pool_filter({"pool": "default"}) == "default"
    assert pool_filter({}) is None
    with pytest.raises(PlanError, match="pool: "):
        pool_filter({"pool": "a/b"})
