"""TXT records, URIs, addresses, duplicates and filters of the mdns inventory plugin (no zeroconf)."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.plugin_utils._mdns.records import (
    RecordError,
    ServiceRecord,
    Transport,
    check_host_name,
    check_txt_prefix,
    choose_address,
    conflicting_names,
    decode_txt,
    host_vars,
    instance_name,
    libvirt_uri,
    matches,
    merge_duplicates,
    renamed_from,
    selected,
    shown,
    transports,
    uri_host,
    usable_address,
)

ADVERTISED = {
    "txtvers": "1",
    "transports": "ssh,tls",
    "ssh_port": "2222",
    "tls_port": "16514",
    "path": "/system",
    "driver": "qemu",
    "version": "9.0.0",
    "arch": "x86_64",
    "site": "lab2",
    "role": "build",
}


def record(name="hv1", server="hv1.local.", ipv4=("10.0.0.5",), ipv6=(), **txt):
    return ServiceRecord(
        name=name, server=server, port=22, ipv4=list(ipv4), ipv6=list(ipv6), txt=dict(txt) if txt else dict(ADVERTISED)
    )


# -- TXT records ---------------------------------------------------------------------------------


def test_txt_decoded_keys_lower_case_first_wins_booleans_empty():
    txt = decode_txt({b"Site": b"lab2", b"site": b"other", b"flag": None, b"bad": b"\xff", b"": b"x"})
    assert txt == {"site": "lab2", "flag": "", "bad": "\ufffd"}


def test_instance_name_strips_the_service_type_only():
    assert instance_name("hv1._libvirt._tcp.local.") == "hv1"
    assert instance_name("lab hv.2._libvirt._tcp.local.") == "lab hv.2"
    assert instance_name("odd.local.") == "odd.local"


def test_transports_in_advertised_order_with_their_ports():
    assert transports(ADVERTISED) == [Transport("ssh", 2222), Transport("tls", 16514)]


def test_transports_default_to_ssh_and_libvirt_ports():
    assert transports({}) == [Transport("ssh", 22)]
    assert transports({"transports": "tcp, TLS"}) == [Transport("tcp", 16509), Transport("tls", 16514)]


@pytest.mark.parametrize(
    "txt, message",
    [
        ({"transports": "gopher"}, "'gopher'"),
        ({"transports": ","}, "empty"),
        ({"transports": "tls", "tls_port": "x"}, "tls_port='x' is not a port"),
        ({"transports": "ssh", "ssh_port": "70000"}, "ssh_port=70000 is not a port"),
        ({"transports": "ssh", "ssh_port": "\u0662\u0662"}, "is not a port"),
        ({"transports": "ssh", "ssh_port": "2_2"}, "is not a port"),
        ({"transports": "ssh", "ssh_port": " 22"}, "is not a port"),
        ({"transports": "ssh", "ssh_port": "0"}, "is not a port"),
    ],
)
def test_unusable_transports_refused(txt, message):
    with pytest.raises(RecordError, match=message):
        transports(txt)


# -- URIs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "transport, host, user, uri",
    [
        (Transport("ssh", 22), "10.0.0.5", None, "qemu+ssh://10.0.0.5:22/system"),
        (Transport("ssh", 2222), "10.0.0.5", "root", "qemu+ssh://root@10.0.0.5:2222/system"),
        (Transport("tls", 16514), "fd00::5", None, "qemu+tls://[fd00::5]:16514/system"),
        (Transport("tcp", 16600), "fe80::1%lan0", None, "qemu+tcp://[fe80::1%25lan0]:16600/system"),
    ],
)
def test_uri_with_explicit_port(transport, host, user, uri):
    assert libvirt_uri("qemu", transport, host, "/system", user) == uri


def test_uri_host_of_names_and_v4_unchanged():
    assert uri_host("hv1.local") == "hv1.local"
    assert uri_host("10.1.2.3") == "10.1.2.3"


def test_host_vars_from_txt():
    hv = host_vars(record(), "10.0.0.5", "mdns_", ["tls"], None)
    assert hv["ansible_host"] == "10.0.0.5"
    assert hv["ansible_port"] == 2222
    assert hv["libvirt_uri"] == "qemu+tls://10.0.0.5:16514/system"
    assert hv["libvirt_uris"] == {"ssh": "qemu+ssh://10.0.0.5:2222/system", "tls": "qemu+tls://10.0.0.5:16514/system"}
    assert hv["mdns_site"] == "lab2" and hv["mdns_arch"] == "x86_64" and hv["mdns_version"] == "9.0.0"
    assert hv["mdns_name"] == "hv1" and hv["mdns_server"] == "hv1.local" and hv["mdns_addresses"] == ["10.0.0.5"]


def test_host_vars_first_advertised_transport_without_preference_and_no_ssh_port_without_ssh():
    hv = host_vars(record(transports="tcp", tcp_port="16509", path="/session"), "10.0.0.5")
    assert hv["libvirt_uri"] == "qemu+tcp://10.0.0.5:16509/session"
    assert "ansible_port" not in hv


def test_host_vars_txt_keys_made_variable_names():
    hv = host_vars(record(**{"rack-no": "4", "ü": "x"}), "10.0.0.5", "m_")
    assert hv["m_rack_no"] == "4" and hv["m__"] == "x"


@pytest.mark.parametrize("txt", [{"path": "system"}, {"path": "/system?x=1"}, {"driver": "qemu+ssh"}])
def test_host_vars_refuse_txt_that_makes_no_uri(txt):
    with pytest.raises(RecordError):
        host_vars(record(**txt), "10.0.0.5")


# -- addresses -------------------------------------------------------------------------------------


def test_address_by_ip_version_routable_first():
    rec = record(ipv4=["10.0.0.9", "169.254.3.3", "10.0.0.5"], ipv6=["fe80::1%lan0", "fd00::5"])
    assert choose_address(rec, "ipv4") == "10.0.0.5"
    assert choose_address(rec, "ipv6") == "fd00::5"
    assert choose_address(rec, "any") == "10.0.0.5"
    assert choose_address(record(ipv4=[], ipv6=["fe80::1%lan0"]), "any") == "fe80::1%lan0"
    assert choose_address(record(ipv4=[], ipv6=["fd00::5"]), "ipv4") is None


def test_addresses_that_lead_to_the_controller_are_never_chosen():
    controller = {"10.0.0.5", "10.0.0.255", "fd00::5"}.__contains__
    rec = record(ipv4=["10.0.0.255", "10.0.0.5", "10.0.0.9"], ipv6=["fd00::5"])
    assert choose_address(rec, "any", controller) == "10.0.0.9"
    assert choose_address(record(ipv4=["10.0.0.5"], ipv6=["fd00::5"]), "any", controller) is None


# -- duplicates ------------------------------------------------------------------------------------


def test_same_instance_on_two_interfaces_and_v4_v6_is_one_host():
    merged = merge_duplicates(
        [
            record(ipv4=["10.0.0.5"]),
            record(ipv4=["192.168.7.5"]),
            record(name="HV1", ipv4=[], ipv6=["fd00::5"]),
            record(name="hv0", server="hv0.local.", ipv4=["10.0.0.4"]),
        ]
    )
    assert [r.name for r in merged] == ["hv0", "hv1"]
    assert merged[1].ipv4 == ["10.0.0.5", "192.168.7.5"] and merged[1].ipv6 == ["fd00::5"]


def test_two_names_stay_two_hosts():
    """Another service of the same server (say, its session daemon), or another machine renamed
    by avahi after a name conflict, is a host of its own."""
    merged = merge_duplicates(
        [record(), record(name="hv1 session", path="/session"), record(name="hv1 #2", server="hv1-2.local.", ipv4=["10.0.0.6"])]
    )
    assert [r.name for r in merged] == ["hv1", "hv1 #2", "hv1 session"]


def test_merge_leaves_its_input_alone():
    first = record()
    merge_duplicates([first, record(ipv4=["10.9.9.9"])])
    assert first.ipv4 == ["10.0.0.5"]


# -- filters ---------------------------------------------------------------------------------------


def test_patterns_match_names_or_txt_values():
    rec = record(name="Lab-HV1")
    assert matches(rec, "lab-*") and matches(rec, "site=LAB*") and matches(rec, "Role=build")
    assert not matches(rec, "site=lab1") and not matches(rec, "rack=*") and not matches(rec, "hv*")


def test_include_then_exclude():
    rec = record()
    assert selected(rec, [], [])
    assert selected(rec, ["site=lab2", "nothing"], [])
    assert not selected(rec, ["site=lab1"], [])
    assert not selected(rec, [], ["role=build"])
    assert not selected(rec, ["hv*"], ["hv1"])


def test_cache_form_round_trips():
    rec = record(ipv6=["fd00::5"])
    assert ServiceRecord.from_dict(rec.to_dict()) == rec


# -- what a hostile LAN peer or a careless txt_prefix must not reach ---------------------------------


@pytest.mark.parametrize("prefix", ["", "ansible_", "ansible", "a", "ansible_mdns_", "libvirt_", "rv_", "r", "g", "mdns-", "x y"])
def test_txt_prefix_that_reaches_reserved_variables_refused(prefix):
    with pytest.raises(ValueError, match="txt_prefix"):
        check_txt_prefix(prefix)


@pytest.mark.parametrize("prefix", ["mdns_", "tag_", "m_", "x", "site_"])
def test_txt_prefix_of_its_own_accepted(prefix):
    check_txt_prefix(prefix)


def test_txt_never_overrides_the_plugins_own_variables():
    txt = dict(ADVERTISED, name="spoof", server="x", addresses="y")
    hv = host_vars(ServiceRecord("hv1", "hv1.local.", 22, ["10.0.0.5"], [], txt), "10.0.0.5", "mdns_")
    assert hv["mdns_name"] == "hv1" and hv["mdns_server"] == "hv1.local" and hv["mdns_addresses"] == ["10.0.0.5"]
    assert hv["ansible_host"] == "10.0.0.5"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x" * 64,
        "é" * 32,
        "hv1\nansible_host=1.2.3.4",
        "hv1\x00",
        "hv1\x1b[2J",
        "hv\u202e1",
        " hv1",
        "hv1 ",
        "..",
        "a..b",
        ".hidden",
        "a/b",
        "a\\b",
        "hv1,localhost",
        "hv1:22",
        "!hv1",
        "hv*",
        "hv[1]",
        "~hv",
        "localhost",
        "LocalHost",
        "ｌｏｃａｌｈｏｓｔ",
        "localhost.",
        "127.0.0.1",
        "10.0.0.5",
        "::1",
        "127.1",
        "0x7f.1",
        "2130706433",
        "@hv1",
        "localhost6",
        "hv1.localhost",
        "-oProxyCommand=x",
    ],
)
def test_instance_names_that_are_no_host_of_their_own_refused(name):
    with pytest.raises(RecordError, match="instance name"):
        check_host_name(name)


@pytest.mark.parametrize("name", ["hv1", "hv1 #2", "hv1 session", "Lab-HV1", "hv_1.lab", "x" * 63, "hyperviseur-é"])
def test_instance_names_accepted(name):
    check_host_name(name)


def test_shown_escapes_only_what_is_not_printable():
    assert shown("hv1 #2") == "hv1 #2"
    assert shown("hv1\x1b[2J") == "'hv1\\x1b[2J'" and shown("a\nb") == "'a\\nb'"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.251",
        "239.1.1.1",
        "255.255.255.255",
        "240.0.0.1",
        "::1",
        "::",
        "ff02::fb",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.5",
        "not-an-address",
        "",
        "fe80::1",  # link-local without its zone: no connection can be made to it
    ],
)
def test_addresses_a_lan_peer_must_not_send_the_admin_to_refused(address):
    assert not usable_address(address)
    assert choose_address(record(ipv4=[address], ipv6=[address]), "any") is None


def test_unusable_addresses_leave_the_usable_one():
    assert choose_address(record(ipv4=["127.0.0.1", "0.0.0.0", "10.0.0.9"]), "ipv4") == "10.0.0.9"
    assert choose_address(record(ipv4=[], ipv6=["::1", "fe80::1%3"]), "ipv6") == "fe80::1%3"


@pytest.mark.parametrize(
    "txt",
    [
        {"path": "/system\n"},
        {"path": "/system%3Fcommand=/bin/sh"},
        {"path": "/system;x"},
        {"path": "/system&socket=/tmp/x"},
        {"path": "/../session"},
        {"path": "/system\\"},
        {"driver": "ｑｅｍｕ"},
        {"driver": "qemu²"},
        {"transports": "ext"},
        {"transports": "unix"},
        {"ssh_port": "22; rm -rf /"},
        {"ssh_port": "0"},
        {"ssh_port": "65536"},
        {"ssh_port": "-1"},
    ],
)
def test_txt_that_would_put_options_into_the_uri_refused(txt):
    with pytest.raises(RecordError):
        host_vars(record(**dict(ADVERTISED, **txt)), "10.0.0.5")


def test_a_second_server_for_one_name_is_a_conflict():
    real = record(name="hv1", server="hv1.local.", ipv4=["10.0.0.11"])
    spoof = record(name="HV1", server="evil.local.", ipv4=["10.0.0.1"])
    same_elsewhere = record(name="hv1", server="HV1.local", ipv4=["192.168.7.11"])
    assert conflicting_names([real, same_elsewhere]) == {}
    assert conflicting_names([real, spoof, record(name="hv2", server="hv2.local.")]) == {"hv1": ["evil.local", "hv1.local"]}


def test_renamed_after_a_name_conflict():
    assert renamed_from("hv1 #2") == "hv1" and renamed_from("hv 1 #13") == "hv 1"
    assert renamed_from("hv1") is None and renamed_from("hv1#2") is None and renamed_from(" #2") is None
