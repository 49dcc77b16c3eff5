"""The module entry point: argument handling and the JSON it prints."""

from __future__ import annotations

import json

import pytest

from ansible_collections.remotevirt.install.plugins.modules import virt_pool_volume
from module_runs import run_main


def invoke(capsys, **args):
    code, result, _out = run_main(capsys, virt_pool_volume, **args)
    return code, result


def test_check_mode_reports_a_plan(capsys, unique_name):
    code, result = invoke(
        capsys, uri="test:///default", pool="default-pool", name=unique_name(), capacity="1G", _ansible_check_mode=True
    )
    assert code == 0 and result["changed"]
    assert result["plan"][0]["command"].startswith("virsh -c test:///default vol-create-as --pool default-pool")


def test_conflicting_origins_fail_cleanly(capsys):
    code, result = invoke(
        capsys, uri="test:///default", pool="default-pool", name="x", clone_from="a", source_url="http://127.0.0.1/x"
    )
    assert code == 1 and result["failed"]
    assert "mutually exclusive" in result["msg"]


def test_runtime_refusal_fails_without_traceback(capsys):
    code, result = invoke(capsys, uri="test:///default", pool="nope", name="x", capacity="1G")
    assert code == 1 and "exception" not in result
    assert result["msg"].startswith("storage pool 'nope' does not exist on test:///default")
    assert result["plan"] == [] and result["changed"] is False


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(mode="07777"), "mode 7777 is not a permission mode between 0000 and 0777"),
        (dict(mode="4755"), "mode 4755 is not a permission mode"),
        (dict(owner="\u0661\u0660\u0660"), "owner: user"),
        (dict(capacity="\u0661G"), "capacity: cannot read size"),
        (dict(name="v\n"), "name: contains a control character (U+000A)"),
    ],
)
def test_refusals_of_malformed_values(capsys, args, message):
    base = dict(uri="test:///default", pool="default-pool", name="x", capacity="1M", _ansible_check_mode=True)
    code, result = invoke(capsys, **dict(base, **args))
    assert code == 1 and result["msg"].startswith(message) and result["plan"] == []


def test_url_credentials_are_masked_everywhere(capsys):
    code, result = invoke(
        capsys,
        uri="test:///default",
        pool="default-pool",
        name="x.iso",
        format="iso",
        source_url="http://iso-user:Url-Secret-9@127.0.0.1:1/x.iso",
        _ansible_check_mode=True,
    )
    text = json.dumps(result)
    assert code == 1 and "Url-Secret-9" not in text and "iso-user:" not in text
    assert result["msg"].startswith("cannot download http://***@127.0.0.1:1/x.iso")


def test_url_credentials_reach_the_server_and_never_the_result(capsys, unique_name, scripted_http):
    from scripted_http import Route

    scripted_http.routes["/private.img"] = Route(b"\0" * 4096, credentials=("alice", "pw-s3cret"))
    code, result = invoke(
        capsys,
        uri="test:///default",
        pool="default-pool",
        name=unique_name(".img"),
        source_url=scripted_http.url("/private.img").replace("http://", "http://bob:url-s3cret@"),
        url_username="alice",
        url_password="pw-s3cret",
        _ansible_check_mode=True,
    )
    assert code == 0, result
    assert [step["action"] for step in result["plan"]] == ["create", "upload"]
    assert result["plan"][0]["command"].endswith("--capacity 4096 --allocation 0 --format raw")
    shown = json.dumps(result)  # invocation included: the module entry masks URL user information there too
    assert "s3cret" not in shown and "bob" not in shown
    assert result["invocation"]["module_args"]["url_password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert result["plan"][1]["command"].startswith("curl -fsSL -u alice 'http://***@127.0.0.1:")


@pytest.mark.parametrize(
    "route, message",
    [
        ("page", "the content is an HTML page (Content-Type text/html), not a raw image"),
        ("qcow2", "the content is a qcow2 image, not a raw image"),
    ],
)
def test_check_mode_refuses_served_content_the_download_would_refuse(capsys, unique_name, scripted_http, route, message):
    """The first bytes are read at plan time: check mode fails as the real run would, and never
    shows the query's token."""
    from scripted_http import Route

    scripted_http.routes["/page?token=T0ken-Secret"] = Route(b"<!DOCTYPE html><html>login</html>", content_type="text/html")
    scripted_http.routes["/qcow2?token=T0ken-Secret"] = Route(b"QFI\xfb" + b"\0" * 4092)
    for check_mode in (True, False):
        name = unique_name(".img")
        code, result = invoke(
            capsys,
            uri="test:///default",
            pool="default-pool",
            name=name,
            source_url=scripted_http.url("/" + route) + "?token=T0ken-Secret",
            _ansible_check_mode=check_mode,
        )
        assert code == 1 and message in result["msg"] and result["plan"] == [], result
        assert "T0ken-Secret" not in json.dumps(result)
