# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applies a Plan: one handler per verb, each action logged, rollback of what was made on failure."""

from __future__ import annotations

from typing import Callable, List, Mapping, Optional, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.audit import AuditLog
from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import DURABLE, UNDONE, Action, Plan, Verb

# A handler performs one action and, for verbs that rollback undoes, returns the callable that
# reverses it.
Undo = Callable[[], None]
Handler = Callable[[Action], Optional[Undo]]


class Unfinished(Exception):
    """Raised by a handler whose work goes on without it (an install still running when a wait
    times out): what was done stays in place instead of being rolled back."""


class ExecutionError(RemotevirtError):
    """An action failed; ``rolled_back`` names what was undone, ``rollback_errors`` what could not be.

    ``left_changes`` tells whether the host differs from before the plan started; ``kept`` names
    the durable action after which nothing was rolled back.
    """

    def __init__(
        self,
        action: Action,
        error: BaseException,
        rolled_back: List[str],
        rollback_errors: List[str],
        left_changes: bool = False,
        kept: Optional[Action] = None,
    ) -> None:
        self.action = action
        self.left_changes = left_changes
        self.error = error
        self.rolled_back = rolled_back
        self.rollback_errors = rollback_errors
        self.kept = kept
        message = "%s %s %s failed: %s" % (action.verb, action.kind, action.name, error)
        if rolled_back:
            message += " (rolled back: %s)" % ", ".join(rolled_back)
        if rollback_errors:
            message += " (rollback failed: %s)" % "; ".join(rollback_errors)
        if kept is not None:
            message += (
                " (nothing was rolled back: %s %s %s had succeeded, so what the run made is kept; fix the "
                "cause and re-run the task to resume)" % (kept.verb, kept.kind, kept.name)
            )
        super().__init__(message)


class Executor:
    """Applies plans with one handler per verb; ``verbs`` says what rollback does with each."""

    def __init__(self, handlers: Mapping[str, Handler], verbs: Mapping[str, Verb], audit: AuditLog) -> None:
        self.handlers = handlers
        self.verbs = verbs
        self.audit = audit

    def apply(self, plan: Plan) -> None:
        undo_stack: List[Tuple[Action, Undo]] = []
        irreversible: List[Action] = []  # applied actions that have no undo of their own
        durable: Optional[Action] = None  # the last durable action that succeeded
        for action in plan.actions:
            verb = self.verbs.get(action.verb)
            handler = self.handlers.get(action.verb)
            # A planner/handler mismatch is a bug: refuse before touching anything more.
            if verb is None or handler is None:
                raise self._failure(action, LookupError("no handler for %r" % action.verb), undo_stack, irreversible)
            mismatch = self._payload_mismatch(action, verb)
            if mismatch:
                raise self._failure(action, LookupError(mismatch), undo_stack, irreversible)
            self.audit.started(action)
            try:
                undo = handler(action)
            except Unfinished as error:
                self.audit.failed(action, error)
                raise ExecutionError(action, error, [], [], left_changes=True)
            except Exception as error:  # any failure must roll back; the cause is kept in the message
                self.audit.failed(action, error)
                if durable is not None:
                    raise ExecutionError(action, error, [], [], left_changes=True, kept=durable)
                raise self._failure(action, error, undo_stack, irreversible)
            self.audit.succeeded(action)
            if verb.undo == DURABLE:
                # What came before now has value (an install writes the new disks): never undo it.
                durable = action
                undo_stack.clear()
            elif verb.undo == UNDONE and undo is not None:
                undo_stack.append((action, undo))
            elif not any(made.name == action.name for made, _undo in undo_stack):
                # A change to an object this plan made (an upload into a new volume) goes with it
                # when rollback deletes it; a change made before (a deletion) stays.
                irreversible.append(action)

    @staticmethod
    def _payload_mismatch(action: Action, verb: Verb) -> Optional[str]:
        if not isinstance(action.payload, verb.payload):
            return "%s needs a %s, not a %s" % (action.verb, verb.payload.__name__, type(action.payload).__name__)
        return None

    def _failure(
        self, action: Action, error: BaseException, undo_stack: List[Tuple[Action, Undo]], irreversible: List[Action]
    ) -> ExecutionError:
        rolled_back, errors = self._rollback(undo_stack)
        left_changes = bool(errors) or bool(irreversible)
        return ExecutionError(action, error, rolled_back, errors, left_changes=left_changes)

    def _rollback(self, undo_stack: List[Tuple[Action, Undo]]) -> Tuple[List[str], List[str]]:
        rolled_back: List[str] = []
        errors: List[str] = []
        for action, undo in reversed(undo_stack):
            try:
                undo()
            except Exception as error:  # keep undoing the rest; report every failure
                self.audit.rolled_back(action, error)
                errors.append("%s %s: %s" % (action.verb, action.name, error))
            else:
                self.audit.rolled_back(action, None)
                rolled_back.append("%s %s" % (action.verb, action.name))
        return rolled_back, errors
