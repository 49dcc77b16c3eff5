"""Executor through libvirt's embedded test driver: real calls, real failures, real rollback."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.audit import AuditLog
from ansible_collections.remotevirt.install.plugins.module_utils._common.executor import ExecutionError, Executor
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import DURABLE, Action, Plan, Verb
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import (
    CREATE,
    DELETE,
    RESIZE,
    VERBS,
    CreatePayload,
    ResizePayload,
    VolumeTarget,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.handlers import VolumeHandlers


class RecordingAudit(AuditLog):
    def __init__(self):
        super().__init__("local3", context="test:///default")
        self.records = []

    def _write(self, priority, message, action=None, rc=None):
        self.records.append((priority, message, rc))


def create_action(name):
    xml = Volume(name=name, capacity=1 << 20, format="qcow2", allocation=0).to_xml()
    return Action(
        CREATE, "volume", "default-pool/" + name, "virsh vol-create-as ...", CreatePayload(pool="default-pool", xml=xml)
    )


def resize_action(name, capacity):
    return Action(
        RESIZE,
        "volume",
        "default-pool/" + name,
        "virsh vol-resize ...",
        ResizePayload(pool="default-pool", volume=name, capacity=capacity),
    )


def test_applies_actions_in_order_and_logs_each(test_client, unique_name):
    name = unique_name()
    audit = RecordingAudit()
    Executor(VolumeHandlers(test_client, True).as_mapping(), VERBS, audit).apply(Plan([create_action(name)]))
    pool = test_client.find_pool("default-pool")
    assert test_client.find_volume(pool, name) is not None
    assert [rc for _priority, _message, rc in audit.records] == [None, 0]
    assert "create volume default-pool/%s rc=0" % name in audit.records[1][1]
    test_client.delete_volume(test_client.find_volume(pool, name))


def test_failure_rolls_back_what_was_created(test_client, unique_name):
    first, second = unique_name(), unique_name()
    audit = RecordingAudit()
    # The test driver cannot resize volumes: a genuine libvirt failure after two creations.
    plan = Plan([create_action(first), create_action(second), resize_action(second, 2 << 20)])
    with pytest.raises(ExecutionError) as error:
        Executor(VolumeHandlers(test_client, True).as_mapping(), VERBS, audit).apply(plan)
    pool = test_client.find_pool("default-pool")
    assert test_client.find_volume(pool, first) is None
    assert test_client.find_volume(pool, second) is None
    assert error.value.rolled_back == ["create default-pool/%s" % second, "create default-pool/%s" % first]
    assert not error.value.left_changes
    assert "resize volume default-pool/%s failed" % second in str(error.value)
    assert [rc for _priority, _message, rc in audit.records] == [None, 0, None, 0, None, 1, 0, 0]


def test_a_deletion_before_a_rolled_back_creation_of_the_same_name_is_a_change(test_client, unique_name):
    """Deleting a volume, then making one of that name that rollback deletes again, leaves the host
    without the old volume: the failure says the host changed."""
    name = unique_name()
    pool = test_client.find_pool("default-pool")
    Executor(VolumeHandlers(test_client, True).as_mapping(), VERBS, RecordingAudit()).apply(Plan([create_action(name)]))
    delete = Action(DELETE, "volume", "default-pool/" + name, "virsh vol-delete ...", VolumeTarget("default-pool", name))
    plan = Plan([delete, create_action(name), resize_action(name, 2 << 20)])
    with pytest.raises(ExecutionError) as error:
        Executor(VolumeHandlers(test_client, True).as_mapping(), VERBS, RecordingAudit()).apply(plan)
    assert test_client.find_volume(pool, name) is None
    assert error.value.left_changes


def test_unknown_verb_is_refused_before_it_runs(test_client, unique_name):
    name = unique_name()
    plan = Plan([create_action(name), Action("explode", "volume", "default-pool/x", "true")])
    with pytest.raises(ExecutionError, match="no handler for 'explode'"):
        Executor(VolumeHandlers(test_client, True).as_mapping(), VERBS, RecordingAudit()).apply(plan)
    assert test_client.find_volume(test_client.find_pool("default-pool"), name) is None


def test_a_payload_of_another_verb_is_refused_before_it_runs(test_client, unique_name):
    """A planner/handler mismatch is a bug: nothing runs on a payload its handler does not read."""
    name = unique_name()
    wrong = Action(RESIZE, "volume", "default-pool/" + name, "virsh vol-resize ...", create_action(name).payload)
    with pytest.raises(ExecutionError, match="resize needs a ResizePayload, not a CreatePayload"):
        Executor(VolumeHandlers(test_client, True).as_mapping(), VERBS, RecordingAudit()).apply(
            Plan([create_action(name), wrong])
        )
    assert test_client.find_volume(test_client.find_pool("default-pool"), name) is None


def test_failure_after_a_durable_action_keeps_everything(test_client, unique_name):
    """Once a durable action succeeded (an install started), a later failure rolls nothing back."""
    name = unique_name()
    durable = create_action(name)
    verbs = dict(VERBS, create=Verb(CREATE, CreatePayload, DURABLE))
    with pytest.raises(ExecutionError) as error:
        Executor(VolumeHandlers(test_client, True).as_mapping(), verbs, RecordingAudit()).apply(
            Plan([durable, resize_action(name, 2 << 20)])
        )
    pool = test_client.find_pool("default-pool")
    assert test_client.find_volume(pool, name) is not None
    assert error.value.left_changes and error.value.rolled_back == []
    assert error.value.kept is durable
    assert "nothing was rolled back" in str(error.value) and "re-run the task to resume" in str(error.value)
    test_client.delete_volume(test_client.find_volume(pool, name))


class BrokenAudit(RecordingAudit):
    """A host log whose every write fails (full disk, syslog socket gone)."""

    def _send(self, priority, message, action=None, rc=None):
        raise OSError("log device full")

    _write = AuditLog._write


def test_a_failing_host_log_changes_nothing(test_client, unique_name):
    """Writing the host log is best effort: the plan runs, and a failure still rolls back."""
    first, second = unique_name(), unique_name()
    plan = Plan([create_action(first), create_action(second), resize_action(second, 2 << 20)])
    with pytest.raises(ExecutionError) as error:
        Executor(VolumeHandlers(test_client, True).as_mapping(), VERBS, BrokenAudit()).apply(plan)
    assert error.value.rolled_back == ["create default-pool/%s" % second, "create default-pool/%s" % first]
    assert test_client.find_volume(test_client.find_pool("default-pool"), first) is None
