"""The virt_guest_install entry point: argument handling and the JSON it prints."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.modules import virt_guest_install
from module_runs import run_main

SECRET = "rootpw --plaintext Kick-Start-Secret-42"


def invoke(capsys, **args):
    args.setdefault("uri", "test:///default")
    return run_main(capsys, virt_guest_install, **args)


def test_check_mode_reports_a_plan(capsys, unique_name):
    """Check mode returns the planned virsh command lines and the predicted guest, and changes nothing."""
    name = unique_name("")
    code, result = invoke(
        capsys,
        name=name,
        memory="512M",
        install=dict(method="import"),
        disks=[dict(pool="default-pool", size="1G")],
        networks=[dict(network="default")],
        state="running",
        _ansible_check_mode=True,
        _ansible_diff=True,
    )[:2]
    assert code == 0 and result["changed"] and not result.get("failed")
    assert [step["command"] for step in result["plan"]] == [
        "virsh -c test:///default vol-create-as --pool default-pool --name %s-disk0.qcow2 --capacity 1073741824 --allocation 0 "
        "--format qcow2" % name,
        "virsh -c test:///default define %s.xml" % name,
        "virsh -c test:///default start %s" % name,
    ]
    assert result["domain"]["state"] == "running" and result["domain"]["uuid"] is None
    assert result["reboot_required"] is False
    assert result["diff"]["before"] == "" and '<memory unit="KiB">524288</memory>' in result["diff"]["after"]


def test_check_mode_of_a_location_install_never_shows_kickstart_content(capsys, unique_name, tmp_path):
    """kickstart_content is no_log: the plan tells its size, the printed JSON never its text."""
    pxeboot = tmp_path / "tree" / "images" / "pxeboot"
    pxeboot.mkdir(parents=True)
    (pxeboot / "vmlinuz").write_bytes(b"kernel")
    (pxeboot / "initrd.img").write_bytes(b"initrd")
    name = unique_name("")
    code, result, out = invoke(
        capsys,
        name=name,
        install=dict(method="location", location=str(tmp_path / "tree"), kickstart_content=SECRET, boot_dir=str(tmp_path)),
        disks=[dict(pool="default-pool", size="1G")],
        _ansible_check_mode=True,
        _ansible_diff=True,
    )
    assert code == 0 and result["changed"]
    assert [step["action"] for step in result["plan"]] == ["create", "fetch", "fetch", "define", "install"]
    assert result["plan"][2][
        "command"
    ] == "cp %s/initrd.img %s/remotevirt-%s-initrd  # + /ks.cfg (%d bytes) appended as a cpio archive" % (
        pxeboot,
        tmp_path,
        name,
        len(SECRET),
    )
    assert "Kick-Start-Secret-42" not in out
    assert result["invocation"]["module_args"]["install"]["kickstart_content"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_kickstart_content_stays_hidden_when_the_task_fails(capsys):
    """A failed task prints its parameters too, still without the kickstart text."""
    code, result, out = invoke(
        capsys,
        name="ks-fail",
        install=dict(method="location", location="/nonexistent/tree", kickstart_content=SECRET),
        disks=[dict(pool="default-pool", size="1G")],
    )
    assert code == 1 and "has no kernel and initrd in a known layout" in result["msg"]
    assert "Kick-Start-Secret-42" not in out


def test_vnc_password_is_no_log(capsys, unique_name):
    """The console password is masked in the printed parameters and in the diff."""
    code, result, out = invoke(
        capsys,
        name=unique_name(""),
        install=dict(method="import"),
        disks=[dict(pool="default-pool", size="1G")],
        graphics=dict(password="Pw-1234"),
        _ansible_check_mode=True,
        _ansible_diff=True,
    )
    assert code == 0 and "Pw-1234" not in out
    assert 'passwd="********"' in result["diff"]["after"]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            dict(install=dict(method="pxe", cdrom=dict(path="/srv/d.iso")), networks=[dict(network="default")]),
            "install.method is pxe, which conflicts with install.cdrom; a guest installs one way",
        ),
        (
            dict(
                install=dict(method="import"),
                disks=[dict(pool="default-pool", size="1G")],
                networks=[dict(network="no-such-net")],
            ),
            "networks[0]: libvirt network 'no-such-net' does not exist on test:///default "
            "(virsh -c test:///default net-list --all)",
        ),
        (
            dict(install=dict(method="import"), disks=[dict(pool="default-pool", volume="no-such.qcow2")]),
            "disks[0]: volume default-pool/no-such.qcow2 does not exist; give size to create it",
        ),
        (
            dict(name="a<b>", install=dict(method="import"), disks=[dict(pool="default-pool", size="1G")]),
            "guest name 'a<b>' may only contain",
        ),
        (dict(memory="abc"), "memory: cannot read size 'abc'"),
    ],
)
def test_refusal_fails_cleanly(capsys, args, message):
    """A refusal fails the task with a clear message, no traceback, no plan and no change."""
    args.setdefault("name", "refused")
    code, result = invoke(capsys, **args)[:2]
    assert code == 1 and result["failed"]
    assert result["msg"].startswith(message)
    assert "exception" not in result
    assert result["plan"] == [] and result["changed"] is False


def test_argument_spec_refuses_unknown_choices(capsys):
    """AnsibleModule itself refuses values outside the documented choices."""
    code, result = invoke(capsys, name="x", install=dict(method="floppy"))[:2]
    assert code == 1 and "method" in result["msg"] and "floppy" in result["msg"]


def test_argument_spec_marks_secrets_no_log():
    """Both secrets of the module are declared no_log."""
    spec = virt_guest_install.argument_spec()
    assert spec["install"]["options"]["kickstart_content"]["no_log"] is True
    assert spec["graphics"]["options"]["password"]["no_log"] is True


def test_no_secret_reaches_the_host_log_of_the_invocation(capsys, monkeypatch):
    """AnsibleModule logs the invocation on the host: a multi-line kickstart (escaped in a dict's
    repr) and URL credentials are masked there too."""
    from ansible.module_utils import basic

    lines = []
    monkeypatch.setattr(basic, "has_journal", False)
    monkeypatch.setattr(basic.AnsibleModule, "_log_to_syslog", lambda self, msg: lines.append(msg))
    code, result, out = invoke(
        capsys,
        name="ks-log",
        install=dict(
            method="location",
            location="http://tree-user:Url-Secret-7@127.0.0.1:1/os",
            kickstart_content=SECRET + "\nuser --password=Second-Line-Secret",
        ),
        disks=[dict(pool="default-pool", size="1G")],
        _ansible_check_mode=True,
    )
    assert code == 1 and lines and lines[0].startswith("Invoked with")
    for secret in ("Kick-Start-Secret-42", "Second-Line-Secret", "Url-Secret-7", "tree-user:"):
        assert secret not in lines[0] and secret not in out, secret
    assert "http://***@127.0.0.1:1/os" in result["msg"]


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(install=[dict(method="pxe")]), "install must be a dictionary of its suboptions, not a list"),
        (dict(vcpus="\u0663"), "vcpus: '\u0663' is not a whole number written with the digits 0-9"),
        (dict(name="web01\n"), "name: contains a control character (U+000A)"),
        (dict(uri="qemu+tcp://hv1/system"), "uri 'qemu+tcp://hv1/system' needs an explicit port"),
    ],
)
def test_malformed_options_fail_with_one_message(capsys, args, message):
    args.setdefault("name", "bad01")
    code, result = invoke(capsys, _ansible_check_mode=True, **args)[:2]
    assert code == 1 and result["msg"].startswith(message) and "exception" not in result
