"""Every task of the integration targets names its module or action by its fully qualified name.

ansible-lint (production profile) lints the collection's own content: roles, playbooks, plugins'
documentation, the molecule scenarios. The integration targets are left out of it: the test command
runs each of them whole with ansible-playbook, which parses every playbook and task file it reaches,
and ansible-lint's pass over them cost four minutes of CPU. This keeps its fqcn rule for them
(``ansible.builtin.command``, not ``command``), in about a second.

Usage: python tests/static/fqcn.py DIR...   (prints each offending task; exits 1 if any)
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterator, List, Tuple

# A key given again after a YAML merge (<<: *anchor) is the targets' way of overriding it; the
# playbook runs judge such keys, this check only reads module names.
os.environ.setdefault("ANSIBLE_DUPLICATE_YAML_DICT_KEY", "ignore")

from ansible.parsing.yaml.loader import AnsibleLoader  # noqa: E402 - after the setting above
from ansible.playbook.block import Block  # noqa: E402
from ansible.playbook.task import Task  # noqa: E402

# What a task may hold besides its module: Ansible's task and block keywords, and the ones its
# parser takes apart itself.
TASK_KEYWORDS = set(Task.fattributes) | set(Block.fattributes) | {"local_action", "listen"}
PLAY_TASK_LISTS = ("pre_tasks", "tasks", "post_tasks", "handlers")


def yaml_files(directories: List[str]) -> Iterator[str]:
    for directory in directories:
        for parent, _dirs, names in os.walk(directory):
            for name in sorted(names):
                if name.endswith((".yml", ".yaml")):
                    yield os.path.join(parent, name)


def task_lists(path: str, document: Any) -> Iterator[list]:
    """The task lists of a playbook (its plays'), or the file itself when it is a task file."""
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        return  # vars, inventories, data
    if any("hosts" in item or "import_playbook" in item for item in document):
        for play in document:
            for key in PLAY_TASK_LISTS:
                if isinstance(play.get(key), list):
                    yield play[key]
    elif os.sep + "tasks" + os.sep in path or os.sep + "handlers" + os.sep in path:
        yield document


def tasks(entries: list) -> Iterator[dict]:
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if "block" in entry:
            for key in ("block", "rescue", "always"):
                yield from tasks(entry.get(key) or [])
        else:
            yield entry


def module_of(task: dict) -> str:
    """The module or action a task names (its first word for ``action``/``local_action`` strings)."""
    keys = [key for key in task if key not in TASK_KEYWORDS and not key.startswith("with_")]
    if keys:
        return keys[0]
    action = task.get("action") or task.get("local_action")
    if isinstance(action, dict):
        return str(action.get("module", ""))
    return str(action or "").split(" ", 1)[0]


def tasks_of(path: str) -> Iterator[Tuple[str, str]]:
    """(module, task name) of every task in the file at ``path``."""
    with open(path, encoding="utf-8") as handle:
        document = AnsibleLoader(handle.read()).get_single_data()
    for entries in task_lists(path, document):
        for task in tasks(entries):
            yield module_of(task), str(task.get("name", "(unnamed)"))


def main(directories: List[str]) -> int:
    found = checked = 0
    for path in yaml_files(directories):
        for module, name in tasks_of(path):
            checked += 1
            if module.count(".") < 2:
                found += 1
                print("%s: task %r names %r, not a fully qualified name" % (path, name, module))
    print("fqcn: %d of %d tasks without a fully qualified name" % (found, checked))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
