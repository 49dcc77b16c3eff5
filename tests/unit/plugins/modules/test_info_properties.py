"""Property: any options of the _info modules end in facts (unchanged) or a refusal with a
message, never another error, in check mode as in a real run."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._info import guests, volumes
from ansible_collections.remotevirt.install.plugins.modules import virt_guest_info, virt_pool_volume_info
from strategies import examples, option, options, spec_checked

NAME = examples("test", "rvinfo-g1", "a..b", "-x", "default-pool")
PATTERN = examples("*", "rvinfo-*", "t?st", "[a-z]*", "", "*\x00")
GUEST_OPTIONS = options(
    required={},
    optional=dict(
        uri=option(examples("test:///default", "qemu+tcp://h/system")),
        name=option(NAME),
        name_pattern=option(PATTERN),
        state=option(st.lists(st.sampled_from(["running", "paused", "shutoff", "crashed", "pmsuspended"]), max_size=3)),
        addresses=option(st.sampled_from(["none", "lease", "arp", "agent", "any"])),
    ),
)
VOLUME_OPTIONS = options(
    required={},
    optional=dict(
        uri=option(examples("test:///default", "qemu+tcp://h/system")),
        pool=option(NAME),
        name=option(NAME),
        name_pattern=option(PATTERN),
        used_by=option(st.booleans()),
        refresh=option(st.booleans()),
    ),
)


def ends_in_facts_or_a_refusal(module, run, raw, check_mode):
    params = spec_checked(
        module.argument_spec(), dict(raw, uri=raw.get("uri", "test:///default")), mutually_exclusive=[("name", "name_pattern")]
    )
    if params is None:
        return
    try:
        result = run(params, check_mode, False)
    except RemotevirtError as error:
        assert str(error)
        return
    assert result["changed"] is False


@pytest.mark.usefixtures("test_client")
@given(raw=GUEST_OPTIONS, check_mode=st.booleans())
def test_guest_info_ends_in_facts_or_a_refusal(raw, check_mode):
    ends_in_facts_or_a_refusal(virt_guest_info, guests.run, raw, check_mode)


@pytest.mark.usefixtures("test_client")
@given(raw=VOLUME_OPTIONS, check_mode=st.booleans())
def test_volume_info_ends_in_facts_or_a_refusal(raw, check_mode):
    ends_in_facts_or_a_refusal(virt_pool_volume_info, volumes.run, raw, check_mode)
