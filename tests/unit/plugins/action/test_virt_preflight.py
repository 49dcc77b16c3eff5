"""virt_preflight's action plugin: the play's strategy, read from the task's play."""

from __future__ import annotations

from typing import Any, Dict

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play import Play
from ansible.vars.manager import VariableManager

from ansible_collections.remotevirt.install.plugins.action.virt_preflight import play_strategy


def first_task(play_source: Dict[str, Any]) -> Any:
    loader = DataLoader()
    play = Play.load(play_source, variable_manager=VariableManager(loader=loader), loader=loader)
    return play.compile()[-1].block[0]


@pytest.mark.parametrize("strategy", ["free", "linear", "ansible.builtin.host_pinned", "mitogen_linear"])
def test_the_strategy_is_the_plays_own(strategy):
    task = first_task({"hosts": "all", "strategy": strategy, "tasks": [{"meta": "noop"}]})
    assert play_strategy(task) == strategy


def test_a_play_without_one_has_the_configured_default():
    task = first_task({"hosts": "all", "tasks": [{"meta": "noop"}]})
    assert play_strategy(task) == "linear"


def test_a_task_without_a_play_has_none():
    assert play_strategy(object()) is None
