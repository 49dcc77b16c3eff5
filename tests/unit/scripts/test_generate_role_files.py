"""scripts/generate-role-files and the role files it writes: the roles declare exactly the module's guest options."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from typing import Any, Dict, Mapping

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


def _guest_entry_options(role: str, entry_point: str) -> Dict[str, Any]:
    options = _argument_specs(role)["argument_specs"][entry_point]["options"]
    return options[SOURCE["roles"][role]["guest_list"]]["options"]


def _entry_points():
    return [(role, entry_point) for role in ROLES for entry_point in SOURCE["roles"][role]["entry_points"]]


def _declaration(option: Mapping[str, Any]) -> Dict[str, Any]:
    declared = {key: option.get(key) for key in COMPARED}
    declared["type"] = declared["type"] or "str"
    declared["no_log"] = bool(declared["no_log"])
    declared["required"] = bool(declared["required"])
    return declared


def _mismatches(module: Mapping[str, Any], role: Mapping[str, Any], where: str = ""):
    """Every option, at any depth, whose declaration differs, or that one side has and the other not."""
    for name in sorted(set(module) | set(role)):
        path = where + name
        if name not in role:
            yield "%s: missing in the role" % path
        elif name not in module:
            yield "%s: not a module option" % path
        else:
            if _declaration(module[name]) != _declaration(role[name]):
                yield "%s: module %s, role %s" % (path, _declaration(module[name]), _declaration(role[name]))
            yield from _mismatches(module[name].get("options", {}), role[name].get("options", {}), path + ".")


def test_committed_files_are_what_the_generator_writes():
    """A changed guest option, module description or role source shows here until the files are regenerated."""
    stale = [path for path, text in generator.render(ROOT, guest_argument_spec()).items()
             if (ROOT / path).read_text(encoding="utf-8") != text]
    assert not stale, "%s differ from their sources: run scripts/generate-role-files" % ", ".join(stale)


@pytest.mark.parametrize("role, entry_point", _entry_points())
def test_each_role_declares_every_module_option_as_the_module_does(role, entry_point):
    """Same type, choices, elements, no_log and required, nested options included; shorthand aside."""
    options = dict(_guest_entry_options(role, entry_point))
    for shorthand in SOURCE["roles"][role]["shorthands"]:
        options.pop(shorthand)
    assert list(_mismatches(guest_argument_spec(), options)) == []


@pytest.mark.parametrize("role, entry_point", _entry_points())
def test_a_role_adds_nothing_but_its_documented_shorthand(role, entry_point):
    extra = set(_guest_entry_options(role, entry_point)) - set(guest_argument_spec())
    assert extra == set(SOURCE["roles"][role]["shorthands"])


@pytest.mark.parametrize("role", ROLES)
def test_shorthand_is_what_the_filter_turns_into_install(role):
    # cloud_instance's cloud_guest_args also takes the cloud shorthand (image, size, pool).
    cloud = set(CLOUD_KEYS) if role == "cloud_instance" else set()
    assert set(SOURCE["roles"][role]["shorthands"]) <= set(MEDIA_KEYS) | cloud


def test_the_shared_role_takes_every_shorthand_of_the_filter():
    assert set(SOURCE["roles"]["guests"]["shorthands"]) == set(MEDIA_KEYS)


@pytest.mark.parametrize("shorthand, install_option", [("iso", "cdrom"), ("kickstart_content", "kickstart_content")])
def test_a_shorthand_is_declared_like_the_install_option_it_becomes(shorthand, install_option):
    """iso checks pool/volume/path like install.cdrom; the inline kickstart is hidden like install's."""
    install = guest_argument_spec()["install"]["options"][install_option]
    declared = _guest_entry_options("guests", "main")[shorthand]
    assert list(_mismatches({shorthand: install}, {shorthand: declared})) == []


def test_the_install_task_passes_every_module_option_once():
    """Each option of the module reaches it from the guest's entry; a required one is never omitted."""
    tasks = yaml.safe_load((ROOT / "roles" / "guests" / "tasks" / "install.yml").read_text(encoding="utf-8"))
    args = next(task["remotevirt.install.virt_guest_install"] for task in tasks
                if "remotevirt.install.virt_guest_install" in task)
    assert set(args) == set(guest_argument_spec())
    for name, value in args.items():
        omitted = "{{ guests_item.%s | default(omit) }}" % name
        assert value == ("{{ guests_item.%s }}" % name if guest_argument_spec()[name].get("required") else omitted)


@pytest.mark.parametrize("text, expected", [
    ("Use O(reinstall=true).", "Use O(guests_list[].reinstall=true)."),
    ("See O(disks[].target) and O(install.cdrom.pool).",
     "See O(guests_list[].disks[].target) and O(guests_list[].install.cdrom.pool)."),
    ("Set it with O(ignore:module_defaults).", "Set it with O(ignore:module_defaults)."),
    ("Reports RV(reboot_required).", "Reports RV(remotevirt.install.virt_guest_install#module:reboot_required)."),
])
def test_module_references_point_into_the_role_guest_entries(text, expected):
    assert generator.role_references(text, "guests_list") == expected


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
    role = {"prefix": "r_", "description": ["The role."],
            "entry_points": {"main": {"short_description": "All"}, "check": {"short_description": "Some"}}}
    assert generator.entry_point_description(role, "main") == ["The role."]
    with pytest.raises(SystemExit, match="entry point check of role r_ needs a description of its own"):
        generator.entry_point_description(role, "check")
