"""The module entry point: argument handling, hostile input refused at plan time, and the JSON it prints."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.modules import virt_pool
from module_runs import run_main


def invoke(capsys, **args):
    code, result, _out = run_main(capsys, virt_pool, **args)
    return code, result


def test_check_mode_reports_a_plan(capsys, unique_name):
    code, result = invoke(
        capsys, uri="test:///default", name=unique_name(""), type="dir", target_path="/srv/p", _ansible_check_mode=True
    )
    assert code == 0 and result["changed"]
    assert result["plan"][0]["command"].startswith("virsh -c test:///default pool-define-as ")


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(name="p\n"), "name: contains a control character (U+000A)"),
        (dict(name="../p"), "pool name '../p' must not contain '..'"),
        (dict(name="p", target_path="/srv/../etc"), "target_path must not contain '..' components"),
        (dict(name="p", target_path="srv/p"), "target_path must be an absolute path on the host"),
        (dict(name="p", target_path="/srv/p\x00"), "target_path: contains a control character (U+0000)"),
        (dict(name="p", type="fs", target_path="/s"), "a fs pool needs source_devices"),
        (dict(name="p", type="dir", target_path="/s", source_host="h"), "a dir pool takes target_path, not source_host"),
        (dict(name="p", type="netfs", source_host="-oProxyCommand=x", source_path="/e", target_path="/s"), "source_host must be"),
        (dict(name="p", type="iscsi", source_host="h", source_path="/not/iqn"), "source_path must be an iSCSI name"),
        (dict(name="p", type="logical", source_name="vg\u0663"), "source_name 'vg\u0663' is not a volume group name"),
        (dict(name="p", type="fs", source_devices=["/dev/a", "/dev/b"], target_path="/s"), "exactly one path, not 2"),
        (dict(name="p", xml="<pool type='dir'><name>q</name></pool>"), "xml names the pool 'q', but name is 'p'"),
        (dict(name="p", xml="<pool type='dir'><name>p</name></pool>"), "xml: a dir pool needs target/path"),
        (dict(name="p", xml="<pool"), "xml: cannot parse XML"),
        (dict(name="p", xml="<pool type='rbd'><name>p</name></pool>"), "xml: pool type 'rbd' is not one of"),
        (
            dict(name="p", xml="<!DOCTYPE p [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><pool type='dir'><name>&x;</name></pool>"),
            "xml: virt_pool does not compare comments, processing instructions or entities in a text",  # never resolved
        ),
        (dict(name="p", state="inactive", delete_volumes=True), "delete_volumes applies to state: absent"),
    ],
)
def test_hostile_and_wrong_input_is_refused_before_anything(capsys, args, message):
    code, result = invoke(capsys, uri="test:///default", _ansible_check_mode=True, **args)
    assert code == 1 and message in result["msg"], result["msg"]
    assert result["plan"] == [] and result["changed"] is False and "exception" not in result


def test_xml_and_options_are_exclusive(capsys):
    code, result = invoke(capsys, uri="test:///default", name="p", xml="<pool/>", target_path="/s")
    assert code == 1 and "mutually exclusive" in result["msg"]
