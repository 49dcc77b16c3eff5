"""Hypothesis strategies for option values: plausible ones, the same with a hostile twist (control
characters, other scripts' digits, a trailing newline, '..', spaces), wrong types and nested junk."""

from __future__ import annotations

import string
from typing import Any, Dict, Mapping, Sequence

from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import raw_problems

# Characters that broke or could break parsing: controls, separators, other scripts' digits.
HOSTILE = [
    "\x00",
    "\n",
    "\r",
    "\t",
    "\x1b",
    "\x7f",
    "\x85",
    "\u2028",
    " ",
    "..",
    "/",
    ":",
    "@",
    "%",
    "'",
    '"',
    "\u0663",
    "\u00b2",
    "\uff11",
    "\u00e9",
    "-",
    ".",
]
SAFE = string.ascii_letters + string.digits + "._-"

text = st.lists(st.sampled_from(list(SAFE) + HOSTILE), max_size=12).map("".join)


def twisted(value: str) -> st.SearchStrategy[str]:
    """``value`` as it is (most often), or with a hostile character added, inserted or swapped for a digit."""
    # Weighted by a drawn number: one_of() of the same strategy repeated would not weigh it.
    return st.integers(0, 9).flatmap(
        lambda n: (
            st.just(value)
            if n < 8
            else st.one_of(
                st.sampled_from(HOSTILE).map(lambda bad: value + bad),
                st.sampled_from(HOSTILE).map(lambda bad: bad + value),
                st.tuples(st.integers(0, max(len(value), 1)), st.sampled_from(HOSTILE)).map(
                    lambda pair: value[: pair[0]] + pair[1] + value[pair[0] :]
                ),
                st.just(
                    value.translate(str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"))
                ),
                st.just(value.upper()),
            )
        )
    )


def examples(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from(values).flatmap(twisted)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**40), st.floats(allow_nan=True), text)
junk = st.recursive(
    scalars, lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(text, children, max_size=3)), max_leaves=6
)


def option(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly values of the right kind (some twisted), sometimes anything at all: with a dozen
    options set, most examples still reach the planner."""
    return st.integers(0, 29).flatmap(lambda n: junk if n == 0 else good)


def options(
    required: Mapping[str, st.SearchStrategy[Any]], optional: Mapping[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[Dict[str, Any]]:
    return st.fixed_dictionaries(dict(required), optional=dict(optional))


def spec_checked(spec: Mapping[str, Any], params: Mapping[str, Any], **rules: Sequence[Any]) -> Any:
    """What AnsibleModule (as RemotevirtModule) makes of ``params``: the validated parameters, or
    None when it fails the task with a message. It must never fail with a Python error."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    if any(True for _problem in raw_problems(spec, params)):
        return None
    result = ArgumentSpecValidator(spec, **rules).validate(params)
    if result.error_messages:
        return None
    return result.validated_parameters
