"""The virt_preflight entry point: guests checked with virt_guest_install's own argument spec,
malformed guests listed as problems, secrets in guests kept out of the host log and the result."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.modules import virt_guest_install, virt_preflight
from module_runs import run_main

KICKSTART = "rootpw --plaintext Kick-Start-Secret-42\nuser --password=Second-Line-Secret\n"


def invoke(capsys, **args):
    args.setdefault("uri", "test:///default")
    args.setdefault("fail_on_problems", False)
    return run_main(capsys, virt_preflight, **args)


def test_guests_use_the_argument_spec_of_virt_guest_install():
    assert virt_preflight.guest_secrets.__module__ == virt_preflight.__name__
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec

    own = dict(virt_guest_install.argument_spec())
    # The module's own options for existing guests, which virt_preflight takes once for all its guests.
    assert {name: own.pop(name)["default"] for name in ("update_existing", "update_hint")} == {
        "update_existing": True,
        "update_hint": "update_existing: true",
    }
    assert own == guest_argument_spec()


def test_secrets_in_guests_reach_neither_the_host_log_nor_the_result(capsys, host_log):
    guest = {
        "name": "sec01",
        "install": {
            "method": "location",
            "location": "http://mirror-user:Url-Secret-7@127.0.0.1:1/os",
            "kickstart_content": KICKSTART,
        },
        "graphics": {"password": "Vnc-Pw-8"},
        "disks": [{"pool": "default-pool", "size": "1M"}],
    }
    code, result, out = invoke(capsys, guests=[guest], _ansible_check_mode=True)
    assert code == 0 and not result["ok"]
    logged = "\n".join(host_log)
    assert logged.startswith("Invoked with")
    for secret in ("Kick-Start-Secret-42", "Second-Line-Secret", "Url-Secret-7", "Vnc-Pw-8", "mirror-user:"):
        assert secret not in logged, secret
        assert secret not in out, secret
    masked = result["invocation"]["module_args"]["guests"][0]
    assert masked["install"]["kickstart_content"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert masked["graphics"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


MALFORMED = [
    (5, "guests[0]", "guests[0] must be a dictionary of virt_guest_install options, not int"),
    ("web01", "guests[0]", "guests[0] must be a dictionary of virt_guest_install options, not str"),
    ([{"name": "x"}], "guests[0]", "must be a dictionary of virt_guest_install options, not list"),
    ({"memory": "1G"}, "guests[0]", "missing required arguments: name"),
    ({"name": "x", "colour": "blue"}, "x", "guests[x].colour: unknown key; the options here are"),
    ({"name": "x", "memroy": 512}, "x", "guests[x].memroy: unknown key; did you mean memory?"),
    ({"name": "x", "disks": [{"pool": "p", "szie": "1G"}]}, "x", "guests[x].disks[0].szie: unknown key; did you mean size?"),
    ({"memroy": 512}, "guests[0]", "guests[0].memroy: unknown key; did you mean memory?"),
    ({"name": "x", "install": [1]}, "x", "install must be a dictionary of its suboptions, not a list"),
    ({"name": "x", "disks": [{"pool": "p", "size": "1G"}, 7]}, "x", "disks[1] must be a dictionary of its suboptions"),
    ({"name": "x", "vcpus": "lots"}, "x", "vcpus"),
    ({"name": "x", "vcpus": "\u0663"}, "x", "vcpus: '\u0663' is not a whole number written with the digits 0-9"),
    ({"name": "x", "state": "exploded"}, "x", "value of state must be one of"),
    ({"name": ["x"]}, "guests[0]", "name must be text, not a list"),
    ({"name": "x", "disks": [{"pool": {"a": 1}}]}, "x", "disks[0].pool must be text, not a dictionary"),
    (
        {"name": "x\n", "install": {"method": "import"}, "disks": [{"pool": "default-pool", "size": "1M"}]},
        "x\n",
        "name: contains a control character (U+000A)",
    ),
]


@pytest.mark.parametrize("guest, label, message", MALFORMED)
def test_malformed_guests_are_listed_problems(capsys, guest, label, message):
    """Never a traceback or a failed task: each malformed guest is a problem of check 'options'."""
    code, result, _out = invoke(capsys, guests=[guest])
    assert code == 0 and not result.get("failed") and result["ok"] is False
    assert [(problem["guest"], problem["check"]) for problem in result["problems"]][:1] == [(label, "options")]
    assert message in result["problems"][0]["message"]


def test_a_bad_uri_is_one_options_problem(capsys):
    code, result, _out = invoke(capsys, uri="qemu+tls://hv1/system", guests=[{"name": "x"}])
    assert code == 0 and result["problems"] == [
        {
            "guest": None,
            "check": "options",
            "message": "uri 'qemu+tls://hv1/system' needs an explicit port for the tls transport, like "
            "qemu+tls://hv1:16514/system or qemu+tcp://hv1:16509/system",
        }
    ]


def test_a_guest_uri_is_ignored_for_the_module_uri(capsys, unique_name):
    guest = {
        "name": unique_name(""),
        "uri": "qemu+ssh://elsewhere/system",
        "install": {"method": "import"},
        "disks": [{"pool": "default-pool", "size": "1M"}],
    }
    code, result, _out = invoke(capsys, guests=[guest], _ansible_check_mode=True)
    assert code == 0 and result["ok"] and result["check_mode"] is True and result["changed"] is False


def test_unknown_keys_that_look_secret_in_guests_reach_neither_the_host_log_nor_the_result(capsys, host_log):
    """A guest entry is a raw dictionary to AnsibleModule: its misspelt or misplaced secrets are found
    by name, at any depth (a tpm or memory given a dictionary, user-data put under cloud_init)."""
    guest = {
        "name": "sec02",
        "url_pasword": "Typo-Secret-1",
        "disks": [{"pool": "default-pool", "size": "1M", "password": "Disk-Secret-2"}],
        "graphics": {"passwd": "Vnc-Secret-3"},
        "cloud_init": {"user_dat": "User-Data-Secret-4", "users": [{"passwd": "Users-Secret-5"}]},
        "tpm": {"model": "tpm-crb", "secret": "Tpm-Secret-6"},
        "memory": {"password": "Mem-Secret-7"},
    }
    code, result, out = invoke(capsys, guests=[guest], _ansible_check_mode=True)
    assert code == 0 and not result["ok"]
    shown = out + "\n".join(host_log)
    for secret in ("Typo-Secret-1", "Disk-Secret-2", "Vnc-Secret-3", "User-Data-Secret-4", "Users-Secret-5", "Tpm-Secret-6"):
        assert secret not in shown, secret
    assert "Mem-Secret-7" not in shown


# BREAK (fixed): a dictionary option given as text (k=v pairs or JSON) was logged as it was, its
# console password, kickstart content and misspelt URL password included.
def test_secrets_of_dictionary_options_given_as_text_reach_neither_the_host_log_nor_the_result(capsys, host_log):
    guest = {
        "name": "sec03",
        "graphics": "type=vnc password=Vnc-Text-Secret-1",
        "install": '{"method": "pxe", "kickstart_content": "rootpw Ks-Text-Secret-2"}',
        "networks": ["network=default url_passwrd=Net-Text-Secret-3"],
    }
    code, result, out = invoke(capsys, guests=[guest], _ansible_check_mode=True)
    assert code == 0
    shown = out + "\n".join(host_log)
    for secret in ("Vnc-Text-Secret-1", "Ks-Text-Secret-2", "Net-Text-Secret-3"):
        assert secret not in shown, secret


def test_a_kickstart_path_stays_named_in_the_problems(capsys, host_log):
    """install.kickstart is a path or URL, no secret: masking it would leave the problem unreadable."""
    guest = {
        "name": "ks01",
        "install": {"method": "location", "location": "http://127.0.0.1:1/os", "kickstart": "/nonexistent/ks-missing.cfg"},
        "disks": [{"pool": "default-pool", "size": "1M"}],
    }
    code, result, out = invoke(capsys, guests=[guest], _ansible_check_mode=True)
    assert code == 0 and "/nonexistent/ks-missing.cfg" in out
