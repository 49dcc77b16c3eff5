# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: guest_preview
short_description: A guest's planned install as a short block of lines, from virt_guest_install's check-mode result
version_added: 0.1.0
description:
  - Reads one result of M(remotevirt.install.virt_guest_install) (check mode, or a real run) and returns the
    lines an operator reads before saying yes; everything comes from the result, nothing from the task's
    options.
  - The first line names the guest and what the run does to it (a guest still running an install an
    earlier run left going says the run waits for that install to finish). Then, for a guest that is installed or
    changed, its memory and vCPUs, each disk with its size and pool volume (or path; a disk the run grows shows
    its new size and, in brackets, its size now), the install media,
    the network cards and the state it ends in, then the planned commands. A destructive command is marked
    C(!) and ends with C([destructive]); C(reboot required) follows when a running guest's new definition
    applies only at its next start.
  - A guest with nothing to do, or that failed, is one line (C(; reboot required) ends it when the
    running guest has yet to start with a change an earlier run made).
author:
  - remotevirt.install maintainers (@remotevirt)
options:
  _input:
    description: One registered result of M(remotevirt.install.virt_guest_install).
    type: dict
    required: true
  name:
    description: The guest's name, when the result does not carry it (a failure).
    type: str
  outcome:
    description:
      - What the run does, as P(remotevirt.install.guest_outcomes#filter) names it (V(installed), V(created),
        V(updated), ...). Default is read from the result.
    type: str
"""

EXAMPLES = r"""
- name: Preview of one guest
  ansible.builtin.debug:
    msg: "{{ install_result | remotevirt.install.guest_preview('web01') }}"
# web01: install
#   memory   2G, 2 vCPUs
#   disk     vda 20G, new volume default/web01-disk0.qcow2
#   media    cdrom isos/Rocky-9-x86_64-minimal.iso
#   network  network default
#   state    shut off after the install
#   $ virsh vol-create-as --pool default --name web01-disk0.qcow2 --capacity 21474836480 --allocation 0 --format qcow2
#   $ virsh create web01-install.xml
#   $ virsh define web01.xml
"""

RETURN = r"""
_value:
  description: The lines of the block, the first unindented, the others indented by two spaces.
  type: list
  elements: str
"""

import shlex
from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import format_size

MIB = 1024 * 1024
# What the first line says a run does, by the outcome guest_outcomes names.
DOES = {
    "installed": "install",
    "created": "create",
    "updated": "update in place",
    "started": "start",
    "removed": "remove",
    "changed": "change",
    "unchanged": "nothing to do",
    "failed": "failed",
}
# The first line of a guest whose earlier install still runs: this run boots no media, it waits.
FINISH_RUNNING_INSTALL = "wait for the install that runs (an earlier run's) to finish"
LABEL_WIDTH = 8


def first_line(message: Any) -> str:
    """The first non-empty line of a module's message: what an operator reads first."""
    lines = [line.strip() for line in str(message or "").splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def _row(label: str, text: str) -> str:
    return "  %-*s %s" % (LABEL_WIDTH, label, text)


def _guest_row(domain: Mapping[str, Any]) -> Optional[str]:
    parts = []
    if domain.get("memory"):
        parts.append(format_size(int(domain["memory"]) * MIB))
    if domain.get("vcpus"):
        parts.append("%d vCPU%s" % (domain["vcpus"], "" if domain["vcpus"] == 1 else "s"))
    return _row("memory", ", ".join(parts)) if parts else None


def _disk_rows(domain: Mapping[str, Any], created: List[str], resized: Mapping[str, int]) -> List[str]:
    rows = []
    for disk in domain.get("disks") or []:
        device = disk.get("device") or "disk"
        source = disk.get("source") or ""
        parts = [_disk_size_text(disk.get("target") or "?", disk.get("size"), resized.get(source))]
        parts.append(("new volume " if source in created else "") + source)
        if disk.get("modes"):
            parts.append(disk["modes"])
        rows.append(_row(device, ", ".join(parts)))
    return rows


def _disk_size_text(target: str, size: Any, planned: Optional[int]) -> str:
    """A disk's target and the size the guest will have: a disk the plan grows says its size now too."""
    if planned is not None and planned != size:
        now = " (now %s)" % format_size(int(size)) if size else ""
        return "%s %s%s" % (target, format_size(planned), now)
    return "%s %s" % (target, format_size(int(size))) if size else target


def _resized_volumes(plan: List[Mapping[str, Any]]) -> Dict[str, int]:
    """The capacity in bytes each volume of the plan is resized to, by ``pool/volume``: the result's disks
    carry their size before the run. Read from the command, ``virsh [-c URI] vol-resize --pool POOL
    VOLUME CAPACITY [--shrink]``, the only place the plan's summary has it."""
    sizes: Dict[str, int] = {}
    for step in plan:
        if step.get("action") != "resize":
            continue
        words = shlex.split(str(step.get("command") or ""))
        after = words[words.index("vol-resize") + 1 :] if "vol-resize" in words else []
        if len(after) >= 4 and after[0] == "--pool" and after[3].isdigit():
            sizes["%s/%s" % (after[1], after[2])] = int(after[3])
    return sizes


def _media_row(media: Optional[Mapping[str, Any]]) -> Optional[str]:
    if not media:
        return None
    text = " ".join(str(part) for part in (media.get("method"), media.get("source")) if part)
    if media.get("kickstart"):
        text += ", kickstart %s" % media["kickstart"]
    return _row("media", text)


def _network_row(domain: Mapping[str, Any]) -> str:
    return _row("network", ", ".join(domain.get("networks") or []) or "none")


def _tuning_rows(domain: Mapping[str, Any]) -> List[str]:
    """A line per device or tuning setting the guest has (vTPM, RNG, guest agent, CPU pinning, NUMA, huge pages)."""
    labels = {
        "tpm": "tpm",
        "rng": "rng",
        "guest_agent": "agent",
        "cpu_pinning": "pinning",
        "numa": "numa",
        "hugepages": "hugepage",
    }
    tuning: Mapping[str, Any] = domain.get("tuning") or {}
    return [_row(label, str(tuning[key])) for key, label in labels.items() if tuning.get(key)]


def _device_rows(domain: Mapping[str, Any]) -> List[str]:
    """A row per virtiofs share and per passed-through host device, when the guest has any."""
    shares = [_row("share", "virtiofs %s" % share) for share in domain.get("filesystems") or []]
    return shares + [_row("hostdev", str(device)) for device in domain.get("hostdevs") or []]


def _state_row(domain: Mapping[str, Any], verbs: List[str], cloud_init: bool) -> Optional[str]:
    state = domain.get("state")
    if not state:
        return None
    if state == "running" and leaves_installer_running(verbs, cloud_init):
        return _row("state", "running its installer when the task ends (shut off once it ends)")
    after_install = "install" in verbs or finishes_running_install(verbs)
    return _row("state", "%s after the install" % state if after_install else state)


def leaves_installer_running(verbs: List[str], cloud_init: bool) -> bool:
    """Whether a plan whose guest is running when it ends (the caller's condition) runs an installer
    then: it installs and starts nothing after that (a wait for the install's end would leave the
    guest shut off; one for its marker or address leaves the installer running). The installer's
    definition ends at its reboot or power-off, which leaves the guest shut off; a cloud image's
    first boot (cloud_init) goes on running instead."""
    if "install" not in verbs or cloud_init:
        return False
    return "start" not in verbs[verbs.index("install") + 1 :]


def _command_rows(plan: List[Mapping[str, Any]]) -> List[str]:
    return [
        "  ! %s  [destructive]" % step.get("command") if step.get("destructive") else "  $ %s" % step.get("command")
        for step in plan
    ]


def finishes_running_install(verbs: List[Any]) -> bool:
    """Whether a plan waits for an install an earlier run left going (its job cancelled, cut off
    or out of time): a wait before any start, in a plan that installs nothing itself. A guest's
    other wait (for its address, ``wait_for``) always follows its start."""
    if "wait" not in verbs or "install" in verbs:
        return False
    return "start" not in verbs or verbs.index("wait") < verbs.index("start")


def outcome_of(result: Mapping[str, Any]) -> str:
    """What a run did (or, in check mode, does) to a guest, read from its result's plan."""
    if result.get("failed"):
        return "failed"
    if not result.get("changed"):
        return "unchanged"
    verbs = [step.get("action") for step in result.get("plan") or []]
    if "install" in verbs or finishes_running_install(verbs):
        return "installed"
    if "undefine" in verbs:
        return "removed"
    if "define" in verbs:
        return "created" if result.get("created") else "updated"
    if "start" in verbs:
        return "started"
    return "changed"


def guest_preview(result: Mapping[str, Any], name: Optional[str] = None, outcome: Optional[str] = None) -> List[str]:
    domain: Mapping[str, Any] = result.get("domain") or {}
    name = name or domain.get("name") or "?"
    outcome = outcome or outcome_of(result)
    if outcome == "failed":
        return ["%s: failed: %s" % (name, first_line(result.get("msg")))]
    plan: List[Mapping[str, Any]] = result.get("plan") or []
    if not plan:
        line = "%s: nothing to do%s" % (name, " (%s)" % domain["state"] if domain.get("state") else "")
        # An earlier run's change the running guest has not started with yet.
        return [line + ("; reboot required" if result.get("reboot_required") else "")]
    verbs = [str(step.get("action")) for step in plan]
    does = FINISH_RUNNING_INSTALL if outcome == "installed" and finishes_running_install(verbs) else DOES.get(outcome, outcome)
    lines = ["%s: %s" % (name, does)]
    if domain.get("state") != "absent":
        created = [str(step.get("name")) for step in plan if step.get("action") == "create" and step.get("kind") == "volume"]
        rows = (
            [_guest_row(domain)]
            + _disk_rows(domain, created, _resized_volumes(plan))
            + [_media_row(result.get("media")), _network_row(domain)]
            + _tuning_rows(domain)
            + _device_rows(domain)
            + [_state_row(domain, verbs, result.get("cloud_init") is not None)]
        )
        lines += [row for row in rows if row]
    lines += _command_rows(plan)
    if result.get("reboot_required"):
        lines.append("  reboot required: the changed definition applies at the guest's next start")
    return lines


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {"guest_preview": guest_preview}
