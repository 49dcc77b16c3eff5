"""The module entry point: argument handling and the JSON it prints."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.modules import virt_guest_info
from module_runs import run_main


def invoke(capsys, **args):
    code, result, _out = run_main(capsys, virt_guest_info, **args)
    return code, result


def test_check_mode_reports_the_guests_and_changes_nothing(capsys, test_client):
    code, result = invoke(capsys, uri="test:///default", name="test", _ansible_check_mode=True)
    assert code == 0 and result["changed"] is False
    assert [guest["name"] for guest in result["guests"]] == ["test"]
    assert result["guests"][0]["addresses"]  # the default source, lease


def test_refusal_fails_without_traceback(capsys):
    code, result = invoke(capsys, uri="test:///default", name="a..b")
    assert code == 1 and "exception" not in result and result["changed"] is False
    assert result["msg"] == "name: guest name 'a..b' must not contain '..'"


def test_name_and_pattern_are_mutually_exclusive(capsys):
    code, result = invoke(capsys, uri="test:///default", name="a", name_pattern="a*")
    assert code == 1 and "mutually exclusive" in result["msg"]


def test_wrong_shapes_fail_with_a_message(capsys):
    code, result = invoke(capsys, uri="test:///default", name=["a"])
    assert code == 1 and "exception" not in result and "name must be text" in result["msg"]
