"""Every plugin's DOCUMENTATION, EXAMPLES and RETURN (and every adjacent YAML doc file) parses as
YAML: one ': ' in a plain scalar makes ansible-doc and sanity refuse a module's whole documentation,
and nothing else in the unit tests would read it."""

from __future__ import annotations

import ast
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(ROOT, "plugins")
SECTIONS = ("DOCUMENTATION", "EXAMPLES", "RETURN")


def _plugin_files(ending):
    for directory, _subdirectories, files in os.walk(PLUGINS):
        if "module_utils" in directory or "plugin_utils" in directory:
            continue
        for name in sorted(files):
            if name.endswith(ending) and not name.startswith("_"):
                yield os.path.relpath(os.path.join(directory, name), ROOT)


def _sections_of(path):
    """The doc strings a Python plugin assigns at module level, read without importing it."""
    with open(os.path.join(ROOT, path)) as source:
        tree = ast.parse(source.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in SECTIONS:
                    yield target.id, node.value.value


@pytest.mark.parametrize("path", sorted(_plugin_files(".py")))
def test_doc_strings_parse(path):
    for section, text in _sections_of(path):
        if section == "EXAMPLES":  # an inventory plugin's examples are several files, one document each
            list(yaml.safe_load_all(text))
        else:
            assert isinstance(yaml.safe_load(text), dict), "%s: %s is no mapping" % (path, section)


@pytest.mark.parametrize("path", sorted(_plugin_files(".yml")))
def test_adjacent_doc_files_parse(path):
    with open(os.path.join(ROOT, path)) as document:
        data = yaml.safe_load(document)
    assert isinstance(data, dict) and set(data) & set(SECTIONS), path
