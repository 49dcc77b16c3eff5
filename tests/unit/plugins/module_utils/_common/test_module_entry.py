"""The module entry: secrets known before anything is logged or returned, one message per failure."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common import audit
from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError, RunError
from ansible_collections.remotevirt.install.plugins.module_utils._common.module_entry import (
    RemotevirtModule,
    no_log_strings,
    parameter_secrets,
    run_module,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Plan, PlanError

SPEC = dict(
    uri=dict(type="str", default="qemu:///system"),
    url=dict(type="str"),
    count=dict(type="int"),
    nested=dict(type="dict", options=dict(text=dict(type="str", no_log=True), port=dict(type="int"))),
    free=dict(type="raw"),
    table=dict(type="dict"),
)


def execute(capsys, run, **args):
    """Build the module from ``args`` and run_module(run); return the exit code and printed result."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            run_module(RemotevirtModule(argument_spec=SPEC, supports_check_mode=True), run)
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_parameter_secrets_are_url_credentials_anywhere():
    params = {"url": "http://u:Pw-1@h/x", "nested": {"list": ["ftp://token-2@h/y"]}, "plain": "no@secret"}
    assert sorted(parameter_secrets(params)) == ["Pw-1", "token-2", "u:Pw-1"]


def test_a_libvirt_uri_user_is_no_secret_but_its_password_is():
    """Masking the SSH user (often root) would garble every result; a password is masked."""
    assert list(parameter_secrets({"uri": "qemu+ssh://root@hv1/system"})) == []
    assert list(parameter_secrets({"guests": [{"uri": "qemu+ssh://root:Pw-3@hv1/system"}]})) == ["root:Pw-3", "Pw-3"]


@pytest.mark.parametrize(
    "uri, secrets",
    [
        ("qemu:///system?token=TokPw44real", ["TokPw44real"]),
        ("qemu+ssh://root@hv1/system?keyfile=/root/.ssh/id_ed25519&sig=AbCdEf12", ["AbCdEf12"]),
        ("qemu+ssh://root@hv1/system?no_verify=1;%73ocket=/run/x/libvirt-sock&access_token=Tk-2024", ["Tk-2024"]),
        ("qemu:///system?TokenAlone9", ["TokenAlone9"]),
        ("qemu:///system#frag-secret", ["frag-secret"]),
        ("qemu:///system?name=qemu+ssh://u:Pw-9@h/system", ["qemu+ssh://u:Pw-9@h/system"]),
        ("qemu:///system?socket=/var/run/libvirt/libvirt-sock&mode=direct&t=short", []),
    ],
)
def test_the_query_values_of_a_libvirt_uri_are_secrets_but_libvirts_own_settings(uri, secrets):
    """A token a proxy reads is masked everywhere; a socket path or a key file stays readable."""
    assert list(parameter_secrets({"uri": uri})) == secrets


def test_no_log_strings_never_fail_on_odd_shapes():
    spec = SPEC
    assert list(no_log_strings(spec, {"nested": {"text": "s1"}})) == ["s1"]
    assert list(no_log_strings(spec, {"nested": {"text": ["s2", {"k": 12345678}]}})) == ["s2", "12345678"]
    assert list(no_log_strings(spec, {"nested": [{"text": "s3"}, 5, None]})) == ["s3"]
    assert list(no_log_strings(spec, {"nested": {"text": ""}})) == []
    assert list(no_log_strings(spec, ["not", "a", "dict"])) == []
    assert list(no_log_strings(spec, {"nested": "text=s4"})) == ["s4"]  # text read as Ansible reads it


def test_result_and_invocation_never_show_url_credentials(capsys, host_log):
    code, result = execute(
        capsys, lambda params, check, diff: {"changed": False, "echo": params["url"]}, url="http://user:Pw-secret@h/x"
    )
    assert code == 0
    text = json.dumps(result) + "\n".join(host_log)
    assert "Pw-secret" not in text and "user:" not in text
    assert result["invocation"]["module_args"]["url"] == "http://***@h/x"


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://h/a;tok=Zq9x7/x.img?k=Ab3x9", "http://h/a;tok=***/x.img?k=***"),
        ("http://h/x.img?Ab3x9", "http://h/x.img?***"),
        ("http://h/x.img?a=1&&=Zq9#frag", "http://h/x.img?a=***&&=***#***"),
    ],
)
def test_short_query_values_never_reach_the_host_log_or_the_invocation(capsys, host_log, url, shown):
    """Values under six characters are no no_log values (they would be masked in every text), so the
    host log's line and the result's invocation mask a URL's query and parameters themselves; the
    module still gets the URL as given."""
    code, result = execute(capsys, lambda params, check, diff: {"changed": False, "given": params["url"] == url}, url=url)
    assert code == 0 and result["given"] is True
    assert result["invocation"]["module_args"]["url"] == shown
    assert host_log and "Zq9" not in host_log[0] and "Ab3x9" not in host_log[0] and "url=%s" % shown in host_log[0]


def test_a_libvirt_uri_and_a_uri_key_anywhere_show_libvirts_settings_only(capsys, host_log):
    """A short token in the libvirt uri, and in a free-form dictionary's 'uri' key, is masked in the host
    log and the invocation; libvirt's own settings (the socket) stay shown."""
    uri = "qemu:///system?socket=/run/libvirt/libvirt-sock&token=ab1"
    code, result = execute(capsys, lambda params, check, diff: {"changed": False}, uri=uri, table={"uri": "http://h/x?t=cd7"})
    shown = result["invocation"]["module_args"]
    assert code == 0 and shown["uri"] == "qemu:///system?socket=/run/libvirt/libvirt-sock&token=***"
    assert shown["table"] == {"uri": "http://h/x?t=***"}
    assert "ab1" not in host_log[0] and "cd7" not in host_log[0] and "socket=/run/libvirt/libvirt-sock" in host_log[0]


def test_a_url_in_a_free_form_dictionarys_key_is_masked_as_in_a_value(capsys, host_log):
    """meta_data keys are the user's text: a URL written as a key shows without its credentials."""
    table = {"http://admin:Pw7@h/seed?t=Qx1": "seed", 3: "not text"}
    code, result = execute(capsys, lambda params, check, diff: {"changed": False}, table=table)
    shown = json.dumps(result) + "\n".join(host_log)
    assert code == 0 and "Pw7" not in shown and "Qx1" not in shown and "admin" not in shown
    keys = sorted(result["invocation"]["module_args"]["table"])
    assert keys[0] == "3" and keys[1].startswith("http://***@h/")


@pytest.mark.parametrize(
    "key, secrets",
    [
        ("http://u4:KEYPASS777@host/?token=KEYTOKEN888", ("KEYPASS777", "KEYTOKEN888")),
        ("http://ku1:pass word SPACEPW111@host/", ("SPACEPW111", "pass word")),
        ("http://ku3:p@ss SPACEPW333@host/x", ("SPACEPW333", "p@ss")),
    ],
)
def test_a_key_the_spec_does_not_know_is_masked_in_its_refusal(capsys, host_log, key, secrets):
    """AnsibleModule's refusal names an unknown key; a URL written as that key shows without its
    credentials there, in the invocation and in the host log."""
    code, result = execute(capsys, lambda params, check, diff: {"changed": False}, nested={"text": "x", key: 1}, free="disk1")
    shown = json.dumps(result) + "\n".join(host_log)
    assert code == 1 and "nested.http://" in result["msg"] and not any(secret in shown for secret in secrets)
    assert result["invocation"]["module_args"]["free"] == "disk1"  # its value 1 is no secret: a 1 elsewhere shows


def test_a_refusal_masks_short_query_values_in_its_invocation(capsys, host_log):
    code, result = execute(capsys, lambda params, check, diff: {}, url="http://h/x.img?k=Ab3x9", count="x")
    assert code == 1 and "Ab3x9" not in json.dumps(result) + "\n".join(host_log)


def test_a_multiline_no_log_value_is_masked_in_the_host_log(capsys, host_log):
    """AnsibleModule logs a dict parameter as its repr, where a newline is escaped: masked before that."""
    execute(capsys, lambda params, check, diff: {"changed": False}, nested={"text": "rootpw Line-1\nLine-2"})
    assert host_log and host_log[0].startswith("Invoked with")
    assert "Line-1" not in host_log[0] and "Line-2" not in host_log[0]


def test_refusal_is_the_message_with_the_plan_so_far(capsys):
    plan = Plan(actions=[Action("create", "volume", "p/v", "virsh vol-create-as --pool p --name v")])

    def refuse(params, check, diff):
        raise RunError("create volume p/v failed: curl http://u:Pw-4@h/x", plan, changed=True)

    code, result = execute(capsys, refuse)
    assert code == 1 and result["changed"] is True and "exception" not in result
    assert result["msg"] == "create volume p/v failed: curl http://***@h/x"
    assert [step["command"] for step in result["plan"]] == ["virsh vol-create-as --pool p --name v"]


@pytest.mark.parametrize("error", [PlanError("refused"), RemotevirtError("refused")])
def test_every_project_error_is_a_refusal(capsys, error):
    def refuse(params, check, diff):
        raise error

    code, result = execute(capsys, refuse)
    assert (code, result["msg"], result["plan"], result["changed"]) == (1, "refused", [], False)


def test_names_that_are_not_utf8_are_shown_escaped_in_a_refusal_and_a_result(capsys):
    name = os.fsdecode(b"/var/tmp/bad\xff\xfename")

    def refuse(params, check, diff):
        raise PlanError("its disk vda: the backing file %s does not exist" % name)

    code, result = execute(capsys, refuse)
    assert (code, result["msg"]) == (1, "its disk vda: the backing file /var/tmp/bad\\xff\\xfename does not exist")
    code, result = execute(capsys, lambda params, check, diff: {"changed": False, "paths": [name, "\ud800"]})
    assert (code, result["paths"]) == (0, ["/var/tmp/bad\\xff\\xfename", "\\ud800"])


def test_an_unexpected_error_is_one_line_without_traceback(capsys):
    def broken(params, check, diff):
        raise KeyError("line one\nline two http://u:Pw-5@h/x")

    code, result = execute(capsys, broken)
    assert code == 1 and "exception" not in result
    assert result["msg"].startswith("unexpected KeyError: 'line one\\nline two http://***@h/x'")
    assert "\n" not in result["msg"] and "Traceback" not in json.dumps(result) and "Pw-5" not in json.dumps(result)


def test_non_ascii_digits_for_an_int_option_fail_before_conversion(capsys):
    """Ansible's int() would read '٣' as 3; the module refuses it as given."""
    code, result = execute(capsys, lambda params, check, diff: {"changed": False}, nested={"port": "\u0665\u0669"})
    assert code == 1 and result["msg"] == "nested.port: '\u0665\u0669' is not a whole number written with the digits 0-9"


def test_a_list_where_a_dict_belongs_fails_with_a_message(capsys):
    code, result = execute(capsys, lambda params, check, diff: {"changed": False}, nested=[{"text": "x"}])
    assert code == 1 and result["msg"] == "nested must be a dictionary of its suboptions, not a list"
    assert "exception" not in result


@pytest.fixture
def no_log_sink(monkeypatch):
    """A host with neither journald nor a syslog socket; no warning left from earlier tests."""
    audit.take_warnings()
    monkeypatch.setattr(audit, "_journal", lambda: None)
    monkeypatch.setattr(audit, "_socket_exists", lambda path: False)
    yield
    audit.take_warnings()


@pytest.fixture
def warned(monkeypatch):
    """Every AnsibleModule.warn() of the task (which adds it to the result's warnings). Recorded
    here: once the controller's code is imported (the filter tests), ansible-core shows them instead."""
    texts = []
    monkeypatch.setattr(RemotevirtModule, "warn", lambda self, warning: texts.append(warning))
    return texts


def logging_run(outcome):
    """A run that records two actions on the host log, then returns or raises ``outcome``."""

    def run(params, check, diff):
        log = audit.AuditLog(context=params["uri"])
        action = Action("create", "volume", "p/v", "virsh vol-create-as --pool p --name v")
        log.started(action)
        log.succeeded(action)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return run


def test_a_host_without_a_log_sink_warns_once_per_task(capsys, no_log_sink, warned):
    code, result = execute(capsys, logging_run({"changed": True}))
    assert code == 0 and result["changed"] is True
    assert warned == [audit.NO_SINK_WARNING]


def test_a_failed_task_warns_about_the_log_sink_too(capsys, no_log_sink, warned):
    code, result = execute(capsys, logging_run(RunError("create volume p/v failed", changed=True)))
    assert code == 1 and result["msg"] == "create volume p/v failed"
    assert warned == [audit.NO_SINK_WARNING]


def test_a_run_that_writes_no_record_never_warns_about_the_log(capsys, no_log_sink, warned):
    code, result = execute(capsys, lambda params, check, diff: {"changed": False})
    assert code == 0 and warned == []


@pytest.mark.parametrize(
    "args",
    [
        {"url_pasword": "Hunter-22"},  # mistyped
        {"nested": {"password": "Hunter-22"}},  # misplaced, among suboptions
        {"nested": {"txt": "Hunter-22"}},  # closest to a no_log option
        {"api_token": ["Hunter-22"]},
    ],
)
def test_an_unknown_key_that_looks_secret_is_masked_in_the_refusal(capsys, host_log, args):
    code, result = execute(capsys, lambda params, check, diff: {"changed": False}, **args)
    assert code == 1 and "Unsupported parameters" in result["msg"]
    assert "Hunter-22" not in json.dumps(result) + "\n".join(host_log)


@pytest.mark.parametrize(
    "args",
    [
        {"free": {"model": "tpm-crb", "pasword": "Hunter-22"}},  # a free-form option's dictionary
        {"count": {"password": "Hunter-22"}},  # a dictionary where a number belongs
        {"table": '{"secret": "Hunter-22"}'},  # a dictionary option given as JSON text
        {"nested": '{"password": "Hunter-22"}'},  # the same, into an option with suboptions
        {"users": [{"passwd": "Hunter-22"}]},  # under an unknown key that says nothing
        {"api_tok": "Hunter-22"},
        {"pw": "Hunter-22"},
        {"\u043f\u0430\u0440\u043e\u043b\u044c": "Hunter-22"},
    ],
)
def test_a_value_under_a_secret_name_anywhere_is_masked(capsys, host_log, args):
    code, result = execute(capsys, lambda params, check, diff: {"changed": False}, **args)
    assert "Hunter-22" not in json.dumps(result) + "\n".join(host_log)


@pytest.mark.parametrize(
    "text",
    [
        {"rootpw --plaintext": "Hunter-22"},  # a kickstart pasted without '|': a dictionary
        ["rootpw --plaintext Hunter-22", "reboot"],
        {"lines": [{"pw": 1234567}]},
    ],
)
def test_a_no_log_option_given_a_dictionary_or_a_list_is_masked_in_the_refusal(capsys, host_log, text):
    """AnsibleModule masks a no_log option only when it is text; the refusal of the shape kept the rest."""
    code, result = execute(capsys, lambda params, check, diff: {"changed": False}, nested={"text": text})
    assert code == 1
    shown = json.dumps(result) + "\n".join(host_log)
    assert "Hunter-22" not in shown and "1234567" not in shown


def test_a_short_value_under_a_secret_name_inside_another_value_stays():
    """Masking 0 would garble every number 0 in the result."""
    from ansible_collections.remotevirt.install.plugins.module_utils._common.module_entry import unknown_key_secrets

    assert list(unknown_key_secrets(SPEC, {"free": {"password_expiry": 0, "key_size": 4096}})) == ["4096"]


def test_an_unknown_key_that_looks_harmless_keeps_its_value(capsys):
    """Only values of secret-looking keys are masked: masking every value would garble the message."""
    code, result = execute(capsys, lambda params, check, diff: {"changed": False}, colour="blue")
    assert code == 1 and result["invocation"]["module_args"]["colour"] == "blue"


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12))
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=12,
)


@given(params=st.dictionaries(st.one_of(st.text(max_size=10), st.sampled_from(sorted(SPEC))), _VALUES, max_size=5))
def test_secrets_of_unknown_keys_never_fail_on_any_shape(params):
    from ansible_collections.remotevirt.install.plugins.module_utils._common.module_entry import unknown_key_secrets

    assert all(isinstance(text, str) and text for text in unknown_key_secrets(SPEC, params))


def test_only_url_options_are_read_as_mistyped_urls():
    """install.kickstart and source_url are URLs even when their '://' is mistyped; a cdrom path with
    ':' and '@' is a path, whose '1' would otherwise be masked in every number of the result."""
    params = {
        "source_url": "https//u:Pw-4-long@h/x.img",
        "install": {"kickstart": "data:,rootpw%20Ks-5-long", "cdrom": {"path": "/srv/iso/deb:1@amd64.iso"}},
        "memory": "1024",
    }
    assert sorted(parameter_secrets(params)) == [",rootpw%20Ks-5-long", "Pw-4-long", "u:Pw-4-long"]
