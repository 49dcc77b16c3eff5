"""The module entry point: arguments, refusals before anything changes, and the JSON it prints."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.modules import virt_guest_state
from module_runs import run_main


def invoke(capsys, **args):
    code, result, _out = run_main(capsys, virt_guest_state, **args)
    return code, result


def test_check_mode_of_a_running_guest(capsys, test_client):
    args = dict(uri="test:///default", name="test", state="stopped", _ansible_check_mode=True, _ansible_diff=True)
    code, result = invoke(capsys, **args)
    assert code == 0 and result["changed"] and result["plan"][0]["command"] == "virsh -c test:///default destroy test"
    assert result["diff"]["before"] == "state: running\n" and result["state"] == "shut off"


def test_refusals_are_one_message(capsys):
    code, result = invoke(capsys, uri="test:///default", name="rvpow-none", state="running")
    assert code == 1 and "does not exist" in result["msg"] and result["plan"] == [] and "exception" not in result
    code, result = invoke(capsys, uri="test:///default", name="g", state="off")
    assert code == 1 and "value of state must be one of" in result["msg"]
    code, result = invoke(capsys, uri="test:///default", name="g", state="shutdown", shutdown_timeout=-1)
    assert code == 1 and "shutdown_timeout must be at least 1" in result["msg"]
