# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mdns
short_description: Hypervisors that advertise themselves on the local network (mDNS / DNS-SD)
version_added: 0.1.0
description:
  - Browses the local network for C(_libvirt._tcp) services, as the P(remotevirt.install.advertise#role) role
    publishes them through avahi-daemon, and adds one host per hypervisor that answered.
  - Each host gets C(ansible_host) (its address), C(ansible_port) (the SSH port it advertises), C(libvirt_uri)
    (built from its TXT records, so that C(module_defaults) can use it), C(libvirt_uris) (one URI per advertised
    transport) and every TXT record as a host variable named O(txt_prefix) followed by the key.
  - Duplicate announcements (the same host on two interfaces, or over IPv4 and IPv6) give one host. Services that
    withdraw or do not answer during the browse are skipped with a warning; finding nothing is a warning too.
  - mDNS is not authenticated; every device on the network may answer. TXT records are host variables, never
    templates, and never set C(ansible_*) variables. A service is skipped with a warning when its instance name is
    no host name of its own (C(localhost), an IP address, a host of another inventory source, the name of a group of
    the inventory, this plugin's own included, a name another server announces too, control characters, characters
    of host patterns or paths, more than 63 bytes), when it has no address but loopback, unspecified, multicast or
    reserved ones, the controller's own addresses, or the network and broadcast addresses of the controller's
    subnets, or when its TXT records would make a URI with options (a query such as C(?command=), an unknown
    transport such as C(ext)), or ports not written in the digits 0-9.
  - Only the hosts of the sources parsed B(before) this one are known to it. List it after the static inventory
    (C(-i static.ini -i hv.mdns.yml)); in an inventory directory, where files are read in alphabetical order, name
    it so that it sorts last (C(zz-hypervisors.mdns.yml)). Otherwise a device announcing the name of a static
    host would give that host its address. SSH host keys are what tells a
    hypervisor from a device answering in its name, so keep host key checking on. A host whose name ends in
    a space, C(#) and a number (avahi-daemon's rename after a name conflict) is kept with a warning, as another
    device answered in its name.
  - Needs the Python package C(zeroconf) on the controller.
  - The inventory source is a YAML file whose name ends in C(mdns.yml) or C(mdns.yaml).
author:
  - remotevirt.install maintainers (@remotevirt)
requirements:
  - zeroconf (Python package, on the controller)
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; marks the file as its inventory source.
    type: str
    required: true
    choices: [remotevirt.install.mdns]
  service_type:
    description: The DNS-SD service type to browse for.
    type: str
    default: _libvirt._tcp.local.
  browse_time:
    description:
      - Seconds to browse at most. Hosts that have not answered by then are not in the inventory.
      - The browse ends earlier once at least one service answered and no new one came for O(quiet_time).
      - From V(0) to V(600), as O(quiet_time) and O(resolve_time).
    type: float
    default: 3.0
  quiet_time:
    description:
      - Seconds without a new answer after which the browse ends (once something answered).
      - mDNS responders answer within about 0.12 s of a query; V(0) browses for the whole O(browse_time).
    type: float
    default: 0.5
  resolve_time:
    description: Seconds to wait for each service's address and TXT records, when they did not come with the browse.
    type: float
    default: 1.0
  ip_version:
    description:
      - Which addresses to browse over and to give as C(ansible_host) and in C(libvirt_uri).
      - V(any) browses over both and prefers IPv4 addresses; routable addresses always come before link-local ones.
    type: str
    choices: [ipv4, ipv6, any]
    default: ipv4
  interfaces:
    description:
      - Interfaces (names such as V(eth1), or addresses of this machine) to send and receive mDNS on. Multicast
        goes out only on these.
      - Empty means every interface of the controller.
      - A link-local IPv6 address is used only with the interface it was heard on as its zone (C(fe80::1%eth1)), which
        python-zeroconf names, or else the one interface of a browse on one interface given by its name.
    type: list
    elements: str
    default: []
  include:
    description:
      - Only hosts that match one of these patterns. V(key=value) matches a TXT record (the value may be a glob, as in
        V(site=lab*)); anything else is a glob on the service's instance name (V(hv-*)). Case-insensitive.
      - Empty means every host.
    type: list
    elements: str
    default: []
  exclude:
    description: Hosts that match one of these patterns (as in O(include)) are left out.
    type: list
    elements: str
    default: []
  group:
    description: The group every discovered host joins (the collection's playbooks run on V(hypervisors)).
    type: str
    default: hypervisors
  txt_prefix:
    description:
      - Prefix of the host variables made from TXT records (V(mdns_arch), V(mdns_site), ...).
      - Letters, digits and V(_). A prefix under which a TXT record could name a variable of Ansible or of the
        collection's roles (an empty one, V(ansible_), V(libvirt_), V(rv_), V(guests_), ...) is refused, as TXT records
        come from any device on the network.
    type: str
    default: mdns_
  libvirt_transports:
    description:
      - Transports in order of preference for C(libvirt_uri); the first one a host advertises is used, else the
        first the host advertises.
    type: list
    elements: str
    default: []
  libvirt_user:
    description: User name put into C(libvirt_uri) (for V(ssh) URIs, such as V(qemu+ssh://root@hv1:22/system)).
    type: str
"""

EXAMPLES = r"""
# hypervisors.mdns.yml: every advertised hypervisor, grouped by the site and role tags it publishes
plugin: remotevirt.install.mdns
interfaces: [eth1]
browse_time: 2
exclude:
  - role=retired
keyed_groups:
  - key: mdns_site
    prefix: site
  - key: mdns_role
    prefix: role
compose:
  ansible_user: "'root'"
---
# only IPv6, TLS URIs first, cached for an hour (AWX inventory syncs and repeated runs do not browse again)
plugin: remotevirt.install.mdns
ip_version: ipv6
libvirt_transports: [tls, ssh]
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/remotevirt-mdns
cache_timeout: 3600
"""

from typing import Any, Callable

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display

from ansible_collections.remotevirt.install.plugins.plugin_utils._mdns.records import (
    RecordError,
    ServiceRecord,
    check_host_name,
    check_txt_prefix,
    choose_address,
    conflicting_names,
    host_vars,
    merge_duplicates,
    renamed_from,
    selected,
    shown,
)

display = Display()
# Warnings about single services printed as warnings; more are counted in one line
MAX_WARNINGS = 20
# The longest browse_time, quiet_time and resolve_time taken, in seconds.
MAX_SECONDS = 600


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "remotevirt.install.mdns"
    _warned = 0  # warnings about single services during this parse
    _is_controller: Callable[[str], bool]  # whether an address leads to the controller (set per parse)
    _groups: set[str]  # the inventory's group names, lowercase (set per parse)

    def verify_file(self, path: str) -> bool:
        return bool(super().verify_file(path)) and path.endswith(("mdns.yml", "mdns.yaml"))

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._warned = 0
        self._read_config_data(path)
        try:
            check_txt_prefix(self.get_option("txt_prefix"))
        except ValueError as error:
            raise AnsibleParserError("mdns inventory: %s" % error)
        records = self._records(path, cache)
        self._populate(records)
        if self._warned > MAX_WARNINGS:
            display.warning(
                "mdns inventory: %d more services skipped (ansible-inventory -vvv lists them)" % (self._warned - MAX_WARNINGS)
            )

    def _warn(self, message: str) -> None:
        """A warning about one service: the first MAX_WARNINGS as warnings, the rest at -vvv (a
        device announcing thousands of odd services does not bury the admin's output)."""
        self._warned += 1
        if self._warned <= MAX_WARNINGS:
            display.warning("mdns inventory: %s" % message)
        else:
            display.vvv("mdns inventory: %s" % message)

    # -- discovery, or the cache ---------------------------------------------------------------

    def _records(self, path: str, cache: bool) -> list[ServiceRecord]:
        """The services of the last browse from the cache when it may be used and has them;
        else browsed now (and cached when caching is on)."""
        cache_key = self.get_cache_key(path)
        use_cache = bool(self.get_option("cache")) and cache
        update_cache = bool(self.get_option("cache")) and not cache
        if use_cache:
            try:
                return [ServiceRecord.from_dict(entry) for entry in self._cache[cache_key]]
            except KeyError:
                update_cache = True
            except (AttributeError, TypeError, ValueError) as error:
                # a cache of another version, or edited: browsed again and rewritten
                display.warning("mdns inventory: the cached services are unreadable (%s): browsing again" % error)
                update_cache = True
        records = self._browse()
        if update_cache:
            self._cache[cache_key] = [record.to_dict() for record in records]
        return records

    def _browse(self) -> list[ServiceRecord]:
        # Imported here: zeroconf is loaded only when a browse happens (not for a cached inventory).
        from ansible_collections.remotevirt.install.plugins.plugin_utils._mdns.browse import BrowseError, browse

        # Plain str: zeroconf (compiled with Cython) refuses str subclasses such as Ansible's tagged values.
        try:
            records, warnings = browse(
                str(self.get_option("service_type")),
                self._seconds("browse_time"),
                self._seconds("quiet_time"),
                [str(name) for name in self.get_option("interfaces")],
                str(self.get_option("ip_version")),
                int(self._seconds("resolve_time") * 1000),
            )
        except (BrowseError, OSError, RuntimeError, ValueError) as error:
            raise AnsibleParserError("mdns inventory: %s" % error)
        for warning in warnings:
            self._warn(warning)
        return records

    def _seconds(self, option: str) -> float:
        """An option of seconds as a time the browse can wait: from 0 to MAX_SECONDS (not negative,
        infinite or NaN, which no wait takes)."""
        value = float(self.get_option(option))
        if not 0 <= value <= MAX_SECONDS:
            raise AnsibleParserError("mdns inventory: %s must be from 0 to %d seconds, not %s" % (option, MAX_SECONDS, value))
        return value

    # -- hosts -------------------------------------------------------------------------------------

    def _populate(self, records: list[ServiceRecord]) -> None:
        # Imported here: the addresses are read once per parse (a cached inventory too).
        from ansible_collections.remotevirt.install.plugins.plugin_utils._mdns.local import controller_test

        self._is_controller = controller_test()
        group = self.inventory.add_group(self.get_option("group"))
        # hosts of the sources parsed before: a LAN peer never takes over one by its name
        taken = {name.lower() for name in self.inventory.hosts}
        # nor makes a host of a group's name (this plugin's own group included): plays aimed at the group would get it
        self._groups = {name.lower() for name in self.inventory.groups}
        conflicts = conflicting_names(records)
        added = 0
        for record in merge_duplicates(records):
            if not selected(record, self.get_option("include"), self.get_option("exclude")):
                continue
            refusal = self._name_refusal(record, taken, conflicts)
            if refusal:
                self._warn("%s: %s: skipped" % (shown(record.name), refusal))
                continue
            variables = self._host_vars(record)
            if variables is None:
                continue
            self._add_host(record.name, variables, group)
            added += 1
            self._warn_renamed(record.name)
        added -= self._drop_hosts_named_like_groups(group)
        if not records:
            display.warning(
                "mdns inventory: no %s service answered within %s s"
                % (self.get_option("service_type"), self.get_option("browse_time"))
            )
        elif not added:
            display.warning(
                "mdns inventory: %d services answered, none is in the inventory "
                "(include/exclude, or no %s address)" % (len(records), self.get_option("ip_version"))
            )

    def _drop_hosts_named_like_groups(self, group: str) -> int:
        """Remove the hosts of this source named like a group its own options made meanwhile
        (``groups``, ``keyed_groups`` from TXT records): a play aimed at that group would get the
        host. Returns how many."""
        groups = {name.lower() for name in self.inventory.groups}
        dropped = [name for name in list(self.inventory.groups[group].get_hosts()) if name.name.lower() in groups]
        for host in dropped:
            self.inventory.remove_host(host)
            self._warn("%s: a group of this inventory has this name: skipped" % shown(host.name))
        return len(dropped)

    def _warn_renamed(self, name: str) -> None:
        # mDNS is not authenticated: the renamed one may well be the real hypervisor
        before = renamed_from(name)
        if before is not None:
            display.warning(
                "mdns inventory: %s was renamed after an mDNS name conflict: another device answers as %s; "
                "tell them apart by their SSH host keys" % (shown(name), shown(before))
            )

    def _name_refusal(self, record: ServiceRecord, taken: set[str], conflicts: dict[str, list[str]]) -> str | None:
        """Why the record's instance name cannot be a host of this inventory, or None."""
        try:
            check_host_name(record.name)
        except RecordError as error:
            return str(error)
        if record.name.lower() in taken:
            return "a host of another inventory source has this name"
        if record.name.lower() in self._groups:
            return "a group of this inventory has this name"
        if record.name.lower() in conflicts:
            return "announced by several servers (%s)" % ", ".join(shown(s) for s in conflicts[record.name.lower()])
        return None

    def _host_vars(self, record: ServiceRecord) -> dict[str, Any] | None:
        address = choose_address(record, self.get_option("ip_version"), self._is_controller)
        if address is None:
            self._warn(
                "%s has no usable %s address (%s): skipped"
                % (shown(record.name), self.get_option("ip_version"), ", ".join(map(shown, record.ipv4 + record.ipv6)) or "none")
            )
            return None
        try:
            return host_vars(
                record,
                address,
                self.get_option("txt_prefix"),
                self.get_option("libvirt_transports"),
                self.get_option("libvirt_user"),
            )
        except RecordError as error:
            self._warn("%s: %s: skipped" % (shown(record.name), error))
            return None

    def _add_host(self, name: str, variables: dict[str, Any], group: str) -> None:
        self.inventory.add_host(name, group=group)
        for key, value in variables.items():
            self.inventory.set_variable(name, key, value)
        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)
