# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: guest_summary
short_description: One line per host from remotevirt.install.guest_outcomes
version_added: 0.1.0
description:
  - Counts the guests of a host by outcome and names them, for example
    V(installed 2 \(web01, web02\), unchanged 1 \(db01\), failed 0), then the running guests that need a
    restart to run their stored definition, for example V(; reboot required 1 \(db01\)).
author:
  - remotevirt.install maintainers (@remotevirt)
options:
  _input:
    description: The list returned by P(remotevirt.install.guest_outcomes#filter).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Summary of the host
  ansible.builtin.debug:
    msg: "{{ outcomes | remotevirt.install.guest_summary }}"
"""

RETURN = r"""
_value:
  description: The summary line.
  type: str
"""

from typing import Any, Dict, List, Mapping

# Always shown, even when zero, so a summary always answers "did anything fail?".
SHOWN = ("installed", "created", "updated", "started", "removed", "changed", "unchanged", "failed")
ALWAYS = ("installed", "unchanged", "failed")


def guest_summary(outcomes: List[Mapping[str, Any]]) -> str:
    parts = []
    for outcome in SHOWN:
        names = [entry["name"] for entry in outcomes if entry.get("outcome") == outcome]
        if names:
            parts.append("%s %d (%s)" % (outcome, len(names), ", ".join(names)))
        elif outcome in ALWAYS:
            parts.append("%s 0" % outcome)
    line = ", ".join(parts)
    restart = [entry["name"] for entry in outcomes if entry.get("reboot_required")]
    if restart:
        line += "; reboot required %d (%s)" % (len(restart), ", ".join(restart))
    return line


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"guest_summary": guest_summary}
