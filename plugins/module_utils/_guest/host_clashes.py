# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a guest's plan takes that another guest on the host has already: a MAC address (the two
cards take each other's traffic and leases; virt-install refuses it), a serial or console log file
(two QEMUs append to one file, and an install's console evidence mixes), a fixed graphics port (the
guest started second fails to start, after its definition was made).

Only what the plan adds is asked about, so a guest that shares a value with another already (made
so by someone else) still converges; and the host's guests are listed only when the plan adds
something, from the references cache (see usage.guest_references). Imported only by such runs."""

from __future__ import annotations

import os
import re
from typing import Callable, Dict, List, Optional, Sequence

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Plan
from ansible_collections.remotevirt.install.plugins.module_utils._common.usage import (
    Exclusive,
    guest_references,
    path_test,
    same_file_as,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import GuestRequest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client

# Where the system daemon's QEMU driver writes each guest's own log (QEMU's command line and errors),
# through virtlogd: another file opened there, a serial log, makes the guest's start fail (the file is
# busy), and removing that guest deletes it. The default serial log of guest X is the libvirt log of a
# guest named X-serial.
LIBVIRT_QEMU_LOG_DIR = "/var/log/libvirt/qemu"
_SYSTEM_QEMU_URI_RE = re.compile(r"qemu(\+[a-z0-9]+)?://[^/?#]*/system([?#].*)?", re.IGNORECASE)


def libvirt_log_of(uri: str, guest: str) -> Optional[str]:
    """The log libvirt keeps of ``guest`` under ``uri``'s daemon, when that daemon is the system one of
    the QEMU driver (whose log directory is known), else None."""
    return _libvirt_log(guest) if _SYSTEM_QEMU_URI_RE.fullmatch(uri) else None


def _libvirt_log(guest: str) -> str:
    return "%s/%s.log" % (LIBVIRT_QEMU_LOG_DIR, guest)  # a guest name holds no '/': as same_path writes it


def added_by(state: GuestState, plan: Plan) -> Exclusive:
    """The MACs, logs and fixed graphics ports the plan gives the guest that its stored definition
    does not have: read from the XML as for every other guest (see usage.Exclusive)."""
    return Exclusive.of_xml(plan.after).beyond(Exclusive.of_xml(state.existing_xml))


def host_clash_problems(client: Client, request: GuestRequest, state: GuestState, plan: Plan, local: bool) -> List[str]:
    """A refusal for each MAC address, log file or fixed graphics port the plan gives the guest
    that it does not have now and another guest on the host has (by either of its definitions)."""
    if request.state == "absent" or not plan.changed or not plan.after:
        return []
    added = added_by(state, plan)
    if not any(added):
        return []  # nothing new: the host's guests are not listed
    log_tests = {log: _log_test(log, local) for log in added.logs}
    by_mac: Dict[str, List[str]] = {mac: [] for mac in added.macs}
    by_log: Dict[str, List[str]] = {log: [] for log in added.logs}
    by_port: Dict[int, List[str]] = {port: [] for port in added.graphics_ports}
    # libvirt's own log of each guest is no serial log of another (a guest named X-serial and X), nor of itself.
    libvirt_logs = _SYSTEM_QEMU_URI_RE.fullmatch(client.uri) is not None
    own_log = _libvirt_log(request.name) if libvirt_logs and state.existing is None else None
    own_log_test = _log_test(own_log, local) if own_log else None
    logging_into_own: List[str] = []
    problems = _libvirt_log_problems(request.name, log_tests) if libvirt_logs else []
    for name, references in guest_references(client):
        if name == request.name:
            continue  # its own definitions, live and persistent
        for mac in added.macs.intersection(references["macs"]):
            by_mac[mac].append(name)
        for port in added.graphics_ports.intersection(references["graphics_ports"]):
            by_port[port].append(name)
        for log, is_the_log in log_tests.items():
            if is_the_log is None:
                continue
            if any(is_the_log(path) for path in references["logs"]):
                by_log[log].append(name)
            if libvirt_logs and is_the_log(_libvirt_log(name)):
                problems.append(_libvirt_log_problem(log, name))
        if own_log_test is not None and any(own_log_test(path) for path in references["logs"]):
            logging_into_own.append(name)
    if logging_into_own:
        problems.append(_own_log_problem(request.name, own_log or "", logging_into_own))
    return (
        [_mac_problem(request, mac, users) for mac, users in sorted(by_mac.items()) if users]
        + [_log_problem(log, users) for log, users in sorted(by_log.items()) if users]
        + problems
        + [_port_problem(port, users) for port, users in sorted(by_port.items()) if users]
    )


def _libvirt_log_problems(guest: str, log_tests: Dict[str, Optional[Callable[[str], bool]]]) -> List[str]:
    """A refusal for a log of the guest that is libvirt's own log of this very guest."""
    written = _libvirt_log(guest)
    return [
        _libvirt_log_problem(log, guest) for log, is_the_log in sorted(log_tests.items()) if is_the_log and is_the_log(written)
    ]


def _log_test(log: str, local: bool) -> Optional[Callable[[str], bool]]:
    """A test of whether another guest's log path is the file ``log``: as written and, where the
    module runs on the host that has the files, as the file it leads to (links followed, hard links
    included) or, before QEMU first made it, as the path it resolves to."""
    if not local:
        return path_test(log)
    same_file = same_file_as(log)
    if same_file is not None:
        return path_test(log, same_file)
    resolved = os.path.realpath(log)
    return path_test(log, lambda candidate: os.path.realpath(candidate) == resolved)


def _named(users: Sequence[str]) -> str:
    return ", ".join(sorted(users))


def _mac_problem(request: GuestRequest, mac: str, users: Sequence[str]) -> str:
    return (
        "%s: mac %s is the MAC address of guest(s) %s on the host; two cards with one MAC address take each "
        "other's traffic and leases. Give this card a MAC address of its own, or none (libvirt picks a free one)"
        % (_card_label(request, mac), mac, _named(users))
    )


def _card_label(request: GuestRequest, mac: str) -> str:
    """``networks[i]`` of the card given this MAC (a card the guest kept is not in a request without networks)."""
    for index, card in enumerate(request.networks or ()):
        if (card.mac or "").lower() == mac:
            return "networks[%d]" % index
    return "networks"


def _log_problem(log: str, users: Sequence[str]) -> str:
    return (
        "serial_log: %s is also the serial or console log of guest(s) %s on the host; two guests appending to "
        "one file mix their output (and removing one guest deletes the other's log). Set serial_log to a file "
        "of its own" % (log, _named(users))
    )


def _libvirt_log_problem(log: str, guest: str) -> str:
    return (
        "serial_log: %s is libvirt's own log of guest %s (QEMU's command line and errors, opened by virtlogd): "
        "the guest would fail to start with the file busy, and removing %s would delete it. Set serial_log to "
        "a file of its own" % (log, guest, guest)
    )


def _own_log_problem(guest: str, log: str, users: Sequence[str]) -> str:
    return (
        "name: libvirt keeps its own log of guest %s in %s, which is the serial log of guest(s) %s: the guest "
        "would fail to start with the file busy. Give this guest another name, or the other guest another "
        "serial_log" % (guest, log, _named(users))
    )


def _port_problem(port: int, users: Sequence[str]) -> str:
    return (
        "graphics: port %d is also the fixed graphics port of guest(s) %s on the host; the guest started second "
        "would fail to start. Give this guest a port of its own, or none (libvirt picks a free one)" % (port, _named(users))
    )
