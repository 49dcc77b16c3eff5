"""The guest_outcomes and guest_summary filters: registered loop results -> per-guest report."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.filter.guest_outcomes import guest_outcomes
from ansible_collections.remotevirt.install.plugins.filter.guest_summary import guest_summary


def step(action, command="cmd"):
    return {"action": action, "command": command}


def result(name, **fields):
    return dict({"item": {"name": name}, "changed": False, "plan": []}, **fields)


def test_outcome_per_guest_from_the_plan():
    """The plan's verbs say what happened; failures keep the module's message."""
    results = [
        result("new", changed=True, plan=[step("create"), step("install", "virsh create new-install.xml"), step("define")]),
        result("same"),
        result("grown", changed=True, plan=[step("define")]),
        result("off", changed=True, plan=[step("start")]),
        result("gone", changed=True, plan=[step("destroy"), step("undefine")]),
        result("bad", failed=True, msg="networks[0]: libvirt network 'x' does not exist"),
    ]
    outcomes = guest_outcomes(results)
    expected = ["installed", "unchanged", "updated", "started", "removed", "failed"]
    assert [entry["outcome"] for entry in outcomes] == expected
    assert outcomes[0]["preview"][0] == "new: install"
    assert "  $ virsh create new-install.xml" in outcomes[0]["preview"]
    assert outcomes[1]["preview"] == ["same: nothing to do"]
    assert outcomes[5]["line"] == "bad: failed: networks[0]: libvirt network 'x' does not exist"


def test_a_new_guest_defined_without_an_installer_is_created():
    """An import-only guest's first run defines it: created, not updated; a later change is an update."""
    results = [
        result("fresh", changed=True, created=True, plan=[step("create"), step("define"), step("start")]),
        result("again", changed=True, created=False, plan=[step("define"), step("start")]),
    ]
    outcomes = guest_outcomes(results)
    assert [entry["outcome"] for entry in outcomes] == ["created", "updated"]
    assert outcomes[0]["preview"][0] == "fresh: create"
    assert guest_summary(outcomes) == "installed 0, created 1 (fresh), updated 1 (again), unchanged 0, failed 0"


def test_async_jobs_replace_the_started_results():
    """With poll 0 the task only started jobs; async_status's results are the real outcome."""
    started = [
        result("a", changed=True, ansible_job_id="1", finished=0),
        result("b", changed=True, ansible_job_id="2", finished=0),
    ]
    jobs = {
        "results": [
            {"item": started[0], "changed": True, "finished": 1, "plan": [step("install")]},
            {"item": started[1], "failed": True, "finished": 1, "msg": "boom"},
        ]
    }
    assert [entry["outcome"] for entry in guest_outcomes(started, jobs)] == ["installed", "failed"]


def test_guest_jobs_results_replace_the_started_results():
    """guest_jobs names each final result; a failure is one line with the message's first line."""
    started = [
        result("a", changed=False, ansible_job_id="1", finished=0),
        result("b", changed=False, ansible_job_id="2", finished=0),
    ]
    jobs = {
        "results": [
            {"guest": "a", "elapsed": 30, "changed": True, "finished": 1, "plan": [step("install")]},
            {
                "guest": "b",
                "elapsed": 12,
                "failed": True,
                "finished": 1,
                "msg": "wait: guest b did not power off within 300 s\nthe guest and its disks are kept",
            },
        ]
    }
    outcomes = guest_outcomes(started, jobs)
    assert [entry["outcome"] for entry in outcomes] == ["installed", "failed"]
    assert outcomes[1]["line"] == "b: failed: wait: guest b did not power off within 300 s"


def test_skipped_wait_task_is_no_jobs():
    """A skipped async_status (sync installs) registers no results list."""
    assert guest_outcomes([result("a")], {"skipped": True})[0]["outcome"] == "unchanged"


def test_summary_names_guests_and_always_counts_failures():
    outcomes = guest_outcomes([result("web01", changed=True, plan=[step("install")]), result("db01")])
    assert guest_summary(outcomes) == "installed 1 (web01), unchanged 1 (db01), failed 0"
    assert guest_summary([]) == "installed 0, unchanged 0, failed 0"


def test_summary_names_running_guests_that_need_a_restart():
    """An update of a running guest, this run's or an earlier one's, applies at its next start."""
    outcomes = guest_outcomes(
        [
            result("web01", changed=True, plan=[step("define")], reboot_required=True),
            result("db01", reboot_required=True),
            result("fresh", reboot_required="yes"),  # only a true boolean counts
        ]
    )
    assert [entry["reboot_required"] for entry in outcomes] == [True, True, False]
    assert (
        guest_summary(outcomes)
        == "installed 0, updated 1 (web01), unchanged 2 (db01, fresh), failed 0; reboot required 2 (web01, db01)"
    )


def test_results_of_a_loop_over_names():
    """The roles loop over guest names, so no result's item carries a guest's options."""
    started = [{"item": "web01", "ansible_job_id": "j1", "started": 1, "finished": 0, "changed": False}]
    jobs = {"results": [{"item": started[0], "finished": 1, "changed": True, "plan": [step("define"), step("install")]}]}
    outcomes = guest_outcomes(started, jobs)
    assert [(entry["name"], entry["outcome"]) for entry in outcomes] == [("web01", "installed")]


def test_a_guest_named_by_a_number_is_shown_as_the_module_names_it():
    """A loop over names given as YAML numbers: the module reads 12345 as the guest "12345"."""
    results = [dict(result("x", changed=True, plan=[step("install")]), item=12345)]
    outcomes = guest_outcomes(results)
    assert outcomes[0]["name"] == "12345" and outcomes[0]["preview"][0] == "12345: install"
    assert guest_summary(outcomes) == "installed 1 (12345), unchanged 0, failed 0"
