"""A log of this machine's, for tests of what must never reach a guest."""

from __future__ import annotations

import os

import pytest


def a_host_log() -> str:
    """A regular file under /var/log (not a link); the test is skipped on a machine without one."""
    logs = (os.path.join(top, name) for top, _dirs, names in os.walk("/var/log") for name in names)
    found = next((path for path in logs if os.path.isfile(path) and not os.path.islink(path)), None)
    if found is None:
        pytest.skip("no file under /var/log on this machine")
    return found
