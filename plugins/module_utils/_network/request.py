# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A network request: virt_network's parameters, validated (refusals at plan time, so check mode
predicts them)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterator, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import (
    MAX_DEFINED_NAME_BYTES,
    bridge_name_problem,
    name_problem,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import HOST_URI, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import userinfo_secrets
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    check_path,
    check_strings,
    check_uri,
    is_system_directory,
    same_path,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.network import (
    IPV4,
    IPV6,
    ISOLATED,
    DhcpHost,
    DhcpRange,
    IpConfig,
)

STATES = ("present", "active", "inactive", "absent")
FORWARD_MODES = ("nat", "route", ISOLATED, "bridge")

_MAC = r"([0-9a-f]{2}:){5}[0-9a-f]{2}"
# A DNS label: letters, digits and inner hyphens (RFC 1123), 63 bytes at most.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = r"%s(\.%s)*" % (_LABEL, _LABEL)
MAX_DNS_NAME = 253
# A boot file name as dnsmasq passes it on (a path on the TFTP server): no spaces or quotes.
_BOOT_FILE = r"[A-Za-z0-9_+:@-][A-Za-z0-9._+:@/-]*"


class NetworkRequest(Record):
    """The module's parameters, validated and typed; None means "as the network has it"."""

    name: str
    state: str = "active"
    uri: str = HOST_URI
    forward: Optional[str] = None
    bridge: Optional[str] = None
    domain: Optional[str] = None
    ipv4: Optional[IpConfig] = None
    ipv6: Optional[IpConfig] = None
    autostart: Optional[bool] = None
    recreate: bool = False
    delete_in_use: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "NetworkRequest":
        check_strings(params)
        if params.get("uri") is not None:
            check_uri(params["uri"])
        problem = name_problem(params.get("name"), "network", MAX_DEFINED_NAME_BYTES)
        if problem:
            raise PlanError(problem)
        state = params.get("state") or "active"
        if state not in STATES:
            raise PlanError("state must be one of %s" % ", ".join(STATES))
        forward = params.get("forward")
        if forward is not None and forward not in FORWARD_MODES:
            raise PlanError("forward must be one of %s" % ", ".join(FORWARD_MODES))
        bridge = params.get("bridge")
        if bridge is not None:
            problem = bridge_name_problem(bridge, "bridge")
            if problem:
                raise PlanError(problem)
        request = cls(
            name=params["name"],
            state=state,
            uri=params.get("uri") or HOST_URI,
            forward=forward,
            bridge=bridge,
            domain=_domain_param(params.get("domain")),
            ipv4=_ip_param(params.get("ipv4"), IPV4),
            ipv6=_ip_param(params.get("ipv6"), IPV6),
            autostart=params.get("autostart"),
            recreate=bool(params.get("recreate")),
            delete_in_use=bool(params.get("delete_in_use")),
        )
        request.check_consistency()
        return request

    def check_consistency(self) -> None:
        if self.forward == "bridge":
            if not self.bridge:
                raise PlanError("forward: bridge needs bridge: the name of an existing bridge on the host")
            given = [key for key in ("domain", "ipv4", "ipv6") if getattr(self, key) is not None]
            if given:
                raise PlanError(
                    "forward: bridge connects guests to the host bridge %s as it is; libvirt gives such a network "
                    "no %s (leave them out, or use nat, route or isolated)" % (self.bridge, " or ".join(given))
                )
        if self.forward == "nat" and self.ipv6 is not None and self.ipv4 is None:
            raise PlanError("forward: nat needs ipv4 (libvirt translates IPv4 only)")


def _check_boot_file(what: str, value: str) -> None:
    """A boot file name dnsmasq hands to every DHCP client, stored in the network's definition: a path
    on the TFTP server, or a URL (iPXE) with no credentials, each without a '..' part."""
    if not re.fullmatch(_BOOT_FILE, value):
        raise PlanError("%s %r is not a boot file name (letters, digits, . _ + : @ - and /)" % (what, value))
    if ".." in value.split("/"):
        raise PlanError("%s %r has a '..' part: give the file's path on the TFTP server without one" % (what, value))
    # Read as URL parsers read it: after a scheme, any number of slashes lead to the authority
    # ('http:///user:pw@host/' names user information too); and 'name:password@' or '//token@'
    # anywhere (a URL in another's scheme, 'ipxe:http://token@host/') is a credential, whatever comes
    # before it.
    authority = re.sub(r"\A[A-Za-z][A-Za-z0-9+.-]*:/*", "", value)
    if "@" in authority.partition("/")[0] or re.search(r":[^/@]*@|//[^/]*@", value):
        raise PlanError(
            "%s holds credentials (user information before '@'): libvirt would store them in the network's "
            "definition and DHCP give them to every client; serve the boot file without them" % what
        )


def host_name_secrets(params: Mapping[str, Any]) -> Iterator[str]:
    """Credentials written into the DNS domain, a static host's name, the boot server or file with URL
    habits ('user:password@name', refused): masked in the invocation Ansible logs and returns, and
    in the refusal. Only a value with a password counts: a lone user name is no secret, and masking
    a short one would garble every result."""
    names = [params.get("domain")]
    for family in ("ipv4", "ipv6"):
        config = params.get(family)
        if isinstance(config, Mapping):
            names.append(config.get("bootp_server"))
            names.append(config.get("bootp_file"))
        hosts = config.get("dhcp_hosts") if isinstance(config, Mapping) else None
        names.extend(host.get("name") for host in (hosts if isinstance(hosts, list) else []) if isinstance(host, Mapping))
    for name in names:
        if isinstance(name, str) and ":" in name.rpartition("@")[0]:
            yield from userinfo_secrets(name)


def _domain_param(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    if len(value) > MAX_DNS_NAME or not re.fullmatch(_DNS_NAME, value):
        raise PlanError("domain %r is not a DNS domain name (labels of letters, digits and inner '-', joined by '.')" % value)
    return value


def _ip_param(entry: Optional[Mapping[str, Any]], family: str) -> Optional[IpConfig]:
    """The ``ipv4`` or ``ipv6`` option as one IpConfig: every address inside its subnet, no range
    overlapping another, each static host's MAC, name and address once."""
    if entry is None:
        return None
    interface = _interface(entry.get("address"), family)
    subnet = interface.network
    ranges = _ranges(entry.get("dhcp_ranges") or [], family, interface)
    hosts = _hosts(entry.get("dhcp_hosts") or [], family, interface)
    bootp_file = entry.get("bootp_file")
    if bootp_file is not None:
        _check_boot_file("%s.bootp_file" % family, bootp_file)
    if bootp_file and not ranges:
        raise PlanError("%s.bootp_file is given to DHCP clients: it needs dhcp_ranges" % family)
    bootp_server = entry.get("bootp_server")
    if bootp_server is not None:
        if not bootp_file:
            raise PlanError("%s.bootp_server applies to bootp_file, which is not set" % family)
        bootp_server = str(_address(bootp_server, IPV4, "%s.bootp_server" % family))
    if family == IPV6 and (ranges or hosts) and subnet.prefixlen < 64:
        raise PlanError(
            "%s.address: dnsmasq gives DHCPv6 addresses only on a subnet of prefix length 64 or longer, not %d"
            % (family, subnet.prefixlen)
        )
    tftp_root = entry.get("tftp_root")
    if tftp_root is not None:
        check_path(tftp_root, "%s.tftp_root" % family)
        problem = tftp_root_problem(tftp_root, tftp_root, family)
        if problem:
            raise PlanError(problem)
    return IpConfig(
        family=family,
        address=str(interface.ip),
        prefix=subnet.prefixlen,
        ranges=ranges,
        hosts=hosts,
        tftp_root=tftp_root,
        bootp_file=bootp_file,
        bootp_server=bootp_server,
    )


# Trees a TFTP root must not lie in, besides the system's: every guest on the network reads it, and
# these hold root's own files, the host's guests' disks and definitions, and runtime state.
_PRIVATE_TREES = ("/root/", "/run/", "/var/backups/", "/var/cache/", "/var/lib/", "/var/log/", "/var/mail/", "/var/spool/")
# The directories under those trees that are made to be served over TFTP.
_TFTP_DIRECTORIES = ("/var/lib/tftpboot/", "/var/lib/tftp/")


def tftp_root_problem(tftp_root: str, real: str, family: str) -> str:
    """Why ``tftp_root`` (which leads to ``real`` on the host) must not be served over TFTP, or ""."""
    for path in dict.fromkeys((tftp_root, real)):
        normal = same_path(path) or path
        private = (normal + "/").startswith(_PRIVATE_TREES) and not (normal + "/").startswith(_TFTP_DIRECTORIES)
        if is_system_directory(normal) or private:
            shown = tftp_root if path == tftp_root else "%s (through a symbolic link, %s)" % (tftp_root, real)
            return (
                "%s.tftp_root %s is a directory of the host's own files: every guest on the network could read "
                "them over TFTP; give the boot files a directory of their own" % (family, shown)
            )
    return ""


def _interface(value: Any, family: str) -> Any:
    what = "%s.address" % family
    example = "10.213.1.1/24" if family == IPV4 else "fd00:213::1/64"
    if not isinstance(value, str) or "/" not in value:
        raise PlanError("%s must be the host's address on the network with its prefix length, like %s" % (what, example))
    text, prefix = value.split("/", 1)
    if not re.fullmatch(r"[0-9]{1,3}", prefix):
        raise PlanError("%s: prefix length %r must be written with the digits 0-9" % (what, prefix))
    address = _address(text, family, what)
    try:
        interface = ipaddress.ip_interface("%s/%s" % (address, prefix))
    except ValueError as error:
        raise PlanError("%s: %s" % (what, error))
    subnet = interface.network
    unusable = _unusable_kind(interface.ip)
    if unusable:
        article = "an" if unusable[0] in "aeiou" else "a"
        raise PlanError("%s: %s is %s %s address, which a virtual network cannot take" % (what, address, article, unusable))
    longest = 30 if family == IPV4 else 126
    if subnet.prefixlen > longest or subnet.prefixlen < 8:
        raise PlanError("%s: prefix length %d leaves no room for guests (8 to %d)" % (what, subnet.prefixlen, longest))
    if address in (subnet.network_address, getattr(subnet, "broadcast_address", None)):
        raise PlanError("%s: %s is the subnet's own %s address, not a host address" % (what, address, _edge(address, subnet)))
    return interface


_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")


def _unusable_kind(address: Any) -> str:
    """What kind of address a network's host address must not be ("" for one it may)."""
    for kind in ("multicast", "loopback", "link_local", "unspecified", "reserved", "site_local"):
        if getattr(address, "is_" + kind, False):
            return kind.replace("_", "-")
    if address.version == 4 and address in _THIS_NETWORK:
        return "'this network' (0.0.0.0/8)"
    return ""


def _edge(address: Any, subnet: Any) -> str:
    return "network" if address == subnet.network_address else "broadcast"


def _address(value: Any, family: str, what: str) -> Any:
    """An IPv4 or IPv6 address written in ASCII (Python's ipaddress refuses other digits)."""
    if not isinstance(value, str) or not value:
        raise PlanError("%s must be an %s address" % (what, "IPv4" if family == IPV4 else "IPv6"))
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise PlanError("%s: %r is not an %s address" % (what, value, "IPv4" if family == IPV4 else "IPv6"))
    if address.version != (4 if family == IPV4 else 6):
        raise PlanError("%s: %s is not an %s address" % (what, value, "IPv4" if family == IPV4 else "IPv6"))
    if "%" in value:
        raise PlanError("%s: %s names a scope zone, which a network's address does not take" % (what, value))
    return address


def _guest_address(value: Any, family: str, what: str, interface: Any) -> Any:
    """An address for guests: inside the subnet, neither its network nor broadcast address nor the host's."""
    address = _address(value, family, what)
    subnet = interface.network
    if address not in subnet:
        raise PlanError("%s: %s is outside the network %s" % (what, address, subnet))
    if address in (subnet.network_address, getattr(subnet, "broadcast_address", None)):
        raise PlanError("%s: %s is the subnet's %s address" % (what, address, _edge(address, subnet)))
    if address == interface.ip:
        raise PlanError("%s: %s is the host's own address on the network" % (what, address))
    return address


# libvirt refuses a DHCP range of more addresses ("range ... is too large (> 65535)").
MAX_RANGE_ADDRESSES = 65535


def _ranges(entries: Sequence[Mapping[str, Any]], family: str, interface: Any) -> Tuple[DhcpRange, ...]:
    spans: List[Tuple[Any, Any]] = []
    for index, entry in enumerate(entries):
        what = "%s.dhcp_ranges[%d]" % (family, index)
        start = _guest_address(entry.get("start"), family, what + ".start", interface)
        end = _guest_address(entry.get("end"), family, what + ".end", interface)
        if end < start:
            raise PlanError("%s: start %s is after end %s" % (what, start, end))
        if start <= interface.ip <= end:
            raise PlanError("%s: %s-%s holds the host's own address %s" % (what, start, end, interface.ip))
        size = int(end) - int(start) + 1
        if size > MAX_RANGE_ADDRESSES:
            raise PlanError(
                "%s: %s-%s holds %d addresses; libvirt refuses a DHCP range of more than %d: split it or narrow it"
                % (what, start, end, size, MAX_RANGE_ADDRESSES)
            )
        for other_index, (other_start, other_end) in enumerate(spans):
            if start <= other_end and other_start <= end:
                raise PlanError(
                    "%s: %s-%s overlaps %s.dhcp_ranges[%d] (%s-%s)"
                    % (what, start, end, family, other_index, other_start, other_end)
                )
        spans.append((start, end))
    return tuple(DhcpRange(str(start), str(end)) for start, end in spans)


def _hosts(entries: Sequence[Mapping[str, Any]], family: str, interface: Any) -> Tuple[DhcpHost, ...]:
    hosts: List[DhcpHost] = []
    seen: dict = {}
    for index, entry in enumerate(entries):
        what = "%s.dhcp_hosts[%d]" % (family, index)
        mac = _mac(entry.get("mac"), what)
        address = str(_guest_address(entry.get("ip"), family, what + ".ip", interface))
        name = entry.get("name")
        if name is not None and (len(name) > 63 or not re.fullmatch(_LABEL, name)):
            raise PlanError("%s.name %r is not a host name (letters, digits and inner '-', at most 63)" % (what, name))
        # DNS names are compared without case: 'web01' and 'WEB01' are one name to dnsmasq.
        for key, value in (("mac", mac), ("ip", address), ("name", name.lower() if name else name)):
            if value is None:
                continue
            if (key, value) in seen:
                raise PlanError("%s.%s %s is also %s.dhcp_hosts[%d]'s" % (what, key, value, family, seen[(key, value)]))
            seen[(key, value)] = index
        hosts.append(DhcpHost(mac=mac, ip=address, name=name))
    return tuple(hosts)


def _mac(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise PlanError("%s.mac is required: the MAC address of the guest's card" % what)
    mac = value.lower()
    if not re.fullmatch(_MAC, mac):
        raise PlanError("%s.mac %r is not a MAC address like 52:54:00:12:34:56" % (what, value))
    if int(mac[:2], 16) & 1:
        raise PlanError("%s.mac %s is a multicast address; a card has a unicast one" % (what, mac))
    if mac == "00:00:00:00:00:00":
        raise PlanError("%s.mac %s is no card's address" % (what, mac))
    return mac
