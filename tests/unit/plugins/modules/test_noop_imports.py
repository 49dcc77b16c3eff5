"""A task that changes nothing compiles none of the code only changes use.

Modules ship as sources and every task compiles what it imports, so the change-only parts
(handlers, executor, host log, downloads) are imported inside the functions that need them. Each
case runs a module's main() in a fresh interpreter and lists what it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PREFIX = "ansible_collections.remotevirt.install.plugins."

# Imported only where a plan changes something, or for downloads and compressed images.
CHANGE_ONLY = [
    "module_utils._common.audit",
    "module_utils._common.executor",
    "module_utils._volume.handlers",
    "module_utils._volume.download",
    "module_utils._volume.decompress",
    "module_utils._guest.handlers",
    "module_utils._power.handlers",
]

RUN = """
import json, sys
from ansible.module_utils.testing import patch_module_args
from ansible_collections.remotevirt.install.plugins.modules import {module} as module
with patch_module_args(json.loads(sys.argv[1])):
    try:
        module.main()
    except SystemExit:
        pass
sys.stderr.write(json.dumps(sorted(name for name in sys.modules if name.startswith({prefix!r}))))
"""


def imported_by(module: str, args: dict) -> list:
    done = subprocess.run(
        [sys.executable, "-c", RUN.format(module=module, prefix=PREFIX), json.dumps(args)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
        check=True,
    )
    assert '"changed": false' in done.stdout, done.stdout
    return [name[len(PREFIX) :] for name in json.loads(done.stderr.splitlines()[-1])]


@pytest.mark.parametrize(
    "module, args",
    [
        ("virt_pool_volume", {"uri": "test:///default", "pool": "default-pool", "name": "missing", "state": "absent"}),
        ("virt_guest_install", {"uri": "test:///default", "name": "missing", "state": "absent"}),
        ("virt_guest_state", {"uri": "test:///default", "name": "test", "state": "running"}),
        ("virt_guest_info", {"uri": "test:///default"}),
        ("virt_pool_volume_info", {"uri": "test:///default"}),
    ],
)
def test_a_task_that_changes_nothing_imports_no_change_only_code(module, args):
    imported = imported_by(module, args)
    assert "modules." + module in imported  # it ran
    assert [name for name in CHANGE_ONLY if name in imported] == []
