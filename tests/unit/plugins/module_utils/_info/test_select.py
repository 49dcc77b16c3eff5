"""Which objects an _info module selects, and the filters it refuses."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._info.select import NameFilter, check_common, pool_filter


def test_no_filter_selects_everything():
    names = NameFilter.from_params({}, "guest")
    assert names.matches("web01") and names.matches("x")


def test_exact_name_matches_only_itself():
    names = NameFilter.from_params({"name": "web01"}, "guest")
    assert names.matches("web01") and not names.matches("web011") and not names.matches("WEB01")


def test_pattern_is_a_case_sensitive_glob():
    names = NameFilter.from_params({"name_pattern": "web[0-9]*"}, "guest")
    assert names.matches("web01") and not names.matches("Web01") and not names.matches("db01")


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
