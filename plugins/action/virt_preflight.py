# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""virt_preflight: runs the module on the host and adds the play's strategy to its result.

The roles stop every host when any host has a problem. That holds only when every host reaches
the stop together, as under the linear strategy; under ``free`` a host whose own preflight passed
goes on installing while a slower host is still checking. Only the controller knows the play's
strategy, so the roles read it from here.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.plugins.action import ActionBase


def play_strategy(task: Any) -> Optional[str]:
    """The strategy of the play ``task`` runs in, as the play names it (``free``,
    ``ansible.builtin.linear``, ``mitogen_linear``), or None where the task has no play."""
    try:
        play = task.get_play()
    except AttributeError:  # a task outside a play's blocks (ad hoc)
        return None
    strategy = getattr(play, "strategy", None)
    return strategy if isinstance(strategy, str) and strategy else None


class ActionModule(ActionBase):
    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars)
        result.update(
            self._execute_module(
                module_name="remotevirt.install.virt_preflight", module_args=self._task.args, task_vars=task_vars
            )
        )
        result["play_strategy"] = play_strategy(self._task)
        return result
