"""Running a module's main() as Ansible would, for the module tests."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args


def run_main(capsys, module, **args):
    """``module.main()`` with ``args``: its exit code, its result and the JSON it printed."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            module.main()
    out = capsys.readouterr().out
    return exited.value.code, json.loads(out), out
