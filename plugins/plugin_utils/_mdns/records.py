# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the mdns inventory plugin makes of the `_libvirt._tcp` services it found: TXT records,
libvirt URIs, the address to connect to, duplicates, filters and host variables.

Pure functions over plain values (no zeroconf, no Ansible): the unit tests import this module
alone. The TXT records are those the remotevirt.install.advertise role publishes:

    txtvers=1  transports=ssh,tls  ssh_port=22  tls_port=16514  driver=qemu  path=/system
    version=9.0.0  arch=x86_64  plus the admin's tags (site=lab2, role=build, ...)
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

SERVICE_TYPE = "_libvirt._tcp.local."
# libvirt's own default ports; SSH's is the usual one
DEFAULT_PORTS = {"ssh": 22, "libssh": 22, "libssh2": 22, "tls": 16514, "tcp": 16509}
DEFAULT_DRIVER = "qemu"
DEFAULT_PATH = "/system"
IP_VERSIONS = ("ipv4", "ipv6", "any")
# Variable names a TXT record must never reach through txt_prefix: Ansible's connection and magic
# variables (ansible_ssh_common_args=-oProxyCommand=... runs a command on the controller), and the
# variables the collection's roles and playbooks read (rv_update_existing, libvirt_uri, ...).
RESERVED_VARIABLES = (
    "ansible_",
    "inventory_",
    "group_names",
    "groups",
    "hostvars",
    "omit",
    "environment",
    "play_",
    "playbook_",
    "role_",
    "libvirt_",
    "advertise_",
    "cloud_instance_",
    "guests_",
    "hypervisor_",
    "iso_install_",
    "pxe_install_",
    "rv_",
)
# Names that mean the controller itself to Ansible (a task delegated to localhost would go to the
# LAN peer that took the name, with the admin's credentials).
LOCAL_NAMES = (
    "localhost", "localhost.localdomain", "localhost6", "localhost6.localdomain6", "ip6-localhost", "ip6-loopback",
)  # fmt: skip
# Characters of Ansible's host patterns (a,b  a:b  !a  &a  a*  a[1]  ~re) and of paths (host_vars/,
# fact caches keyed by host name).
_NAME_REFUSED = frozenset(",:!&*?[]~/\\@")


class RecordError(ValueError):
    """A service whose TXT records cannot be used (the plugin skips it with a warning)."""


@dataclass
class ServiceRecord:
    """One resolved service: its instance name, SRV target and port, addresses and TXT records."""

    name: str
    server: str
    port: int
    ipv4: list[str] = field(default_factory=list)
    ipv6: list[str] = field(default_factory=list)
    txt: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The form kept in the inventory cache (JSON)."""
        return {
            "name": self.name,
            "server": self.server,
            "port": self.port,
            "ipv4": list(self.ipv4),
            "ipv6": list(self.ipv6),
            "txt": dict(self.txt),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceRecord:
        return cls(
            name=str(data["name"]),
            server=str(data["server"]),
            port=int(data["port"]),
            ipv4=[str(a) for a in data.get("ipv4", [])],
            ipv6=[str(a) for a in data.get("ipv6", [])],
            txt={str(k): str(v) for k, v in dict(data.get("txt", {})).items()},
        )


@dataclass(frozen=True)
class Transport:
    name: str
    port: int


# --- TXT records -------------------------------------------------------------------------------


def decode_txt(properties: Mapping[bytes | str, bytes | str | None]) -> dict[str, str]:
    """TXT records as text. Keys are case-insensitive in DNS-SD (RFC 6763 6.4): lower-cased; the
    first of two keys that differ only in case wins, as the RFC says. A key without '=' (a
    boolean attribute) has the value ''. Bytes that are not UTF-8 are replaced, never fatal."""
    txt: dict[str, str] = {}
    for key, value in properties.items():
        name = _text(key).strip().lower()
        if not name or name in txt:
            continue
        txt[name] = "" if value is None else _text(value)
    return txt


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def instance_name(full_name: str, service_type: str = SERVICE_TYPE) -> str:
    """'rvhost1._libvirt._tcp.local.' -> 'rvhost1' (instance names may hold dots and spaces)."""
    suffix = "." + service_type
    if full_name.lower().endswith(suffix.lower()):
        return full_name[: -len(suffix)]
    return full_name.rstrip(".")


def shown(name: str) -> str:
    """A name from the network as warnings print it: as it is when printable, else quoted with its
    control and format characters escaped (a LAN peer's name never writes escape sequences or
    lines of its own to the admin's terminal)."""
    return name if name.isprintable() else repr(name)


def check_txt_prefix(prefix: str) -> None:
    """Refuses a txt_prefix under which a TXT record could name one of RESERVED_VARIABLES:
    with V(ansible_), a LAN peer's TXT ssh_common_args would become ansible_ssh_common_args."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix):
        raise ValueError("txt_prefix %r is no variable name prefix (letters, digits and '_', not empty)" % prefix)
    for reserved in RESERVED_VARIABLES:
        if reserved.startswith(prefix) or prefix.startswith(reserved):
            raise ValueError(
                "txt_prefix %r would let TXT records of the network set variables starting with %r "
                "(Ansible's or the collection's own); choose another prefix, such as mdns_" % (prefix, reserved)
            )


def check_host_name(name: str) -> None:
    """Refuses an instance name that cannot be an inventory host of its own: empty or longer than
    63 bytes (DNS-SD's limit), control or format characters, white space at either end, '..',
    characters of host patterns or paths, an IP address, or a name of the controller itself."""
    if not name or len(name.encode("utf-8", "replace")) > 63:
        raise RecordError("instance name is empty or longer than 63 bytes")
    if not name.isprintable() or name != name.strip():
        raise RecordError("instance name has control characters or white space at an end")
    if ".." in name or name.startswith(".") or any(c in _NAME_REFUSED for c in name):
        raise RecordError("instance name has '..', a leading '.' or one of %s" % " ".join(sorted(_NAME_REFUSED)))
    folded = unicodedata.normalize("NFKC", name).casefold().rstrip(".")
    if folded in LOCAL_NAMES or folded.endswith(".localhost"):
        raise RecordError("instance name is a name of the controller itself")
    if name.startswith("-"):  # read as an option by ssh and other programs it reaches
        raise RecordError("instance name starts with '-'")
    if _is_address(folded):
        raise RecordError("instance name is an IP address")


def _is_address(name: str) -> bool:
    """Whether ``name`` is an IP address, as the resolver reads one too: '127.1', '0x7f.1' and
    '2130706433' are 127.0.0.1 to getaddrinfo and SSH."""
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    try:
        socket.inet_aton(name)
    except (OSError, ValueError):
        return False
    return True


def renamed_from(name: str) -> str | None:
    """The name an instance had before avahi-daemon renamed it after a name conflict ('hv1 #2'
    -> 'hv1'), else None. A device that answers as hv1 without probing first makes the real hv1
    rename itself so, and then holds the name hv1."""
    match = re.fullmatch(r"(.+) #[0-9]+", name)
    return match.group(1) if match else None


def _port(text: str, key: str) -> int:
    # ASCII digits only: int() also reads '٢٢', '2_2' and ' 22 '.
    if not re.fullmatch(r"[0-9]{1,5}", text):
        raise RecordError("TXT %s=%r is not a port number" % (key, text))
    port = int(text)
    if not 0 < port < 65536:
        raise RecordError("TXT %s=%d is not a port number" % (key, port))
    return port


def transports(txt: Mapping[str, str]) -> list[Transport]:
    """The transports the host may be reached on, in the order it advertises them, with their
    ports (TXT <transport>_port, else libvirt's default). Without a `transports` record: SSH."""
    names = [n.strip().lower() for n in txt.get("transports", "ssh").split(",") if n.strip()]
    if not names:
        raise RecordError("TXT transports is empty")
    result: list[Transport] = []
    for name in names:
        if name not in DEFAULT_PORTS:
            raise RecordError("TXT transports names %r; known: %s" % (name, ", ".join(sorted(DEFAULT_PORTS))))
        key = name + "_port"
        port = _port(txt[key], key) if key in txt else DEFAULT_PORTS[name]
        if name not in [t.name for t in result]:
            result.append(Transport(name, port))
    return result


def uri_path(txt: Mapping[str, str]) -> str:
    path = txt.get("path", DEFAULT_PATH) or DEFAULT_PATH
    # /system, /session: letters, digits and / . _ - only; never a query (?socket=, ?command=,
    # ?no_verify=1 ...), an escape (%3F) or a line break
    if not re.fullmatch(r"/[A-Za-z0-9._/-]*", path) or ".." in path:
        raise RecordError("TXT path=%r is not a libvirt URI path" % path)
    return path


def driver(txt: Mapping[str, str]) -> str:
    name = txt.get("driver", DEFAULT_DRIVER) or DEFAULT_DRIVER
    if not (name.isascii() and name.isalnum()):
        raise RecordError("TXT driver=%r is not a libvirt driver name" % name)
    return name.lower()


# --- URIs and addresses ----------------------------------------------------------------------


def uri_host(address: str) -> str:
    """An address as a URI's host: IPv6 in brackets, a zone ('%lan0') as '%25lan0' (RFC 6874)."""
    if ":" not in address:
        return address
    return "[%s]" % address.replace("%", "%25")


def libvirt_uri(driver_name: str, transport: Transport, host: str, path: str, user: str | None = None) -> str:
    """qemu+ssh://root@10.0.0.5:22/system, qemu+tls://[fd00::5]:16514/system: the port is always
    explicit (the collection's rule for every transport)."""
    userinfo = user + "@" if user else ""
    return "%s+%s://%s%s:%d%s" % (driver_name, transport.name, userinfo, uri_host(host), transport.port, path)


def usable_address(address: str) -> bool:
    """An address a LAN peer may send the admin to: not loopback (the controller itself), not
    unspecified, 0.0.0.0/8, multicast, reserved or broadcast, not IPv4-mapped IPv6; a link-local
    one only with its zone (without, no connection to it can be made)."""
    plain, percent, _zone = address.partition("%")
    try:
        ip = ipaddress.ip_address(plain)
    except ValueError:
        return False
    if ip.is_link_local and isinstance(ip, ipaddress.IPv6Address) and not percent:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return False
    if isinstance(ip, ipaddress.IPv4Address) and ip.packed[0] == 0:
        return False
    return not (ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_reserved)


def _is_link_local(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_link_local
    except ValueError:
        return True


def choose_address(
    record: ServiceRecord, ip_version: str, is_controller: Callable[[str], bool] = lambda _address: False
) -> str | None:
    """The address to connect to: IPv4 ('ipv4'), IPv6 ('ipv6'), or IPv4 before IPv6 ('any').
    Routable addresses before link-local ones (which need their zone, and only work on one
    link); within each kind the lowest, so that repeated browses agree. Never one for which
    ``is_controller`` holds (the controller's own, its subnets' network and broadcast addresses)."""
    if ip_version not in IP_VERSIONS:
        raise ValueError("ip_version must be one of %s" % ", ".join(IP_VERSIONS))
    candidates = []
    if ip_version in ("ipv4", "any"):
        candidates.append(record.ipv4)
    if ip_version in ("ipv6", "any"):
        candidates.append(record.ipv6)
    for addresses in candidates:
        usable = [a for a in addresses if usable_address(a) and not is_controller(a)]
        if usable:
            return sorted(usable, key=lambda a: (_is_link_local(a), a))[0]
    return None


# --- duplicates and filters ------------------------------------------------------------------


def _merge_into(kept: ServiceRecord, other: ServiceRecord) -> None:
    kept.ipv4 = sorted(set(kept.ipv4) | set(other.ipv4))
    kept.ipv6 = sorted(set(kept.ipv6) | set(other.ipv6))


def merge_duplicates(records: Iterable[ServiceRecord]) -> list[ServiceRecord]:
    """One record per advertised hypervisor. The same instance seen on two interfaces, or over
    IPv4 and IPv6, comes as several records of one name (DNS-SD names are case-insensitive):
    those become one, the first seen, with the addresses of all. Two names stay two hosts, even
    on one server (a host may advertise qemu:///system and qemu:///session; avahi's 'hv1 #2'
    after a name conflict is another machine). Sorted by name."""
    by_name: dict[str, ServiceRecord] = {}
    for record in records:
        key = record.name.lower()
        if key in by_name:
            _merge_into(by_name[key], record)
        else:
            by_name[key] = ServiceRecord(
                record.name, record.server, record.port, sorted(set(record.ipv4)), sorted(set(record.ipv6)), dict(record.txt)
            )
    return sorted(by_name.values(), key=lambda r: (r.name.lower(), r.name))


def _server(record: ServiceRecord) -> str:
    return record.server.rstrip(".").lower()


def conflicting_names(records: Iterable[ServiceRecord]) -> dict[str, list[str]]:
    """Names (lower-cased) that several servers announce, with those servers: the same instance
    seen twice has one server; a second server is another machine taking the name (a LAN peer
    answering as 'HV1' next to hv1), and merging would give the name its addresses."""
    servers: dict[str, set[str]] = {}
    for record in records:
        servers.setdefault(record.name.lower(), set()).add(_server(record))
    return {name: sorted(found) for name, found in servers.items() if len(found) > 1}


def matches(record: ServiceRecord, pattern: str) -> bool:
    """'key=value' matches a TXT record (value a glob: site=lab*); anything else is a glob on
    the instance name (hv-*). Case-insensitive, as DNS-SD names and keys are."""
    if "=" in pattern:
        key, value = pattern.split("=", 1)
        key = key.strip().lower()
        return key in record.txt and fnmatch.fnmatchcase(record.txt[key].lower(), value.lower())
    return fnmatch.fnmatchcase(record.name.lower(), pattern.lower())


def selected(record: ServiceRecord, include: Iterable[str], exclude: Iterable[str]) -> bool:
    """Kept when it matches one include pattern (or there are none) and no exclude pattern."""
    include = list(include)
    if include and not any(matches(record, p) for p in include):
        return False
    return not any(matches(record, p) for p in exclude)


# --- host variables ------------------------------------------------------------------------------


def choose_transport(available: list[Transport], preferred: Iterable[str]) -> Transport:
    """The first of the preferred transports that the host offers; else its first."""
    by_name = {t.name: t for t in available}
    for name in preferred:
        if name in by_name:
            return by_name[name]
    return available[0]


def host_vars(
    record: ServiceRecord, address: str, prefix: str = "mdns_", preferred_transports: Iterable[str] = (), user: str | None = None
) -> dict[str, Any]:
    """The variables of the inventory host of a record: ansible_host, ansible_port (when SSH is
    advertised), libvirt_uri (the preferred transport) and libvirt_uris (all), and every TXT
    record as <prefix><key>, with <prefix>name, <prefix>server and <prefix>addresses.
    Raises RecordError for TXT records that make no URI."""
    offered = transports(record.txt)
    path = uri_path(record.txt)
    driver_name = driver(record.txt)
    uris = {t.name: libvirt_uri(driver_name, t, address, path, user) for t in offered}
    chosen = choose_transport(offered, preferred_transports)
    # TXT records first: the plugin's own variables below always win over a record of the same name
    result: dict[str, Any] = {}
    for key, value in sorted(record.txt.items()):
        result[prefix + var_name(key)] = value
    result["ansible_host"] = address
    result["libvirt_uri"] = uris[chosen.name]
    result["libvirt_uris"] = uris
    ssh = [t for t in offered if t.name == "ssh"]
    if ssh:
        result["ansible_port"] = ssh[0].port
    result[prefix + "name"] = record.name
    result[prefix + "server"] = record.server.rstrip(".")
    result[prefix + "addresses"] = list(record.ipv4) + list(record.ipv6)
    return result


def var_name(key: str) -> str:
    """A TXT key as (the tail of) a variable name: anything but letters, digits and '_' -> '_'."""
    return "".join(c if (c.isalnum() and c.isascii()) or c == "_" else "_" for c in key)
