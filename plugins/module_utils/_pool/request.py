# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A pool request: virt_pool's parameters, validated (refusals at plan time, so check mode predicts
them), and the pool definition they ask for."""

from __future__ import annotations

import os
import re
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import MAX_DEFINED_NAME_BYTES, name_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import HOST_URI, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import userinfo_secrets
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    check_path,
    check_strings,
    check_uri,
    control_problem,
    is_host_data_directory,
    same_path,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import XmlError, parse
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import PoolDefinition, unmanaged_parts

POOL_TYPES = ("dir", "fs", "netfs", "logical", "iscsi")
STATES = ("present", "active", "inactive", "absent")
# Where libvirt's iSCSI pools find their LUNs unless told otherwise (and what virt-manager uses).
ISCSI_TARGET_PATH = "/dev/disk/by-path"

# Pool types whose target is a directory the pool owns: pool-build makes it, an fs or netfs pool mounts
# over it, delete_volumes deletes the files in it.
DIRECTORY_TYPES = ("dir", "fs", "netfs")

# Host names and addresses (IPv6 without brackets, as libvirt's <host name=...> takes them).
_HOST_RE = r"[A-Za-z0-9][A-Za-z0-9.:-]*"
# A netfs source path written as SMB or URL habits have it, '//user:password@nas/export'.
_PATH_USERINFO_RE = r"/*[^/@]*:[^/]*@"
# An attribute value of an xml that starts with 'user:password@' (a host name or a source directory).
_XML_USERINFO_RE = r"""=\s*["']/*([^"'/@:]*:[^"'/]*@)"""
# A numeric character reference of an xml.
_CHARACTER_REFERENCE_RE = r"&#([xX][0-9A-Fa-f]+|[0-9]+);"
# iSCSI names: iqn.2004-04.com.example:target, eui.02004567A425678D, naa.52004567BA64678D.
_ISCSI_NAME_RE = r"(iqn\.[0-9]{4}-[0-9]{2}\.[A-Za-z0-9.:_-]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})"
# LVM's volume group names.
_VG_NAME_RE = r"[A-Za-z0-9_+][A-Za-z0-9_.+-]*"

# The source and target options each pool type takes: (required, allowed).
_TYPE_OPTIONS = {
    "dir": (("target_path",), ("target_path",)),
    "fs": (("source_devices", "target_path"), ("source_devices", "source_format", "target_path")),
    "netfs": (("source_host", "source_path", "target_path"), ("source_host", "source_path", "source_format", "target_path")),
    "logical": ((), ("source_name", "source_devices", "source_format", "target_path")),
    "iscsi": (("source_host", "source_path"), ("source_host", "source_path", "initiator", "target_path")),
}
DEFINITION_OPTIONS = (
    "type",
    "target_path",
    "source_host",
    "source_path",
    "source_devices",
    "source_name",
    "source_format",
    "initiator",
)


class PoolRequest(Record):
    """The module's parameters, validated; ``definition`` is None when only the state is asked
    for (an existing pool left as defined, or ``state: absent``)."""

    name: str
    state: str = "active"
    uri: str = HOST_URI
    definition: Optional[PoolDefinition] = None
    autostart: Optional[bool] = None
    build: bool = True
    recreate: bool = False
    delete_volumes: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "PoolRequest":
        xml = params.get("xml")
        # The XML is parsed, not scanned as one line: its new lines and indentation are its layout.
        check_strings({key: value for key, value in params.items() if key != "xml"})
        if params.get("uri") is not None:
            check_uri(params["uri"])
        problem = name_problem(params.get("name"), "pool", MAX_DEFINED_NAME_BYTES)
        if problem:
            raise PlanError(problem)
        name: str = params["name"]
        state = params.get("state") or "active"
        if state not in STATES:
            raise PlanError("state must be one of %s" % ", ".join(STATES))
        given = [key for key in DEFINITION_OPTIONS if params.get(key) not in (None, [], "")]
        if xml is not None and given:
            raise PlanError("xml and %s are mutually exclusive: the XML is the whole definition" % ", ".join(given))
        if xml is not None:
            definition: Optional[PoolDefinition] = definition_from_xml(xml, name)
        elif given:
            definition = definition_from_options(params, name)
        else:
            definition = None
        request = cls(
            name=name,
            state=state,
            uri=params.get("uri") or HOST_URI,
            definition=definition,
            autostart=params.get("autostart"),
            build=params.get("build", True) is not False,
            recreate=bool(params.get("recreate")),
            delete_volumes=bool(params.get("delete_volumes")),
        )
        request.check_consistency()
        return request

    def check_consistency(self) -> None:
        definition = self.definition
        if definition is not None and definition.type in DIRECTORY_TYPES and definition.target_path:
            problem = system_directory_problem(definition.target_path)
            if problem:
                raise PlanError("pool %s: %s" % (self.name, problem))
        if self.delete_volumes and self.state != "absent":
            raise PlanError("delete_volumes applies to state: absent")
        if self.state == "absent" and self.autostart:
            raise PlanError("autostart: true keeps a pool; state: absent removes it")
        if self.definition is not None and self.definition.type == "iscsi" and self.delete_volumes:
            raise PlanError("an iSCSI pool's volumes are the target's LUNs, which libvirt cannot delete")


def system_directory_problem(path: str) -> Optional[str]:
    """Why a pool cannot own ``path`` (a normalised absolute path), None when it can."""
    if is_host_data_directory(path):
        return (
            "target_path %s is a directory of the host's system: the pool would list its files as volumes (and "
            "delete_volumes delete them) or mount over it; give the pool a directory of its own" % path
        )
    return None


def definition_from_options(params: Mapping[str, Any], name: str) -> PoolDefinition:
    """The definition the options describe, after checking each type's required and allowed options."""
    pool_type = params.get("type") or "dir"
    if pool_type not in POOL_TYPES:
        raise PlanError("type must be one of %s" % ", ".join(POOL_TYPES))
    required, allowed = _TYPE_OPTIONS[pool_type]
    given = [key for key in DEFINITION_OPTIONS if key != "type" and params.get(key) not in (None, [], "")]
    extra = [key for key in given if key not in allowed]
    if extra:
        raise PlanError("a %s pool takes %s, not %s" % (pool_type, ", ".join(allowed), ", ".join(extra)))
    missing = [key for key in required if key not in given]
    if missing:
        raise PlanError("a %s pool needs %s" % (pool_type, " and ".join(missing)))
    devices = params.get("source_devices") or []
    if pool_type == "fs" and len(devices) != 1:
        raise PlanError("a fs pool mounts one device: give source_devices exactly one path, not %d" % len(devices))
    target = params.get("target_path")
    host = params.get("source_host")
    source_path = params.get("source_path")
    definition = PoolDefinition(
        name=name,
        type=pool_type,
        target_path=_path(target, "target_path") if target else (ISCSI_TARGET_PATH if pool_type == "iscsi" else None),
        source_hosts=(_host(host),) if host else (),
        source_dir=_source_dir(source_path, "source_path") if source_path and pool_type == "netfs" else None,
        source_devices=_devices(devices) if pool_type != "iscsi" else (_iscsi_name(source_path, "source_path"),),
        source_name=_vg_name(params.get("source_name") or (name if pool_type == "logical" else None)),
        source_format=params.get("source_format") or None,
        initiator=_iscsi_name(params["initiator"], "initiator") if params.get("initiator") else None,
    )
    return _normalised(definition)


def definition_from_xml(xml: Any, name: str) -> PoolDefinition:
    """The definition in a user's pool XML: only parts this module compares, each checked like the options."""
    if not isinstance(xml, str) or not xml.strip():
        raise PlanError("xml must be the text of a <pool> definition")
    problem = control_problem(xml.replace("\n", " ").replace("\t", " ").replace("\r", " "), "xml")
    if problem:
        raise PlanError(problem)
    try:
        root = parse(xml)
        unmanaged = unmanaged_parts(root)
        definition = PoolDefinition.from_element(root)
    except XmlError as error:
        raise PlanError("xml: %s" % error)
    if unmanaged:
        raise PlanError(
            "xml: virt_pool does not compare %s, so it cannot keep them as asked; leave them out (the module "
            "manages name, source host/dir/device/name/format/initiator and target path/permissions)" % ", ".join(unmanaged)
        )
    if definition.name and definition.name != name:
        raise PlanError("xml names the pool %r, but name is %r" % (definition.name, name))
    if definition.type not in POOL_TYPES:
        raise PlanError("xml: pool type %r is not one of %s" % (definition.type, ", ".join(POOL_TYPES)))
    checked = definition.with_changes(
        name=name,
        uuid=None,
        target_path=_path(definition.target_path, "xml target/path") if definition.target_path else None,
        source_hosts=tuple(_host(host) for host in definition.source_hosts),
        source_devices=_devices(definition.source_devices) if definition.type != "iscsi" else definition.source_devices,
        source_dir=_source_dir(definition.source_dir, "xml source/dir") if definition.source_dir else None,
        source_name=_vg_name(definition.source_name) if definition.type == "logical" else definition.source_name,
    )
    if definition.type == "iscsi":
        for device in definition.source_devices:
            _iscsi_name(device, "xml source/device")
        if not checked.target_path:
            checked = checked.with_changes(target_path=ISCSI_TARGET_PATH)
    if definition.type == "logical" and not checked.source_name:
        checked = checked.with_changes(source_name=_vg_name(name))
    missing = _missing_in_xml(checked)
    if missing:
        raise PlanError("xml: a %s pool needs %s" % (checked.type, " and ".join(missing)))
    extra = _extra_in_xml(checked)
    if extra:
        raise PlanError(
            "xml: a %s pool takes no %s (libvirt drops it, so every later run would find the pool differ); leave it out"
            % (checked.type, " or ".join(extra))
        )
    unsafe = permissions_problem(checked)
    if unsafe:
        raise PlanError("xml: %s" % unsafe)
    return _normalised(checked)


def permissions_problem(definition: PoolDefinition) -> Optional[str]:
    """Why the permissions a definition gives its target directory must not be built: libvirt
    refuses setuid, setgid and sticky bits there, and a directory another user may write (its
    group or others, or another owner) lets them replace its volumes, which the module refuses in
    a directory that exists already."""
    if definition.mode is not None:
        mode = int(definition.mode, 8)
        if mode > 0o777:
            return (
                "target/permissions/mode %s has bits beyond 0777 (setuid, setgid, sticky), which libvirt refuses"
                % definition.mode
            )
        if mode & 0o022:
            return (
                "target/permissions/mode %s lets the directory's group or others write it, and so replace its volumes; "
                "give a mode without those bits (0755, 0711, 0700)" % definition.mode
            )
    if definition.owner is not None and definition.owner not in (0, os.geteuid()):
        return (
            "target/permissions/owner %d would own the directory and could make its volumes lead elsewhere; "
            "leave it to root (0) or the user the module runs as" % definition.owner
        )
    return None


def _missing_in_xml(definition: PoolDefinition) -> List[str]:
    """The parts of a pool type's definition that its options would require, by XML path."""
    have = {
        "target_path": bool(definition.target_path),
        "source_host": bool(definition.source_hosts),
        "source_path": bool(definition.source_dir if definition.type == "netfs" else definition.source_devices),
        "source_devices": len(definition.source_devices) == 1 if definition.type == "fs" else bool(definition.source_devices),
    }
    paths = {
        "target_path": "target/path",
        "source_host": "source/host",
        "source_path": "source/dir" if definition.type == "netfs" else "source/device",
        "source_devices": "one source/device",
    }
    return [paths[key] for key in _TYPE_OPTIONS[definition.type][0] if not have[key]]


def _extra_in_xml(definition: PoolDefinition) -> List[str]:
    """The parts of a definition its pool type does not take, by XML path: what its options refuse
    (a dir pool's source_path), which libvirt would drop from the definition it stores."""
    allowed = _TYPE_OPTIONS[definition.type][1]
    devices_allowed = "source_devices" in allowed or definition.type == "iscsi"  # an iSCSI target's name is its device
    given = {
        "source/host": bool(definition.source_hosts) and "source_host" not in allowed,
        "source/dir": bool(definition.source_dir) and definition.type != "netfs",
        "source/device": bool(definition.source_devices) and not devices_allowed,
        "source/name": bool(definition.source_name) and "source_name" not in allowed,
        "source/format": bool(definition.source_format) and "source_format" not in allowed,
        "source/initiator": bool(definition.initiator) and "initiator" not in allowed,
    }
    return [path for path, extra in given.items() if extra]


def _normalised(definition: PoolDefinition) -> PoolDefinition:
    """Paths in libvirt's spelling (no trailing or doubled slashes), so a re-run compares equal."""
    return PoolDefinition.from_xml(definition.to_xml())


def _path(value: Any, what: str) -> str:
    """A checked (absolute) path in one spelling: '/srv//pool/./' is '/srv/pool'."""
    return same_path(check_path(value, what)) or "/"


def _source_dir(value: Any, what: str) -> str:
    """A netfs pool's exported directory; never credentials (libvirt's mount takes none from it)."""
    found = re.match(_PATH_USERINFO_RE, value) if isinstance(value, str) else None
    if found:
        raise PlanError(
            "%s must be the directory the server exports (such as /export), not %r: libvirt takes no "
            "credentials there; give the server in source_host" % (what, "//***@" + value[found.end() :])
        )
    return _path(value, what)


def _devices(values: Any) -> Tuple[str, ...]:
    if not isinstance(values, (list, tuple)):
        raise PlanError("source_devices must be a list of device paths")
    seen: List[str] = []
    for value in values:
        path = _path(value, "source_devices")
        if path in seen:
            raise PlanError("source_devices names %s twice" % path)
        seen.append(path)
    return tuple(seen)


def _host(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(_HOST_RE, value) or len(value) > 253:
        raise PlanError(
            "source_host must be a host name or address (letters, digits, '.', '-' and ':'), not %r%s"
            % (_without_userinfo(value), "; libvirt takes no credentials there" if _has_userinfo(value) else "")
        )
    if ":" in value and not _is_ipv6(value):
        # 'nas:2049' (a port) was defined, and the mount failed only when the pool started.
        raise PlanError(
            "source_host %r has a ':' but is no IPv6 address: libvirt takes the host name or address alone, "
            "without a port" % value
        )
    return value


def _is_ipv6(value: str) -> bool:
    # Imported here: only a source host with a ':' needs it.
    import ipaddress

    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def source_host_secrets(params: Mapping[str, Any]) -> Iterator[str]:
    """The credentials of a source written with URL habits (refused, as libvirt takes none there),
    and each password alone: masked in the invocation Ansible logs and returns. A source_host
    'user:password@nas', a source_path '//user:password@nas/export', an initiator
    'chap:password@iqn...', and the same in the host names and directories of an xml."""
    texts = [params.get("source_host"), params.get("initiator")]
    path = params.get("source_path")
    found = re.match(_PATH_USERINFO_RE, path) if isinstance(path, str) else None
    if found:
        texts.append(found.group(0).lstrip("/"))
    xml = params.get("xml")
    if isinstance(xml, str):
        texts.extend(match.group(1) for match in re.finditer(_XML_USERINFO_RE, xml))
        yield from _encoded_xml_secrets(xml)
    for text in texts:
        yield from userinfo_secrets(text)


def _encoded_xml_secrets(xml: str) -> Iterator[str]:
    """The xml itself, whole, where it may hold credentials written otherwise than 'user:password@'
    in plain text: an '@' written as a character reference, or entities of its own (which the parser
    expands); also a lone token before an '@' ('token@nas'). The refusal that follows shows the host
    masked; the host log's invocation line shows the xml as written, so no part of it is left to a
    pattern that comments, entities or quotes can throw off."""
    read = re.sub(_CHARACTER_REFERENCE_RE, _referenced_character, xml)
    if "@" in read or re.search(r"<!(DOCTYPE|ENTITY)", xml, re.IGNORECASE):
        yield xml


def _referenced_character(match: Any) -> str:
    number = match.group(1)
    try:
        code = int(number[1:], 16) if number[:1] in "xX" else int(number)
        return chr(code)
    except (ValueError, OverflowError):
        return match.group(0)


def _has_userinfo(value: Any) -> bool:
    return isinstance(value, str) and "@" in value


def _without_userinfo(value: Any) -> Any:
    """A refused host as shown: 'user:password@nas' (URL habits) is '***@nas', never its password."""
    return "***" + value[value.rindex("@") :] if isinstance(value, str) and "@" in value else value


def _iscsi_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(_ISCSI_NAME_RE, value) or len(value) > 223:
        raise PlanError(
            "%s must be an iSCSI name such as iqn.2004-04.com.example:target, not %r%s"
            % (what, _without_userinfo(value), "; libvirt takes no credentials there" if _has_userinfo(value) else "")
        )
    return value


def _vg_name(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    if not re.fullmatch(_VG_NAME_RE, value) or len(value) > 127:
        raise PlanError(
            "source_name %r is not a volume group name (letters, digits and _ + . -, not starting with '-' or '.')" % value
        )
    return value
