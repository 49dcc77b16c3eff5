# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: guest_args
short_description: Turn a role's guest entry into remotevirt.install.virt_guest_install options
version_added: 0.1.0
description:
  - Merges O(defaults) under a guest entry of the C(iso_install), C(pxe_install) or C(guests) roles
    and turns its media shorthand into the module's O(ignore:install) option.
  - C(iso) (an ISO volume C({pool, volume}) or C({path})) becomes a V(cdrom) install; C(location)
    (with C(kickstart), C(kickstart_content), C(extra_args)) a V(location) install; O(method=pxe) or
    C(pxe=true) a V(pxe) install. An explicit C(install) is kept as it is.
  - An entry with C(state=absent) removes its guest and needs no media, so O(method) gives it no
    O(ignore:install) of its own.
  - Fails on keys the module does not know, naming the guest, each key with its path and the closest
    option, and whether the key came from O(defaults); on an entry without a name or whose name is no text
    (YAML reads an unquoted V(12345) as a number), and on a shorthand next to C(install). The message names
    every problem of the entry, keys and never values (an entry may hold secrets).
  - The roles' preflight reads the entries through P(remotevirt.install.guest_preflight_args#filter)
    instead, which lists these problems with the preflight's own and fails no task.
author:
  - remotevirt.install maintainers (@remotevirt)
options:
  _input:
    description: One guest entry.
    type: dict
    required: true
  defaults:
    description: Options every guest gets unless its entry sets them.
    type: dict
    default: {}
  method:
    description: Install method for entries that name no media of their own.
    type: str
    choices: [pxe, cdrom, location, import]
  redact:
    description:
      - Replace secrets (inline kickstart text, console and URL passwords) with placeholders of the same
        length, for modules that only check the options (remotevirt.install.virt_preflight).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Options for one guest
  ansible.builtin.debug:
    msg: "{{ {'name': 'web01', 'iso': {'pool': 'isos', 'volume': 'debian.iso'}} | remotevirt.install.guest_args }}"
"""

RETURN = r"""
_value:
  description: The options for remotevirt.install.virt_guest_install.
  type: dict
"""

from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import BOOLEANS
from jinja2 import Undefined
from jinja2.exceptions import UndefinedError

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import closest_option
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import as_dictionary
from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec

# The module's own declaration: an option added there is accepted here (and by the roles) at once.
MODULE_OPTIONS = frozenset(guest_argument_spec())
# What the preflight sees of a key the module does not know (its value may be a misspelt secret).
UNKNOWN_VALUE = "(value of an unknown key)"
MEDIA_KEYS = ("iso", "location", "kickstart", "kickstart_content", "extra_args", "pxe", "boot_dir")

# The variables of each role's list that the playbooks read (guest_list_problems), by kind.
LIST_FRONT_ENDS = ("iso_install", "pxe_install", "cloud_instance")
LIST_VARIABLES = {
    "guests": "list",
    "defaults": "dict",
    "uri": "str",
    "log_facility": "str",
    "preflight": "bool",
    "update_existing": "bool",
    "check_memory": "bool",
    "probe_kvm": "bool",
    "progress_console": "bool",
}
CLOUD_LIST_VARIABLES = {"cloud_instance_images": "dict", "cloud_instance_pool": "str"}
# How messages name a value's kind (bool before int: True is an int to Python).
VALUE_KINDS = ((bool, "a boolean"), (str, "text"), (Mapping, "a dictionary"), (list, "a list"), ((int, float), "a number"))

# One entry checked: its module options (None when they cannot be built) and the entry's problems.
Checked = Tuple[Optional[Dict[str, Any]], List[str]]


def guest_args(
    entry: Mapping[str, Any], defaults: Optional[Mapping[str, Any]] = None, method: Optional[str] = None, redact: bool = False
) -> Dict[str, Any]:
    args, problems = checked_guest_args(entry, defaults, method, redact)
    if problems or args is None:
        raise AnsibleFilterError(refusal(entry, problems))
    return args


def guest_preflight_args(
    entries: Any, defaults: Optional[Mapping[str, Any]] = None, method: Optional[str] = None, list_name: str = "guests"
) -> Dict[str, Any]:
    """What remotevirt.install.virt_preflight checks of one list of entries: the options of each entry
    that can be built (secrets replaced by placeholders), where it comes from, and every problem of
    every entry, which the preflight lists with its own instead of the filter failing at the first."""
    checked = preflight_view()
    for place, entry in placed(entries, list_name):
        args, problems = checked_guest_args(entry, defaults, method, True, place)
        add_checked(checked, place, entry, args, problems)
        add_console_password(checked, entry, defaults, args)
        add_url_password(checked, entry, defaults, args)
    return checked


def preflight_view() -> Dict[str, Any]:
    return {"args": [], "places": [], "problems": [], "console_passwords": {}, "url_passwords": {}}


def add_console_password(checked: Dict[str, Any], entry: Any, defaults: Optional[Mapping[str, Any]], args: Any) -> None:
    """The console password of an entry whose options hold a placeholder for it, by guest name: the
    preflight gets it apart, in an option it never shows (virt_preflight's console_passwords)."""
    graphics = args.get("graphics") if isinstance(args, Mapping) else None
    if not isinstance(entry, Mapping) or not isinstance(graphics, Mapping) or graphics.get("password") is None:
        return
    given = as_dictionary(merged_defaults(entry, defaults).get("graphics"))
    password = given.get("password") if isinstance(given, Mapping) else None
    if password is not None and isinstance(args.get("name"), str):
        checked["console_passwords"][args["name"]] = password


def add_url_password(checked: Dict[str, Any], entry: Any, defaults: Optional[Mapping[str, Any]], args: Any) -> None:
    """The password of an entry's install tree or media URLs (``url_password``) whose options hold a
    placeholder for it, by guest name: the preflight probes the tree with it, given apart in an option it
    never shows (virt_preflight's url_passwords); with the placeholder, the server refuses the probe."""
    if not isinstance(entry, Mapping) or not isinstance(args, Mapping) or args.get("url_password") is None:
        return
    password = merged_defaults(entry, defaults).get("url_password")
    if password is not None and isinstance(args.get("name"), str):
        checked["url_passwords"][args["name"]] = password


def placed(entries: Any, list_name: str) -> Iterator[Tuple[str, Any]]:
    """Each entry with its place in its list (``iso_install_guests[2]``)."""
    if entries is None:
        return
    if not isinstance(entries, list):  # the roles' argument specs declare lists
        raise AnsibleFilterError("%s must be a list of guests, got %s" % (list_name, kind_of(entries)))
    for index, entry in enumerate(entries):
        yield "%s[%d]" % (list_name, index), entry


def add_checked(checked: Dict[str, Any], place: str, entry: Any, args: Optional[Dict[str, Any]], problems: List[str]) -> None:
    """One entry into the preflight's view: its options (if any) with its place, its problems as the
    preflight's problems of check options, named by the guest's name or, without one, its place."""
    if args is not None:
        checked["args"].append(args)
        checked["places"].append(place)
    label = entry_label(place, entry)
    checked["problems"] += [{"guest": label, "check": "options", "message": message} for message in problems]


def entry_label(place: str, entry: Any) -> str:
    """How the problems name an entry: as the preflight names a guest (its name, else its place)."""
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return name if isinstance(name, str) and name else place


def refusal(entry: Any, problems: Iterable[str]) -> str:
    text = "; ".join(problems)
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return "guest %s: %s" % (name, text) if name else text


def checked_guest_args(
    entry: Any, defaults: Optional[Mapping[str, Any]] = None, method: Optional[str] = None, redact: bool = False, place: str = ""
) -> Checked:
    """The module options of one entry, and every problem of the entry (``place`` names an entry
    without a name in them). The options are None when they cannot be built: an entry that is not a
    dictionary or has no name, media without an install method."""
    problem = entry_problem(entry)
    if not isinstance(entry, Mapping):
        return None, [problem]
    return built_guest_args(merged_defaults(entry, defaults), set(entry), method, redact, place, [problem] if problem else [])


def built_guest_args(
    merged: Dict[str, Any], given: Iterable[Any], method: Optional[str], redact: bool, place: str, problems: List[str]
) -> Checked:
    """The options of an entry merged with its defaults (``given``: the keys of the entry itself).
    Unknown keys and a shorthand next to install are problems left out of the options, so that the
    preflight still checks the rest of the guest."""
    given = set(given)
    root = "guests[%s]" % merged["name"] if merged.get("name") else place
    problems = problems + [_unknown_text(key, root, key in given) for key in sorted(merged, key=str) if not _known(key)]
    if not merged.get("name"):
        return None, problems
    args = {key: value for key, value in merged.items() if _known(key)}
    media = {key: args.pop(key) for key in MEDIA_KEYS if key in args}
    if "install" in args:
        if media:
            problems.append("give either install or the shorthand %s, not both" % ", ".join(sorted(media)))
    else:
        # Removal needs no media: the role's method alone would make it demand an ISO or a network.
        install = _install_from_media(media, None if args.get("state") == "absent" else method)
        if install and "method" not in install:
            return None, problems + ["%s need location" % ", ".join(sorted(install))]
        if install:
            args["install"] = install
    return (_redacted(args) if redact else args), problems


def entry_problem(entry: Any) -> str:
    """Why ``entry`` is no guest at all (not a dictionary, no name), or "". Named by keys and types
    only: an entry's values may be secrets (kickstart_content, passwords)."""
    if not isinstance(entry, Mapping):
        return "each guest must be a dictionary with a name, got %s" % kind_of(entry)
    if not entry.get("name"):
        return "each guest needs a name, got an entry with %s" % _keys_text(entry)
    if not isinstance(entry["name"], str):
        # The module would turn 12345 into the text "12345", which the roles' preview and summary do not
        # name the guest by: refused, as YAML reads an unquoted name of digits as a number.
        scalar = not isinstance(entry["name"], (Mapping, list))
        return "each guest's name must be text, got %s%s" % (kind_of(entry["name"]), "; put it in quotes" if scalar else "")
    return ""


def merged_entry(entry: Any, defaults: Any) -> Dict[str, Any]:
    """A guest entry with ``defaults`` under it; refuses an entry without a name and defaults that are no
    dictionary."""
    problem = entry_problem(entry)
    if problem:
        raise AnsibleFilterError(problem)
    return merged_defaults(entry, defaults)


def merged_defaults(entry: Mapping[str, Any], defaults: Any) -> Dict[str, Any]:
    # The roles' argument specs declare the defaults as dictionaries: this is the caller's mistake.
    if defaults is not None and not isinstance(defaults, Mapping):
        raise AnsibleFilterError("defaults must be a dictionary of guest options, got %s" % kind_of(defaults))
    merged: Dict[str, Any] = dict(defaults or {})
    merged.update(entry)
    return merged


def kind_of(value: Any) -> str:
    """What a value is, as a message names it (never the value: it may be a secret)."""
    if value is None:
        return "null"
    for kind, name in VALUE_KINDS:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def guest_list_problems(given: Mapping[str, Any], names: Iterable[str] = ()) -> List[str]:
    """What the roles iso_install, pxe_install and cloud_instance would refuse in the variables of their
    lists before anything starts, for the playbooks that read those variables without the roles: one line
    per variable of ``names`` (the variables set) that cannot be read (not in ``given``: its template names
    an undefined variable, which default([]) would turn into no guests at all), and one per variable of
    ``given`` of another kind than the roles declare (null is left out, as the roles leave it). Values are
    never shown: a variable given by mistake may hold a secret."""
    kinds = list_variable_kinds()
    problems = [
        "%s cannot be read: its value names a variable that is not defined; define that variable or fix %s" % (name, name)
        for name in sorted(set(names) - set(given))
        if name in kinds
    ]
    for name in sorted(given):
        if name not in kinds:
            continue
        if holds_undefined(given[name]):
            # A guest, a name or a value of the defaults whose template names an undefined variable: the
            # roles would fail on it only when they read it, after the hypervisor role made its pools.
            problems.append(
                "%s cannot be read: a value in it names a variable that is not defined; define that variable or fix %s"
                % (name, name)
            )
            continue
        problem = kind_problem(name, given[name], kinds.get(name))
        if problem:
            problems.append(problem)
    return problems


def holds_undefined(value: Any) -> bool:
    """Whether ``value`` is, or holds at any depth, a value whose template names an undefined variable.
    ansible-core templates the items of a variable's lists and dictionaries when they are read, and reading
    one that names an undefined variable raises (jinja2's UndefinedError, which ansible-core's own errors
    of it subclass); an undefined value handed over as it is arrives as jinja2's Undefined (ansible-core's
    markers subclass it). Nothing of the value is shown."""
    pending = [value]
    seen = set()
    while pending:
        item = pending.pop()
        if isinstance(item, Undefined):
            return True
        if not isinstance(item, (Mapping, list, tuple)) or id(item) in seen:
            continue
        seen.add(id(item))  # YAML anchors may make a structure hold itself
        try:
            if isinstance(item, Mapping):
                for key, element in item.items():
                    pending += [key, element]
            else:
                pending += list(item)
        except UndefinedError:
            return True
    return False


def list_variable_kinds() -> Dict[str, str]:
    """The variables of the roles' lists that the playbooks read, by kind, as the roles' argument specs
    declare them (the install timings have a check of their own), and the older names the playbooks read."""
    kinds = {"rv_guest_defaults": "dict", "rv_update_existing": "bool"}
    for front_end in LIST_FRONT_ENDS:
        kinds.update({"%s_%s" % (front_end, suffix): kind for suffix, kind in LIST_VARIABLES.items()})
    kinds.update(CLOUD_LIST_VARIABLES)
    return kinds


def kind_problem(name: str, value: Any, kind: Optional[str]) -> str:
    """Why ``value`` is not of ``kind`` (a list of guests, a dictionary, text, a boolean), or ""."""
    if value is None or kind is None:
        return ""
    if kind == "list" and not isinstance(value, list):
        return "%s must be a list of guests, got %s" % (name, kind_of(value))
    if kind == "dict" and not isinstance(value, Mapping):
        return "%s must be a dictionary, got %s" % (name, kind_of(value))
    if kind == "str" and isinstance(value, (Mapping, list)):
        return "%s must be text, got %s" % (name, kind_of(value))
    if kind == "bool" and not _is_boolean(value):
        # Ansible would read text such as maybe as false, with a deprecation warning only.
        return "%s must be true or false (yes, no, on, off, 1, 0), got %s" % (name, kind_of(value))
    return ""


def _is_boolean(value: Any) -> bool:
    """Whether Ansible reads ``value`` as a boolean without guessing (yes, no, on, off, 1, 0, ...)."""
    if isinstance(value, str):
        value = value.lower()
    return isinstance(value, (bool, int, float, str)) and value in BOOLEANS


def _known(key: Any) -> bool:
    return key in MODULE_OPTIONS or key in MEDIA_KEYS


def _keys_text(entry: Mapping[str, Any]) -> str:
    return "keys %s" % ", ".join(sorted(str(key) for key in entry)) if entry else "no keys"


def _unknown_text(key: Any, root: str, given: bool) -> str:
    """An unknown key named with its path as the preflight names unknown keys deeper down, the closest
    option, and whether it came from the defaults (the entry itself does not show it, so the
    operator would look for it in the wrong place)."""
    close = closest_option(str(key), sorted(MODULE_OPTIONS | set(MEDIA_KEYS)))
    return "%s: unknown key%s%s" % (
        "%s.%s" % (root, key) if root else key,
        "" if given else " in the defaults",
        "; did you mean %s?" % close if close else "",
    )


def _redacted(args: Dict[str, Any]) -> Dict[str, Any]:
    """Secrets replaced by same-length placeholders: checks see the same sizes, logs no secrets."""
    args = _unknown_values_hidden(args, guest_argument_spec())
    install = args.get("install")
    if isinstance(install, Mapping) and install.get("kickstart_content"):
        args["install"] = dict(install, kickstart_content=_content_placeholder(install["kickstart_content"]))
    if args.get("url_password"):
        args["url_password"] = _placeholder(args["url_password"], "*")
    graphics = as_dictionary(args.get("graphics"))  # k=v pairs or JSON, as the module reads them
    if isinstance(graphics, Mapping) and graphics.get("password"):
        args["graphics"] = dict(graphics, password=_placeholder(graphics["password"], "*"))
    return args


def _content_placeholder(content: Any) -> Any:
    """What stands for a kickstart's content in the preflight's options: '#' for each of its bytes as
    UTF-8, but the characters the module refuses in it (NUL, bytes that are not UTF-8), which stay:
    the preflight then refuses what the install would, by the same size limit, and sees nothing else."""
    if not isinstance(content, str):
        return _placeholder(content, "#")
    return "".join(
        character if character == "\0" or "\ud800" <= character <= "\udfff" else "#" * len(character.encode("utf-8"))
        for character in content
    )


def _placeholder(secret: Any, mark: str) -> Any:
    """What stands for ``secret`` in the preflight's options: text of its length, or, for a dictionary or a
    list (a kickstart pasted without '|'), one of those, which the preflight refuses as it would the secret."""
    if isinstance(secret, Mapping):
        return {mark: mark}
    if isinstance(secret, (list, tuple)):
        return [mark]
    return mark * _length(secret)


def _unknown_values_hidden(value: Any, options: Mapping[str, Any]) -> Any:
    """``value`` with the value of every key its options do not know replaced, at any depth: a
    misspelt secret (``graphics.passwrod``) is no option the module hides, and the preflight needs
    only the key to name it."""
    if not isinstance(value, Mapping):
        return value
    hidden: Dict[str, Any] = {}
    for key, item in value.items():
        spec = options.get(key) if isinstance(key, str) else None
        if not isinstance(spec, Mapping):
            hidden[key] = UNKNOWN_VALUE
        elif spec.get("options") and spec.get("type") == "list" and isinstance(item, list):
            hidden[key] = [_unknown_values_hidden(element, spec["options"]) for element in item]
        elif spec.get("options"):
            hidden[key] = _unknown_values_hidden(item, spec["options"])
        else:
            hidden[key] = item
    return hidden


def _length(secret: Any) -> int:
    """Length of a secret as the module reads it (text; a number is converted to text)."""
    return len(secret) if isinstance(secret, str) else len(str(secret))


def _install_from_media(media: Dict[str, Any], method: Optional[str]) -> Dict[str, Any]:
    """The install the shorthand names; without a method when the media name none (a kickstart
    without location) and the role gives none."""
    install: Dict[str, Any] = {}
    if media.pop("pxe", False):
        install["method"] = "pxe"
    if "iso" in media:
        install.update(method="cdrom", cdrom=media.pop("iso"))
    if "location" in media:
        install.update(method="location", location=media.pop("location"))
    install.update(media)  # kickstart, kickstart_content, extra_args, boot_dir
    if "method" not in install and method:
        install["method"] = method
    return install


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {
            "guest_args": guest_args,
            "guest_preflight_args": guest_preflight_args,
            "guest_list_problems": guest_list_problems,
        }
