"""Test data kept in files beside the tests that read it: ``fixtures/<name>`` next to the test module."""

from __future__ import annotations

import os


def path(test_file: str, name: str) -> str:
    """The fixture ``name`` in the ``fixtures`` folder beside ``test_file`` (pass ``__file__``)."""
    return os.path.join(os.path.dirname(os.path.abspath(test_file)), "fixtures", name)


def read(test_file: str, name: str) -> str:
    """The text of fixture ``name``, exactly as stored (newlines untranslated)."""
    with open(path(test_file, name), encoding="utf-8", newline="") as handle:
        return handle.read()
