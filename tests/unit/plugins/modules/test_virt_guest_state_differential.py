"""Differential property: virt_guest_state's check mode predicts the real run on libvirt's test
driver, and the re-run converges (see differential.py), for runs that follow each other on the
same guests, which start persistent or transient, running, paused or shut off."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.modules import virt_guest_state
from differential import assert_check_predicts_real_run, remove_named, run_once
from strategies import twisted

GUEST_XML = (
    "<domain type='test'><name>%s</name><memory>131072</memory><os><type>hvm</type></os><on_reboot>restart</on_reboot></domain>"
)
NAMES = ("dp-g1", "dp-g2")
RUN = st.fixed_dictionaries(
    dict(
        name=st.sampled_from(NAMES + ("dp-none",)).flatmap(twisted),
        state=st.sampled_from(["running", "shutdown", "stopped", "restarted", "paused"]),
    ),
    optional=dict(shutdown_timeout=st.integers(-1, 3), destroy_on_timeout=st.booleans()),
)
START = st.sampled_from(["running", "paused", "shut off"])


def make_guest(conn, name, persistent, run_state):
    if persistent:
        domain = conn.defineXML(GUEST_XML % name)
        if run_state != "shut off":
            domain.create()
    else:
        if run_state == "shut off":
            return  # a transient guest that stops is gone
        domain = conn.createXML(GUEST_XML % name, 0)
    if run_state == "paused":
        domain.suspend()


def is_transient(conn, name):
    try:
        return not conn.lookupByName(name).isPersistent()
    except Exception:  # no such guest (or a name libvirt cannot look up)
        return False


def converges(conn, run):
    """Whether a second run must find nothing to do: restarted is an action each time, and a
    transient guest that stops is gone (see test_a_transient_guest_is_gone_once_stopped_and_the_rerun_says_why)."""
    if run["state"] == "restarted":
        return False
    return not (run["state"] in ("shutdown", "stopped") and is_transient(conn, run["name"]))


def remove_guests(conn):
    remove_named(conn.listAllDomains(0))


@settings(derandomize=True)
@given(st.lists(st.tuples(st.booleans(), START), min_size=2, max_size=2), st.lists(RUN, min_size=1, max_size=4))
def test_check_mode_predicts_the_real_run(capsys, test_client, guests, runs):
    try:
        for name, (persistent, run_state) in zip(NAMES, guests):
            make_guest(test_client.conn, name, persistent, run_state)
        for run in runs:
            args = dict(run, uri="test:///default")
            assert_check_predicts_real_run(
                capsys, test_client.conn, virt_guest_state, args, converges=converges(test_client.conn, run)
            )
    finally:
        remove_guests(test_client.conn)


@pytest.mark.parametrize("state", ["stopped", "shutdown"])
def test_a_transient_guest_is_gone_once_stopped_and_the_rerun_says_why(capsys, test_client, state):
    # A missing guest is refused whatever the state (a misspelt name never passes for a stopped
    # guest); the refusal says that a transient guest ends when it stops.
    make_guest(test_client.conn, "dp-transient", False, "running")
    args = dict(uri="test:///default", name="dp-transient", state=state, destroy_on_timeout=True, shutdown_timeout=1)
    try:
        assert run_once(capsys, virt_guest_state, args, check=False)[1]["changed"]
        for check in (True, False):
            code, again = run_once(capsys, virt_guest_state, args, check=check)
            assert code != 0 and "does not exist" in again["msg"]
            assert "without a stored definition is gone once stopped or shut down" in again["msg"]
    finally:
        remove_guests(test_client.conn)
