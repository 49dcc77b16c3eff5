"""Fails when one test's cleanup could remove what another test made.

The integration targets and molecule scenarios run in two lanes side by side on the same
hypervisors. Each removes its guests, volumes and files by a name prefix (``grep '^rt13-'``,
``awk '$1 ~ /^rvcr-/'``). A prefix that also starts a name of another target or scenario removes
that one's guest while it runs, and its next assertion fails for a reason of its own.

Usage: python tests/static/cleanup_prefixes.py DIR...   (each DIR holds targets or scenarios)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# The anchored patterns the cleanups select names with: grep [-E] '^X', and awk's /^X/.
CLEANUP_PATTERN = re.compile(r"""grep (?:-[A-Za-z]+ )*'\^([^'$]+)|~ /\^([^/$]+)/""")
TEXT_SUFFIXES = {"", ".yml", ".yaml", ".sh", ".j2", ".py", ".ini", ".cfg", ".txt", ".json"}
# A target's own name prefix, as its playbooks define it (vars: prefix: rt5-) and use it ({{ prefix }})
PREFIX_VARIABLE = re.compile(r"^\s*prefix: ([\w.-]+)\s*$", re.MULTILINE)
PREFIX_USE = "{{ prefix }}"
# What a name pattern may hold; other anchored greps (of a log's "[ERROR]" lines) select no names
NAME_PATTERN = re.compile(r"[\w.\[\]()|-]+")


def test_texts(dirs: list[Path]) -> dict[str, str]:
    """Each target's or scenario's files, joined, by its directory's name."""
    texts = {}
    for parent in dirs:
        for test in sorted(p for p in parent.iterdir() if p.is_dir()):
            files = sorted(p for p in test.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
            text = "\n".join(p.read_text(errors="replace") for p in files)
            texts[test.name] = with_prefixes(text)
    return texts


def with_prefixes(text: str) -> str:
    """The text once as written, and once more for each prefix it defines with {{ prefix }} replaced."""
    values = PREFIX_VARIABLE.findall(text)
    return "\n".join([text, *(text.replace(PREFIX_USE, value) for value in values)])


def cleanup_prefixes(text: str) -> set[str]:
    """The regular expressions (without their ^) that a test's cleanups select names by."""
    found = {grep or awk for grep, awk in CLEANUP_PATTERN.findall(text)}
    return {prefix for prefix in found if NAME_PATTERN.fullmatch(prefix)}


def clashes(texts: dict[str, str]) -> list[str]:
    """One line for each prefix that starts a name in another test."""
    found = []
    for owner, text in texts.items():
        for prefix in sorted(cleanup_prefixes(text)):
            # a name starts after a space, a quote, a slash or a line's start, not inside a word
            name = re.compile(r"(?<![\w.-])(?:" + prefix + r")[\w.{-]*")
            for other, other_text in texts.items():
                match = None if other == owner else name.search(other_text)
                if match:
                    found.append(f"{owner} removes names matching ^{prefix}, and {other} uses {match.group(0)!r}")
    return found


def main(argv: list[str]) -> int:
    found = clashes(test_texts([Path(arg) for arg in argv]))
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
