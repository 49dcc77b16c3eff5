# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options the modules share, declared once: those of the doc fragments
remotevirt.install.connection (uri) and remotevirt.install.audit (log_facility)."""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.remotevirt.install.plugins.module_utils._common.facilities import FACILITIES
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import HOST_URI


def connection_options() -> Dict[str, Any]:
    """``uri``: the libvirt connection, the host's own by default."""
    return dict(uri=dict(type="str", default=HOST_URI))


def audit_options() -> Dict[str, Any]:
    """``log_facility``: the syslog facility of the host log of a run's changes."""
    return dict(log_facility=dict(type="str", default="user", choices=sorted(FACILITIES)))
