"""The module entry point: argument handling and the JSON it prints."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.remotevirt.install.plugins.modules import virt_pool_volume


def invoke(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            virt_pool_volume.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_check_mode_reports_a_plan(capsys, unique_name):
    code, result = invoke(capsys, uri="test:///default", pool="default-pool", name=unique_name(), capacity="1G",
                          _ansible_check_mode=True)
    assert code == 0 and result["changed"]
    assert result["plan"][0]["command"].startswith("virsh vol-create-as --pool default-pool")


def test_conflicting_origins_fail_cleanly(capsys):
    code, result = invoke(capsys, uri="test:///default", pool="default-pool", name="x", clone_from="a",
                          source_url="http://127.0.0.1/x")
    assert code == 1 and result["failed"]
    assert "mutually exclusive" in result["msg"]


def test_runtime_refusal_fails_without_traceback(capsys):
    code, result = invoke(capsys, uri="test:///default", pool="nope", name="x", capacity="1G")
    assert code == 1 and "exception" not in result
    assert result["msg"].startswith("storage pool 'nope' does not exist on test:///default")
    assert result["plan"] == [] and result["changed"] is False


def test_url_credentials_reach_the_server_and_never_the_result(capsys, unique_name, scripted_http):
    from scripted_http import Route
    scripted_http.routes["/private.img"] = Route(b"\0" * 4096, credentials=("alice", "pw-s3cret"))
    code, result = invoke(capsys, uri="test:///default", pool="default-pool", name=unique_name(".img"),
                          source_url=scripted_http.url("/private.img").replace("http://", "http://bob:url-s3cret@"),
                          url_username="alice", url_password="pw-s3cret", _ansible_check_mode=True)
    assert code == 0, result
    assert [step["action"] for step in result["plan"]] == ["create", "upload"]
    assert result["plan"][0]["command"].endswith("--capacity 4096 --allocation 0 --format raw")
    # (module_args in ``invocation`` echo source_url as given: masking user information there is
    # the module entry's part, through redact.url_secrets.)
    shown = json.dumps(dict(result, invocation=None))
    assert "s3cret" not in shown and "bob" not in shown
    assert result["invocation"]["module_args"]["url_password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert result["plan"][1]["command"].startswith("curl -fsSL -u alice 'http://***@127.0.0.1:")
