# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Records the wall time of every task (start to its host result) into $TASK_TIMER_OUT as JSON."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: task_timer
type: aggregate
short_description: Per-task wall times for the benchmarks
description: Writes a JSON list of {name, seconds, started, changed, failed, ignored, size} to the file named by
  TASK_TIMER_OUT (started is the task's start as wall-clock time,
  size the length of the task's result as JSON).
requirements:
  - enabled in callbacks_enabled
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.started = 0.0
        self.wall_start = 0.0
        self.name = ""
        self.records: list = []

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.name = task.get_name()
        self.started = time.perf_counter()
        self.wall_start = time.time()

    def _done(self, result, failed: bool, ignored: bool = False) -> None:
        seconds = time.perf_counter() - self.started
        size = len(json.dumps(result._result, default=str))
        self.records.append(
            {
                "name": self.name,
                "seconds": seconds,
                "started": self.wall_start,
                "changed": bool(result._result.get("changed")),
                "failed": failed,
                "ignored": ignored,
                "size": size,
            }
        )

    def v2_runner_on_ok(self, result):
        self._done(result, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, True, ignore_errors)

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["TASK_TIMER_OUT"], "w") as handle:
            json.dump(self.records, handle)
