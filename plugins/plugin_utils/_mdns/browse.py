# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Browsing for `_libvirt._tcp` services with python-zeroconf (the mdns inventory plugin's I/O).

Browses for a while (ending early once no new service has answered for a short quiet time),
then resolves every name found, all at once. What it returns are plain ServiceRecords and
warnings; what the plugin makes of them is in records.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any, Iterable

from ansible_collections.remotevirt.install.plugins.plugin_utils._mdns.records import (
    ServiceRecord,
    decode_txt,
    instance_name,
    shown,
)

try:
    import ifaddr
    from zeroconf import Error as ZeroconfError
    from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    ZEROCONF_IMPORT_ERROR: ImportError | None = None
except ImportError as error:  # reported by the plugin, naming the package
    ZEROCONF_IMPORT_ERROR = error

MISSING_ZEROCONF = (
    "the remotevirt.install.mdns inventory plugin needs the Python package 'zeroconf' on the "
    "controller, in the Python that runs Ansible (pip install zeroconf; requirements.txt of the "
    "collection lists it): %s"
)
# How often the browse loop looks whether it may end.
_TICK = 0.05


class BrowseError(Exception):
    """The browse could not start (no such interface, no address of the chosen IP version)."""


def _ip_version(name: str) -> Any:
    return {"ipv4": IPVersion.V4Only, "ipv6": IPVersion.V6Only, "any": IPVersion.All}[name]


def interface_addresses(names: Iterable[str], ip_version: str) -> list[Any]:
    """The zeroconf `interfaces` of interface names or addresses: IPv4 addresses as text, IPv6
    interfaces as their index (what zeroconf joins IPv6 multicast with). Refuses a name that is
    no interface of this machine, and an interface without an address of the chosen version."""
    adapters = {adapter.nice_name: adapter for adapter in ifaddr.get_adapters()}
    result: list[Any] = []
    for name in names:
        if name not in adapters:
            if any(c in name for c in ".:"):
                result.append(name)  # an address: zeroconf checks it
                continue
            raise BrowseError("interface %r does not exist here (interfaces: %s)" % (name, ", ".join(sorted(adapters))))
        adapter = adapters[name]
        found: list[Any] = []
        if ip_version in ("ipv4", "any"):
            found += [ip.ip for ip in adapter.ips if ip.is_IPv4]
        if ip_version in ("ipv6", "any") and any(ip.is_IPv6 for ip in adapter.ips):
            found.append(adapter.index)
        if not found:
            raise BrowseError("interface %r has no %s address" % (name, ip_version))
        result += [a for a in found if a not in result]
    return result


def link_zone(names: list[str]) -> str | None:
    """The zone of a link-local address heard without one: the interface, when the browse was on
    that one interface alone (given by its name)."""
    if len(names) != 1:
        return None
    return names[0] if names[0] in {adapter.nice_name for adapter in ifaddr.get_adapters()} else None


def with_zone(address: str, zone: str | None) -> str:
    """A link-local IPv6 address with the name of the interface it was heard on as its zone
    ('fe80::1%lan0': ssh and a libvirt URI reach it only so). zeroconf gives the interface's index
    when it knows it; else ``zone``, the browse's one interface. Without either it stays without a
    zone (it could be on any link), and the plugin does not use it. Other addresses as they are."""
    plain, _percent, index = address.partition("%")
    try:
        if not ipaddress.IPv6Address(plain).is_link_local:
            return address
    except ValueError:
        return address
    if index.isascii() and index.isdigit():
        try:
            return plain + "%" + socket.if_indextoname(int(index))
        except (OSError, OverflowError, ValueError):
            return plain  # an interface gone meanwhile
    return plain + "%" + zone if zone else plain


def _addresses(info: Any, version: Any, zone: str | None) -> list[str]:
    return sorted({with_zone(address, zone) for address in info.parsed_scoped_addresses(version)})


def _record(info: Any, service_type: str, zone: str | None) -> ServiceRecord:
    return ServiceRecord(
        name=instance_name(info.name, service_type),
        server=info.server or "",
        port=int(info.port or 0),
        ipv4=_addresses(info, IPVersion.V4Only, zone),
        ipv6=_addresses(info, IPVersion.V6Only, zone),
        txt=decode_txt(info.properties or {}),
    )


def _resolvable(names: Iterable[str], service_type: str, warnings: list[str]) -> list[Any]:
    """A resolver for each of ``names``; a name zeroconf refuses to resolve (a LAN peer may announce
    any name, 'hv1.' among them) is skipped with a warning, never the browse's end."""
    infos = []
    for name in names:
        try:
            infos.append(AsyncServiceInfo(service_type, name))
        except ZeroconfError as error:
            warnings.append("%s cannot be resolved (%s): skipped" % (shown(instance_name(name, service_type)), shown(str(error))))
    return infos


async def _browse(
    service_type: str,
    seconds: float,
    quiet: float,
    interfaces: list[Any] | None,
    ip_version: str,
    resolve_ms: int,
    zone: str | None,
) -> tuple[list[ServiceRecord], list[str]]:
    loop = asyncio.get_running_loop()
    choice = interfaces if interfaces else InterfaceChoice.All
    aiozc = AsyncZeroconf(interfaces=choice, ip_version=_ip_version(ip_version))
    found: dict[str, None] = {}  # names in the order they answered
    left: set[str] = set()
    last_new = [loop.time()]

    def on_change(zeroconf: Any, service_type: str, name: str, state_change: Any) -> None:
        if state_change is ServiceStateChange.Removed:
            left.add(name)
        elif name not in found:
            found[name] = None
            last_new[0] = loop.time()

    warnings: list[str] = []
    try:
        browser = AsyncServiceBrowser(aiozc.zeroconf, [service_type], handlers=[on_change])
        start = loop.time()
        while loop.time() - start < seconds:
            await asyncio.sleep(_TICK)
            if found and loop.time() - last_new[0] >= quiet:
                break
        await browser.async_cancel()
        names = [name for name in found if name not in left]
        warnings += [
            "%s withdrew its announcement during the browse: skipped" % shown(instance_name(name, service_type))
            for name in found
            if name in left
        ]
        infos = _resolvable(names, service_type, warnings)
        # An exception of one resolve (a peer's malformed answer) is that service's alone.
        requests = (info.async_request(aiozc.zeroconf, resolve_ms) for info in infos)
        answered = await asyncio.gather(*requests, return_exceptions=True)
    finally:
        await aiozc.async_close()
    records = []
    for info, ok in zip(infos, answered):
        if ok is True and info.server:
            records.append(_record(info, service_type, zone))
        else:
            warnings.append(
                "%s did not answer when resolved (gone during the browse?): skipped"
                % shown(instance_name(info.name, service_type))
            )
    return records, warnings


def browse(
    service_type: str, seconds: float, quiet: float, interfaces: Iterable[str], ip_version: str, resolve_ms: int = 1000
) -> tuple[list[ServiceRecord], list[str]]:
    """Records of the services that answered within `seconds` (or until none new came for
    `quiet` seconds), and warnings about those skipped."""
    if ZEROCONF_IMPORT_ERROR is not None:
        raise BrowseError(MISSING_ZEROCONF % ZEROCONF_IMPORT_ERROR)
    names = list(interfaces)
    chosen = interface_addresses(names, ip_version) if names else None
    return asyncio.run(_browse(service_type, seconds, quiet, chosen, ip_version, resolve_ms, link_zone(names)))
