# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verbs of a power plan: what each handler is given, and what rollback does with it."""

from __future__ import annotations

from typing import Dict

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import KEPT, Payload, Verb

START = "start"
SHUTDOWN = "shutdown"
DESTROY = "destroy"
SUSPEND = "suspend"
RESUME = "resume"


class GuestTarget(Payload):
    """The guest an action changes."""

    guest: str


class StartPayload(GuestTarget):
    """``paused``: start with the virtual CPUs stopped (``virsh start --paused``)."""

    paused: bool = False


class ShutdownPayload(GuestTarget):
    """Ask the guest to power off and wait ``timeout`` seconds for it. ``fallback``: a destroy
    follows in the plan, so a guest still running then is not a failure of this step."""

    timeout: int
    fallback: bool = False


class DestroyPayload(GuestTarget):
    """``fallback``: destroy only a guest that is still running (after a shutdown that timed out)."""

    fallback: bool = False


# Nothing a power change does is undone: a guest that was shut down, started or paused stays so
# when a later step fails (starting a guest again the admin asked to stop is never safe to guess).
VERBS: Dict[str, Verb] = {
    START: Verb(START, StartPayload, KEPT),
    SHUTDOWN: Verb(SHUTDOWN, ShutdownPayload, KEPT),
    DESTROY: Verb(DESTROY, DestroyPayload, KEPT),
    SUSPEND: Verb(SUSPEND, GuestTarget, KEPT),
    RESUME: Verb(RESUME, GuestTarget, KEPT),
}
