"""Preflight through libvirt's embedded test driver: every problem of a host found at once."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.module_utils._preflight import run

POOL = "default-pool"


def guest(name, **options):
    # No domain_type: preflight checks options as virt_guest_install's argument spec reads them,
    # where the test driver's own type is no choice; what it plans is the same.
    base = {"name": name, "memory": 256, "disks": [{"pool": POOL, "size": "1M"}],
            "networks": [{"network": "default"}], "install": {"method": "import"}}
    base.update(options)
    return base


def check(*guests):
    return run({"uri": "test:///default", "guests": list(guests), "validate_certs": True})


def test_good_guests_pass_with_their_plans(unique_name, test_client):
    """Nothing wrong: ok, each guest new with the commands virt_guest_install would run."""
    name = unique_name("")
    result = check(guest(name))
    assert result["ok"] and result["problems"] == []
    assert result["guests"][0]["status"] == "new"
    assert result["guests"][0]["commands"][-1] == "virsh define %s.xml" % name
    assert result["libvirt_version"]
    assert test_client.find_domain(name) is None, "preflight changed nothing"


def test_every_problem_is_reported_at_once(unique_name, test_client):
    """Bad options, unknown network, unknown pool, missing volume: one problem each, in one run."""
    names = [unique_name("") for _index in range(4)]
    result = check(
        guest(names[0], memory="lots"),
        guest(names[1], networks=[{"network": "no-such-net"}]),
        guest(names[2], disks=[{"pool": "no-such-pool", "size": "1M"}]),
        guest(names[3], disks=[{"pool": POOL, "volume": "no-such.qcow2"}]),
    )
    assert not result["ok"]
    found = {(problem["guest"], problem["check"]) for problem in result["problems"]}
    assert found == {(names[0], "options"), (names[1], "host"), (names[2], "host"), (names[3], "host")}
    messages = " | ".join(problem["message"] for problem in result["problems"])
    assert "libvirt network 'no-such-net' does not exist" in messages
    assert "storage pool 'no-such-pool' does not exist" in messages
    assert "does not exist; give size to create it" in messages


def test_new_volumes_are_summed_per_pool(unique_name, test_client):
    """Two disks that each fit the pool but not together are one space problem naming both guests."""
    free = test_client.describe_pool(test_client.find_pool(POOL)).available
    size = str(free * 6 // 10)
    first, second = unique_name(""), unique_name("")
    result = check(guest(first, disks=[{"pool": POOL, "size": size}]),
                   guest(second, disks=[{"pool": POOL, "size": size}]))
    assert [problem["check"] for problem in result["problems"]] == ["space"]
    assert result["problems"][0]["guest"] == ", ".join(sorted([first, second]))


def test_memory_of_started_guests_is_summed(unique_name, test_client):
    """Guests this run starts must fit the host's available memory together, in one unit."""
    name = unique_name("")
    result = check(guest(name, memory="64T", state="running"))
    assert [problem["check"] for problem in result["problems"]] == ["memory"]
    assert result["problems"][0]["message"].startswith("%s needs 65536 GiB, the host has " % name)
    assert result["problems"][0]["message"].endswith(" GiB available; lower memory, install on another host, or set "
                                                     "check_memory: false to skip this check")


def test_existing_guest_reports_match_or_difference(unique_name, test_client):
    """A defined guest that matches is 'matches'; a changed one 'differs' with its update planned, and
    is a problem unless updates of existing guests are allowed (the name may be another guest's)."""
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.runner import run as install
    name = unique_name("")
    params = dict(guest(name), uri="test:///default", domain_type="test")
    install(params, check_mode=False, diff=False)
    assert check(guest(name))["guests"][0]["status"] == "matches"
    allowed = run({"uri": "test:///default", "guests": [guest(name, memory=512)], "update_existing": True})
    assert allowed["ok"] and allowed["guests"][0]["status"] == "differs"
    assert allowed["guests"][0]["commands"] == ["virsh define %s.xml" % name]
    refused = check(guest(name, memory=512))
    assert [(problem["guest"], problem["check"]) for problem in refused["problems"]] == [(name, "name")]
    assert "exists with a different definition" in refused["problems"][0]["message"]
    install(dict(params, state="absent", remove_storage=True), check_mode=False, diff=False)


def test_unreachable_libvirt_is_one_host_problem():
    result = run({"uri": "test:///nonexistent-file.xml", "guests": [guest("a")]})
    assert not result["ok"] and result["problems"][0]["check"] == "libvirt"
    assert result["problems"][0]["guest"] is None
