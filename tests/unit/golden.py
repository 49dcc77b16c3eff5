"""Golden files: output of the code compared exactly with a reviewed copy in the checkout.

``REMOTEVIRT_UPDATE_GOLDEN=1`` rewrites every golden file from the code instead (then review the
diff before committing it); the same switch serves the domain builder's golden XML.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

UPDATE = os.environ.get("REMOTEVIRT_UPDATE_GOLDEN") == "1"


def folder(test_file: str) -> str:
    """The ``golden`` folder beside ``test_file`` (pass ``__file__``)."""
    return os.path.join(os.path.dirname(os.path.abspath(test_file)), "golden")


def plan_text(plan: Any) -> str:
    """A plan as its golden file holds it: the summaries the module returns, as indented JSON."""
    return json.dumps(plan.summaries(), indent=2, ensure_ascii=False) + "\n"


def read(path: str) -> str:
    """The reviewed text of the golden file at ``path``."""
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def compare(path: str, text: str) -> str:
    """The golden text at ``path`` after asserting ``text`` equals it (written first when updating)."""
    if UPDATE:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    golden = read(path)
    assert text == golden, "%s differs from the code; REMOTEVIRT_UPDATE_GOLDEN=1 rewrites it" % path
    return golden


def stale(directory: str, suffix: str, expected: Iterable[str]) -> list:
    """Files ending in ``suffix`` in ``directory`` that no case writes any more."""
    wanted = set(expected)
    return sorted(name for name in os.listdir(directory) if name.endswith(suffix) and name not in wanted)
