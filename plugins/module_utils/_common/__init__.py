# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module imports this package first: in a task run from Ansible's zip, the rest of this
collection's code is then loaded from the host's cache of compiled code (see code_cache)."""

from __future__ import annotations

from ansible_collections.remotevirt.install.plugins.module_utils._common.code_cache import install_when_zipped

install_when_zipped(__spec__)
