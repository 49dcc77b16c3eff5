# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # What every module of the collection needs on the host it runs on.
    DOCUMENTATION = r"""
requirements:
  - libvirt-python (Debian/Ubuntu C(python3-libvirt), Fedora/RHEL C(python3-libvirt)) on the host
  - lxml (C(python3-lxml)) on the host
  - libvirt 6.0 or newer on the host
attributes:
  platform:
    support: full
    platforms: posix
    description: Runs on the libvirt host, or on the controller with a remote O(uri).
"""
