"""The module entry point: argument handling and the JSON it prints."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.modules import virt_pool_volume_info
from module_runs import run_main


def invoke(capsys, **args):
    code, result, _out = run_main(capsys, virt_pool_volume_info, **args)
    return code, result


def test_check_mode_reports_the_volumes_and_changes_nothing(capsys, test_client):
    code, result = invoke(capsys, uri="test:///default", pool="default-pool", _ansible_check_mode=True)
    assert code == 0 and result["changed"] is False
    assert isinstance(result["volumes"], list) and result["inactive_pools"] == []


def test_refusal_fails_without_traceback(capsys):
    code, result = invoke(capsys, uri="test:///default", pool="rvinfo-missing")
    assert code == 1 and "exception" not in result and result["changed"] is False
    assert result["msg"] == "storage pool 'rvinfo-missing' does not exist on test:///default (virsh pool-list --all)"


def test_wrong_shapes_fail_with_a_message(capsys):
    code, result = invoke(capsys, uri="test:///default", name={"a": 1})
    assert code == 1 and "exception" not in result and "name must be text" in result["msg"]
