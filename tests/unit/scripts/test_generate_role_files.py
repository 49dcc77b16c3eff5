"""scripts/generate-role-files and the role files it writes: the roles declare exactly the module's guest options."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml

from ansible_collections.remotevirt.install.plugins.filter.cloud_instance import CLOUD_KEYS
from ansible_collections.remotevirt.install.plugins.filter.guest_args import MEDIA_KEYS
from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec

ROOT = Path(__file__).resolve().parents[3]
SOURCE = yaml.safe_load((ROOT / "scripts" / "role-specs.yml").read_text(encoding="utf-8"))
ROLES = sorted(SOURCE["roles"])
# What must agree between the module and a role for Ansible to accept and hide the same values.
COMPARED = ("type", "choices", "elements", "no_log", "required")


def _generator():
    loader = importlib.machinery.SourceFileLoader("generate_role_files", str(ROOT / "scripts" / "generate-role-files"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


generator = _generator()


def _argument_specs(role: str) -> Dict[str, Any]:
    return yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))


def _guest_list(role: str, entry_point: str) -> Dict[str, Any]:
    return _argument_specs(role)["argument_specs"][entry_point]["options"][SOURCE["roles"][role]["guest_list"]]


def _documented_entry_options(role: str, entry_point: str):
    """The names the guest list's description documents, one line each: C(name) (...): ..."""
    return [
        re.match(r"C\((\w+)\) \(", line).group(1)
        for line in _guest_list(role, entry_point)["description"]
        if re.match(r"C\((\w+)\) \(", line)
    ]


def _entry_points():
    return [(role, entry_point) for role in ROLES for entry_point in SOURCE["roles"][role]["entry_points"]]


def test_committed_files_are_what_the_generator_writes():
    """A changed guest option, module description or role source shows here until the files are regenerated."""
    stale = [
        path
        for path, text in generator.render(ROOT, guest_argument_spec()).items()
        if (ROOT / path).read_text(encoding="utf-8") != text
    ]
    assert not stale, "%s differ from their sources: run scripts/generate-role-files" % ", ".join(stale)


@pytest.mark.parametrize("role, entry_point", _entry_points())
def test_each_role_documents_every_module_option_and_its_shorthand_once(role, entry_point):
    """Name first, then the module's options in its spec's order, then the role's shorthand."""
    expected = ["name"] + [name for name in guest_argument_spec() if name != "name"] + SOURCE["roles"][role]["shorthands"]
    assert _documented_entry_options(role, entry_point) == expected


@pytest.mark.parametrize("role, entry_point", _entry_points())
def test_guest_entries_are_left_to_the_preflight(role, entry_point):
    """No suboptions, and entries of any kind: the role's argument validation would refuse a mistyped key or
    a null entry on its own host (dumping its whole spec), before the preflight names every mistake of every
    host with its path."""
    guest_list = _guest_list(role, entry_point)
    assert "options" not in guest_list and (guest_list["type"], guest_list["elements"]) == ("list", "raw")


def test_a_secret_option_is_documented_as_never_shown():
    lines = _guest_list("iso_install", "main")["description"]
    for name, option in guest_argument_spec().items():
        if option.get("no_log"):
            assert any(line.startswith("C(%s) (" % name) and "never shown" in line for line in lines)


@pytest.mark.parametrize("role", ROLES)
def test_shorthand_is_what_the_filter_turns_into_install(role):
    # cloud_instance's cloud_guest_args also takes the cloud shorthand (image, size, pool).
    cloud = set(CLOUD_KEYS) if role == "cloud_instance" else set()
    assert set(SOURCE["roles"][role]["shorthands"]) <= set(MEDIA_KEYS) | cloud


def test_the_shared_role_takes_every_shorthand_of_the_filter():
    assert set(SOURCE["roles"]["guests"]["shorthands"]) == set(MEDIA_KEYS)


def test_the_install_task_passes_every_module_option_once():
    """Each option of the module reaches it from the guest's entry; a required one is never omitted."""
    tasks = yaml.safe_load((ROOT / "roles" / "guests" / "tasks" / "install.yml").read_text(encoding="utf-8"))
    args = next(
        task["remotevirt.install.virt_guest_install"] for task in tasks if "remotevirt.install.virt_guest_install" in task
    )
    # The module's own options for existing guests come from the variables of the guest's list, not from the entry.
    assert args.pop("update_existing").startswith("{{ guests_item_updates.update_existing")
    assert args.pop("update_hint").startswith("{{ guests_item_updates.update_hint")
    assert set(args) == set(guest_argument_spec())
    for name, value in args.items():
        omitted = "{{ guests_item.%s | default(omit) }}" % name
        assert value == ("{{ guests_item.%s }}" % name if guest_argument_spec()[name].get("required") else omitted)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Use O(reinstall=true).", "Use C(reinstall=true)."),
        ("See O(disks[].target).", "See C(disks[].target)."),
        ("Set it with O(ignore:module_defaults).", "Set it with O(ignore:module_defaults)."),
        ("Reports RV(reboot_required).", "Reports RV(remotevirt.install.virt_guest_install#module:reboot_required)."),
    ],
)
def test_module_references_point_to_the_module(text, expected):
    assert generator.module_references(text) == expected


def test_an_option_without_documentation_stops_the_generator():
    spec = dict(guest_argument_spec(), colour=dict(type="str"))
    with pytest.raises(SystemExit, match="option colour is not documented"):
        generator.render(ROOT, spec)


def test_the_install_task_needs_its_markers():
    with pytest.raises(SystemExit, match="must enclose the module's options"):
        generator.install_tasks_text("- name: Install\n  remotevirt.install.virt_guest_install:\n", guest_argument_spec())


@pytest.mark.parametrize("role, entry_point", [pair for pair in _entry_points() if pair[1] != "main"])
def test_an_entry_point_other_than_main_says_what_it_does_itself(role, entry_point):
    specs = _argument_specs(role)["argument_specs"]
    assert specs[entry_point]["description"] != specs["main"]["description"]


def test_an_entry_point_without_a_description_of_its_own_is_refused():
    role = {
        "prefix": "r_",
        "description": ["The role."],
        "entry_points": {"main": {"short_description": "All"}, "check": {"short_description": "Some"}},
    }
    assert generator.entry_point_description(role, "main") == ["The role."]
    with pytest.raises(SystemExit, match="entry point check of role r_ needs a description of its own"):
        generator.entry_point_description(role, "check")
