"""The network verbs: every one has a handler, a payload type and an undo policy."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import KEPT, UNDONE, Payload
from ansible_collections.remotevirt.install.plugins.module_utils._network.actions import AUTOSTART, UNDEFINE, VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._network.handlers import NetworkHandlers


def test_every_verb_has_exactly_one_handler():
    assert set(NetworkHandlers(None).as_mapping()) == set(VERBS)


def test_every_verb_has_a_payload_type_and_an_undo_policy():
    for name, verb in VERBS.items():
        assert verb.name == name
        assert issubclass(verb.payload, Payload)
        assert verb.undo in (UNDONE, KEPT)


def test_only_undefine_and_autostart_are_kept():
    """Rollback writes back the previous definition, reverses updates and starts or stops again."""
    assert sorted(name for name, verb in VERBS.items() if verb.undo == KEPT) == sorted([UNDEFINE, AUTOSTART])
