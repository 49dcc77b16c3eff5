"""Differential runs of a module on libvirt's test:///default driver: check mode against the real
run, and the re-run against both.

For one option set, ``assert_check_predicts_real_run`` asserts what every module that changes
things promises: a check-mode run changes nothing on the host; the real run reports the same
``changed``, the same plan and the same refusal as check mode, and reports the objects as check mode did (but
for values only it can know: ``RUN_TIME``); a refused run leaves the host as it
was; a second real run, and a check-mode run after it, report ``changed=false`` and no plan; diff
mode shows before and after when something changes, and the same text when nothing does; and no
run ever ends in a Python error.

The test files hold what is particular to their module (its options, the objects it meets); the
runs, the placing of paths and the clean-up they share are here. Their test functions are seeded
(``derandomize=True``) from a digest of their own source: a change to a test function's body
changes the runs it generates.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, Mapping, Sequence, Tuple

import pytest
from ansible.module_utils.testing import patch_module_args
from hypothesis import strategies as st

Snapshot = Dict[str, Any]
# What the objects the differential runs make are named: "dp-" and "dq-", then the test's own name.
PREFIX = "dp-"

# How libvirt says a driver lacks a call or a flag: the test driver cannot resize a volume, nor
# preallocate its metadata.
UNSUPPORTED = ("is not supported by the connection driver", "unsupported flags")

# What a run reports that is not part of the prediction: its invocation, and the host log's
# warnings (only a real run writes records).
NOT_PREDICTED = ("invocation", "warnings", "deprecations")

# The values of the objects a run reports (volume, pool, network, domain) that only the real run can
# know: check mode reports them as None for an object the run makes, and as they are for one that
# exists. Everything else a check-mode run reports is what the real run reports.
RUN_TIME = {
    # libvirt makes up the uuid of a new guest, pool or network when it defines it.
    ("domain", "uuid"),
    ("pool", "uuid"),
    ("network", "uuid"),
    # A volume's key is the pool backend's choice (its path on a dir pool, not on others), and what
    # the host allocates for a new volume is known once it is made.
    ("volume", "key"),
    ("volume", "allocation"),
    # A pool's sizes are those of its file system or device, read once it is active.
    ("pool", "capacity"),
    ("pool", "allocation"),
    ("pool", "available"),
}
# libvirt makes up the MAC address of an interface that names none: check mode reports the MACs it
# knows (given, or those of the guest's interfaces), the real run those and the new ones.
RUN_TIME_LISTS = {("domain", "macs")}


def host_snapshot(conn: Any) -> Snapshot:
    """Everything the test driver holds: each pool with its volumes, domain and network, as XML
    with its run state and autostart flag."""
    snapshot: Snapshot = {}
    for pool in conn.listAllStoragePools(0):
        volumes = {}
        if pool.isActive():
            volumes = {volume.name(): volume.XMLDesc(0) for volume in pool.listAllVolumes(0)}
        snapshot["pool " + pool.name()] = (pool.XMLDesc(0), pool.isActive(), pool.autostart(), pool.isPersistent(), volumes)
    for domain in conn.listAllDomains(0):
        inactive = domain.XMLDesc(2) if domain.isPersistent() else None  # VIR_DOMAIN_XML_INACTIVE
        snapshot["domain " + domain.name()] = (domain.XMLDesc(0), inactive, domain.state(0), domain.autostart())
    for network in conn.listAllNetworks(0):
        snapshot["network " + network.name()] = (
            network.XMLDesc(0),
            network.isActive(),
            network.autostart(),
            network.isPersistent(),
        )
    return snapshot


def trace(args: Dict[str, Any], code: int, result: Dict[str, Any]) -> None:
    """With DIFFERENTIAL_TRACE set to a file name, what each real run was given and did, appended
    there: to see what the generated runs reach (captured output hides prints)."""
    name = os.environ.get("DIFFERENTIAL_TRACE")
    if name:
        with open(name, "a", encoding="utf-8") as trace_file:
            actions = [step.get("action") for step in result.get("plan") or []]
            trace_file.write("%r\n  -> %s %s %s\n" % (args, code, result.get("msg"), actions))


def run_once(capsys: Any, module: Any, args: Dict[str, Any], check: bool) -> Tuple[int, Dict[str, Any]]:
    """``module.main()`` as Ansible runs it, diff mode on: its exit code and printed result."""
    with patch_module_args(dict(args, _ansible_check_mode=check, _ansible_diff=True)):
        with pytest.raises(SystemExit) as exited:
            module.main()
    result = json.loads(capsys.readouterr().out)
    assert "exception" not in result and "unexpected" not in str(result.get("msg", "")), result
    return int(exited.value.code or 0), result


def outcome(code: int, result: Dict[str, Any]) -> Dict[str, Any]:
    """What check mode predicts of a run: whether it fails and with which message, ``changed``
    and the plan."""
    return dict(failed=code != 0, msg=result.get("msg"), changed=result.get("changed"), plan=result.get("plan"))


def assert_reports_predicted(check: Dict[str, Any], real: Dict[str, Any]) -> None:
    """Check mode's result is the real run's, key for key, but for the run-time values above."""
    predicted = {key: value for key, value in check.items() if key not in NOT_PREDICTED}
    reported = {key: value for key, value in real.items() if key not in NOT_PREDICTED}
    assert sorted(predicted) == sorted(reported), "check mode reports other result keys"
    for key, value in reported.items():
        guess = predicted[key]
        if isinstance(value, dict) and isinstance(guess, dict):
            value, guess = dict(value), dict(guess)
            for name in sorted(set(value) & set(guess)):
                if (key, name) in RUN_TIME and guess[name] is None:
                    del value[name], guess[name]
                elif (key, name) in RUN_TIME_LISTS and set(guess[name]) <= set(value[name]):
                    del value[name], guess[name]
        assert guess == value, "check mode mispredicted the reported %s" % key


def assert_diff_shown(result: Dict[str, Any]) -> None:
    if result.get("failed"):
        return
    diff = result.get("diff")
    if result["changed"]:
        assert diff is not None and "before" in diff and "after" in diff, result
    elif diff is not None:
        assert diff.get("before") == diff.get("after"), diff


def assert_check_predicts_real_run(
    capsys: Any, conn: Any, module: Any, args: Dict[str, Any], converges: bool = True
) -> Dict[str, Any]:
    """The differential property for ``args`` on the host of ``conn``; returns the real run's result.

    ``converges=False`` for a request that is an action each time (virt_guest_state's restarted)."""
    before = host_snapshot(conn)
    code, check = run_once(capsys, module, args, check=True)
    assert host_snapshot(conn) == before, "check mode changed the host"
    assert_diff_shown(check)

    code_real, real = run_once(capsys, module, args, check=False)
    trace(args, code_real, real)
    if code_real and any(words in real["msg"] for words in UNSUPPORTED):
        return real  # the test driver lacks what the run needs: nothing to compare
    assert outcome(code_real, real) == outcome(code, check), "check mode mispredicted the run"
    assert_reports_predicted(check, real)
    assert_diff_shown(real)
    if code_real:
        assert host_snapshot(conn) == before, "a refused run changed the host"
        return real
    if not converges:
        return real

    made = host_snapshot(conn)
    for check_mode in (False, True):
        code_again, again = run_once(capsys, module, args, check=check_mode)
        assert (code_again, again["changed"], again["plan"]) == (0, False, []), again
        assert_diff_shown(again)
        assert host_snapshot(conn) == made, "a run with nothing to do changed the host"
    return real


def runs_of(
    names: Sequence[str], shapes: Sequence[Mapping[str, Any]], extras: Mapping[str, Any]
) -> st.SearchStrategy[Dict[str, Any]]:
    """Runs of a module on one of ``names``: the options of one of ``shapes`` (each a dict of
    strategies), with up to two of ``extras`` (each a strategy) now and then."""
    return st.tuples(
        st.sampled_from(names),
        st.sampled_from(shapes).flatmap(st.fixed_dictionaries),
        st.lists(st.sampled_from(sorted(extras)), max_size=2, unique=True).flatmap(
            lambda keys: st.fixed_dictionaries({key: extras[key] for key in keys})
        ),
    ).map(lambda parts: dict(parts[2], name=parts[0], **parts[1]))


def with_places(value: Any, **places: str) -> Any:
    """``value`` with each ``{place}`` in its strings made what ``places`` gives, however deep
    (``with_places(run, tmp=str(tmp_path))``)."""
    if isinstance(value, str):
        for place, text in places.items():
            value = value.replace("{%s}" % place, text)
        return value
    if isinstance(value, dict):
        return {key: with_places(item, **places) for key, item in value.items()}
    if isinstance(value, list):
        return [with_places(item, **places) for item in value]
    return value


def remove_named(objects: Iterable[Any], prefix: str = PREFIX) -> None:
    """Stops and forgets each guest, pool or network of ``objects`` named ``prefix``..., the
    state a run left behind."""
    for made in objects:
        if made.name().startswith(prefix):
            persistent = made.isPersistent()  # a transient one is gone once destroyed
            if made.isActive():
                made.destroy()
            if persistent:
                made.undefine()


def remove_named_volumes(conn: Any, pool: str, prefix: str = PREFIX) -> None:
    """Deletes each volume of the pool ``pool`` named ``prefix``...."""
    for volume in conn.storagePoolLookupByName(pool).listAllVolumes(0):
        if volume.name().startswith(prefix):
            volume.delete(0)
