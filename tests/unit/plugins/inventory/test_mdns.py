"""The mdns inventory plugin as Ansible runs it: options from its documentation, hosts, groups,
constructed variables, the cache. The browse is replaced by fixed records (the real one is tested
in the discovery integration target, on the test bed's LAN)."""

from __future__ import annotations

import json

import pytest
from ansible import constants as C
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import fragment_loader
from ansible.utils.plugin_docs import get_docstring

from ansible_collections.remotevirt.install.plugins.inventory import mdns
from ansible_collections.remotevirt.install.plugins.plugin_utils._mdns import browse as browse_module
from ansible_collections.remotevirt.install.plugins.plugin_utils._mdns.records import ServiceRecord

NAME = "remotevirt.install.mdns"
TXT = {
    "txtvers": "1",
    "transports": "ssh",
    "ssh_port": "22",
    "path": "/system",
    "version": "9.0.0",
    "arch": "x86_64",
    "site": "lab2",
}
FOUND = [
    ServiceRecord("hv1", "hv1.local.", 22, ["10.0.0.11"], ["fd00::11"], dict(TXT)),
    ServiceRecord("hv1", "hv1.local.", 22, ["10.1.0.11"], [], dict(TXT)),  # same host, second interface
    ServiceRecord("hv2", "hv2.local.", 22, ["10.0.0.12"], [], dict(TXT, site="lab3", role="build")),
    ServiceRecord("old", "old.local.", 22, ["10.0.0.13"], [], dict(TXT, role="retired")),
]


@pytest.fixture(scope="module", autouse=True)
def option_definitions():
    """What Ansible's plugin loader does: the options of the plugin's documentation, fragments included."""
    doc = get_docstring(mdns.__file__, fragment_loader, verbose=False, ignore_errors=False)[0]
    C.config.initialize_plugin_configuration_definitions("inventory", NAME, doc["options"])


def run(tmp_path, config: str, found=None, cache=True):
    source = tmp_path / "hv.mdns.yml"
    source.write_text("plugin: remotevirt.install.mdns\n" + config)
    plugin = mdns.InventoryModule()
    plugin._load_name = NAME
    calls = []

    def fake_browse(self):
        calls.append(1)
        return list(FOUND if found is None else found)

    plugin._browse = fake_browse.__get__(plugin)
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(source), cache=cache)
    if plugin.get_option("cache"):
        plugin.update_cache_if_changed()
    return inventory, calls


def hosts_of(inventory, group):
    return sorted(h.name for h in inventory.groups[group].get_hosts())


def test_verify_file_wants_an_mdns_yaml(tmp_path):
    plugin = mdns.InventoryModule()
    for name, ok in [("hv.mdns.yml", True), ("mdns.yaml", True), ("hv.yml", False), ("mdns.ini", False)]:
        (tmp_path / name).write_text("plugin: remotevirt.install.mdns\n")
        assert plugin.verify_file(str(tmp_path / name)) is ok, name
    assert not plugin.verify_file(str(tmp_path / "missing.mdns.yml"))


def test_documented_defaults(tmp_path):
    plugin = mdns.InventoryModule()
    plugin._load_name = NAME
    plugin.set_options(direct={"plugin": NAME})
    assert plugin.get_option("group") == "hypervisors"
    assert plugin.get_option("ip_version") == "ipv4"
    assert plugin.get_option("service_type") == "_libvirt._tcp.local."
    assert plugin.get_option("txt_prefix") == "mdns_"
    assert plugin.get_option("interfaces") == [] and plugin.get_option("include") == []


def test_one_host_per_hypervisor_in_group_hypervisors(tmp_path):
    inventory, _calls = run(tmp_path, "")
    assert hosts_of(inventory, "hypervisors") == ["hv1", "hv2", "old"]
    hv1 = inventory.get_host("hv1").vars
    assert hv1["ansible_host"] == "10.0.0.11" and hv1["ansible_port"] == 22
    assert hv1["libvirt_uri"] == "qemu+ssh://10.0.0.11:22/system"
    assert hv1["mdns_addresses"] == ["10.0.0.11", "10.1.0.11", "fd00::11"]
    assert hv1["mdns_site"] == "lab2" and hv1["mdns_version"] == "9.0.0"


def test_ipv6_choice(tmp_path):
    inventory, _calls = run(tmp_path, "ip_version: ipv6\nlibvirt_user: root\n")
    assert hosts_of(inventory, "hypervisors") == ["hv1"]  # the others have no IPv6 address
    assert inventory.get_host("hv1").vars["libvirt_uri"] == "qemu+ssh://root@[fd00::11]:22/system"


def test_filters_group_prefix_and_constructed(tmp_path):
    config = """group: kvm
txt_prefix: tag_
include: ['site=lab*']
exclude: ['role=retired']
keyed_groups:
  - key: tag_site
    prefix: site
groups:
  builders: tag_role | default('') == 'build'
compose:
  libvirt_arch: tag_arch
"""
    inventory, _calls = run(tmp_path, config)
    assert hosts_of(inventory, "kvm") == ["hv1", "hv2"]
    assert hosts_of(inventory, "site_lab2") == ["hv1"] and hosts_of(inventory, "site_lab3") == ["hv2"]
    assert hosts_of(inventory, "builders") == ["hv2"]
    assert inventory.get_host("hv2").vars["libvirt_arch"] == "x86_64"


def test_strict_fails_on_a_missing_key(tmp_path):
    with pytest.raises(AnsibleError, match="Could not set x for host hv1"):
        run(tmp_path, "strict: true\ncompose:\n  x: tag_nothing.y\n")
    inventory, _calls = run(tmp_path, "compose:\n  x: tag_nothing.y\n")
    assert "x" not in inventory.get_host("hv1").vars


def test_nothing_found_is_a_warning(tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(mdns.display, "warning", said.append)
    inventory, _calls = run(tmp_path, "", found=[])
    assert inventory.get_host("hv1") is None
    assert said == ["mdns inventory: no _libvirt._tcp.local. service answered within 3.0 s"]


def test_unusable_txt_skipped_with_a_warning(tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(mdns.display, "warning", said.append)
    bad = ServiceRecord("bad", "bad.local.", 22, ["10.0.0.20"], [], {"transports": "gopher"})
    inventory, _calls = run(tmp_path, "", found=[bad, FOUND[2]])
    assert hosts_of(inventory, "hypervisors") == ["hv2"]
    assert said == ["mdns inventory: bad: TXT transports names 'gopher'; known: libssh, libssh2, ssh, tcp, tls: skipped"]


def test_cache_spares_the_second_browse(tmp_path):
    config = "cache: true\ncache_plugin: jsonfile\ncache_connection: %s\n" % (tmp_path / "cache")
    first, calls_first = run(tmp_path, config, cache=False)  # as --flush-cache: browse, then cache
    second, calls_second = run(tmp_path, config, found=[], cache=True)
    assert calls_first == [1] and calls_second == []
    assert hosts_of(second, "hypervisors") == hosts_of(first, "hypervisors") == ["hv1", "hv2", "old"]
    assert second.get_host("hv1").vars["mdns_addresses"] == ["10.0.0.11", "10.1.0.11", "fd00::11"]


def test_without_cache_every_run_browses(tmp_path):
    _inventory, calls = run(tmp_path, "")
    assert calls == [1]


def test_missing_zeroconf_names_the_package(monkeypatch):
    monkeypatch.setattr(browse_module, "ZEROCONF_IMPORT_ERROR", ImportError("No module named 'zeroconf'"))
    with pytest.raises(browse_module.BrowseError, match="needs the Python package 'zeroconf'"):
        browse_module.browse("_libvirt._tcp.local.", 1, 0.5, [], "ipv4")


def test_unknown_interface_refused_before_browsing():
    with pytest.raises(browse_module.BrowseError, match="interface 'no-such-if0' does not exist"):
        browse_module.browse("_libvirt._tcp.local.", 1, 0.5, ["no-such-if0"], "ipv4")


@pytest.mark.parametrize(
    "option, value", [("resolve_time", ".inf"), ("browse_time", "-1"), ("quiet_time", ".nan"), ("browse_time", "601")]
)
def test_a_time_no_wait_takes_refused_naming_the_option(tmp_path, monkeypatch, option, value):
    monkeypatch.setattr(browse_module, "browse", lambda *args: pytest.fail("browsed"))
    source = tmp_path / "hv.mdns.yml"
    source.write_text("plugin: remotevirt.install.mdns\n%s: %s\n" % (option, value))
    plugin = mdns.InventoryModule()
    plugin._load_name = NAME
    with pytest.raises(AnsibleParserError, match="^mdns inventory: %s must be from 0 to 600 seconds, not " % option):
        plugin.parse(InventoryData(), DataLoader(), str(source), cache=False)


# -- a hostile LAN peer, a careless admin ------------------------------------------------------------


def hostile(name, txt=None, ipv4=("10.0.0.66",), server="evil.local."):
    return ServiceRecord(name, server, 22, list(ipv4), [], dict(TXT, **(txt or {})))


@pytest.mark.parametrize("prefix", ['""', "ansible_", "libvirt_", "rv_"])
def test_txt_prefix_that_would_set_connection_variables_refused(tmp_path, prefix):
    peer = hostile(
        "evil",
        {"ssh_common_args": "-oProxyCommand=touch /tmp/pwned", "host": "10.6.6.6", "uri": "qemu+ext:///system?command=/bin/sh"},
    )
    with pytest.raises(AnsibleError, match="txt_prefix .* would let TXT records|txt_prefix '' is no variable name prefix"):
        run(tmp_path, "txt_prefix: %s\n" % prefix, found=[peer])


def test_txt_values_are_data_never_templates(tmp_path):
    """ansible-core 2.19 templates only trusted strings; the plugin never marks a TXT value trusted."""
    marker = tmp_path / "templated"
    peer = hostile("hv9", {"site": "{{ lookup('pipe', 'touch %s') }}" % marker})
    config = "keyed_groups:\n  - key: mdns_site\n    prefix: site\ncompose:\n  x: mdns_site\n  y: mdns_site ~ '!'\n"
    inventory, _calls = run(tmp_path, config, found=[peer])
    assert inventory.get_host("hv9").vars["x"] == "{{ lookup('pipe', 'touch %s') }}" % marker
    assert not marker.exists()


def test_names_of_the_controller_and_other_sources_are_never_taken(tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(mdns.display, "warning", said.append)
    source = tmp_path / "hv.mdns.yml"
    source.write_text("plugin: remotevirt.install.mdns\n")
    inventory = InventoryData()
    inventory.add_host("db01", group="ungrouped")
    inventory.set_variable("db01", "ansible_host", "10.0.0.99")
    plugin = mdns.InventoryModule()
    plugin._load_name = NAME
    found = [hostile("localhost"), hostile("DB01"), hostile("127.0.0.1"), hostile("evil\x1b[2J\nok: [hv1]"), FOUND[2]]
    plugin._browse = (lambda self: list(found)).__get__(plugin)
    plugin.parse(inventory, DataLoader(), str(source))
    assert hosts_of(inventory, "hypervisors") == ["hv2"]
    assert inventory.get_host("db01").vars["ansible_host"] == "10.0.0.99"
    assert said == [
        "mdns inventory: 127.0.0.1: instance name is an IP address: skipped",
        "mdns inventory: DB01: a host of another inventory source has this name: skipped",
        "mdns inventory: 'evil\\x1b[2J\\nok: [hv1]': instance name has control characters or white space at an end: skipped",
        "mdns inventory: localhost: instance name is a name of the controller itself: skipped",
    ]


def test_group_names_and_addresses_of_the_controller_are_never_taken(tmp_path, monkeypatch):
    """A host named like a group would get the plays aimed at the group; an address of the
    controller (or of its subnets' edges) would have the plays run on the controller."""
    from ansible_collections.remotevirt.install.plugins.plugin_utils._mdns import local

    said = []
    monkeypatch.setattr(mdns.display, "warning", said.append)
    monkeypatch.setattr(local, "controller_test", lambda: {"10.0.0.66", "10.0.0.255"}.__contains__)
    source = tmp_path / "hv.mdns.yml"
    source.write_text("plugin: remotevirt.install.mdns\n")
    inventory = InventoryData()
    inventory.add_group("web")
    plugin = mdns.InventoryModule()
    plugin._load_name = NAME
    found = [
        hostile("hypervisors", ipv4=("10.0.0.70",)),
        hostile("Web", ipv4=("10.0.0.71",)),
        hostile("self", ipv4=("10.0.0.66",)),
        hostile("edge", ipv4=("10.0.0.255",)),
        FOUND[2],
    ]
    plugin._browse = (lambda self: list(found)).__get__(plugin)
    plugin.parse(inventory, DataLoader(), str(source))
    assert hosts_of(inventory, "hypervisors") == ["hv2"]
    assert sorted(said) == [
        "mdns inventory: Web: a group of this inventory has this name: skipped",
        "mdns inventory: edge has no usable ipv4 address (10.0.0.255): skipped",
        "mdns inventory: hypervisors: a group of this inventory has this name: skipped",
        "mdns inventory: self has no usable ipv4 address (10.0.0.66): skipped",
    ]


def test_a_host_named_like_a_group_its_own_keyed_groups_made_is_dropped(tmp_path, monkeypatch):
    """keyed_groups makes groups from TXT records while hosts are added: a device named like one
    would get the plays aimed at the group."""
    said = []
    monkeypatch.setattr(mdns.display, "warning", said.append)
    source = tmp_path / "hv.mdns.yml"
    source.write_text("plugin: remotevirt.install.mdns\nkeyed_groups:\n  - key: mdns_site\n    prefix: ''\n    separator: ''\n")
    inventory = InventoryData()
    plugin = mdns.InventoryModule()
    plugin._load_name = NAME
    found = [
        hostile("rt_grp", {"site": "rt_grp"}, ipv4=("10.0.0.80",)),
        hostile("member", {"site": "rt_grp"}, ipv4=("10.0.0.81",)),
    ]
    plugin._browse = (lambda self: list(found)).__get__(plugin)
    plugin.parse(inventory, DataLoader(), str(source))
    assert hosts_of(inventory, "rt_grp") == ["member"]
    assert "rt_grp" not in inventory.hosts
    assert "mdns inventory: rt_grp: a group of this inventory has this name: skipped" in said


def test_a_peer_answering_as_a_known_host_gets_neither_the_name_nor_its_traffic(tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(mdns.display, "warning", said.append)
    spoof = hostile("HV2", ipv4=["10.0.0.1"])  # a lower address: merged, it would have been the one chosen
    inventory, _calls = run(tmp_path, "", found=[FOUND[0], FOUND[2], spoof])
    assert hosts_of(inventory, "hypervisors") == ["hv1"]
    assert said == ["mdns inventory: hv2: announced by several servers (evil.local, hv2.local): skipped"]


def test_addresses_of_the_controller_or_nowhere_skipped(tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(mdns.display, "warning", said.append)
    found = [
        hostile("self", ipv4=["127.0.0.1"]),
        hostile("nowhere", ipv4=["0.0.0.0", "224.0.0.251"]),
        hostile("ok", ipv4=["127.0.0.1", "10.0.0.7"]),
    ]
    inventory, _calls = run(tmp_path, "", found=found)
    assert hosts_of(inventory, "hypervisors") == ["ok"]
    assert inventory.get_host("ok").vars["ansible_host"] == "10.0.0.7"
    assert said == [
        "mdns inventory: nowhere has no usable ipv4 address (0.0.0.0, 224.0.0.251): skipped",
        "mdns inventory: self has no usable ipv4 address (127.0.0.1): skipped",
    ]


def rewrite_cache(path, entries):
    """What an older version of the plugin, or another user who can write the cache, leaves there."""
    envelope = json.loads(path.read_text())
    envelope["__payload__"] = json.dumps(entries)
    path.write_text(json.dumps(envelope))


def run_from_rewritten_cache(tmp_path, monkeypatch, entries):
    """A run that fills the cache, then one from the cache rewritten to ``entries``: (warnings
    said, inventory, browse calls of the second run)."""
    said = []
    monkeypatch.setattr(mdns.display, "warning", said.append)
    config = "cache: true\ncache_plugin: jsonfile\ncache_connection: %s\n" % (tmp_path / "cache")
    run(tmp_path, config, cache=False)
    (cached,) = list((tmp_path / "cache").iterdir())
    rewrite_cache(cached, entries)
    inventory, calls = run(tmp_path, config, cache=True)
    return said, inventory, calls


def test_an_unreadable_cache_is_browsed_again(tmp_path, monkeypatch):
    entries = [{"name": "hv1", "server": "hv1.local.", "port": "twenty-two"}]
    said, inventory, calls = run_from_rewritten_cache(tmp_path, monkeypatch, entries)
    assert calls == [1] and hosts_of(inventory, "hypervisors") == ["hv1", "hv2", "old"]
    assert said[0].startswith("mdns inventory: the cached services are unreadable (invalid literal for int()")


def test_a_forged_cache_is_checked_like_the_network(tmp_path, monkeypatch):
    forged = [hostile("localhost").to_dict(), hostile("hv7", {"path": "/system?socket=/tmp/x"}).to_dict()]
    said, inventory, calls = run_from_rewritten_cache(tmp_path, monkeypatch, forged)
    assert calls == [] and hosts_of(inventory, "hypervisors") == []
    assert said[:2] == [
        "mdns inventory: hv7: TXT path='/system?socket=/tmp/x' is not a libvirt URI path: skipped",
        "mdns inventory: localhost: instance name is a name of the controller itself: skipped",
    ]


def test_a_flood_of_odd_services_gives_twenty_warnings_and_a_count(tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(mdns.display, "warning", said.append)
    flood = [hostile("rt-%d" % i, ipv4=["127.0.0.1"]) for i in range(1000)]
    inventory, _calls = run(tmp_path, "", found=flood + [FOUND[2]])
    assert hosts_of(inventory, "hypervisors") == ["hv2"]
    assert len(said) == 21 and said[0] == "mdns inventory: rt-0 has no usable ipv4 address (127.0.0.1): skipped"
    assert said[-1] == "mdns inventory: 980 more services skipped (ansible-inventory -vvv lists them)"


def test_a_name_taken_over_on_the_lan_is_a_warning(tmp_path, monkeypatch):
    """A device answering as hv2 without probing makes avahi-daemon rename the real hv2 to 'hv2 #2'
    and then holds hv2 (seen on the test bed's LAN): both stay hosts; the admin is told."""
    said = []
    monkeypatch.setattr(mdns.display, "warning", said.append)
    renamed = ServiceRecord("hv2 #2", "hv2.local.", 22, ["10.0.0.12"], [], dict(TXT))
    inventory, _calls = run(tmp_path, "", found=[hostile("hv2"), renamed])
    assert hosts_of(inventory, "hypervisors") == ["hv2", "hv2 #2"]
    assert said == [
        "mdns inventory: hv2 #2 was renamed after an mDNS name conflict: another device answers as hv2; "
        "tell them apart by their SSH host keys"
    ]
