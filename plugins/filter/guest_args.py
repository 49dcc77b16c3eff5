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
  - Fails on keys the module does not know, naming the guest, the closest option and whether the key
    came from O(defaults). Messages name keys, never values (an entry may hold secrets).
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

from typing import Any, Dict, List, Mapping, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import closest_option
from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec

# The module's own declaration: an option added there is accepted here (and by the roles) at once.
MODULE_OPTIONS = frozenset(guest_argument_spec())
MEDIA_KEYS = ("iso", "location", "kickstart", "kickstart_content", "extra_args", "pxe", "boot_dir")


def guest_args(
    entry: Mapping[str, Any], defaults: Optional[Mapping[str, Any]] = None, method: Optional[str] = None, redact: bool = False
) -> Dict[str, Any]:
    merged = merged_entry(entry, defaults)
    # The name as text for messages: "%s" % name would fail on a tuple; the module checks it further.
    name = str(merged["name"])
    unknown = [key for key in merged if not _known(key)]
    if unknown:
        raise AnsibleFilterError("guest %s: %s" % (name, _unknown_text(unknown, entry)))
    media = {key: merged.pop(key) for key in MEDIA_KEYS if key in merged}
    if "install" not in merged:
        # Removal needs no media: the role's method alone would make it demand an ISO or a network.
        install = _install_from_media(name, media, None if merged.get("state") == "absent" else method)
        if install:
            merged["install"] = install
    elif media:
        raise AnsibleFilterError("guest %s: give either install or the shorthand %s, not both" % (name, ", ".join(sorted(media))))
    return _redacted(merged) if redact else merged


def merged_entry(entry: Any, defaults: Any) -> Dict[str, Any]:
    """A guest entry with ``defaults`` under it; refuses an entry without a name and defaults that are no
    dictionary. Messages name keys and types only: an entry's values may be secrets (kickstart_content,
    passwords)."""
    if not isinstance(entry, Mapping):
        raise AnsibleFilterError("each guest must be a dictionary with a name, got %s" % type(entry).__name__)
    if not entry.get("name"):
        raise AnsibleFilterError("each guest needs a name, got an entry with %s" % _keys_text(entry))
    if defaults is not None and not isinstance(defaults, Mapping):
        raise AnsibleFilterError("defaults must be a dictionary of guest options, got %s" % type(defaults).__name__)
    merged: Dict[str, Any] = dict(defaults or {})
    merged.update(entry)
    return merged


def _known(key: Any) -> bool:
    return key in MODULE_OPTIONS or key in MEDIA_KEYS


def _keys_text(entry: Mapping[str, Any]) -> str:
    return "keys %s" % ", ".join(sorted(str(key) for key in entry)) if entry else "no keys"


def _unknown_text(unknown: List[Any], entry: Mapping[str, Any]) -> str:
    """Each unknown key with the closest option, and whether it came from the defaults (the entry
    itself does not show it, so the operator would look for it in the wrong place)."""
    options = sorted(MODULE_OPTIONS | set(MEDIA_KEYS))
    texts = []
    for key in sorted(unknown, key=str):
        close = closest_option(str(key), options)
        text = str(key) + (" (did you mean %s?)" % close if close else "")
        texts.append(text if key in entry else text + " from the defaults")
    return "unknown option(s) %s" % ", ".join(texts)


def _redacted(args: Dict[str, Any]) -> Dict[str, Any]:
    """Secrets replaced by same-length placeholders: checks see the same sizes, logs no secrets."""
    args = dict(args)
    install = args.get("install")
    if isinstance(install, Mapping) and install.get("kickstart_content"):
        args["install"] = dict(install, kickstart_content="#" * _length(install["kickstart_content"]))
    if args.get("url_password"):
        args["url_password"] = "*" * _length(args["url_password"])
    graphics = args.get("graphics")
    if isinstance(graphics, Mapping) and graphics.get("password"):
        args["graphics"] = dict(graphics, password="*" * _length(graphics["password"]))
    return args


def _length(secret: Any) -> int:
    """Length of a secret as the module reads it (text; a number is converted to text)."""
    return len(secret) if isinstance(secret, str) else len(str(secret))


def _install_from_media(name: str, media: Dict[str, Any], method: Optional[str]) -> Dict[str, Any]:
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
    if "method" not in install and install:
        raise AnsibleFilterError("guest %s: %s need location" % (name, ", ".join(sorted(install))))
    return install


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"guest_args": guest_args}
