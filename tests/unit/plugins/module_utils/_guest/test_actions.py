"""The guest verbs: every one has a handler, a payload type and an undo policy."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import DURABLE, KEPT, UNDONE, Payload
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import INSTALL, VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._guest.handlers import GuestHandlers


def test_every_verb_has_exactly_one_handler():
    assert set(GuestHandlers(None, None, True).as_mapping()) == set(VERBS)


def test_every_verb_has_a_payload_type_and_an_undo_policy():
    for name, verb in VERBS.items():
        assert verb.name == name
        assert issubclass(verb.payload, Payload)
        assert verb.undo in (UNDONE, KEPT, DURABLE)


def test_only_the_install_is_durable():
    """Once an install started it writes the new disks: what the plan made before it is kept."""
    assert [name for name, verb in VERBS.items() if verb.undo == DURABLE] == [INSTALL]
