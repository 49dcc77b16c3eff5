# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Virtual network XML (https://libvirt.org/formatnetwork.html): the fields virt_network manages."""

from __future__ import annotations

import ipaddress
from typing import Any, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import (
    XmlError,
    XmlObject,
    attr_of,
    etree,
    parse,
    serialize,
    sub,
    text_of,
)

IPV4 = "ipv4"
IPV6 = "ipv6"
# forward modes; a network without <forward> is isolated.
ISOLATED = "isolated"
# The elements of a definition that this module writes; a redefinition keeps every other one.
_MANAGED_TAGS = ("forward", "domain", "ip")


def canonical_ip(text: str) -> str:
    """An address as Python writes it (IPv6 compressed, lower case), for comparisons with libvirt's text."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return text  # libvirt accepted it; compared as written


class DhcpRange(XmlObject):
    start: str
    end: str

    def to_element(self) -> Any:
        return etree.Element("range", start=self.start, end=self.end)


class DhcpHost(XmlObject):
    """A static lease: the card ``mac`` gets ``ip`` (and the host name ``name``). Read from libvirt,
    ``mac`` may be empty (an IPv6 host named by its DHCP ``client_id`` or name, an IPv4 one by name)."""

    mac: str
    ip: str
    name: Optional[str] = None
    client_id: Optional[str] = None  # the id= of an IPv6 host (its DUID)

    @property
    def declarable(self) -> bool:
        """Whether the module's options can express this host (a dhcp_hosts entry needs a MAC)."""
        return bool(self.mac) and not self.client_id

    @property
    def label(self) -> str:
        return " ".join(part for part in (self.mac or self.client_id, self.name, self.ip) if part)

    def to_element(self) -> Any:
        attrs = {"mac": self.mac} if self.mac else {}
        if self.client_id:
            attrs["id"] = self.client_id
        if self.name:
            attrs["name"] = self.name
        attrs["ip"] = self.ip
        return etree.Element("host", attrs)


class IpConfig(XmlObject):
    """One <ip> element: the host's address on the network, DHCP and PXE.

    ``index`` is its position among the definition's <ip> elements (net-update's --parent-index);
    it never counts as a difference.
    """

    family: str
    address: str
    prefix: int
    ranges: Tuple[DhcpRange, ...] = ()
    hosts: Tuple[DhcpHost, ...] = ()
    tftp_root: Optional[str] = None
    bootp_file: Optional[str] = None
    bootp_server: Optional[str] = None
    index: int = Field(default=0, compare=False, in_repr=False)

    @property
    def has_dhcp(self) -> bool:
        return bool(self.ranges or self.hosts)

    @property
    def subnet(self) -> str:
        """The subnet the address is on, like 10.213.1.0/24."""
        return str(ipaddress.ip_network("%s/%d" % (self.address, self.prefix), strict=False))

    def to_element(self) -> Any:
        ip = etree.Element("ip")
        if self.family == IPV6:
            ip.set("family", IPV6)
        ip.set("address", self.address)
        ip.set("prefix", str(self.prefix))
        if self.tftp_root:
            sub(ip, "tftp", root=self.tftp_root)
        if self.has_dhcp or self.bootp_file:
            dhcp = sub(ip, "dhcp")
            for dhcp_range in self.ranges:
                dhcp.append(dhcp_range.to_element())
            for host in self.hosts:
                dhcp.append(host.to_element())
            if self.bootp_file:
                sub(dhcp, "bootp", file=self.bootp_file, server=self.bootp_server)
        return ip

    @classmethod
    def from_element(cls, element: Any, index: int) -> "IpConfig":
        family = element.get("family") or IPV4
        return cls(
            family=family,
            address=canonical_ip(element.get("address") or ""),
            prefix=_prefix_of(element),
            ranges=tuple(
                DhcpRange(canonical_ip(item.get("start") or ""), canonical_ip(item.get("end") or ""))
                for item in element.iterfind("dhcp/range")
            ),
            hosts=tuple(
                DhcpHost(
                    mac=(item.get("mac") or "").lower(),
                    ip=canonical_ip(item.get("ip") or ""),
                    name=item.get("name"),
                    client_id=item.get("id"),
                )
                for item in element.iterfind("dhcp/host")
            ),
            tftp_root=attr_of(element, "tftp", "root"),
            bootp_file=attr_of(element, "dhcp/bootp", "file"),
            bootp_server=attr_of(element, "dhcp/bootp", "server"),
            index=index,
        )


def _prefix_of(element: Any) -> int:
    """The prefix length of an <ip>, written as prefix= or netmask= (other tools use either)."""
    prefix = element.get("prefix")
    netmask = element.get("netmask")
    try:
        if prefix is not None:
            return int(prefix)
        if netmask is not None:
            return ipaddress.IPv4Network("0.0.0.0/%s" % netmask).prefixlen
    except ValueError:
        raise XmlError("network <ip> has an unreadable prefix or netmask: %r" % (prefix or netmask))
    # libvirt's default when neither is given: the address's class, for IPv4 (rare; an IPv6 <ip> needs one).
    return 24


def subnets_of(text: str) -> Tuple[str, ...]:
    """The subnet of every <ip> of a network's XML (a network may have several per family)."""
    found = []
    for element in parse(text).iterfind("ip"):
        try:
            address = (element.get("address") or "").strip()
            found.append(str(ipaddress.ip_network("%s/%d" % (address, _prefix_of(element)), strict=False)))
        except (ValueError, XmlError):
            continue  # libvirt accepted it, Python cannot read it: nothing to compare
    return tuple(found)


class Network(XmlObject):
    """A virtual network; ``uuid`` and ``mac`` come from libvirt and are carried forward."""

    name: str
    forward: str = "nat"
    bridge: Optional[str] = None
    domain: Optional[str] = None
    ipv4: Optional[IpConfig] = None
    ipv6: Optional[IpConfig] = None
    uuid: Optional[str] = None
    mac: Optional[str] = None

    def to_element(self) -> Any:
        network = etree.Element("network")
        sub(network, "name", self.name)
        if self.uuid:
            sub(network, "uuid", self.uuid)
        managed = self._managed_elements()
        if managed and managed[0].tag == "forward":
            network.append(managed[0])
            managed = managed[1:]
        if self.bridge:
            sub(network, "bridge", name=self.bridge)
        if self.mac:
            sub(network, "mac", address=self.mac)
        for element in managed:
            network.append(element)
        return network

    def _managed_elements(self) -> Tuple[Any, ...]:
        elements = []
        if self.forward != ISOLATED:
            elements.append(etree.Element("forward", mode=self.forward))
        if self.domain:
            elements.append(etree.Element("domain", name=self.domain))
        for ip in (self.ipv4, self.ipv6):
            if ip is not None:
                elements.append(ip.to_element())
        return tuple(elements)

    def managed_view(self) -> "Network":
        """What a user sets, for diffs: libvirt's uuid and MAC left out."""
        return self.with_changes(uuid=None, mac=None)

    def redefinition(self, definition: str) -> str:
        """``definition`` (the network's current XML) with this object's forward mode, bridge name,
        domain and addresses: every other element (DNS entries, port groups, MTU...) and libvirt's
        uuid and MAC stay as they are; a forward element of the same mode keeps its details (NAT
        port range, outgoing device)."""
        root = parse(definition)
        kept_forward = root.find("forward")
        same_mode = kept_forward is not None and (kept_forward.get("mode") or "nat") == self.forward
        for element in list(root):
            if element.tag in _MANAGED_TAGS and not (element.tag == "forward" and same_mode):
                root.remove(element)
        for element in self._managed_elements():
            if element.tag == "forward" and same_mode:
                continue
            root.append(element)
        if self.bridge:
            bridge = root.find("bridge")
            if bridge is None:
                bridge = sub(root, "bridge")
            bridge.set("name", self.bridge)
        return serialize(root)

    @classmethod
    def from_xml(cls, text: str) -> "Network":
        root = parse(text)
        forward = root.find("forward")
        ipv4: Optional[IpConfig] = None
        ipv6: Optional[IpConfig] = None
        for index, element in enumerate(root.iterfind("ip")):
            ip = IpConfig.from_element(element, index)
            # The first <ip> of each family is the one managed (libvirt allows one with DHCP per family).
            if ip.family == IPV4 and ipv4 is None:
                ipv4 = ip
            elif ip.family == IPV6 and ipv6 is None:
                ipv6 = ip
        return cls(
            name=text_of(root, "name") or "",
            forward=ISOLATED if forward is None else (forward.get("mode") or "nat"),
            bridge=attr_of(root, "bridge", "name"),
            domain=attr_of(root, "domain", "name"),
            ipv4=ipv4,
            ipv6=ipv6,
            uuid=text_of(root, "uuid"),
            mac=attr_of(root, "mac", "address"),
        )
