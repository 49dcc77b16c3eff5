# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module's ``main()`` does around its runner: check the host's libraries, run,
report a refusal with the plan so far, exit with the result."""

from __future__ import annotations

from typing import Any, Callable, Dict

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.remotevirt.install.plugins.module_utils.client import LIBVIRT_IMPORT_ERROR
from ansible_collections.remotevirt.install.plugins.module_utils.volume_runner import RunError
from ansible_collections.remotevirt.install.plugins.module_utils.xml.common import LXML_IMPORT_ERROR


def require_libraries(module: Any) -> None:
    """Fail clearly when libvirt-python or lxml is missing on the host."""
    for library, error in (("libvirt-python", LIBVIRT_IMPORT_ERROR), ("lxml", LXML_IMPORT_ERROR)):
        if error:
            module.fail_json(msg=missing_required_lib(library), exception=error)


def run_module(module: Any, run: Callable[[Any, bool, bool], Dict[str, Any]]) -> None:
    """``run(params, check_mode, diff)`` and exit with its result, or fail with its RunError."""
    require_libraries(module)
    try:
        result = run(module.params, module.check_mode, module._diff)
    except RunError as error:
        module.fail_json(msg=str(error), changed=error.changed, plan=error.plan.summaries() if error.plan else [])
    module.exit_json(**result)
