# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module's ``main()`` does around its runner: learn the secrets in its parameters
before anything is logged or returned, check the host's libraries, run, report a refusal with
the plan so far, exit with the result."""

from __future__ import annotations

import re
import sys
from typing import AbstractSet, Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.parameters import remove_values

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import (
    query_secrets,
    redact_message,
    redact_text,
    url_secrets,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    as_dictionary,
    raw_problems,
    shown_uri,
    uri_query_secrets,
    walk_strings,
)
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import LIBVIRT_IMPORT_ERROR
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.common import LXML_IMPORT_ERROR

SecretFinder = Callable[[Mapping[str, Any]], Iterable[str]]

# The host log's module: imported only by runs that change something (import cost on every task).
AUDIT_MODULE = "ansible_collections.remotevirt.install.plugins.module_utils._common.audit"

# Names of keys that hold secrets: a mistyped or misplaced ``url_pasword`` is refused as unknown, and
# AnsibleModule would return its value with the task's arguments (shown at -vvv) and log it on the host,
# masked by nothing. Matched anywhere in a key's name, in any case. Not "kickstart": install.kickstart is a
# path or URL that messages name (a misspelt kickstart_content is closest to that no_log option).
SECRET_NAME = re.compile(
    r"pas|pw|secret|tok|cred|auth|key|sig|cert|priv|user_?data|пароль|parol|kennwort|contrase|mot_de_passe", re.IGNORECASE
)
# Options whose values are URLs (with those named *_url): read as URLs even when their '://' is mistyped.
URL_OPTIONS = frozenset(("url", "location", "kickstart"))
# Below this length, the value of a secret-named key found inside another value is not masked: Ansible masks
# a value wherever it appears, and masking a 0 or a yes would garble every result.
MIN_NESTED_SECRET = 3


def parameter_secrets(params: Mapping[str, Any]) -> Iterator[str]:
    """The user information of every URL in any string of ``params``, its password alone, and the
    longer values of its query (tokens, signatures).

    A libvirt ``uri`` holds no password, and its user is an account name such as ``root``: masking
    that everywhere would garble every result, so only a password there counts; its query values are
    secrets unless they are libvirt's own settings (a socket path, a key file).
    """
    for path, text in walk_strings(params):
        key = path.rsplit(".", 1)[-1]
        loose = is_url_option(key)
        secrets = list(url_secrets(text, loose))
        if key == "uri":
            if any(":" in secret for secret in secrets):
                yield from secrets  # a password, refused
            yield from uri_query_secrets(text)
            continue
        yield from secrets
        yield from query_secrets(text, loose)
    # A free-form option's keys are the user's text too, and a key the argument spec does not know
    # shows in its refusal ("Unsupported parameters ... cloud_init.KEY").
    for key in _keys_of(params):
        yield from url_secrets(key, False)
        yield from query_secrets(key, False)


def _keys_of(value: Any) -> Iterator[str]:
    """Every key of every dictionary in ``value``, at any depth, that is text."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                yield key
            yield from _keys_of(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _keys_of(item)


def is_url_option(key: str) -> bool:
    """Whether option ``key`` takes a URL, so a value of it is read as one even when mistyped."""
    return key in URL_OPTIONS or key.endswith("_url")


def no_log_strings(spec: Mapping[str, Any], params: Any) -> Iterator[str]:
    """Every non-empty text (and number, as text) inside the no_log options of ``spec`` in
    ``params``, suboptions included; whatever the shape of ``params``, it never fails."""
    if not isinstance(params, Mapping):
        return
    for key, option in spec.items():
        value = params.get(key)
        if option.get("no_log"):
            yield from _scalars_as_text(value)
        suboptions = option.get("options")
        if suboptions:
            for item in _dictionaries(value, option):
                yield from no_log_strings(suboptions, item)


def unknown_key_secrets(spec: Mapping[str, Any], params: Any) -> Iterator[str]:
    """The values in ``params`` that look secret and that no no_log option of ``spec`` masks: the whole
    value of a key ``spec`` does not know whose name says or suggests a secret (a password, a token, a key)
    or that is closest to a no_log option, and inside any other value (an unknown key's, or a free-form
    option's such as ``tpm`` or ``memory`` given a dictionary) the values of keys whose names say so, at
    any depth. The argument spec refuses unknown keys, but only after AnsibleModule holds their values."""
    if not isinstance(params, Mapping):
        return
    known = _known_keys(spec)
    for key, value in params.items():
        option = known.get(key)
        if option is None:
            if str(key).startswith("_ansible_"):
                continue
            if _secret_looking(str(key), spec):
                yield from _scalars_as_text(value)
            else:
                yield from secret_named_values(value)
        elif option.get("no_log"):
            continue  # masked whole by AnsibleModule (and by no_log_strings)
        elif option.get("options"):
            for item in _dictionaries(value, option):
                yield from unknown_key_secrets(option["options"], item)
        else:
            yield from secret_named_values(_as_dictionary(value, option))


def secret_named_values(value: Any) -> Iterator[str]:
    """The values of the keys of ``value``, at any depth, whose names say they are secrets."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if SECRET_NAME.search(str(key)):
                yield from (text for text in _scalars_as_text(item) if len(text) >= MIN_NESTED_SECRET)
            else:
                yield from secret_named_values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from secret_named_values(item)


def _as_dictionary(value: Any, option: Mapping[str, Any]) -> Any:
    """A dictionary option's value as AnsibleModule will read it: text (JSON, or ``k=v`` pairs) becomes
    the dictionary whose unknown keys the argument spec then refuses, showing their values."""
    return as_dictionary(value) if option.get("type") == "dict" else value


def _dictionaries(value: Any, option: Mapping[str, Any]) -> List[Any]:
    """The dictionaries of an option with suboptions as AnsibleModule will read them: its value, or
    each element of a list, text read as a dictionary."""
    if option.get("type") == "list" and isinstance(value, list):
        return [as_dictionary(item) for item in value]
    value = _as_dictionary(value, option)
    return value if isinstance(value, list) else [value]


def _known_keys(spec: Mapping[str, Any]) -> Dict[str, Mapping[str, Any]]:
    """Every option of ``spec`` by its name and by each of its aliases."""
    known: Dict[str, Mapping[str, Any]] = {}
    for name, option in spec.items():
        known[name] = option
        for alias in option.get("aliases") or ():
            known[alias] = option
    return known


def _secret_looking(key: str, spec: Mapping[str, Any]) -> bool:
    # Imported here: only an unknown key needs it.
    from ansible_collections.remotevirt.install.plugins.module_utils._common.names import closest_option

    if "://" in key:
        return False  # a URL written as a key: its own credentials are masked (parameter_secrets), not its value
    if SECRET_NAME.search(key):
        return True
    closest = closest_option(key, spec)
    return closest is not None and bool(spec[closest].get("no_log"))


def _scalars_as_text(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _scalars_as_text(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _scalars_as_text(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value):
        yield str(value)


class RemotevirtModule(AnsibleModule):
    """An AnsibleModule that knows every secret of its parameters before it logs or returns any.

    AnsibleModule logs the invocation on the host (journald or syslog) and adds the parameters to
    every result, masking only the values of no_log options. URL credentials in any option, and
    the no_log values that ``secrets`` finds in free-form options (virt_preflight's guests), join
    them as soon as the parameters are read, before validation can fail.
    """

    params: Dict[str, Any]  # AnsibleModule's, declared for type checkers: this class swaps it while logging

    def __init__(self, *args: Any, secrets: Optional[SecretFinder] = None, **kwargs: Any) -> None:
        self._find_secrets = secrets
        super().__init__(*args, **kwargs)

    def _load_params(self) -> None:
        super()._load_params()
        self.no_log_values.update(parameter_secrets(self.params))
        self.no_log_values.update(unknown_key_secrets(self.argument_spec, self.params))
        # A no_log option given a dictionary or a list (a kickstart pasted without '|'): AnsibleModule
        # masks only a text, so every text inside it joins, before validation refuses the shape.
        self.no_log_values.update(no_log_strings(self.argument_spec, self.params))
        if self._find_secrets is not None:
            self.no_log_values.update(self._find_secrets(self.params))
        # Before the argument spec reads them: it misreads some values, or fails with a traceback.
        for problem in raw_problems(self.argument_spec, self.params):
            self.fail_json(msg=problem)

    def _log_invocation(self) -> None:
        # AnsibleModule logs a list or dict parameter as its repr(), where a secret with a newline
        # appears escaped ('\n') and is no longer found: mask the values themselves first.
        params = self.params
        self.params = shown_parameters(remove_values(params, self.no_log_values), hidden=self.no_log_values)
        try:
            super()._log_invocation()
        finally:
            self.params = params

    def exit_json(self, **kwargs: Any) -> None:
        kwargs.setdefault("invocation", {"module_args": shown_parameters(self.params, hidden=self.no_log_values)})
        super().exit_json(**kwargs)

    def fail_json(self, msg: str, **kwargs: Any) -> None:
        kwargs.setdefault("invocation", {"module_args": shown_parameters(self.params, hidden=self.no_log_values)})
        # AnsibleModule's own refusals quote what they refuse (an unknown key, a value): URLs masked there too.
        # Masked after the no_log values are (a password with '@' or a space is one of them whole).
        shown = redact_message(remove_values(msg, self.no_log_values)) if isinstance(msg, str) else msg
        super().fail_json(shown, **kwargs)


def shown_parameters(params: Any, key: str = "", hidden: AbstractSet[str] = frozenset()) -> Any:
    """``params`` as the host log and a result's invocation show them: every URL in a string with its
    user information, query values and fragment masked, however short (a no_log value is masked
    wherever it appears, so values under six characters are not made no_log values, and would show
    here). A ``uri`` (at any depth) is read as a libvirt URI: its query's libvirt settings stay shown.
    Dictionary keys are masked too, first of the no_log values in ``hidden`` (Ansible masks values only)."""
    if isinstance(params, Mapping):
        # A free-form option's keys are the user's text too (cloud_init.meta_data): masked as values are.
        return {_shown_key(name, hidden): shown_parameters(value, str(name), hidden) for name, value in params.items()}
    if isinstance(params, (list, tuple)):
        return [shown_parameters(value, key, hidden) for value in params]
    if isinstance(params, str):
        return shown_uri(params) if key == "uri" else redact_text(params, whole=is_url_option(key))
    return params


def _shown_key(name: Any, hidden: AbstractSet[str]) -> Any:
    return redact_text(remove_values(name, hidden)) if isinstance(name, str) else name


def require_libraries(module: Any) -> None:
    """Fail clearly when libvirt-python or lxml is missing on the host."""
    for library, error in (("libvirt-python", LIBVIRT_IMPORT_ERROR), ("lxml", LXML_IMPORT_ERROR)):
        if error:
            module.fail_json(msg=missing_required_lib(library), exception=error)


def unexpected_failure(error: BaseException) -> str:
    """One line for an error no code path expected (a bug): its type and text, URL credentials masked."""
    text = " ".join(str(error).split())
    return "unexpected %s: %s (please report this as a bug of remotevirt.install)" % (
        type(error).__name__,
        redact_message(text) or "no message",
    )


def failure_of(error: RemotevirtError) -> Dict[str, Any]:
    """fail_json's arguments for a reported error: its text, whether the host changed, the plan so far,
    and the ``result`` it carries (virt_preflight's problems)."""
    plan = getattr(error, "plan", None)
    failure = dict(getattr(error, "result", None) or {})  # what a module returns with its failure
    failure.update({"msg": redact_message(str(error)), "changed": bool(getattr(error, "changed", False))})
    if plan is not None or "plan" not in failure:
        failure["plan"] = plan.summaries() if plan is not None else []
    return failure


def host_log_warnings() -> List[str]:
    """What the host log could not do in this run (no sink, a failed write), each once."""
    # A run that wrote no record never imported the host log, and has nothing to say about it.
    audit = sys.modules.get(AUDIT_MODULE)
    return audit.take_warnings() if audit is not None else []


def run_module(module: Any, run: Callable[[Any, bool, bool], Dict[str, Any]]) -> None:
    """``run(params, check_mode, diff)`` and exit with its result, or fail with its error's message.

    The task fails outside the ``except`` blocks, so Ansible attaches no traceback: a failure is
    always one message. Warnings of the result and of the host log join either.
    """
    require_libraries(module)
    result: Dict[str, Any] = {}
    failure: Optional[Dict[str, Any]] = None
    try:
        result = run(module.params, module.check_mode, module._diff)
    except RemotevirtError as error:
        failure = failure_of(error)
    except Exception as error:  # a bug: still one clear line, never a traceback with parameters in it
        failure = {"msg": unexpected_failure(error), "changed": False, "plan": []}
    # Ansible takes warnings through warn(): a result's own "warnings" is deprecated.
    for warning in list(result.pop("warnings", None) or ()) + host_log_warnings():
        module.warn(utf8_text(warning))
    if failure is not None:
        module.fail_json(**utf8_text(failure))
    module.exit_json(**utf8_text(result))


def utf8_text(value: Any) -> Any:
    """``value`` with every string made UTF-8 text: a name read from the host that is not (a file
    name, an image header's backing file) reaches Python with surrogates, which Ansible refuses to
    send, failing the task with no message of its own; such bytes are shown escaped (``\\xff``)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _escaped(value)
        return value
    if isinstance(value, dict):
        return {utf8_text(key): utf8_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [utf8_text(item) for item in value]
    if isinstance(value, tuple):
        return tuple(utf8_text(item) for item in value)
    return value


def _escaped(text: str) -> str:
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no undecodable byte made
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
