from __future__ import annotations

import syslog

from ansible_collections.remotevirt.install.plugins.module_utils._common.facilities import FACILITIES


def test_each_facility_is_syslogs_own():
    assert FACILITIES["user"] == syslog.LOG_USER  # the default of log_facility
    for name, value in FACILITIES.items():
        assert value == getattr(syslog, "LOG_" + name.upper())
