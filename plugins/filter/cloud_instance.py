# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The filters of the cloud_instance role and of the guests role's cloud tasks; each is documented in
# the file of its name next to this one (cloud_guest_args.yml, cloud_images.yml, ...).
from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple
from urllib.parse import unquote, urlsplit

from ansible.errors import AnsibleFilterError

from ansible_collections.remotevirt.install.plugins.filter.guest_args import (
    Checked,
    add_checked,
    add_console_password,
    add_url_password,
    built_guest_args,
    checked_guest_args,
    entry_problem,
    kind_of,
    merged_defaults,
    merged_entry,
    placed,
    preflight_view,
    refusal,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import HOST_URI, PlanError, virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import MASK, redact_text, redact_url, url_secrets
from ansible_collections.remotevirt.install.plugins.module_utils._guest.install_request import DEFAULT_BOOT_DIR
from ansible_collections.remotevirt.install.plugins.module_utils._volume.request import (
    CHECKSUM_ALGORITHMS,
    COMPRESSION_SUFFIXES,
    Checksum,
)

# The cloud shorthand: what becomes the image cache volume, the overlay and the disk.
CLOUD_KEYS = ("image", "size", "pool")
IMAGE_KEYS = frozenset(("url", "checksum", "checksum_of", "format", "compression", "name", "kernel", "initrd", "cmdline"))
BOOT_FILE_KEYS = frozenset(("url", "checksum"))
NO_POOL = "no pool for its image and overlay (cloud_instance_pool or pool)"
NO_SIZE = "give size, the size its overlay grows to"
# The hexadecimal digits of each algorithm's digest, as virt_pool_volume takes an image's checksum.
DIGEST_DIGITS = {algorithm: hashlib.new(algorithm).digest_size * 2 for algorithm in CHECKSUM_ALGORITHMS}
# Where a URL's query or fragment starts, as written or percent-encoded: what follows may be a token.
QUERY_START_RE = re.compile(r"[?#]|%3f|%23", re.IGNORECASE)
# A query or fragment in free text (a path with its query in an error message), to the end of its word.
QUERY_IN_TEXT_RE = re.compile(r"([?#]|%3[fF]|%23)[^\s'\"<>]+")
# The length from which a piece of a query counts as a secret wherever it shows (as the URL masking does).
MIN_SECRET_PIECE = 6


def checked_image(merged: Mapping[str, Any], images: Optional[Mapping[str, Any]]) -> Tuple[Optional[Dict[str, Any]], List[str]]:
    """The entry's image as a dictionary, a named one looked up in ``images``, its volume name filled
    in; or None and every problem of it."""
    image = merged.get("image")
    of_named = " (of named image %s)" % image if isinstance(image, str) else ""
    if isinstance(image, str):
        if not isinstance(images, Mapping) or image not in images:
            return None, ["image %s is not one of the named images (%s)" % (image, ", ".join(sorted(images or {})) or "none")]
        named = images[image]
        if not isinstance(named, Mapping):
            return None, ["named image %s must be a dictionary with a url, not %s" % (image, type(named).__name__)]
        image = dict(named, name=named.get("name") or image)
    if not isinstance(image, Mapping) or not image.get("url"):
        return None, ["image needs a url (or the name of a named image)"]
    problems = []
    unknown = sorted(str(key) for key in image if key not in IMAGE_KEYS)
    if unknown:
        problems.append("image: unknown option(s) %s" % ", ".join(unknown))
    for key in ("kernel", "initrd"):
        if key in image and (
            not isinstance(image[key], Mapping) or not image[key].get("url") or set(image[key]) - BOOT_FILE_KEYS
        ):
            problems.append("image.%s takes url and checksum" % key)
        elif key in image:
            problems += _boot_file_problems("image.%s" % key, of_named, image[key])
    if bool(image.get("kernel")) != bool(image.get("initrd")):
        problems.append("image needs kernel and initrd together")
    if problems:
        return None, problems
    return dict(image, name=image.get("name") or volume_name_of(image["url"])), []


def _boot_file_problems(place: str, named: str, boot_file: Mapping[str, Any]) -> List[str]:
    """What the host could not fetch or check a kernel or initrd by, named by ``place`` (and ``named``, the
    named image it is in) and never by value: its URL is sent as written (whitespace or a control character
    in it makes the fetch fail with a message that shows the URL, query included), and its checksum must be
    a digest (get_url would fetch a checksum file from a URL given there, shown and logged whole)."""
    problems = []
    url = boot_file["url"]
    if not isinstance(url, str):
        problems.append("%s.url%s must be text, got %s" % (place, named, kind_of(url)))
    elif url_character_problem(url):
        problems.append("%s.url%s %s" % (place, named, url_character_problem(url)))
    checksum = boot_file.get("checksum")
    if checksum is not None and checksum != "":
        problem = checksum_problem(checksum)
        if problem:
            problems.append("%s.checksum%s %s" % (place, named, problem))
    return problems


def url_character_problem(url: str) -> str:
    """Why ``url`` cannot be fetched as written (whitespace or a control character, NUL included), or ""."""
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in url):
        return "holds whitespace or a control character (a space, tab, line break or NUL): write it on one line, a space as %20"
    return ""


def checksum_problem(checksum: Any) -> str:
    """Why ``checksum`` is no ``ALGORITHM:HEXDIGEST`` of an algorithm virt_pool_volume takes, or ""."""
    form = "must be ALGORITHM:HEXDIGEST (ALGORITHM one of %s), not the URL of a checksum file" % ", ".join(CHECKSUM_ALGORITHMS)
    if not isinstance(checksum, str):
        return "%s, got %s" % (form, kind_of(checksum))
    try:
        Checksum.parse(checksum)  # as virt_pool_volume reads an image's checksum
    except PlanError:
        algorithm = checksum.partition(":")[0].strip().lower()
        if algorithm not in DIGEST_DIGITS:
            return form
        digits = DIGEST_DIGITS[algorithm]
        return "must be %s:HEXDIGEST with %d hexadecimal digits, not the URL of a checksum file" % (algorithm, digits)
    return ""


def boot_checksum(checksum: Any) -> Optional[str]:
    """A boot file's checksum as get_url takes it (``sha256:<lowercase digest>``), None without one."""
    if checksum is None or checksum == "":
        return None
    algorithm, _sep, digest = str(checksum).partition(":")
    return "%s:%s" % (algorithm.strip().lower(), digest.strip().lower())


def _image_of(name: str, merged: Mapping[str, Any], images: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    image, problems = checked_image(merged, images)
    if image is None:
        raise AnsibleFilterError("guest %s: %s" % (name, "; ".join(problems)))
    return image


def volume_name_of(url: str) -> str:
    """The cache volume's name: the URL's file name without a compression suffix (``a.qcow2.xz``: ``a.qcow2``)."""
    base = posixpath.basename(url.split("?", 1)[0].rstrip("/")) or "image"
    for suffix in COMPRESSION_SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base


def _pool_of(name: str, merged: Mapping[str, Any]) -> str:
    pool = merged.get("pool")
    if not pool:
        raise AnsibleFilterError("guest %s: %s" % (name, NO_POOL))
    return str(pool)


def _boot_dir_of(merged: Mapping[str, Any]) -> str:
    install = merged.get("install")
    if isinstance(install, Mapping) and install.get("boot_dir"):
        return str(install["boot_dir"])
    return str(merged.get("boot_dir") or DEFAULT_BOOT_DIR)


def _boot_file_path(boot_dir: str, image: Mapping[str, Any], what: str) -> str:
    # One file per image: guests of one image share it, and it is named after the volume it came with.
    return posixpath.join(boot_dir, "remotevirt-image-%s-%s" % (re.sub(r"[^A-Za-z0-9._-]", "_", image["name"]), what))


def _is_cloud(merged: Mapping[str, Any]) -> bool:
    """An entry that removes its guest needs no image."""
    return merged.get("state") != "absent"


def cloud_guest_args(
    entry: Mapping[str, Any],
    defaults: Optional[Mapping[str, Any]] = None,
    images: Optional[Mapping[str, Any]] = None,
    redact: bool = False,
    preflight: bool = False,
) -> Dict[str, Any]:
    args, problems = checked_cloud_args(entry, defaults, images, redact, preflight)
    if problems or args is None:
        raise AnsibleFilterError(refusal(entry, problems))
    return args


def cloud_preflight_args(
    entries: Any,
    defaults: Optional[Mapping[str, Any]] = None,
    images: Optional[Mapping[str, Any]] = None,
    list_name: str = "guests",
) -> Dict[str, Any]:
    """As guest_preflight_args, for cloud_instance entries; ``images`` also lists the image cache volumes
    of the entries whose image and pool are usable, for the preflight's image check, and a volume that
    two guests give differently is a problem."""
    checked = preflight_view()
    for place, entry in placed(entries, list_name):
        args, problems = checked_cloud_args(entry, defaults, images, True, True, place)
        add_checked(checked, place, entry, args, problems)
        add_console_password(checked, entry, defaults, args)
        add_url_password(checked, entry, defaults, args)
    volumes, conflicts = image_volumes(entries, defaults, images)
    checked["problems"] += [{"guest": name, "check": "options", "message": message} for name, message in conflicts]
    checked["images"] = volumes
    return checked


def checked_cloud_args(
    entry: Any,
    defaults: Optional[Mapping[str, Any]] = None,
    images: Optional[Mapping[str, Any]] = None,
    redact: bool = False,
    preflight: bool = False,
    place: str = "",
) -> Checked:
    """The module options of one cloud entry and every problem of it. A bad image leaves the guest
    without the image's kernel, so that the preflight checks the rest; no size or no pool leaves it
    without its disk, and without options."""
    problem = entry_problem(entry)
    if not isinstance(entry, Mapping):
        return checked_guest_args(entry, None, "import", redact, place)
    merged = merged_defaults(entry, defaults)
    cloud = {key: merged.pop(key) for key in CLOUD_KEYS if key in merged}
    problems = [problem] if problem else []
    if _is_cloud(merged):
        image, image_problems = checked_image(dict(merged, **cloud), images)
        problems += image_problems
        if "size" not in cloud:
            problems.append(NO_SIZE)
        if "disks" not in merged:
            if not cloud.get("pool"):
                problems.append(NO_POOL)
            elif "size" in cloud:
                merged["disks"] = [
                    {
                        "pool": str(cloud["pool"]),
                        "volume": overlay_name_of(str(merged.get("name"))),
                        "size": cloud["size"],
                        "format": "qcow2",
                    }
                ]
        _import_install(merged, image or {}, preflight)
    else:
        merged.pop("boot_dir", None)
    args, guest_problems = built_guest_args(merged, set(entry) - set(CLOUD_KEYS), "import", redact, place, problems)
    return (None if "disks" not in merged and _is_cloud(merged) else args), guest_problems


def _import_install(merged: Dict[str, Any], image: Mapping[str, Any], preflight: bool) -> None:
    """The import install of a cloud guest, booting the image's kernel where it has one (not for the
    preflight, which runs before the kernel and initrd are on the host)."""
    boot_dir = _boot_dir_of(merged)
    install = dict(merged.get("install") or {}, method="import")
    install.pop("boot_dir", None)
    if image.get("kernel"):
        install["boot_dir"] = boot_dir
    merged.pop("boot_dir", None)
    merged["install"] = install
    if image.get("kernel") and "boot" not in merged and not preflight:
        merged["boot"] = {
            "kernel": _boot_file_path(boot_dir, image, "kernel"),
            "initrd": _boot_file_path(boot_dir, image, "initrd"),
        }
        if image.get("cmdline"):
            merged["boot"]["cmdline"] = image["cmdline"]
    if preflight:
        merged.pop("boot", None)
    # Imported guests have nothing to install: they run, and wait_for needs them running.
    merged.setdefault("state", "running")
    merged.setdefault("wait_for", {"ip": True})


def overlay_name_of(guest: str) -> str:
    return "%s.qcow2" % guest


def _cloud_entries(entries: Optional[List[Mapping[str, Any]]], defaults: Optional[Mapping[str, Any]]) -> Iterator[Dict[str, Any]]:
    """The entries made from a cloud image, each with the defaults merged under it."""
    for entry in entries or []:
        merged = merged_entry(entry, defaults)
        if _is_cloud(merged):
            yield merged


def cloud_images(
    entries: List[Mapping[str, Any]], defaults: Optional[Mapping[str, Any]] = None, images: Optional[Mapping[str, Any]] = None
) -> List[Dict[str, Any]]:
    """The image cache volumes of the entries: one per pool and volume name, each downloaded once."""
    for merged in _cloud_entries(entries, defaults):
        name = str(merged["name"])
        _image_of(name, merged, images)
        _pool_of(name, merged)
    volumes, conflicts = image_volumes(entries, defaults, images)
    if conflicts:
        raise AnsibleFilterError("guest %s: %s" % conflicts[0])
    return volumes


def image_volumes(
    entries: Any, defaults: Optional[Mapping[str, Any]], images: Optional[Mapping[str, Any]]
) -> Tuple[List[Dict[str, Any]], List[Tuple[str, str]]]:
    """The image cache volumes of the entries whose image and pool are usable (the others' problems are
    their own), and (guest, message) for each volume another guest gives with another url, checksum
    or format."""
    volumes: Dict[Any, Dict[str, Any]] = {}
    conflicts = []
    for _place, entry in placed(entries, "guests"):
        if entry_problem(entry):
            continue
        merged = merged_defaults(entry, defaults)
        image = checked_image(merged, images)[0] if _is_cloud(merged) else None
        if image is None or not merged.get("pool"):
            continue
        volume = {
            "uri": merged.get("uri"),
            "pool": str(merged["pool"]),
            "name": image["name"],
            "source_url": image["url"],
            "format": image.get("format") or "qcow2",
        }
        for key in ("checksum", "checksum_of", "compression"):
            if image.get(key):
                volume[key] = image[key]
        where = (volume["uri"], volume["pool"], volume["name"])
        if where in volumes and volumes[where] != volume:
            message = "image volume %s/%s is given with another url, checksum or format by another guest" % (
                volume["pool"],
                volume["name"],
            )
            conflicts.append((str(merged["name"]), message))
            continue
        volumes[where] = volume
    return list(volumes.values()), conflicts


def cloud_overlays(
    entries: List[Mapping[str, Any]], defaults: Optional[Mapping[str, Any]] = None, images: Optional[Mapping[str, Any]] = None
) -> List[Dict[str, Any]]:
    """Each guest's qcow2 overlay on its image volume, grown to the guest's size (entries with disks of
    their own get none)."""
    overlays = []
    for merged in _cloud_entries(entries, defaults):
        if "disks" in merged:
            continue
        name = str(merged["name"])
        image = _image_of(name, merged, images)
        if "size" not in merged:
            raise AnsibleFilterError("guest %s: give size, the size its overlay grows to" % name)
        overlays.append(
            {
                "uri": merged.get("uri"),
                "guest": name,
                "pool": _pool_of(name, merged),
                "name": overlay_name_of(name),
                "backing_volume": image["name"],
                "capacity": merged["size"],
            }
        )
    return overlays


def cloud_boot_files(
    entries: List[Mapping[str, Any]], defaults: Optional[Mapping[str, Any]] = None, images: Optional[Mapping[str, Any]] = None
) -> List[Dict[str, Any]]:
    """The kernels and initrds of the entries' images, where the host keeps them (one copy per image)."""
    files: Dict[str, Dict[str, Any]] = {}
    for merged in _cloud_entries(entries, defaults):
        if "boot" in merged:
            continue
        image = _image_of(str(merged["name"]), merged, images)
        if not image.get("kernel"):
            continue
        boot_dir = _boot_dir_of(merged)
        for what in ("kernel", "initrd"):
            dest = _boot_file_path(boot_dir, image, what)
            url = image[what]["url"]
            checksum = boot_checksum(image[what].get("checksum"))
            files[dest] = {"url": url, "checksum": checksum, "dest": dest, "secret": url_holds_secret(url)}
    return list(files.values())


def url_holds_secret(url: Any) -> bool:
    """Whether ``url`` may hold a secret that its fetch must not show or log: user information, a query or a
    fragment (as written or percent-encoded), or anything else the URL masking hides. A query without
    ``name=value`` (``?T0KEN``) or a token in the fragment is a secret the masking cannot tell from a setting."""
    text = str(url)
    return "@" in text or "%40" in text.lower() or QUERY_START_RE.search(text) is not None or redact_url(text) != text


def masked_url(url: Optional[str]) -> Optional[str]:
    """``url`` with its user information masked, and its whole query or fragment after the ``?`` or ``#``
    that starts it (as written or percent-encoded)."""
    if url is None:
        return None
    shown = str(redact_url(str(url)))
    start = QUERY_START_RE.search(shown)
    return shown[: start.end()] + MASK if start else shown


def url_redacted(items: List[Mapping[str, Any]], key: str) -> List[Dict[str, Any]]:
    """The items with the user information of the URL under ``key`` masked, and its query and fragment wholly:
    what the role's loops run over, since a result keeps its loop item whole (AWX and ansible-runner job
    events, -vvv), where a password or a token in an image's URL would show. The tasks read the URL itself
    from the unmasked list."""
    return [dict(item, **{key: masked_url(item.get(key))}) if item.get(key) else dict(item) for item in items or []]


def _secrets_of(urls: Iterable[Any]) -> List[str]:
    """What of ``urls`` must not show in a message, longest first: the query or fragment of each, whole and
    percent-decoded, its longer pieces, and the user information and password."""
    secrets: Set[str] = set()
    for url in urls:
        if not isinstance(url, str):
            continue
        secrets.update(url_secrets(url))
        start = QUERY_START_RE.search(url)
        if start:
            tail = url[start.end() :]
            for text in (tail, unquote(tail)):
                secrets.add(text)
                secrets.update(re.split(r"[&;=#?\s]+", text))
    # Shorter ones (``?raw=1``) would garble every text; the query itself is masked wholly anyway.
    return sorted((secret for secret in secrets if len(secret.strip()) >= MIN_SECRET_PIECE), key=len, reverse=True)


def masked_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each of ``secrets`` masked, the user information and query values of its URLs, and every
    query or fragment in it wholly, of a path without scheme too (``/initrd?sig=***`` becomes ``/initrd?***``)."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    text = redact_text(" ".join(text.split()))
    return QUERY_IN_TEXT_RE.sub(lambda match: match.group(1) + MASK, text)


def cloud_boot_failures(results: List[Mapping[str, Any]], boot_files: Optional[List[Mapping[str, Any]]] = None) -> List[str]:
    """One line per boot file the host could not fetch: where it goes, its URL and get_url's reason, with
    the credentials of every URL in them masked and every query and fragment wholly; with ``boot_files``
    (the list the loop's copies were made of), the secrets of those URLs are masked wherever they show.
    The fetch hides its own result when its URL may hold a secret (a signed URL's token, which nothing else
    masks), so this is what the operator sees."""
    secrets = _secrets_of(item.get("url") for item in boot_files or [] if isinstance(item, Mapping))
    lines = []
    for result in results or []:
        if not result.get("failed"):
            continue
        item = result.get("item") or {}
        status = result.get("status_code")
        reason = masked_text(str(result.get("msg") or "failed"), secrets)
        url = item.get("url")
        lines.append(
            "boot file %s from %s: %s%s"
            % (
                item.get("dest"),
                masked_text(str(url), secrets) if url is not None else None,
                reason,
                " (HTTP %s)" % status if status and status != -1 else "",
            )
        )
    return lines


def url_password(url: Optional[str]) -> Optional[str]:
    """The password of ``url``'s user information, as written in it (None without one). The role gives it
    to get_url as its no_log ``url_password``: get_url then masks it wherever the URL shows (its
    invocation's ``url``, kept in -vvv output and job events), and still reads the credentials from the
    URL itself since no ``url_username`` is given."""
    if not url:
        return None
    try:
        password = urlsplit(str(url)).password
    except ValueError:  # a URL urllib cannot split: get_url refuses it in its own words
        return None
    return password or None


def _boot_paths(guest: Mapping[str, Any]) -> List[str]:
    boot = guest.get("boot") or {}
    return [str(boot[key]) for key in ("kernel", "initrd") if boot.get(key)]


def cloud_pending(
    overlay_results: List[Mapping[str, Any]], boot_results: List[Mapping[str, Any]], guests: List[Mapping[str, Any]]
) -> List[str]:
    """Cloud guests (check mode) whose overlay, image or boot files the run makes first: the install
    task cannot plan them, because the module refuses a disk or a kernel that is not on the host yet."""
    pending = [str(result["item"]["guest"]) for result in overlay_results or [] if result.get("skipped") or result.get("changed")]
    missing = {str(result["item"]["dest"]) for result in boot_results or [] if result.get("changed")}
    for guest in guests or []:
        if set(_boot_paths(guest)) & missing and guest["name"] not in pending:
            pending.append(str(guest["name"]))
    return pending


def _volume_lines(results: List[Mapping[str, Any]], what: str) -> List[str]:
    lines = []
    for result in results or []:
        item = result.get("item") or {}
        label = "%s/%s" % (item.get("pool"), item.get("name"))
        if result.get("skipped"):
            backing = "%s/%s" % (item.get("pool"), item.get("backing_volume"))
            lines.append("  %s %s on %s, after its image is downloaded:" % (what, label, backing))
            command = virsh(
                item.get("uri") or HOST_URI,
                "vol-create-as",
                "--pool",
                item.get("pool"),
                "--name",
                item.get("name"),
                "--capacity",
                item.get("capacity"),
                "--format",
                "qcow2",
                "--backing-vol",
                item.get("backing_volume"),
                "--backing-vol-format",
                "qcow2",
            )
            lines.append("    $ %s" % command)
            continue
        plan = result.get("plan") or []
        lines.append("  %s %s: %s" % (what, label, "present" if not plan else "planned"))
        lines += ["    $ %s" % step.get("command") for step in plan if step.get("command")]
    return lines


def cloud_preview(
    image_results: List[Mapping[str, Any]], boot_results: List[Mapping[str, Any]], overlay_results: List[Mapping[str, Any]]
) -> List[str]:
    """The check-mode preview of what the cloud guests need before their install."""
    lines = ["cloud images and overlays:"] + _volume_lines(image_results, "image")
    for result in boot_results or []:
        item = result.get("item") or {}
        state = "to fetch from %s" % item.get("url") if result.get("changed") else "present"
        lines.append("  boot file %s: %s" % (item.get("dest"), state))
    return lines + _volume_lines(overlay_results, "overlay")


def cloud_pending_outcomes(pending: List[str], preflight: Optional[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Outcomes of the pending cloud guests (check mode): the preflight's plan of each, which it made
    without the overlay and boot files; the overlay's own line is in the cloud preview instead."""
    planned = {str(guest.get("name")): guest for guest in (preflight or {}).get("guests") or []}
    outcomes = []
    for name in pending or []:
        commands = [
            str(command)
            for command in planned.get(name, {}).get("commands") or []
            if not ("vol-create-as" in str(command) and "--name %s " % overlay_name_of(name) in str(command) + " ")
        ]
        preview = ["%s: install, after its image, boot files and overlay are made" % name]
        preview += (
            ["  $ %s" % command for command in commands]
            if name in planned
            else ["  (no preflight plan: guests_preflight is off)"]
        )
        outcomes.append(
            {"name": name, "outcome": "installed", "commands": commands, "preview": preview, "line": "%s: installed" % name}
        )
    return outcomes


class FilterModule:
    def filters(self) -> Dict[str, Any]:
        return {
            "cloud_guest_args": cloud_guest_args,
            "cloud_preflight_args": cloud_preflight_args,
            "cloud_images": cloud_images,
            "cloud_overlays": cloud_overlays,
            "cloud_boot_files": cloud_boot_files,
            "cloud_boot_failures": cloud_boot_failures,
            "cloud_pending": cloud_pending,
            "cloud_preview": cloud_preview,
            "cloud_pending_outcomes": cloud_pending_outcomes,
            "url_redacted": url_redacted,
            "url_password": url_password,
        }
