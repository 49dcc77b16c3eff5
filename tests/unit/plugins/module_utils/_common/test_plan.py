from __future__ import annotations

import shlex

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Payload, Plan, shell, virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field


class SecretPayload(Payload):
    secret: str = Field(in_repr=False)


def test_shell_quotes_every_word():
    assert shell("virsh", "vol-create-as", "--pool", "my pool", "it's") == "virsh vol-create-as --pool 'my pool' 'it'\"'\"'s'"


def test_empty_plan_is_unchanged():
    plan = Plan()
    assert not plan.changed
    assert plan.summaries() == []
    assert plan.diff("volume p/v") == {
        "before": "",
        "after": "",
        "before_header": "volume p/v (before)",
        "after_header": "volume p/v (after)",
    }


def test_summary_never_contains_the_payload():
    action = Action("create", "volume", "p/v", "virsh vol-create-as ...", SecretPayload("x"))
    plan = Plan(actions=[action])
    assert plan.changed and not plan.destructive
    assert plan.summaries() == [
        {"action": "create", "kind": "volume", "name": "p/v", "command": "virsh vol-create-as ...", "destructive": False}
    ]
    assert "secret" not in repr(action)


def test_payload_does_not_count_for_equality():
    assert Action("create", "volume", "p/v", "c", SecretPayload("a")) == Action("create", "volume", "p/v", "c")


def test_virsh_is_plain_for_the_hosts_system_daemon():
    assert virsh("qemu:///system", "start", "web 01") == "virsh start 'web 01'"


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("test:///default", "virsh -c test:///default start web01"),
        ("qemu:///session", "virsh -c qemu:///session start web01"),
        ("qemu+tls://hv1:16514/system", "virsh -c qemu+tls://hv1:16514/system start web01"),
        # A query joins parameters with '&': quoted, so a shell runs one virsh with the whole URI.
        (
            "qemu+ssh://root@hv1:2222/system?keyfile=/k/id&no_tty=1",
            "virsh -c 'qemu+ssh://root@hv1:2222/system?keyfile=/k/id&no_tty=1' start web01",
        ),
    ],
)
def test_virsh_names_any_other_uri(uri, expected):
    """A plan made over another URI shows the connection, so its commands can be copied as they are."""
    assert virsh(uri, "start", "web01") == expected
    assert shlex.split(expected)[:3] == ["virsh", "-c", uri]
