# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The filters of the cloud_instance role and of the guests role's cloud tasks; each is documented in
# the file of its name next to this one (cloud_guest_args.yml, cloud_images.yml, ...).
from __future__ import annotations

import posixpath
import re
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

from ansible_collections.remotevirt.install.plugins.filter.guest_args import (
    Checked,
    add_checked,
    add_console_password,
    add_url_password,
    built_guest_args,
    checked_guest_args,
    entry_problem,
    merged_defaults,
    merged_entry,
    placed,
    preflight_view,
    refusal,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import HOST_URI, virsh
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_text, redact_url
from ansible_collections.remotevirt.install.plugins.module_utils._guest.install_request import DEFAULT_BOOT_DIR
from ansible_collections.remotevirt.install.plugins.module_utils._volume.request import COMPRESSION_SUFFIXES

# The cloud shorthand: what becomes the image cache volume, the overlay and the disk.
CLOUD_KEYS = ("image", "size", "pool")
IMAGE_KEYS = frozenset(("url", "checksum", "checksum_of", "format", "compression", "name", "kernel", "initrd", "cmdline"))
BOOT_FILE_KEYS = frozenset(("url", "checksum"))
NO_POOL = "no pool for its image and overlay (cloud_instance_pool or pool)"
NO_SIZE = "give size, the size its overlay grows to"


def checked_image(merged: Mapping[str, Any], images: Optional[Mapping[str, Any]]) -> Tuple[Optional[Dict[str, Any]], List[str]]:
    """The entry's image as a dictionary, a named one looked up in ``images``, its volume name filled
    in; or None and every problem of it."""
    image = merged.get("image")
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
    if bool(image.get("kernel")) != bool(image.get("initrd")):
        problems.append("image needs kernel and initrd together")
    if problems:
        return None, problems
    return dict(image, name=image.get("name") or volume_name_of(image["url"])), []


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
            files[dest] = {"url": image[what]["url"], "checksum": image[what].get("checksum"), "dest": dest}
    return list(files.values())


def url_redacted(items: List[Mapping[str, Any]], key: str) -> List[Dict[str, Any]]:
    """The items with the user information of the URL under ``key`` masked: what the role's loops run over,
    since a result keeps its loop item whole (AWX and ansible-runner job events, -vvv), where a password
    in an image's URL would show. The tasks read the URL itself from the unmasked list."""
    return [dict(item, **{key: redact_url(item.get(key))}) if item.get(key) else dict(item) for item in items or []]


def cloud_boot_failures(results: List[Mapping[str, Any]]) -> List[str]:
    """One line per boot file the host could not fetch: where it goes, its URL and get_url's reason, with
    the credentials and query values of every URL in them masked. The fetch hides its own result when its
    URL holds a secret (a signed URL's token, which nothing else masks), so this is what the operator sees."""
    lines = []
    for result in results or []:
        if not result.get("failed"):
            continue
        item = result.get("item") or {}
        status = result.get("status_code")
        reason = redact_text(" ".join(str(result.get("msg") or "failed").split()))
        lines.append(
            "boot file %s from %s: %s%s"
            % (item.get("dest"), redact_url(item.get("url")), reason, " (HTTP %s)" % status if status and status != -1 else "")
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
