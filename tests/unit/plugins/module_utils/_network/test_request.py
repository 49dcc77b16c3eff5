"""virt_network's options, validated: hostile and inconsistent input is refused with a message."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.network import DhcpHost, DhcpRange
from ansible_collections.remotevirt.install.plugins.module_utils._network.request import NetworkRequest


def ipv4(**overrides):
    entry = dict(
        address="10.213.1.1/24",
        dhcp_ranges=[dict(start="10.213.1.100", end="10.213.1.199")],
        dhcp_hosts=[dict(mac="52:54:00:AA:00:10", ip="10.213.1.10", name="web01")],
    )
    entry.update(overrides)
    return entry


def request(**params):
    return NetworkRequest.from_params(dict(dict(name="lab", uri="test:///default"), **params))


def test_a_valid_request_is_normalised():
    parsed = request(ipv4=ipv4(), bridge="virbr-lab", domain="lab.example")
    assert parsed.ipv4 is not None
    assert parsed.ipv4.address == "10.213.1.1" and parsed.ipv4.prefix == 24
    assert parsed.ipv4.ranges == (DhcpRange("10.213.1.100", "10.213.1.199"),)
    assert parsed.ipv4.hosts == (DhcpHost(mac="52:54:00:aa:00:10", ip="10.213.1.10", name="web01"),)
    assert parsed.state == "active" and parsed.forward is None


def test_ipv6_is_written_as_python_writes_it():
    parsed = request(
        ipv6=dict(address="FD00:0213:0001::1/64", dhcp_ranges=[dict(start="fd00:213:1::100", end="fd00:213:1::1ff")])
    )
    assert parsed.ipv6 is not None and parsed.ipv6.address == "fd00:213:1::1"


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(name="lab\n"), "name: contains a control character (U+000A)"),
        (dict(name="../lab"), "network name '../lab' must not contain '..'"),
        (dict(name="-lab"), "network name '-lab' may only contain"),
        (dict(bridge="virbr-far-too-long"), "bridge name 'virbr-far-too-long' is longer than the kernel's 15 bytes"),
        (dict(bridge="br:0"), "bridge name 'br:0' must not contain ':'"),
        (dict(domain="lab..example"), "domain 'lab..example' is not a DNS domain name"),
        (dict(domain="-lab.example"), "domain '-lab.example' is not a DNS domain name"),
        (dict(ipv4=ipv4(address="10.213.1.1")), "ipv4.address must be the host's address on the network with its prefix"),
        (dict(ipv4=ipv4(address="10.213.1.1/\u0662\u0664")), "ipv4.address: prefix length"),
        (dict(ipv4=ipv4(address="\u0661\u0660.213.1.1/24")), "ipv4.address: '\u0661\u0660.213.1.1' is not an IPv4 address"),
        (dict(ipv4=ipv4(address="fd00::1/64")), "ipv4.address: fd00::1 is not an IPv4 address"),
        (dict(ipv4=ipv4(address="10.213.1.0/24")), "ipv4.address: 10.213.1.0 is the subnet's own network address"),
        (dict(ipv4=ipv4(address="10.213.1.255/24")), "ipv4.address: 10.213.1.255 is the subnet's own broadcast address"),
        (dict(ipv4=ipv4(address="10.213.1.1/31")), "ipv4.address: prefix length 31 leaves no room"),
        (dict(ipv4=ipv4(address="10.213.1.1/33")), "ipv4.address: "),
        (
            dict(ipv4=ipv4(dhcp_ranges=[dict(start="10.213.2.1", end="10.213.2.9")])),
            "ipv4.dhcp_ranges[0].start: 10.213.2.1 is outside the network 10.213.1.0/24",
        ),
        (
            dict(ipv4=ipv4(dhcp_ranges=[dict(start="10.213.1.50", end="10.213.1.40")])),
            "ipv4.dhcp_ranges[0]: start 10.213.1.50 is after end 10.213.1.40",
        ),
        (
            dict(ipv4=ipv4(dhcp_ranges=[dict(start="10.213.1.2", end="10.213.1.255")])),
            "ipv4.dhcp_ranges[0].end: 10.213.1.255 is the subnet's broadcast address",
        ),
        (
            dict(ipv4=ipv4(address="10.213.1.150/24")),
            "ipv4.dhcp_ranges[0]: 10.213.1.100-10.213.1.199 holds the host's own address 10.213.1.150",
        ),
        (
            dict(
                ipv4=ipv4(
                    dhcp_ranges=[dict(start="10.213.1.100", end="10.213.1.150"), dict(start="10.213.1.150", end="10.213.1.160")]
                )
            ),
            "ipv4.dhcp_ranges[1]: 10.213.1.150-10.213.1.160 overlaps ipv4.dhcp_ranges[0] (10.213.1.100-10.213.1.150)",
        ),
        (
            dict(ipv4=ipv4(dhcp_hosts=[dict(mac="52:54:00:aa:00", ip="10.213.1.10")])),
            "ipv4.dhcp_hosts[0].mac '52:54:00:aa:00' is not",
        ),
        (dict(ipv4=ipv4(dhcp_hosts=[dict(mac="01:00:5e:00:00:01", ip="10.213.1.10")])), "is a multicast address"),
        (dict(ipv4=ipv4(dhcp_hosts=[dict(mac="52:54:00:aa:00:10\n", ip="10.213.1.10")])), "contains a control character"),
        (dict(ipv4=ipv4(dhcp_hosts=[dict(mac="52:54:00:aa:00:10", ip="10.213.1.1")])), "is the host's own address"),
        (dict(ipv4=ipv4(dhcp_hosts=[dict(mac="52:54:00:aa:00:10", ip="10.213.9.1")])), "is outside the network"),
        (
            dict(ipv4=ipv4(dhcp_hosts=[dict(mac="52:54:00:aa:00:10", ip="10.213.1.9", name="a b")])),
            ".name 'a b' is not a host name",
        ),
        (
            dict(
                ipv4=ipv4(
                    dhcp_hosts=[dict(mac="52:54:00:aa:00:10", ip="10.213.1.9"), dict(mac="52:54:00:AA:00:10", ip="10.213.1.8")]
                )
            ),
            "ipv4.dhcp_hosts[1].mac 52:54:00:aa:00:10 is also ipv4.dhcp_hosts[0]'s",
        ),
        (
            dict(
                ipv4=ipv4(
                    dhcp_hosts=[dict(mac="52:54:00:aa:00:10", ip="10.213.1.9"), dict(mac="52:54:00:aa:00:11", ip="10.213.1.9")]
                )
            ),
            "ipv4.dhcp_hosts[1].ip 10.213.1.9 is also ipv4.dhcp_hosts[0]'s",
        ),
        (dict(ipv4=ipv4(tftp_root="srv/tftp")), "ipv4.tftp_root must be an absolute path"),
        (dict(ipv4=ipv4(tftp_root="/srv/../etc")), "ipv4.tftp_root must not contain '..'"),
        (dict(ipv4=ipv4(bootp_file="pxe linux.0")), "ipv4.bootp_file 'pxe linux.0' is not a boot file name"),
        # a '..' part anywhere, and credentials DHCP would give every client
        (dict(ipv4=ipv4(bootp_file="x/../../etc/shadow")), "ipv4.bootp_file 'x/../../etc/shadow' has a '..' part"),
        (dict(ipv4=ipv4(bootp_file="pxelinux.0/..")), "has a '..' part"),
        (dict(ipv4=ipv4(bootp_file="http://user:s3cret@10.0.0.1/boot.ipxe")), "ipv4.bootp_file holds credentials"),
        (dict(ipv4=ipv4(bootp_file="user:s3cret@host/boot.ipxe")), "ipv4.bootp_file holds credentials"),
        # any number of slashes after the scheme: URL parsers read user information there too
        (dict(ipv4=ipv4(bootp_file="http:///user:s3cret@10.0.0.1/boot.ipxe")), "ipv4.bootp_file holds credentials"),
        (dict(ipv4=ipv4(bootp_file="http:/user:s3cret@10.0.0.1/boot.ipxe")), "ipv4.bootp_file holds credentials"),
        (dict(ipv4=ipv4(bootp_file="tftp:user:s3cret@10.0.0.1/boot.ipxe")), "ipv4.bootp_file holds credentials"),
        # a URL inside another scheme, or after other characters
        (dict(ipv4=ipv4(bootp_file="ipxe:http://user:s3cret@10.0.0.1/boot.ipxe")), "ipv4.bootp_file holds credentials"),
        (dict(ipv4=ipv4(bootp_file="1http://user:s3cret@10.0.0.1/boot.ipxe")), "ipv4.bootp_file holds credentials"),
        (dict(ipv4=ipv4(bootp_file="-http://user:s3cret@10.0.0.1/boot.ipxe")), "ipv4.bootp_file holds credentials"),
        (dict(ipv4=ipv4(bootp_file="ipxe:http://t0kenAbcdef@10.0.0.1/boot.ipxe")), "ipv4.bootp_file holds credentials"),
        (
            dict(ipv4=ipv4(bootp_file="pxelinux.0", dhcp_ranges=[])),
            "ipv4.bootp_file is given to DHCP clients: it needs dhcp_ranges",
        ),
        (dict(ipv4=ipv4(bootp_server="10.213.1.2")), "ipv4.bootp_server applies to bootp_file"),
        (dict(ipv4=ipv4(bootp_file="pxelinux.0", bootp_server="tftp.example")), "ipv4.bootp_server: 'tftp.example' is not"),
        (dict(forward="bridge"), "forward: bridge needs bridge"),
        (dict(forward="bridge", bridge="br0", ipv4=ipv4()), "libvirt gives such a network no ipv4"),
        (dict(forward="nat", ipv6=dict(address="fd00::1/64")), "forward: nat needs ipv4"),
        (dict(forward="bogus"), "forward must be one of nat, route, isolated, bridge"),
        (dict(state="running"), "state must be one of present, active, inactive, absent"),
        (dict(uri="qemu+tcp://hv1/system"), "uri"),
        (dict(ipv4=dict(address="224.0.0.1/24")), "ipv4.address: 224.0.0.1 is a multicast address"),
        (dict(ipv4=dict(address="127.0.0.2/8")), "ipv4.address: 127.0.0.2 is a loopback address"),
        (dict(ipv4=dict(address="169.254.3.1/24")), "ipv4.address: 169.254.3.1 is a link-local address"),
        (dict(ipv4=dict(address="240.0.0.1/24")), "ipv4.address: 240.0.0.1 is a reserved address"),
        (dict(ipv6=dict(address="fe80::1/64")), "ipv6.address: fe80::1 is a link-local address"),
        (dict(ipv6=dict(address="fd21:221:9::1%eth0/64")), "ipv6.address: fd21:221:9::1%eth0 names a scope zone"),
        (
            dict(ipv6=dict(address="fd21:221:4::1/48", dhcp_ranges=[dict(start="fd21:221:4::10", end="fd21:221:4::20")])),
            "ipv6.address: dnsmasq gives DHCPv6 addresses only on a subnet of prefix length 64 or longer, not 48",
        ),
        (dict(ipv4=ipv4(tftp_root="/")), "ipv4.tftp_root / is a directory of the host's own files"),
        (dict(ipv4=ipv4(tftp_root="/etc")), "ipv4.tftp_root /etc is a directory of the host's own files"),
        (dict(name="n" * 248), "network name is longer than 247 bytes"),
        (dict(ipv4=ipv4(dhcp_hosts=[dict(mac="00:00:00:00:00:00", ip="10.213.1.10")])), "is no card's address"),
        (
            dict(
                ipv4=ipv4(
                    dhcp_hosts=[
                        dict(mac="52:54:00:aa:00:10", ip="10.213.1.10", name="web01"),
                        dict(mac="52:54:00:aa:00:11", ip="10.213.1.11", name="WEB01"),
                    ]
                )
            ),
            "ipv4.dhcp_hosts[1].name web01 is also ipv4.dhcp_hosts[0]'s",
        ),
        (dict(ipv4=ipv4(tftp_root="/root/.ssh")), "ipv4.tftp_root /root/.ssh is a directory of the host's own files"),
        (dict(ipv4=ipv4(tftp_root="/var/lib/libvirt/images")), "ipv4.tftp_root /var/lib/libvirt/images is a directory"),
        (dict(ipv4=ipv4(tftp_root="/var/backups")), "ipv4.tftp_root /var/backups is a directory"),
        (dict(ipv4=ipv4(tftp_root="/var/lib/dpkg")), "ipv4.tftp_root /var/lib/dpkg is a directory"),
        (dict(ipv4=dict(address="0.1.2.3/8")), "ipv4.address: 0.1.2.3 is a 'this network' (0.0.0.0/8) address"),
        (dict(ipv6=dict(address="fec0::1/64")), "ipv6.address: fec0::1 is a site-local address"),
    ],
)
def test_refusals(params, message):
    with pytest.raises(PlanError) as refused:
        request(**params)
    assert str(refused.value).startswith(message) or message in str(refused.value)


@pytest.mark.parametrize(
    "boot_file",
    [
        "pxelinux.0",
        "efi/grubx64.efi",
        "http://10.213.1.2:8080/boot.ipxe",
        "ipxe:http://10.213.1.2/menu.ipxe",
        "efi/boot@site.efi",
    ],
)
def test_boot_files_without_credentials_are_kept(boot_file):
    parsed = request(ipv4=ipv4(bootp_file=boot_file))
    assert parsed.ipv4 is not None and parsed.ipv4.bootp_file == boot_file
