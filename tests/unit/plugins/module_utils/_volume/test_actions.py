"""The volume verbs: every one has a handler, a payload type and an undo policy."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import KEPT, UNDONE, Payload
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import CLONE, CREATE, VERBS
from ansible_collections.remotevirt.install.plugins.module_utils._volume.handlers import VolumeHandlers


def test_every_verb_has_exactly_one_handler():
    assert set(VolumeHandlers(None, True).as_mapping()) == set(VERBS)


def test_every_verb_has_a_payload_type_and_an_undo_policy():
    for name, verb in VERBS.items():
        assert verb.name == name
        assert issubclass(verb.payload, Payload)
        assert verb.undo in (UNDONE, KEPT)


def test_only_what_makes_a_volume_is_undone():
    """Rollback deletes the volumes a plan made; a deletion, a resize or an upload stays as it is."""
    assert sorted(name for name, verb in VERBS.items() if verb.undo == UNDONE) == sorted([CREATE, CLONE])
