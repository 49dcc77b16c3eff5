# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of option values that every module shares, run by the request parsers at plan time.

Check mode parses requests exactly as the real run does, so whatever is refused here is refused
before anything is read or created. Functions named ``*_problem`` return why a value cannot be
used ("" when it can); the others raise PlanError. Messages name the option and what to do, and
never repeat a value that may hold a secret (URLs are shown without their user information).

Only ``re`` and ``ipaddress`` are needed: this module is compiled on every task.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import unquote, urlsplit

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import MASK, redact_url

# Patterns are kept as text and matched through re's own cache, so a task compiles only those its
# path uses (compiling every one at import was most of what a no-op spent loading this code).
# C0 controls, DEL, C1 controls and the Unicode line and paragraph separators: none belongs in a
# name, a path, a URL or a command-line word, and each can forge a line in a log.
_CONTROL_RE = "[\x00-\x1f\x7f-\x9f\u2028\u2029]"
# Characters that show as nothing or as a blank: Unicode's formatting characters (Cf: zero-width
# spaces and joiners, direction marks, embeddings, overrides and isolates, the byte order mark, tag
# characters), the other default-ignorable ones (variation selectors, fillers, the combining grapheme
# joiner), spaces other than ASCII's and the blank braille pattern. A path, name or URL holding one
# reads the same as another that does not, in a plan, a diff or the host log, or reads in another order.
_INVISIBLE_RE = (
    "[\\u00a0\\u00ad\\u034f\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890-\\u0891\\u08e2\\u115f-\\u1160\\u1680"
    "\\u17b4-\\u17b5\\u180b-\\u180f\\u2000-\\u200f\\u202a-\\u202f\\u205f-\\u206f\\u2800\\u3000\\u3164"
    "\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff0-\\ufffb\\U000110bd\\U000110cd\\U00013430-\\U0001343f"
    "\\U0001bca0-\\U0001bca3\\U0001d173-\\U0001d17a\\U000e0000-\\U000e0fff]"
)
# Lone surrogates: what Python makes of bytes that are not UTF-8; they cannot be encoded again.
_SURROGATE_RE = "[\ud800-\udfff]"
# Options that hold a file's text: lines and tabs are their content; NUL never is.
FREE_TEXT_OPTIONS = frozenset(("install.kickstart_content",))
# Options whose every string is file content (cloud-init's user-data, meta-data and network-config).
FREE_TEXT_PREFIXES = ("cloud_init.",)

_ASCII_NUMBER_RE = r"[0-9]+"
_OCTAL_MODE_RE = r"[0-7]{1,12}"
MAX_MODE = 0o777  # setuid, setgid and sticky bits have no business on a disk image
MAX_ID = 2**32 - 2  # (uid_t) -1 means "leave unchanged" to chown
# POSIX portable user and group names (useradd's default rule, with a trailing $ for machine accounts).
_ACCOUNT_NAME_RE = r"[A-Za-z_][A-Za-z0-9_.-]*\$?"

# libvirt URIs: driver[+transport]://[user@][host][:port][/path][?query].
_URI_RE = (
    r"(?P<driver>[A-Za-z][A-Za-z0-9]*)(?:\+(?P<transport>[A-Za-z0-9]+))?://"
    r"(?:(?P<user>[^/?#@:]*)(?P<password>:[^/?#@]*)?@)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]*)"
    r"(?::(?P<port>[^/?#]*))?"
    r"(?P<path>/[^?#]*)?"
    r"(?:\?(?P<query>[^#]*))?"
)
URI_TRANSPORTS = ("unix", "ssh", "libssh", "libssh2", "tcp", "tls", "ext")
_HOST_TRANSPORTS = ("ssh", "libssh", "libssh2", "tcp", "tls")
# Transports other than SSH (and a host without a transport, which libvirt reaches over TLS)
# have no port libvirt could take from a config file the admin reads: it is written in the URI.
_PORT_TRANSPORTS = (None, "tcp", "tls")
_QEMU_PATHS = ("/system", "/session", "/embed")
# libvirt splits a URI's query on '&' and ';' and percent-decodes each parameter's name.
_QUERY_SEPARATOR_RE = "[&;]"
# The query parameters libvirt's client reads from a connection URI (its remote driver's extra parameters),
# but name=, which is refused and may hold another URI with its credentials.
LIBVIRT_URI_SETTINGS = frozenset(
    (
        "command",
        "socket",
        "auth",
        "netcat",
        "keyfile",
        "sshauth",
        "no_verify",
        "no_tty",
        "pkipath",
        "known_hosts",
        "known_hosts_verify",
        "tls_priority",
        "mode",
        "proxy",
    )
)
# Shorter query values of a URI are not masked: Ansible masks a value wherever it shows.
_MIN_URI_SECRET = 6
_PERCENT_RE = "%([0-9A-Fa-f]{2})"
URI_EXAMPLES = "qemu:///system, qemu+ssh://user@host/system or qemu+tls://host:16514/system"

# scheme://[userinfo@]host[:port]... ; the host is what follows the user information.
_URL_RE = (
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:[^/?#@]*@)?(?P<host>\[[^\]/?#]*\]|[^:/?#]*)"
    r"(?::(?P<port>[^/?#]*))?(?P<rest>[/?#].*)?"
)
_WHITESPACE_RE = r"\s"
# The host's own directories: a pool there would list (and delete its files as volumes) or mount over
# them; a share would give a guest the system's files.
SYSTEM_DIRECTORIES = frozenset(
    (
        "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/proc",
        "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/lib", "/usr/local",
        "/usr/sbin", "/usr/share", "/var", "/var/cache", "/var/lib", "/var/lib/libvirt", "/var/log",
        "/var/run", "/var/spool", "/var/tmp",
    )
)  # fmt: skip
# Trees whose every directory belongs to the system (configuration, kernel and device files).
SYSTEM_TREES = ("/boot/", "/dev/", "/etc/", "/proc/", "/sys/")
# Directories of users' keys and credentials, wherever they are.
PRIVATE_DIRECTORY_NAMES = frozenset((".ssh", ".gnupg"))


# -- text anywhere -----------------------------------------------------------------------------
def control_problem(text: str, what: str, free_text: bool = False) -> str:
    """Why ``text`` (option ``what``) holds a character it must not, or ""."""
    surrogate = re.search(_SURROGATE_RE, text)
    if surrogate is not None:
        # Bytes that were not UTF-8 reach Python as lone surrogates; no file, command line or XML can hold them.
        return "%s: contains U+%04X, which is not a character (bytes that are not UTF-8 text); remove it" % (
            what,
            ord(surrogate.group()),
        )
    found = re.search("\x00", text) if free_text else re.search(_CONTROL_RE, text)
    if found is not None:
        return "%s: contains a control character (U+%04X); remove it" % (what, ord(found.group()))
    invisible = None if free_text else re.search(_INVISIBLE_RE, text)
    if invisible is not None:
        return "%s: contains an invisible or blank character (U+%04X), which makes it read as another; remove it" % (
            what,
            ord(invisible.group()),
        )
    return ""


def shown_text(text: Any, limit: int) -> str:
    """``text`` from outside (a guest's answer) as results may show it: at most ``limit`` characters,
    controls, invisible characters and lone surrogates each shown as ``?``."""
    shown = str(text)[:limit]
    return re.sub("%s|%s|%s" % (_CONTROL_RE, _INVISIBLE_RE, _SURROGATE_RE), "?", shown)


def walk_strings(value: Any, path: str = "") -> Iterator[Tuple[str, str]]:
    """``(path, text)`` of every string in ``value``, nested dicts and lists included
    (``install.extra_args``, ``disks[0].path``)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk_strings(item, "%s.%s" % (path, key) if path else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from walk_strings(item, "%s[%d]" % (path, index))


def check_strings(params: Mapping[str, Any]) -> None:
    """Refuse control characters in any string of ``params`` (free-text options may hold lines)."""
    for problem in string_problems(params):
        raise PlanError(problem)


def string_problems(params: Mapping[str, Any]) -> Iterator[str]:
    """A refusal for each string of ``params`` with control characters (free-text options may hold lines)."""
    for path, text in walk_strings(params):
        free_text = re.sub(r"\[\d+\]", "", path) in FREE_TEXT_OPTIONS or path.startswith(FREE_TEXT_PREFIXES)
        problem = control_problem(text, path, free_text)
        if problem:
            yield problem


def raw_problems(spec: Mapping[str, Any], params: Any, prefix: str = "") -> Iterator[str]:
    """What Ansible's argument spec would misread in ``params`` as given, before it converts them.

    - text for ``int`` options with other than ASCII characters: Ansible converts it with Python's
      ``int()``, which also reads other scripts' digits ('٣' is 3);
    - a list or a dictionary for a text option, which Ansible would turn into its Python repr;
    - a list or a number where a dictionary of suboptions belongs, or such list elements: Ansible
      fails on them with a Python error instead of a message.
    """
    if not isinstance(params, Mapping):
        return
    for key, option in spec.items():
        value = params.get(key)
        what = prefix + key
        if value is None:
            continue
        if option.get("type") == "int" and _not_finite(value):
            # Ansible's integer check fails on these with an unexpected error instead of a message.
            yield "%s: %s is not a whole number" % (what, value)
        elif option.get("type") == "int" and isinstance(value, str) and not re.fullmatch(r"[+-]?[0-9]+", value):
            # Ansible's int() reads other scripts' digits, and strips a trailing newline; '1e3' it takes as 1000.
            yield "%s: %r is not a whole number written with the digits 0-9" % (what, value)
        if option.get("type", "str") in ("str", "path") and isinstance(value, (Mapping, list)):
            # Ansible would turn it into its repr() and go on with "['x']" as the text.
            yield "%s must be text, not %s" % (what, _kind(value) if isinstance(value, list) else "a dictionary")
        suboptions = option.get("options")
        if not suboptions:
            continue
        if option.get("type") == "dict":
            yield from _suboption_problems(suboptions, value, what)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from _suboption_problems(suboptions, item, "%s[%d]" % (what, index))
        elif not isinstance(value, str):
            yield "%s must be a list, not %s" % (what, _kind(value))


def _not_finite(value: Any) -> bool:
    """Whether ``value`` reads as infinity or NaN (``.inf``, ``nan``, ``-Infinity``)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        return value.strip().lstrip("+-").lower() in ("inf", "infinity", "nan", "snan")
    return False


def _suboption_problems(spec: Mapping[str, Any], value: Any, what: str) -> Iterator[str]:
    # Text is read as JSON or key=value pairs by Ansible itself: its values are judged as read.
    value = as_dictionary(value)
    if isinstance(value, Mapping):
        yield from raw_problems(spec, value, what + ".")
    elif not isinstance(value, str):
        yield "%s must be a dictionary of its suboptions, not %s" % (what, _kind(value))


def as_dictionary(value: Any) -> Any:
    """A dictionary option's value (or a list element's) as Ansible reads it: text (JSON, or ``k=v``
    pairs) becomes that dictionary; anything else, and text Ansible cannot read, stays as given."""
    if not isinstance(value, str):
        return value
    # Imported here: only a dictionary given as text needs it.
    from ansible.module_utils.common.validation import check_type_dict

    try:
        return check_type_dict(value)
    except (TypeError, ValueError):
        return value


def _kind(value: Any) -> str:
    return {list: "a list", tuple: "a list", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


# -- numbers -----------------------------------------------------------------------------------
def ascii_int(value: Any, what: str, minimum: Optional[int] = None, maximum: Optional[int] = None) -> int:
    """``value`` (a number, or text of the digits 0-9) as an int within ``minimum``..``maximum``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PlanError("%s must be a whole number, not %r" % (what, value))
    if isinstance(value, str):
        if not re.fullmatch(_ASCII_NUMBER_RE, value):
            raise PlanError("%s must be a whole number written with the digits 0-9, not %r" % (what, value))
        value = int(value)
    if minimum is not None and value < minimum:
        raise PlanError("%s must be at least %d" % (what, minimum))
    if maximum is not None and value > maximum:
        raise PlanError("%s must be at most %d" % (what, maximum))
    return value


def is_ascii_number(text: str) -> bool:
    return bool(re.fullmatch(_ASCII_NUMBER_RE, text))


def octal_mode(value: Any) -> str:
    """A file mode as the four octal digits libvirt reports (``0640``), at most 0777.

    An int is what YAML 1.1 makes of an unquoted 0640 (416), so it is taken as the mode's value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PlanError("mode must be octal text such as '0640', not %r" % (value,))
    if isinstance(value, int):
        number = value
        if number & 0o022 and 0 <= number <= MAX_MODE:
            # Unquoted 400 is the number 400, mode 0620: a forgotten quote must not let a group or
            # everyone write the file; quoted, the mode says what it means.
            meant = "'0%d' or " % value if re.fullmatch(r"[0-7]{1,3}", str(value)) else ""
            raise PlanError(
                "mode %d is a number, read as mode %04o, which lets %s write the file; quote the mode in YAML, "
                "like %s'%04o', to say which you mean"
                % (value, number, "others" if number & 0o002 else "its group", meant, number)
            )
    elif re.fullmatch(_OCTAL_MODE_RE, value):
        number = int(value, 8)
    else:
        raise PlanError("mode must be octal, like 0640, not %r" % value)
    if not 0 <= number <= MAX_MODE:
        raise PlanError(
            "mode %s is not a permission mode between 0000 and 0777 (setuid, setgid and sticky bits "
            "are refused on volumes); quote it in YAML, like '0640'" % ("%o" % number if number >= 0 else number)
        )
    return "%04o" % number


def account_problem(value: str, what: str) -> str:
    """Why ``value`` is neither a numeric id nor a user or group name, or ""."""
    if is_ascii_number(value):
        return "" if int(value) <= MAX_ID else "%s id %s is larger than %d" % (what, value, MAX_ID)
    if not re.fullmatch(_ACCOUNT_NAME_RE, value) or len(value) > 256:
        return "%s %r is neither a numeric id (digits 0-9) nor a %s name (letters, digits, _ . -)" % (what, value, what)
    return ""


# -- host paths --------------------------------------------------------------------------------
def path_problem(path: Any, what: str) -> str:
    """Why ``path`` cannot be a path on the host, or "": absolute, no '..' component, no control
    characters. Such paths mean the same file to the module, to libvirt and to an admin."""
    if not isinstance(path, str) or not path:
        return "%s must be an absolute path on the host" % what
    problem = control_problem(path, what)
    if problem:
        return problem
    if not path.startswith("/"):
        return "%s must be an absolute path on the host (starting with /), not %r" % (what, path)
    if ".." in path.split("/"):
        return "%s must not contain '..' components: give the path itself, not %r" % (what, path)
    return ""


def check_path(path: Any, what: str) -> str:
    problem = path_problem(path, what)
    if problem:
        raise PlanError(problem)
    return path


# -- URLs --------------------------------------------------------------------------------------
def scheme_of(text: str) -> Optional[str]:
    """The lower-case URL scheme of ``text`` (``http``, ``nfs``), or None for a path."""
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", text)
    return match.group(1).lower() if match else None


def has_scheme(text: Optional[str], schemes: Tuple[str, ...]) -> bool:
    """Whether ``text`` is a URL of one of ``schemes``, compared case-insensitively (RFC 3986)."""
    if not text:
        return False
    return scheme_of(text) in schemes


def with_lower_scheme(url: str) -> str:
    """``url`` with its scheme in lower case: ``HTTP://x`` and ``http://x`` are one URL, and the
    code after parsing (and the installer) only needs to know one spelling."""
    scheme = scheme_of(url)
    return scheme + url[len(scheme) :] if scheme else url


def url_problem(url: str, what: str, schemes: Tuple[str, ...]) -> str:
    """Why ``url`` is not a ``scheme://host/...`` URL of ``schemes``, or "" (``file:`` needs no host)."""
    problem = control_problem(url, what)
    if problem:
        return problem
    shown = redact_url(url)
    if re.search(_WHITESPACE_RE, url):
        return "%s must not contain spaces (write them as %%20): %r" % (what, shown)
    scheme = scheme_of(url)
    if scheme not in schemes:
        return "%s must be an %s URL, not %r" % (what, either(schemes), shown)
    match = re.fullmatch(_URL_RE, url)
    if scheme == "file":
        path = url[len("file://") :] if match else ""
        # Judged as the file is opened: percent-escapes decoded ('%2e%2e' is '..', '%00' a NUL).
        opened = unquote(path)
        if not path.startswith("/") or ".." in opened.split("/"):
            return "%s must be file:///<absolute path> without '..' components, not %r" % (what, shown)
        return control_problem(opened, "%s (its path, escapes decoded)" % what)
    if match is None or not match.group("host"):
        return "%s must name a host, like %s://server/path, not %r" % (what, scheme, shown)
    if "@" in match.group("host"):
        # 'http://user:pa@ss@host/': the client takes 'ss@host' for the host name and looks it up,
        # password and all, while masking shows the host after the last '@'.
        return (
            "%s has more than one '@' before its host: percent-encode '@' in a user name or password (%%40), "
            "or use url_username and url_password: %r" % (what, shown)
        )
    port = match.group("port")
    if port is not None and not (is_ascii_number(port) and 0 < int(port) < 65536):
        return "%s has a port that is not a number from 1 to 65535: %r" % (what, shown)
    if "@" in (match.group("rest") or ""):
        # 'http://user:2024/pw@host/' reads as host 'user', port 2024: a password there is taken for
        # a path, and would be neither masked nor sent as a password.
        return (
            "%s has an '@' after its host: percent-encode '/', '?', '#' and '@' in a password (%%2F, %%3F, "
            "%%23, %%40), or use url_username and url_password: %r" % (what, shown)
        )
    if not _client_reads(url):
        return (
            "%s cannot be read as a URL: percent-encode '[', ']', ':' and '@' in a user name or password, or use "
            "url_username and url_password: %r" % (what, shown)
        )
    return ""


def _client_reads(url: str) -> bool:
    """Whether Python's URL parser, which the clients use, reads ``url``: it raises on brackets where no
    IPv6 host is and on a port of no number."""
    try:
        return isinstance(urlsplit(url).port, (int, type(None)))
    except ValueError:
        return False


def is_system_directory(path: str) -> bool:
    """Whether the absolute ``path`` is one of the host's system directories or in their trees, in any
    spelling ('/.', '/./etc' and '//usr/./lib' are '/', '/etc' and '/usr/lib')."""
    normal = same_path(path) or path
    return normal in SYSTEM_DIRECTORIES or (normal + "/").startswith(SYSTEM_TREES)


# Trees of the host's programs, packages, queues and logs, beyond the system directories every module
# refuses: a pool there would list their files as volumes, a guest sharing them could change them.
HOST_DATA_TREES = (
    "/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/usr/bin/", "/usr/sbin/", "/usr/lib/",
    "/usr/lib32/", "/usr/lib64/", "/usr/libx32/", "/usr/libexec/", "/usr/include/", "/usr/src/", "/usr/local/bin/",
    "/usr/local/sbin/", "/usr/local/lib/", "/usr/local/etc/", "/var/lib/dpkg/", "/var/lib/apt/", "/var/lib/rpm/",
    "/var/lib/dnf/", "/var/lib/yum/", "/var/spool/", "/var/log/", "/var/mail/", "/var/backups/",
)  # fmt: skip
# libvirt's own state (guests' UEFI variables, TPM state, leases) beside its pools' usual places.
LIBVIRT_STATE = "/var/lib/libvirt/"
LIBVIRT_POOL_PLACES = ("/var/lib/libvirt/images/", "/var/lib/libvirt/boot/")
HOMES = ("/home/", "/root/")


def is_host_data_directory(path: str) -> bool:
    """Whether a pool would own the host's own files at ``path`` (an absolute path, any spelling): the
    system's directories, its programs', packages', queues' and logs' trees, libvirt's own state, a
    home directory itself, and hidden directories (keys, settings) anywhere in a home."""
    normal = same_path(path) or path
    tree = normal + "/"
    parts = normal.split("/")
    return (
        is_system_directory(normal)
        or tree.startswith(HOST_DATA_TREES)
        or (tree.startswith(LIBVIRT_STATE) and not tree.startswith(LIBVIRT_POOL_PLACES))
        or (
            normal.startswith(HOMES) and ((len(parts) == 3 and parts[1] == "home") or any(part.startswith(".") for part in parts))
        )
        or not PRIVATE_DIRECTORY_NAMES.isdisjoint(parts)
    )


# Runtime state (sockets, PID files, locks) of the host's services, libvirt's included.
RUNTIME_TREES = ("/run/", "/var/run/")


def is_unshareable_directory(path: str) -> bool:
    """Whether a guest given ``path`` (an absolute path, any spelling) to write (a virtiofs share; libvirt
    has no read-only one) could change the host beyond that directory: the host's own data
    (is_host_data_directory), any of libvirt's state, its pools' usual places included (other guests'
    disks), and the services' runtime state."""
    tree = (same_path(path) or path).rstrip("/") + "/"
    return is_host_data_directory(path) or tree.startswith((LIBVIRT_STATE,) + RUNTIME_TREES)


def directories_overlap(mine: List[str], theirs: str, target: str) -> Optional[str]:
    """How one of the spellings ``mine`` of a directory overlaps a pool's directory ``theirs`` (each
    ending in '/'; ``target`` as the pool names it), None where none does."""
    for spelling in mine:
        if spelling == theirs:
            return "is the target of"
        if theirs.startswith(spelling):
            return "holds the target %s of" % target
        if spelling.startswith(theirs):
            return "lies in the target %s of" % target
    return None


def directory_spellings(directory: str, local: bool) -> List[str]:
    """``directory`` as given and, on this host (``local``), where it leads, each ending in '/': what
    directories_overlap compares."""
    given = (same_path(directory) or directory).rstrip("/") + "/"
    real = os.path.realpath(directory).rstrip("/") + "/" if local else given
    return [given] if real == given else [given, real]


# Where a directory is, whatever way reaches it: the file system's device (major:minor, as the mount
# table names it) and the path within that file system.
MountLocation = Tuple[str, str]


def read_mount_table() -> Optional[List[Tuple[str, str, str]]]:
    """``(device, root, mount point)`` of each mount of this host's mount table, in its order; None
    where it cannot be read. Read once per check: mounts change, and a run may live on (Mitogen)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as table:
            lines = [line.split() for line in table]
    except OSError:
        return None
    return [(f[2], _unescaped_mount_path(f[3]), _unescaped_mount_path(f[4])) for f in lines if len(f) >= 5]


def mount_location(directory: str, table: Optional[List[Tuple[str, str, str]]]) -> Optional[MountLocation]:
    """Where ``directory`` is on this host (see MountLocation), through links and bind mounts (of a
    subdirectory too), by the mount ``table`` (read_mount_table): two paths reach one directory, or one
    lies in the other, when their locations do. None without a table."""
    if table is None:
        return None
    real = os.path.realpath(directory)
    found = None
    for device, root, point in table:
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and (found is None or len(point) >= len(found[2])):  # the last of the longest: mounted on top
            found = (device, root, point)
    if found is None:
        return None
    device, root, point = found
    return device, (root.rstrip("/") + real[len(point.rstrip("/")) :]) or "/"


def _unescaped_mount_path(text: str) -> str:
    """A path as the mount table writes it (space, tab, newline and backslash as octal escapes)."""
    return re.sub(r"\\([0-7]{3})", lambda escape: chr(int(escape.group(1), 8)), text)


def locations_overlap(mine: Optional[MountLocation], theirs: Optional[MountLocation]) -> bool:
    """Whether one of two directories is, holds or lies in the other, by mount_location."""
    if mine is None or theirs is None or mine[0] != theirs[0]:
        return False
    first, second = mine[1].rstrip("/") + "/", theirs[1].rstrip("/") + "/"
    return first.startswith(second) or second.startswith(first)


def same_path(path: Optional[str]) -> Optional[str]:
    """One spelling of a host path, so '/dir//disk.img' and '/dir/./disk.img' are '/dir/disk.img'.
    A '..' stays: after a symbolic link the kernel takes it to the parent of the link's target,
    not to the directory the path spells (a guest's disk named 'pool/linked/../base.img')."""
    if not path:
        return path
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if path.startswith("/"):
        return "/" + "/".join(parts)
    return "/".join(parts) or "."


def definition_path(text: Optional[str]) -> Optional[str]:
    """A path a guest's definition holds, as QEMU opens it: a relative one from QEMU's working
    directory (``/`` under libvirt), whatever directory the module runs in (same_path's spelling)."""
    if not text:
        return None
    return same_path(text if text.startswith("/") else "/" + text)


def either(choices: Tuple[str, ...]) -> str:
    """``a, b or c``."""
    return choices[0] if len(choices) == 1 else "%s or %s" % (", ".join(choices[:-1]), choices[-1])


def check_url(url: str, what: str, schemes: Tuple[str, ...]) -> str:
    """``url`` with a lower-case scheme, or PlanError."""
    problem = url_problem(url, what, schemes)
    if problem:
        raise PlanError(problem)
    return with_lower_scheme(url)


# -- libvirt URIs ------------------------------------------------------------------------------
def uri_problem(uri: Any) -> str:
    """Why ``uri`` is not a libvirt connection URI this collection can use, or ""."""
    if not isinstance(uri, str) or not uri:
        return "uri must be a libvirt URI such as %s" % URI_EXAMPLES
    problem = control_problem(uri, "uri")
    if problem:
        return problem
    shown = redact_url(uri)
    if re.search(_WHITESPACE_RE, uri):
        return "uri must not contain spaces: %r" % shown
    match = re.fullmatch(_URI_RE, uri)
    if match is None:
        return "uri %r is not a libvirt URI such as %s" % (shown, URI_EXAMPLES)
    parts = match.groupdict()
    transport = parts["transport"].lower() if parts["transport"] else None
    if parts["password"] is not None:
        return "uri %r holds a password; libvirt URIs take none: use SSH keys, or SASL for tcp" % shown
    if transport is not None and transport not in URI_TRANSPORTS:
        return "uri %r has the unknown transport %r; use one of %s" % (shown, transport, ", ".join(URI_TRANSPORTS))
    host, port = parts["host"], parts["port"]
    if transport in _HOST_TRANSPORTS and not host:
        return "uri %r names no host; the %s transport connects to one, like qemu+%s://host/system" % (
            shown,
            transport,
            transport,
        )
    if port is not None and not (is_ascii_number(port) and 0 < int(port) < 65536):
        return "uri %r has a port that is not a number from 1 to 65535" % shown
    if transport is None and host in ("system", "session") and not parts["path"]:
        return "uri %r names a host %r and no path; the local daemon is %s:///%s (three slashes)" % (
            shown,
            host,
            parts["driver"],
            host,
        )
    if host and transport in _PORT_TRANSPORTS and port is None:
        return (
            "uri %r needs an explicit port for the %s transport, like qemu+tls://%s:16514/system or "
            "qemu+tcp://%s:16509/system" % (shown, transport or "tls", host, host)
        )
    path = parts["path"] or ""
    if not path:
        return "uri %r has no path; libvirt URIs end in a path such as /system" % shown
    if "name" in query_parameter_names(parts["query"] or ""):
        # libvirt sends ?name= to the daemon as the URI to open ('qemu:///system?name=test:///default'
        # reaches the test driver): the checks, locks and plans would all name another daemon.
        return "uri %r has a name= parameter, which makes libvirt open another URI than the one written; write that URI" % shown
    if parts["driver"].lower() == "qemu" and path not in _QEMU_PATHS:
        return "uri %r: the qemu driver's path is /system or /session, not %r" % (shown, path)
    return ""


def query_parameter_names(query: str) -> Tuple[str, ...]:
    """The parameter names of a libvirt URI's query as libvirt reads them, lower-cased:
    'a=1;%6Eame=x' -> ('a', 'name')."""
    names = (part.split("=", 1)[0] for part in re.split(_QUERY_SEPARATOR_RE, query) if part)
    return tuple(re.sub(_PERCENT_RE, lambda found: chr(int(found.group(1), 16)), name).lower() for name in names)


def uri_query_secrets(uri: str) -> Iterator[str]:
    """The values in the query (and fragment) of libvirt URI ``uri`` that are no setting libvirt defines,
    at least ``_MIN_URI_SECRET`` long: a token a proxy or a script reads ('?token=...'), masked wherever it
    shows. libvirt's own settings (a socket path, a key file, ssh's command) stay shown."""
    rest, _hash, fragment = uri.partition("#")
    query = rest.partition("?")[2]
    for part in re.split(_QUERY_SEPARATOR_RE, query):
        name, equals, value = part.partition("=")
        if not equals:
            name, value = "", name  # '?TOKEN'
        if set(query_parameter_names(name)) & LIBVIRT_URI_SETTINGS:
            continue
        if len(value) >= _MIN_URI_SECRET:
            yield value
    if len(fragment) >= _MIN_URI_SECRET:
        yield fragment


def shown_uri(uri: str) -> str:
    """Libvirt URI ``uri`` as a log shows it: the password of its user information, every query value
    that is no setting libvirt defines and its fragment masked, however short (uri_query_secrets
    makes no_log values only of the longer ones)."""
    rest, hash_sign, fragment = uri.partition("#")
    base, question, query = rest.partition("?")
    scheme, sep, authority = base.partition("://")
    user, at, host = authority.rpartition("@")
    if at and ":" in user:
        base = "%s%s%s:%s@%s" % (scheme, sep, user.partition(":")[0], MASK, host)
    parts = re.split("(%s)" % _QUERY_SEPARATOR_RE, query)  # separators kept, at odd places
    for index in range(0, len(parts), 2):
        name, equals, value = parts[index].partition("=")
        if not equals:
            name, value = "", name
        if value and not set(query_parameter_names(name)) & LIBVIRT_URI_SETTINGS:
            parts[index] = "%s%s%s" % (name, equals, MASK)
    return base + question + "".join(parts) + (hash_sign + MASK if fragment else hash_sign)


def check_uri(uri: Any) -> None:
    problem = uri_problem(uri)
    if problem:
        raise PlanError(problem)
