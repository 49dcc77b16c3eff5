# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cloud-init for imported cloud images: the ``cloud_init`` option, validated and rendered, and
the NoCloud seed it becomes.

``user_data`` and ``network_config`` are secrets (passwords, keys): records keep them out of
their repr, and what leaves this module is the seed's size and digests, never its content.
YAML is written here, not by PyYAML: hosts need not have it, and a rendering that never changes
with a library's version keeps the fingerprint of an unchanged ``cloud_init`` stable.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field, Record

# What cloud-init accepts as user-data text (its "user data formats"): cloud-config, a script,
# an include list, a boothook, a part handler, a jinja template, or a MIME multipart archive.
USER_DATA_STARTS = (
    "#cloud-config",  # also #cloud-config-archive and #cloud-config-jsonp, YAML and JSON lists
    "#!",
    "#include",
    "#cloud-boothook",
    "#part-handler",
    "## template: jinja",
    "Content-Type: multipart/",
)
_MIME_START = r"(?i)(MIME-Version: *1\.0\s*\n|Content-Type: *multipart/)"
# cloud-init picks the longest header a text starts with: these two are lists, not #cloud-config.
_LIST_STARTS = ("#cloud-config-archive", "#cloud-config-jsonp")
NETWORK_VERSIONS = (1, 2)
# The seed's files together, as for a kickstart: more is a file named by mistake (an image, an
# archive), and #cloud-config text is parsed at plan time, which takes seconds per MiB.
SEED_LIMIT = 16 << 20
# cloud-init keeps each instance's state in /var/lib/cloud/instances/<instance-id>/ on the guest.
_INSTANCE_ID = r"[^/\x00-\x20\x7f-\x9f\u2028\u2029]+"

# Words YAML 1.1 (PyYAML, which cloud-init uses) reads as booleans or null, and so never written plain.
_YAML_WORDS = frozenset(("y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"))
_PLAIN = r"[A-Za-z_/][A-Za-z0-9_./-]*"
_HOSTNAME = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


class CloudInit(Record):
    """The ``cloud_init`` option, rendered: the texts of user-data, meta-data (without the
    default instance-id) and network-config (None: cloud-init's own fallback, DHCP on the first card)."""

    user_data: str = Field(default="", in_repr=False)
    meta_data: Dict[str, Any] = Field(factory=dict, compare=False)
    meta_data_text: str = ""
    network_config: Optional[str] = Field(default=None, in_repr=False)

    @property
    def fingerprint(self) -> str:
        """sha256 of what the guest is given (before the default instance-id, which derives from it)."""
        digest = hashlib.sha256()
        for name, text in (
            ("user-data", self.user_data),
            ("meta-data", self.meta_data_text),
            ("network-config", self.network_config),
        ):
            if text is not None:
                digest.update(b"%s\x00%d\x00" % (name.encode("ascii"), len(text.encode("utf-8"))))
                digest.update(text.encode("utf-8"))
        return digest.hexdigest()

    def instance_id(self, guest: str) -> str:
        """The meta-data's instance-id: the given one, else the guest's name and the fingerprint.

        The same ``cloud_init`` gives the same id in check mode, in the run and in every later run,
        so cloud-init on the guest never takes a re-run for a new instance.
        """
        given = self.meta_data.get("instance-id")
        return str(given) if given is not None else "%s-%s" % (guest, self.fingerprint[:16])

    def seed_files(self, guest: str) -> Dict[str, bytes]:
        """The NoCloud seed's files by name."""
        meta: Dict[str, Any] = {"instance-id": self.instance_id(guest)}
        if "local-hostname" not in self.meta_data and re.fullmatch(_HOSTNAME, guest):
            meta["local-hostname"] = guest
        meta.update((key, value) for key, value in self.meta_data.items() if key != "instance-id")
        files = {"user-data": self.user_data.encode("utf-8"), "meta-data": render_yaml(meta).encode("utf-8")}
        if self.network_config is not None:
            files["network-config"] = self.network_config.encode("utf-8")
        return files


def cloud_init_param(entry: Optional[Mapping[str, Any]]) -> Optional[CloudInit]:
    """The ``cloud_init`` option, or None when not set; raises PlanError with what is wrong."""
    if entry is None:
        return None
    user_data = entry.get("user_data")
    meta_data = entry.get("meta_data")
    network_config = entry.get("network_config")
    if user_data is None and meta_data is None and network_config is None:
        raise PlanError("cloud_init: give user_data, meta_data or network_config")
    if meta_data is not None and not isinstance(meta_data, Mapping):
        raise PlanError("cloud_init.meta_data must be a dictionary")
    meta = dict(meta_data or {})
    _check_meta_data(meta)
    _check_size(user_data, network_config)
    cloud_init = CloudInit(
        user_data=_user_data(user_data),
        meta_data=meta,
        meta_data_text=render_yaml(meta),
        network_config=_network_config(network_config),
    )
    _check_size(cloud_init.user_data, cloud_init.network_config, cloud_init.meta_data_text)
    return cloud_init


def _check_size(*texts: Any) -> None:
    """Refuses a seed over SEED_LIMIT; checked on the text as given too, before it is parsed."""
    size = sum(len(text.encode("utf-8", "replace")) for text in texts if isinstance(text, str))
    if size > SEED_LIMIT:
        raise PlanError(
            "cloud_init: %d bytes of user_data, meta_data and network_config, more than the %d a seed "
            "may have; is a file's content given by mistake?" % (size, SEED_LIMIT)
        )


def _check_meta_data(meta: Mapping[str, Any]) -> None:
    """instance-id names a directory on the guest and local-hostname its host name: text of one
    word, without '/' ("../x" would leave cloud-init's directory) or control characters."""
    for key in ("instance-id", "local-hostname"):
        value = meta.get(key)
        if value is None or (key == "instance-id" and isinstance(value, int) and not isinstance(value, bool)):
            continue
        if not isinstance(value, str) or not re.fullmatch(_INSTANCE_ID, value) or value in (".", ".."):
            raise PlanError(
                "cloud_init.meta_data.%s must be text without '/', blanks or control characters, not %s"
                % (key, json.dumps(value) if isinstance(value, str) else type(value).__name__)
            )


def _user_data(value: Any) -> str:
    if value is None:
        return "#cloud-config\n{}\n"
    if isinstance(value, Mapping):
        return "#cloud-config\n" + render_yaml(value, "cloud_init.user_data")
    if not isinstance(value, str):
        raise PlanError("cloud_init.user_data must be a dictionary (rendered as #cloud-config) or text")
    if not (value.startswith(USER_DATA_STARTS) or re.match(_MIME_START, value)):
        # Never quoted back: user-data holds passwords and keys.
        raise PlanError(
            "cloud_init.user_data text must start with #cloud-config, #!, #include (or another format "
            "cloud-init knows: #cloud-boothook, #part-handler, ## template: jinja) or be a MIME "
            "multipart archive; give a dictionary to have it written as #cloud-config"
        )
    if value.startswith(_LIST_STARTS):
        _check_cloud_config(value, list)
    elif value.startswith("#cloud-config"):
        _check_cloud_config(value)
    return value


def _check_cloud_config(text: str, kind: type = dict) -> None:
    """Refuses #cloud-config text that is not YAML of a dictionary: cloud-init on the guest would
    skip it with a warning in its own log, and the guest would come up without its configuration.
    Where the host has PyYAML (cloud-init's own parser); without it the text is taken as it is.
    The refusal names the line and column only: the parser's message quotes the text."""
    loaded = _loaded_yaml(
        text,
        "cloud_init.user_data: #cloud-config text that is not valid YAML%s (cloud-init would skip it); "
        "check that line, or give a dictionary to have it written as #cloud-config",
    )
    if loaded is _UNREAD:
        return
    if kind is list:
        if not isinstance(loaded, list):
            header = next(start for start in _LIST_STARTS if text.startswith(start))
            raise PlanError("cloud_init.user_data: %s text must be a YAML list, not %s" % (header, _yaml_kind(loaded)))
        return
    if loaded is not None and not isinstance(loaded, dict):
        raise PlanError(
            "cloud_init.user_data: #cloud-config text must be YAML of a dictionary (keys such as hostname, "
            "users, runcmd), not %s" % _yaml_kind(loaded)
        )


# What _loaded_yaml returns where the host has no PyYAML: the text is taken as it is.
_UNREAD = object()


def _loaded_yaml(text: str, refusal: str) -> Any:
    """``text`` as PyYAML (cloud-init's own parser) reads it, or _UNREAD without PyYAML on the host.
    Text that is not valid YAML is refused with ``refusal``, its ``%s`` filled with where the parser
    stopped: the line and column only, since the parser's own message quotes the text."""
    try:
        # Imported here: only text user-data and network-config are parsed, and PyYAML is optional on the host.
        import yaml
    except ImportError:
        return _UNREAD
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        raise PlanError(refusal % where) from None
    except (ValueError, TypeError, AttributeError, RecursionError, OverflowError):
        # A tag the constructor cannot build (!!int on a word, a bad !!timestamp) or nesting deeper
        # than Python recurses: the constructor's message quotes the value, which may be a secret.
        raise PlanError(refusal % " (a value its tags cannot build, or nesting too deep)") from None


def _yaml_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a dictionary"
    return "a list" if isinstance(value, list) else "a single value"


def _network_config(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, str):
        text = value
        _check_network_text(text)
        version = _text_version(text)
    elif isinstance(value, Mapping):
        # Both layouts cloud-init reads: {version: 2, ethernets: ...} or {network: {version: 2, ...}}.
        nested = value.get("network")
        version = (nested if isinstance(nested, Mapping) else value).get("version")
        text = render_yaml(value, "cloud_init.network_config")
    else:
        raise PlanError("cloud_init.network_config must be a dictionary or text")
    if isinstance(version, bool) or (version not in NETWORK_VERSIONS and str(version) not in ("1", "2")):
        raise PlanError("cloud_init.network_config needs version: 1 or version: 2 (cloud-init's network config formats)")
    return text


def _check_network_text(text: str) -> None:
    """Refuses network-config text that is not YAML of a dictionary (cloud-init would bring the guest
    up without its network configuration). Where the host has PyYAML, as _check_cloud_config; the
    refusal names the line and column only."""
    loaded = _loaded_yaml(text, "cloud_init.network_config: text that is not valid YAML%s; check that line")
    if loaded is not _UNREAD and not isinstance(loaded, dict):
        raise PlanError("cloud_init.network_config text must be YAML of a dictionary, not %s" % _yaml_kind(loaded))


def _text_version(text: str) -> Optional[str]:
    """The ``version:`` of network-config text: top level, or under ``network:``."""
    found = re.search(r"^\s*version\s*:\s*['\"]?([0-9]+)['\"]?\s*$", text, re.MULTILINE)
    return found.group(1) if found else None


# -- YAML --------------------------------------------------------------------------------------
def render_yaml(value: Any, what: str = "cloud_init") -> str:
    """Block-style YAML of dictionaries, lists, text, numbers, booleans and null; keys keep their order.

    Text that could be read as something else is written in double quotes (JSON's escapes are
    YAML's too); text of several lines is a literal block, as people write scripts.
    """
    lines = _yaml_lines(value, 0, what)
    return "\n".join(lines) + "\n"


def _yaml_lines(value: Any, indent: int, what: str) -> List[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        lines: List[str] = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise PlanError("%s: keys must be text, not %r" % (what, key))
            lines.extend(_entry(pad + _scalar_key(key) + ":", item, indent, "%s.%s" % (what, key)))
        return lines
    if isinstance(value, (list, tuple)):
        if not value:
            return [pad + "[]"]
        lines = []
        for index, item in enumerate(value):
            lines.extend(_entry(pad + "-", item, indent, "%s[%d]" % (what, index), in_list=True))
        return lines
    return [pad + _scalar(value, what, indent)]


def _entry(head: str, item: Any, indent: int, what: str, in_list: bool = False) -> List[str]:
    """``head`` (a key or a list dash) followed by ``item``: inline when scalar, nested otherwise."""
    if isinstance(item, (Mapping, list, tuple)) and item:
        nested = _yaml_lines(item, indent + 2, what)
        if in_list:
            # "- key: value" with the rest of the mapping aligned under it, as YAML writers do.
            return [head + " " + nested[0].lstrip()] + nested[1:]
        return [head] + nested
    return [head + " " + _yaml_lines(item, indent + 2, what)[0].lstrip()]


def _scalar_key(key: str) -> str:
    return key if _plain_ok(key) else _quoted(key)


def _quoted(text: str) -> str:
    """A double-quoted scalar: JSON's escapes, and YAML's for what JSON leaves raw but YAML reads as a
    line break or would refuse (NEL, the line and paragraph separators, C1 controls)."""
    return "".join(_escaped(char) for char in json.dumps(text, ensure_ascii=False))


def _escaped(char: str) -> str:
    if char.isprintable() or char == " ":
        return char
    code = ord(char)
    return "\\u%04x" % code if code <= 0xFFFF else "\\U%08x" % code


def _plain_ok(text: str) -> bool:
    return bool(re.fullmatch(_PLAIN, text)) and text.lower() not in _YAML_WORDS


def _scalar(value: Any, what: str, indent: int) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PlanError("%s: %r is not a number cloud-init can read" % (what, value))
        return _float(value)
    if isinstance(value, str):
        if _literal_ok(value):
            return _literal(value, indent)
        return value if _plain_ok(value) else _quoted(value)
    raise PlanError("%s: values must be text, numbers, booleans, lists or dictionaries, not %s" % (what, type(value).__name__))


def _float(value: float) -> str:
    """A float as YAML 1.1 reads one: a dot in the mantissa and a signed exponent (1.0e+16)."""
    text = repr(value)
    mantissa, _e, exponent = text.partition("e")
    if not exponent:
        return text
    if "." not in mantissa:
        mantissa += ".0"
    return "%se%s" % (mantissa, exponent if exponent[0] in "+-" else "+" + exponent)


def _literal_ok(text: str) -> bool:
    """Text of several lines that a literal block keeps exactly: printable, no line with
    trailing blanks, no first line starting with a blank (it would set the indentation)."""
    if "\n" not in text.rstrip("\n") or text.startswith((" ", "\t")) or text.endswith("\n\n"):
        return False
    lines = text.rstrip("\n").split("\n")
    if not lines[0]:
        return False
    return all(line == line.rstrip(" \t") and line.isprintable() and "\t" not in line for line in lines)


def _literal(text: str, indent: int) -> str:
    chomping = "" if text.endswith("\n") else "-"
    pad = " " * indent
    body = "\n".join(pad + line if line else "" for line in text.rstrip("\n").split("\n"))
    return "|%s\n%s" % (chomping, body)
