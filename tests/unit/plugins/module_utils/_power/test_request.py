"""The power request: options checked before anything is read from the host."""

from __future__ import annotations

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._power.request import PowerRequest


def test_defaults():
    request = PowerRequest.from_params({"name": "g", "state": "shutdown"})
    assert (request.uri, request.shutdown_timeout, request.destroy_on_timeout) == ("qemu:///system", 120, False)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"name": "../g", "state": "running"}, "guest name '../g' must not contain '..'"),
        ({"name": "g\n", "state": "running"}, "control character"),
        ({"name": "g", "state": "off"}, "state must be one of running, shutdown, stopped, restarted, paused"),
        ({"name": "g", "state": "shutdown", "shutdown_timeout": 0}, "shutdown_timeout must be at least 1"),
        ({"name": "g", "state": "shutdown", "shutdown_timeout": 86401}, "shutdown_timeout must be at most 86400"),
        ({"name": "g", "state": "shutdown", "shutdown_timeout": "\u0661\u0662"}, "digits 0-9"),
        ({"name": "g", "state": "running", "uri": "qemu+ssh://u:pw@h/system"}, "password"),
    ],
)
def test_bad_options_are_refused(params, message):
    with pytest.raises(PlanError, match=message):
        PowerRequest.from_params(params)
