"""Golden plans of the volume planner: for each kind of request, the exact actions (verb, kind, name,
command line, destructive) in golden/plan-<case>.json.

REMOTEVIRT_UPDATE_GOLDEN=1 rewrites the files from the code; review the diff before committing it.
"""

from __future__ import annotations

import os

import pytest

import golden
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.pool import Pool
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Permissions, Volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.plan import plan_volume
from ansible_collections.remotevirt.install.plugins.module_utils._volume.request import VolumeRequest
from ansible_collections.remotevirt.install.plugins.module_utils._volume.state import VolumeState

GiB = 1 << 30
POOL = Pool(
    name="default", type="dir", target_path="/var/lib/libvirt/images", capacity=500 * GiB, allocation=0, available=400 * GiB
)
BASE = Volume(
    name="alma9-base.qcow2",
    capacity=10 * GiB,
    format="qcow2",
    allocation=2 * GiB,
    path="/var/lib/libvirt/images/alma9-base.qcow2",
)
DATA = Volume(name="data.qcow2", capacity=20 * GiB, format="qcow2", allocation=1 << 20, path="/var/lib/libvirt/images/data.qcow2")
IMAGE_URL = "https://dl-user:Dl-Secret-9@images.example.org/alma9/AlmaLinux-9-GenericCloud.raw"
# Every secret a case below passes in: none may reach a golden file.
SECRETS = ("Dl-Secret-9", "dl-user", "Url-Pa55-Secret")

# case: (module parameters, what the host has)
CASES = {
    "new_sparse": (dict(name="web01.qcow2", capacity="20G"), VolumeState(POOL)),
    "preallocated": (
        dict(
            name="db01.img",
            capacity="8G",
            format="raw",
            preallocation="full",
            mode="0640",
            permissions=Permissions(mode="0640", owner=64055, group=64055),
        ),
        VolumeState(POOL),
    ),
    "clone": (dict(name="web02.qcow2", clone_from="alma9-base.qcow2", capacity="40G"), VolumeState(POOL, origin=BASE)),
    "overlay": (dict(name="web03.qcow2", backing_volume="alma9-base.qcow2"), VolumeState(POOL, origin=BASE)),
    "upload_with_checksum": (
        dict(
            name="alma9.img",
            format="raw",
            source_url=IMAGE_URL,
            url_username="alice",
            url_password="Url-Pa55-Secret",
            checksum="sha256:" + "5e" * 32,
            capacity="30G",
        ),
        VolumeState(POOL, download_size=512 << 20),
    ),
    "upload_compressed": (
        dict(
            name="alma9.img",
            format="raw",
            source_url=IMAGE_URL + ".xz",
            url_username="alice",
            url_password="Url-Pa55-Secret",
            checksum="sha256:" + "5e" * 32,
            capacity="30G",
        ),
        VolumeState(POOL, download_size=180 << 20),
    ),
    "grow": (dict(name="data.qcow2", capacity="50G"), VolumeState(POOL, existing=DATA)),
    "delete": (dict(name="data.qcow2", state="absent"), VolumeState(POOL, existing=DATA)),
}


def golden_path(case):
    return os.path.join(golden.folder(__file__), "plan-%s.json" % case)


def planned(case):
    params, state = CASES[case]
    params = dict(params, pool="default")
    permissions = params.pop("permissions", Permissions())
    return plan_volume(VolumeRequest.from_params(params, permissions), state)


@pytest.mark.parametrize("case", list(CASES))
def test_plan_matches_golden_file(case):
    """The planner's actions are exactly the reviewed golden file."""
    golden.compare(golden_path(case), golden.plan_text(planned(case)))


@pytest.mark.parametrize("case", list(CASES))
def test_golden_plans_hold_no_secret(case):
    text = golden.read(golden_path(case))
    assert [secret for secret in SECRETS if secret in text] == []


def test_url_credentials_are_masked_not_dropped():
    text = golden.read(golden_path("upload_with_checksum"))
    assert "curl -fsSL -u alice 'https://***@images.example.org/alma9/AlmaLinux-9-GenericCloud.raw'" in text


def test_golden_plans_are_all_known():
    """No stale golden plan lingers for a case that is gone."""
    assert golden.stale(golden.folder(__file__), ".json", ("plan-%s.json" % case for case in CASES)) == []
