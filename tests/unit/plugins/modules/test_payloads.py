"""What Ansible ships with each module: the module_utils its imports reach (at any depth, also
imports inside functions, as Ansible's own finder reads them). Every task ships and unpacks the
whole of it, so a volume task never carries the guest's code, nor the other way round."""

from __future__ import annotations

import ast
import os
from typing import Set

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PREFIX = "ansible_collections.remotevirt.install.plugins."


def _file_of(module: str) -> str:
    relative = module[len(PREFIX) :].replace(".", "/")
    base = os.path.join(ROOT, "plugins", relative)
    return base + ".py" if os.path.isfile(base + ".py") else os.path.join(base, "__init__.py")


def _imported(path: str) -> Set[str]:
    with open(path, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            found.add(node.module)
            found.update("%s.%s" % (node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith(PREFIX))
    return {name for name in found if os.path.isfile(_file_of(name))}


def shipped(module: str) -> Set[str]:
    """The collection's modules Ansible packs with plugins/modules/<module>.py."""
    seen: Set[str] = set()
    todo = [PREFIX + "modules." + module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_imported(_file_of(name)) - seen)
    return {name[len(PREFIX) :] for name in seen}


@pytest.mark.parametrize("module", ["virt_pool_volume", "virt_pool", "virt_network"])
def test_storage_and_network_modules_never_ship_the_guests_code(module):
    guests = {name for name in shipped(module) if name.startswith(("module_utils._guest", "module_utils._libvirt.xml.domain"))}
    assert guests == set()


def test_the_guest_module_never_ships_the_networks_or_pools_planners():
    others = {
        name for name in shipped("virt_guest_install") if name.startswith(("module_utils._network.", "module_utils._pool."))
    }
    assert others == set()
