# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module imports this package first: in a task run from Ansible's zip, the rest of this
collection's code is then loaded from the host's cache of compiled code (see code_cache)."""

from __future__ import annotations

import os
import sys
import zipimport
from importlib.util import module_from_spec, spec_from_file_location


def _load_code_cache_compiled_once() -> None:
    """Import code_cache from the zip this package came from, compiling it once: Python's zip
    importer compiles a source a second time only to name its file (3.8 to 3.13 at least), and
    code_cache, which the cache cannot hold, is the largest source a task compiles of its own."""
    name = __name__ + ".code_cache"
    archive = zipimport.zipimporter(__path__[0])
    location = os.path.join(archive.archive, archive.prefix + "code_cache.py")
    spec = spec_from_file_location(name, location, loader=archive)
    if spec is None:
        return
    module = module_from_spec(spec)
    sys.modules[name] = module
    try:
        exec(archive.get_code("code_cache"), module.__dict__)  # noqa: S102 - this collection's own code
    except BaseException:
        del sys.modules[name]
        raise
    globals()["code_cache"] = module  # bound on the package, as an import binds it


if __spec__ is not None and isinstance(__spec__.loader, zipimport.zipimporter):
    _load_code_cache_compiled_once()

from ansible_collections.remotevirt.install.plugins.module_utils._common.code_cache import install_when_zipped  # noqa: E402

install_when_zipped(__spec__)
