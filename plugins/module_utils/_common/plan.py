# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plans: what a module will do, as data.

A Plan is the single answer to "what changes?": check mode returns it, the executor applies it
and the host log records it, so all three always agree.
"""

from __future__ import annotations

import shlex
from typing import Any, Dict, List, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import ReportedError
from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field, Record
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_text


def shell(*argv: object) -> str:
    """One command line with every argument quoted for a POSIX shell."""
    return " ".join(shlex.quote(str(arg)) for arg in argv)


# The daemon a bare ``virsh`` reaches when root runs it on the hypervisor: the modules' default uri.
HOST_URI = "qemu:///system"


def virsh(uri: str, *argv: object) -> str:
    """``virsh ARGV`` as run against ``uri``: plain for the host's own system daemon, with
    ``-c URI`` for any other, so that a plan made over a remote URI can be copied as it is.

    The URI is shown whole: uri_problem refuses a password in it, and its query parameters
    (keyfile, pkipath, known_hosts, command...) name files and settings, not secrets."""
    if uri == HOST_URI:
        return shell("virsh", *argv)
    return shell("virsh", "-c", uri, *argv)


class PlanError(ReportedError, ValueError):
    """The request cannot be reached from the actual state (a refusal, not a libvirt failure)."""


# What rollback does with a verb's effect when a later action of the plan fails.
UNDONE = "undone"  # the handler returns an undo that reverses it (it made something)
KEPT = "kept"  # nothing to reverse, or it cannot be reversed (a deletion, a resize, a started guest)
DURABLE = "durable"  # once it succeeded, what the plan made has value: nothing before it is undone either


class Payload(Record):
    """What a verb's handler needs beyond the action's name; never shown or logged.

    Each verb has its own subclass (``verbs()`` of the planner's actions module says which), so a
    handler reads exactly the fields its planner filled in.
    """


class Verb(Record):
    """A plan verb: its payload type and what rollback does with it."""

    name: str
    payload: type
    undo: str


class Action(Record):
    """One step: ``verb`` on object ``kind`` called ``name``.

    ``command_line`` is the equivalent ``virsh`` (or shell) command line an admin could run by
    hand, built with ``shell()``; ``payload`` (a ``Payload`` of the verb's type) is what the
    executor's handler needs and is never shown or logged.
    """

    verb: str
    kind: str
    name: str
    command_line: str
    # Any, so a handler reads it as its verb's payload type (``payload: CreatePayload =
    # action.payload``): the executor checks that type against the verb before the handler runs.
    payload: Any = Field(default=Payload(), compare=False, in_repr=False)
    destructive: bool = False

    def summary(self) -> Dict[str, Any]:
        """The small, serialisable form returned to the controller."""
        return {
            "action": self.verb,
            "kind": self.kind,
            "name": self.name,
            "command": self.command_line,
            "destructive": self.destructive,
        }


class Plan(Record, frozen=False):
    """Ordered actions plus the object's XML before and after, for diff mode."""

    actions: List[Action] = Field(factory=list)
    before: Optional[str] = None
    after: Optional[str] = None

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    @property
    def destructive(self) -> bool:
        return any(action.destructive for action in self.actions)

    def add(self, action: Action) -> None:
        self.actions.append(action)

    def commands(self) -> List[str]:
        return [action.command_line for action in self.actions]

    def summaries(self) -> List[Dict[str, Any]]:
        return [action.summary() for action in self.actions]

    def diff(self, header: str) -> Dict[str, str]:
        """Ansible's diff dictionary; an absent object is shown as empty text. The user information
        of every URL in either side is masked: the host's side holds what an earlier run stored
        (a password being changed), which no option of this run names for Ansible to hide."""
        return {
            "before": redact_text(self.before or ""),
            "after": redact_text(self.after or ""),
            "before_header": "%s (before)" % header,
            "after_header": "%s (after)" % header,
        }
