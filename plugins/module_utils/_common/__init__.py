# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module imports this package first: in a task run from Ansible's zip, the rest of this
collection's code is then loaded from the host's store of compiled code (see code_store)."""

from __future__ import annotations

import os
import sys
import zipimport
from importlib.util import module_from_spec, spec_from_file_location
from types import CodeType, ModuleType


def _load_from_zip(archive: zipimport.zipimporter, name: str, code: CodeType) -> ModuleType:
    """Import this package's module ``name`` from ``archive``, running ``code`` (Python's zip
    importer would compile the source a second time only to name its file, 3.8 to 3.13 at least)."""
    fullname = __name__ + "." + name
    spec = spec_from_file_location(fullname, os.path.join(archive.archive, archive.prefix + name + ".py"), loader=archive)
    if spec is None:
        raise ImportError("cannot load %s from %s" % (fullname, archive.archive), name=fullname)
    module = module_from_spec(spec)
    sys.modules[fullname] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - this collection's own code
    except BaseException:
        del sys.modules[fullname]
        raise
    globals()[name] = module  # bound on the package, as an import binds it
    return module


def _load_code_from_the_store() -> None:
    """Compile the store's reader (the one source of this collection a task compiles), load the
    finder from the store, and put it in place: every other module then comes from the store."""
    archive = zipimport.zipimporter(__path__[0])
    store = _load_from_zip(archive, "code_store", archive.get_code("code_store"))
    directory = store.cache_directory()
    code, unkept = store.code_from_source(archive, "code_cache", archive.prefix + "code_cache.py", directory)
    cache = _load_from_zip(archive, "code_cache", code)
    if unkept is not None:  # compiled here: kept by the finder's module, which writes entries
        cache.write_entry(unkept, code, directory)
    cache.install(directory)


if __spec__ is not None and isinstance(__spec__.loader, zipimport.zipimporter):
    _load_code_from_the_store()
else:
    # Outside a zip (the controller, Mitogen, tests) nothing is stored. The import also tells
    # Ansible to pack the two modules loaded above, which it finds only by their imports.
    from ansible_collections.remotevirt.install.plugins.module_utils._common import code_cache, code_store  # noqa: F401
