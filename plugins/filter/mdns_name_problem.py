# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mdns_name_problem
short_description: Why a name cannot be advertised as a hypervisor of its own
version_added: 0.1.0
description:
  - Applies the rules of the P(remotevirt.install.mdns#inventory) inventory plugin to a DNS-SD instance
    name, so the P(remotevirt.install.advertise#role) role refuses at plan time what the plugin would skip.
  - >-
    A name is refused when it is empty or longer than 63 bytes (UTF-8), has control or format characters
    or white space at either end, has C(..), a leading C(.) or one of C(, : ! & * ? [ ] ~ /) or a backslash, is an IP
    address, or is a name of the controller itself (C(localhost) and its spellings, also in other letter
    case or full-width letters).
  - Anything but a string (null, a number, a list) is refused as well.
author:
  - remotevirt.install maintainers (@remotevirt)
options:
  _input:
    description: The instance name.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse a name the mdns inventory plugin would skip
  ansible.builtin.assert:
    that: problem | length == 0
    fail_msg: "{{ name | to_json }} is no host name of its own: {{ problem }}"
  vars:
    problem: "{{ name | remotevirt.install.mdns_name_problem }}"
"""

RETURN = r"""
_value:
  description: Why the name is refused, or an empty string for a name the plugin accepts.
  type: str
"""

from typing import Any, Dict, Mapping

from ansible_collections.remotevirt.install.plugins.plugin_utils._mdns.records import RecordError, check_host_name


def mdns_name_problem(name: Any) -> str:
    # Only text is a name: str() would make None, a number or bytes a name the rules accept ("None").
    if not isinstance(name, str):
        return "instance name is not a string but %s (quote it in YAML)" % _kind_of(name)
    try:
        check_host_name(str(name))
    except RecordError as error:
        return str(error)
    return ""


def _kind_of(value: Any) -> str:
    """What a YAML value is, in YAML's words (Ansible's tagged types have private names)."""
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return "a number or boolean"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    return "a list"


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"mdns_name_problem": mdns_name_problem}
