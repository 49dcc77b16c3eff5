"""What Ansible ships with each module: every source of this collection the module imports, at any
depth and inside functions too (Ansible's finder reads them all). Each shipped source is parsed by
the controller once per playbook run and sent to the host on every task, so a module does not name
code that only other modules run."""

from __future__ import annotations

import ast
import os
from typing import Dict, Iterator

import pytest

PREFIX = "ansible_collections.remotevirt.install."
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def _source_of(name: str) -> str:
    relative = name[len(PREFIX) :].replace(".", os.sep)
    for candidate in (relative + ".py", os.path.join(relative, "__init__.py")):
        if os.path.isfile(os.path.join(ROOT, candidate)):
            return candidate
    return ""


def _imported_names(source: str) -> Iterator[str]:
    with open(os.path.join(ROOT, source), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            yield node.module
            yield from (node.module + "." + alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith(PREFIX))


def shipped(module: str) -> Dict[str, str]:
    """Each shipped source (a path under the collection) and the source that made it shipped."""
    start = os.path.join("plugins", "modules", module + ".py")
    found = {start: ""}
    pending = [start]
    while pending:
        current = pending.pop()
        for name in _imported_names(current):
            source = _source_of(name)
            if source and source not in found:
                found[source] = current
                pending.append(source)
    return found


DOWNLOADS = ["plugins/module_utils/_volume/download.py", "plugins/module_utils/_volume/decompress.py"]


@pytest.mark.parametrize("module", ["virt_guest_info", "virt_pool_volume_info", "virt_guest_state", "virt_network", "virt_pool"])
def test_modules_that_never_download_ship_no_download_code(module):
    sources = shipped(module)
    assert {path: sources[path] for path in DOWNLOADS if path in sources} == {}


def test_the_finder_follows_imports_inside_functions():
    # virt_pool_volume imports its downloads only inside the functions that fill a volume.
    assert set(DOWNLOADS) <= set(shipped("virt_pool_volume"))
