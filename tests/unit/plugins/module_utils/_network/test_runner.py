"""virt_network's flow through libvirt's embedded test driver (no daemon, real libvirt calls)."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.audit import AuditLog
from ansible_collections.remotevirt.install.plugins.module_utils._common.executor import ExecutionError, Executor
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Action, Plan
from ansible_collections.remotevirt.install.plugins.module_utils._network.actions import VERBS, DefinePayload, UpdatePayload
from ansible_collections.remotevirt.install.plugins.module_utils._network.handlers import NetworkHandlers
from ansible_collections.remotevirt.install.plugins.module_utils._network.runner import RunError, run
from ansible_collections.remotevirt.install.plugins.modules import virt_network


def params(**overrides):
    """Every key of virt_network's argument_spec, as AnsibleModule passes them (the test driver's URI)."""
    base = {name: option.get("default") for name, option in virt_network.argument_spec().items()}
    base.update(uri="test:///default")
    base.update(overrides)
    return base


def ipv4(third, **overrides):
    entry = dict(
        address="10.213.%d.1/24" % third,
        dhcp_ranges=[dict(start="10.213.%d.100" % third, end="10.213.%d.199" % third)],
        dhcp_hosts=[dict(mac="52:54:00:aa:%02x:10" % third, ip="10.213.%d.10" % third, name="web01")],
        tftp_root=None,
        bootp_file=None,
        bootp_server=None,
    )
    entry.update(overrides)
    return entry


@pytest.fixture
def network_name(unique_name):
    return lambda: "rvn-" + unique_name("")[-20:].lstrip("-")


def define_guest_on(client, guest, network=None, bridge=None):
    card = "<interface type='network'><source network='%s'/></interface>" % network
    if bridge:
        card = "<interface type='bridge'><source bridge='%s'/></interface>" % bridge
    xml = "<domain type='test'><name>%s</name><memory>1024</memory><os><type>hvm</type></os><devices>%s</devices></domain>" % (
        guest,
        card,
    )
    return client.conn.defineXML(xml)


def test_check_then_apply_then_converged(network_name, test_client):
    name = network_name()
    wanted = params(name=name, bridge="rvn-b1", ipv4=ipv4(1), autostart=True)
    check = run(wanted, check_mode=True, diff=True)
    assert [step["action"] for step in check["plan"]] == ["define", "start", "autostart"]
    assert check["diff"]["before"] == "" and "10.213.1.1" in check["diff"]["after"]
    real = run(wanted, check_mode=False, diff=True)
    assert real["plan"] == check["plan"] and real["diff"] == check["diff"]
    assert real["network"]["active"] and real["network"]["autostart"] and real["network"]["uuid"]
    again = run(wanted, check_mode=False, diff=False)
    assert not again["changed"] and again["plan"] == [] and "diff" not in again
    assert again["network"] == real["network"]
    gone = run(params(name=name, state="absent"), check_mode=False, diff=False)
    assert [step["action"] for step in gone["plan"]] == ["stop", "undefine"] and gone["network"] == {}
    assert not run(params(name=name, state="absent"), check_mode=False, diff=False)["changed"]


def test_dhcp_host_added_and_removed_in_place(network_name, test_client):
    name = network_name()
    run(params(name=name, bridge="rvn-b2", ipv4=ipv4(2)), check_mode=False, diff=False)
    more = ipv4(2, dhcp_hosts=ipv4(2)["dhcp_hosts"] + [dict(mac="52:54:00:aa:02:11", ip="10.213.2.11", name="web02")])
    added = run(params(name=name, ipv4=more), check_mode=False, diff=True)
    assert [step["action"] for step in added["plan"]] == ["update"]
    assert "web02" in added["diff"]["after"] and "web02" not in added["diff"]["before"]
    assert not run(params(name=name, ipv4=more), check_mode=False, diff=False)["changed"]
    removed = run(params(name=name, ipv4=ipv4(2)), check_mode=False, diff=False)
    assert [step["command"].split()[:6] for step in removed["plan"]] == [
        ["virsh", "-c", "test:///default", "net-update", name, "delete"]
    ]
    assert "web02" not in test_client.find_network(name).XMLDesc(0)
    run(params(name=name, state="absent"), check_mode=False, diff=False)


def test_recreate_refusal_names_the_guests_on_the_network(network_name, test_client):
    name = network_name()
    guest = name + "-guest"
    run(params(name=name, bridge="rvn-b3", ipv4=ipv4(3)), check_mode=False, diff=False)
    domain = define_guest_on(test_client, guest, network=name)
    plugged = define_guest_on(test_client, guest + "-br", bridge="rvn-b3")
    try:
        with pytest.raises(RunError) as refused:
            run(params(name=name, domain="lab.example"), check_mode=True, diff=False)
        assert "domain: none -> lab.example" in str(refused.value) and "%s (shut off)" % guest in str(refused.value)
        assert "%s-br (shut off)" % guest in str(refused.value)  # a card plugged straight into its bridge
        with pytest.raises(RunError, match="delete_in_use"):
            run(params(name=name, state="absent"), check_mode=False, diff=False)
        recreated = run(params(name=name, domain="lab.example", recreate=True), check_mode=False, diff=False)
        assert [step["action"] for step in recreated["plan"]] == ["stop", "define", "start"]
        assert recreated["network"]["domain"] == "lab.example"
    finally:
        domain.undefine()
        plugged.undefine()
    run(params(name=name, state="absent"), check_mode=False, diff=False)


def test_failed_step_rolls_back_the_new_definition(network_name, test_client):
    """A failed update after a define leaves no network behind."""
    name = network_name()
    xml = "<network><name>%s</name><bridge name='rvn-b4'/><ip address='10.213.4.1' prefix='24'/></network>" % name
    plan = Plan()
    plan.add(Action("define", "network", name, "virsh net-define x.xml", DefinePayload(name, xml, None)))
    bogus = UpdatePayload(name, "delete", "ip-dhcp-host", 0, "<host mac='52:54:00:00:00:01' ip='10.213.4.9'/>", False)
    plan.add(Action("update", "network", name, "virsh net-update ...", bogus))
    executor = Executor(NetworkHandlers(test_client).as_mapping(), VERBS, AuditLog("user", context=test_client.uri))
    with pytest.raises(ExecutionError) as failed:
        executor.apply(plan)
    assert failed.value.rolled_back == ["define %s" % name] and not failed.value.left_changes
    assert test_client.find_network(name) is None


def test_libvirt_refusal_is_one_message(network_name, test_client):
    name = network_name()
    with pytest.raises(RunError) as refused:
        run(params(name=name, forward="bridge", bridge="rvn-nobridge0"), check_mode=True, diff=False)
    assert "host bridge rvn-nobridge0 does not exist" in str(refused.value)


def test_subnet_of_an_active_network_is_refused_in_check_mode_and_real_run(network_name, test_client):
    """The test driver's active network default is on 192.168.122.0/24: a network there would not start."""
    name = network_name()
    clash = params(name=name, bridge="rvn-b5", ipv4=dict(address="192.168.122.7/25"))
    for check_mode in (True, False):
        with pytest.raises(RunError) as refused:
            run(clash, check_mode=check_mode, diff=False)
        assert "192.168.122.0/25 overlaps 192.168.122.0/24 of the active network default" in str(refused.value)
    assert test_client.find_network(name) is None  # nothing was defined
    # Stopped, and neither started nor at boot: libvirt lets a definition share the subnet.
    defined = run(dict(clash, state="inactive"), check_mode=False, diff=False)
    assert defined["changed"] and not defined["network"]["active"]
    with pytest.raises(RunError, match="active network default"):
        run(dict(clash, state="active"), check_mode=True, diff=False)
    run(params(name=name, state="absent"), check_mode=False, diff=False)


def test_own_subnet_is_no_collision_and_a_converged_run_reads_no_other_network(network_name, test_client, monkeypatch):
    name = network_name()
    wanted = params(name=name, bridge="rvn-b6", ipv4=ipv4(6), autostart=True)
    run(wanted, check_mode=False, diff=False)
    stopped = run(dict(wanted, state="inactive"), check_mode=False, diff=False)
    assert [step["action"] for step in stopped["plan"]] == ["stop"]
    assert [step["action"] for step in run(wanted, check_mode=False, diff=False)["plan"]] == ["start"]  # own definition
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    def unexpected(_client):
        raise AssertionError("the other networks were read for a run that changes nothing")

    monkeypatch.setattr(Client, "networks_in_use", unexpected)
    monkeypatch.setattr(Client, "all_networks", unexpected)  # nor for their bridges: its own stays
    assert not run(wanted, check_mode=False, diff=False)["changed"]
    run(params(name=name, state="absent"), check_mode=False, diff=False)


def test_a_password_the_host_stored_is_masked_in_the_diff(network_name, test_client):
    """A boot file URL with a password that the host's definition holds (written by hand or by an older
    version; a task's own is refused): read back from libvirt, it is in no option of this run for
    Ansible to hide, so the diff masks every URL's user information itself."""
    name = network_name()
    plain = ipv4(7, bootp_file="http://10.213.7.1/boot.ipxe", bootp_server="10.213.7.1")
    run(params(name=name, bridge="rvn-b7", ipv4=plain), check_mode=False, diff=False)
    network = test_client.conn.networkLookupByName(name)
    network.destroy()  # the definition an inactive network has is the one shown
    stored = network.XMLDesc(0).replace("http://10.213.7.1/boot.ipxe", "http://alice:0ldS3cret@10.213.7.1/boot.ipxe")
    test_client.conn.networkDefineXML(stored)
    new = dict(plain, bootp_file="http://10.213.7.1/next.ipxe")
    shown = []
    for check_mode in (True, False):
        shown.append(run(params(name=name, bridge="rvn-b7", ipv4=new, recreate=True), check_mode=check_mode, diff=True))
    shown.append(run(params(name=name, state="absent"), check_mode=False, diff=True))
    text = repr(shown)
    assert "0ldS3cret" not in text and "alice:" not in text
    assert "http://***@10.213.7.1/boot.ipxe" in shown[0]["diff"]["before"]


def test_a_new_tftp_root_must_be_a_directory_on_the_host(network_name, test_client, tmp_path, monkeypatch):
    """dnsmasq does not start without it: check mode refuses what the real run would fail on."""
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    monkeypatch.setattr(Client, "files_here", lambda self: True)
    name = network_name()
    wanted = params(name=name, bridge="rvn-b8", ipv4=ipv4(8, tftp_root=str(tmp_path / "missing")))
    for check_mode in (True, False):
        with pytest.raises(RunError, match="ipv4.tftp_root %s is not a directory on the host" % (tmp_path / "missing")):
            run(wanted, check_mode=check_mode, diff=False)
    assert test_client.find_network(name) is None
    (tmp_path / "missing").mkdir()
    assert run(wanted, check_mode=False, diff=False)["changed"]
    (tmp_path / "missing").rmdir()  # gone later: the network as it is is left alone
    assert not run(wanted, check_mode=False, diff=False)["changed"]
    run(params(name=name, state="absent"), check_mode=False, diff=False)


def test_an_autostart_change_shows_in_the_diff(network_name, test_client):
    name = network_name()
    run(params(name=name, bridge="rvn-b9", ipv4=ipv4(9)), check_mode=False, diff=False)
    changed = run(params(name=name, bridge="rvn-b9", ipv4=ipv4(9), autostart=True), check_mode=True, diff=True)
    assert changed["changed"] and changed["diff"]["before"] != changed["diff"]["after"]
    assert "autostart off" in changed["diff"]["before"] and "autostart on" in changed["diff"]["after"]
    run(params(name=name, state="absent"), check_mode=False, diff=False)


def test_a_tftp_root_that_leads_to_the_hosts_own_files_is_refused(network_name, test_client, tmp_path, monkeypatch):
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    monkeypatch.setattr(Client, "files_here", lambda self: True)
    (tmp_path / "etclink").symlink_to("/etc")
    wanted = params(name=network_name(), bridge="rvn-b10", ipv4=ipv4(10, tftp_root=str(tmp_path / "etclink")))
    for check_mode in (True, False):
        with pytest.raises(RunError, match="through a symbolic link, /etc.*every guest on the network could read"):
            run(wanted, check_mode=check_mode, diff=False)


# BREAK (fixed): a tftp_root that was a storage pool's directory (or held one) was served over TFTP:
# anyone on the network could read the pool's volumes, other guests' disks.
def test_a_tftp_root_of_a_pools_directory_is_refused(network_name, test_client, tmp_path, monkeypatch, file_pool):
    from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

    monkeypatch.setattr(Client, "files_here", lambda self: True)
    (tmp_path / "boot").mkdir()
    name = network_name()
    for root, how in (
        (tmp_path, "is the target of"),
        (tmp_path.parent, "holds the target"),
        (tmp_path / "boot", "lies in the target"),
    ):
        wanted = params(name=name, bridge="rvn-b11", ipv4=ipv4(11, tftp_root=str(root)))
        for check_mode in (True, False):
            with pytest.raises(
                RunError,
                match="ipv4.tftp_root %s %s.* pool %s: every guest on the network could read its volumes"
                % (root, how, file_pool),
            ):
                run(wanted, check_mode=check_mode, diff=False)
    assert test_client.find_network(name) is None
