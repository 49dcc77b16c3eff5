"""The module entry point: argument handling and the JSON it prints."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.modules import virt_network
from module_runs import run_main


def invoke(capsys, **args):
    code, result, _out = run_main(capsys, virt_network, **args)
    return code, result


def test_check_mode_reports_a_plan(capsys):
    code, result = invoke(
        capsys, uri="test:///default", name="rvn-entry", ipv4=dict(address="10.213.5.1/24"), _ansible_check_mode=True
    )
    assert code == 0 and result["changed"]
    assert [step["command"] for step in result["plan"]] == [
        "virsh -c test:///default net-define rvn-entry.xml",
        "virsh -c test:///default net-start rvn-entry",
    ]


def test_refusal_fails_without_traceback(capsys):
    code, result = invoke(capsys, uri="test:///default", name="rvn-entry", ipv4=dict(address="10.213.5.0/24"))
    assert code == 1 and "exception" not in result and result["plan"] == [] and result["changed"] is False
    assert result["msg"] == "ipv4.address: 10.213.5.0 is the subnet's own network address, not a host address"


def test_wrong_shapes_fail_with_a_message(capsys):
    code, result = invoke(capsys, uri="test:///default", name="rvn-entry", ipv4=["10.213.5.1/24"])
    assert code == 1 and "exception" not in result and "ipv4" in result["msg"]
