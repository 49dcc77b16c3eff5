from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Payload, Plan, shell
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
