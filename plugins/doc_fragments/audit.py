# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  log_facility:
    description:
      - Syslog facility of the host-side record. Every action that changes the host is logged with
        its command line and result code (C(rc=0) or C(rc=1)) under the identifier C(remotevirt);
        progress messages use debug priority.
      - Messages go to journald where it runs and its Python binding is installed, otherwise to syslog
        through C(/dev/log). On a host with neither, a task that changes something returns one warning
        that its actions were not recorded, and runs as it would otherwise.
    type: str
    default: user
    choices: [auth, daemon, kern, local0, local1, local2, local3, local4, local5, local6, local7, syslog, user]
"""
