# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: guest_outcomes
short_description: What happened to each guest of a looped remotevirt.install.virt_guest_install task
version_added: 0.1.0
description:
  - Reads the registered results of a looped M(remotevirt.install.virt_guest_install) task and, for
    async installs, of the C(ansible.builtin.async_status) task that waited for them.
  - Each guest gets an outcome (V(installed) (also a guest whose install, left going by an earlier run,
    this run waited for), V(created) (a new guest defined without an installer),
    V(updated), V(started), V(removed), V(unchanged), V(changed) or V(failed)), its planned commands,
    the addresses its result reports (C(wait_for)), whether it runs an older definition than its stored one
    (C(reboot_required)), a preview block (see P(remotevirt.install.guest_preview#filter)) and a one-line
    report; a failed guest's line is its name and the first line of the module's message.
author:
  - remotevirt.install maintainers (@remotevirt)
options:
  _input:
    description: The C(results) list of the looped install task.
    type: list
    elements: dict
    required: true
  jobs:
    description:
      - The registered result of M(remotevirt.install.guest_jobs) (or of a looped C(async_status) task), if
        the installs ran async.
    type: dict
"""

EXAMPLES = r"""
- name: Outcomes of the installs
  ansible.builtin.set_fact:
    outcomes: "{{ install_result.results | remotevirt.install.guest_outcomes(job_result) }}"
"""

RETURN = r"""
_value:
  description:
    - One entry per guest with C(name), C(outcome), C(commands), C(preview), C(line), C(addresses) and
      C(reboot_required).
  type: list
  elements: dict
"""

from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.remotevirt.install.plugins.filter.guest_preview import first_line, guest_preview, outcome_of


def _name_of(item: Any) -> Optional[str]:
    """The guest a loop result is about: its item is the guest's name (or, older, its options). A name
    given as a number is shown as the module reads it (12345 is the guest "12345")."""
    name = item.get("name") if isinstance(item, Mapping) else item
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        return None
    return str(name) or None


def _final_results(results: List[Mapping[str, Any]], jobs: Optional[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    """Each guest's final result: the async job's when there was one, else the task's own."""
    finished: Dict[str, Mapping[str, Any]] = {}
    for job in (jobs or {}).get("results", []) if isinstance(jobs, Mapping) else []:
        # guest_jobs names each result; a looped async_status result carries the started result as item.
        name = job.get("guest") or _name_of((job.get("item") or {}).get("item"))
        if name:
            finished[name] = job
    return [finished.get(_name_of(result.get("item")) or "", result) for result in results]


def _line(name: str, outcome: str, result: Mapping[str, Any]) -> str:
    if outcome == "failed":
        return "%s: failed: %s" % (name, first_line(result.get("msg")))
    return "%s: %s" % (name, outcome)


def guest_outcomes(results: List[Mapping[str, Any]], jobs: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
    outcomes = []
    for started, result in zip(results, _final_results(results, jobs)):
        name = _name_of(started.get("item")) or "?"
        outcome = outcome_of(result)
        outcomes.append(
            {
                "name": name,
                "outcome": outcome,
                "commands": [step.get("command") for step in result.get("plan") or []],
                "preview": guest_preview(result, name, outcome),
                "line": _line(name, outcome, result),
                "addresses": addresses_of(result),
                "reboot_required": result.get("reboot_required") is True,
            }
        )
    return outcomes


def addresses_of(result: Mapping[str, Any]) -> List[str]:
    """The addresses a guest's result reports (wait_for), each interface's in order: what the next play uses."""
    found = []
    for interface in result.get("addresses") or []:
        for address in (interface or {}).get("addresses") or []:
            if address.get("addr"):
                found.append(str(address["addr"]))
    return found


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"guest_outcomes": guest_outcomes}
