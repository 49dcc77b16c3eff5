"""What AWX shows of an ansible-runner job, from its artifact directory, as one JSON document:
rc and status, the stats event's per-host counts, each host's summary line and preview blocks
(the messages of the guests role's report tasks), and the files under the artifact directory that
hold any of the secrets given on stdin (one per line).
    job_summary.py ARTIFACT_DIR < secrets"""

from __future__ import annotations

import json
import os
import sys


def events(artifact_dir: str) -> list:
    folder = os.path.join(artifact_dir, "job_events")
    found = [json.load(open(os.path.join(folder, name))) for name in os.listdir(folder) if name.endswith(".json")]
    return sorted(found, key=lambda event: event["counter"])


def messages(job: list, task: str) -> dict:
    """Each host's msg from the runner_on_ok event of the task."""
    return {
        event["event_data"]["host"]: event["event_data"]["res"].get("msg")
        for event in job
        if event["event"] == "runner_on_ok" and event["event_data"].get("task") == task
    }


def files_with(artifact_dir: str, secrets: list) -> list:
    hits = []
    for folder, _dirs, names in os.walk(artifact_dir):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as stream:
                content = stream.read()
            if any(secret.encode() in content for secret in secrets):
                hits.append(os.path.relpath(path, artifact_dir))
    return sorted(hits)


def main() -> None:
    artifact_dir = sys.argv[1]
    secrets = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    job = events(artifact_dir)
    stats = [event["event_data"] for event in job if event["event"] == "playbook_on_stats"]
    summary = {
        "rc": int(open(os.path.join(artifact_dir, "rc")).read()),
        "status": open(os.path.join(artifact_dir, "status")).read().strip(),
        "events": len(job),
        "stats": {key: stats[-1].get(key, {}) for key in ("ok", "changed", "failures", "dark")} if stats else {},
        "summary": messages(job, "Summary of this host"),
        "preview": messages(job, "Preview of the planned actions (check mode)"),
        "files_with_secrets": files_with(artifact_dir, secrets),
    }
    json.dump(summary, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
