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


def test_credentials_written_into_host_names_are_refused_and_never_shown(capsys):
    """'user:password@name' in the DNS domain or a static host's name: refused, and the password is
    in neither the refusal nor the invocation (what -vvv prints and the host log records)."""
    dhcp_hosts = [dict(mac="52:54:00:00:05:10", ip="10.213.5.10", name="admin:Hush-5@web")]
    for args in (dict(domain="admin:Hush-4@lab"), dict(ipv4=dict(address="10.213.5.1/24", dhcp_hosts=dhcp_hosts))):
        code, result, out = run_main(
            capsys, virt_network, uri="test:///default", name="rvn-entry", _ansible_check_mode=True, **args
        )
        assert code == 1 and result["plan"] == []
        assert "Hush" not in out
    # A lone user name is no secret: the refusal shows the value as given.
    code, result, _out = run_main(capsys, virt_network, uri="test:///default", name="rvn-entry", domain="admin@lab")
    assert code == 1 and "admin@lab" in result["msg"]


def test_credentials_written_into_the_boot_server_are_never_shown(capsys):
    """bootp_server is a host too: 'user:password@10.213.5.2' showed whole in the invocation and
    the refusal."""
    ipv4 = dict(
        address="10.213.5.1/24",
        dhcp_ranges=[dict(start="10.213.5.10", end="10.213.5.20")],
        bootp_file="pxelinux.0",
        bootp_server="admin:Hush-6@10.213.5.2",
    )
    code, result, out = run_main(
        capsys, virt_network, uri="test:///default", name="rvn-entry", _ansible_check_mode=True, ipv4=ipv4
    )
    assert code == 1 and result["plan"] == []
    assert "Hush" not in out
