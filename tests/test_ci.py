"""The CI definition for GitHub Actions (.github/workflows/ci.yml), beside zizmor's checks in
`make lint`: it runs the entry point .ci/run and `make lint` on every push, and builds, runs and
pushes the image only for a tag matching environment/image."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CI = REPO / ".github" / "workflows" / "ci.yml"


def _workflow() -> dict:
    return yaml.safe_load(CI.read_text(encoding="utf-8"))


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_every_push_runs_the_entry_point_and_the_linters() -> None:
    workflow = _workflow()
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["**"]
    assert "pull_request" in triggers
    jobs = workflow["jobs"]
    assert ".ci/run" in _runs(jobs["test"])
    assert jobs["test"]["container"]["image"].endswith("python:3.11-bookworm")
    assert "make lint" in _runs(jobs["lint"])
    for name in ("test", "lint"):
        assert "if" not in jobs[name], name


def test_the_image_is_built_run_and_pushed_on_tags_then_run_again() -> None:
    jobs = _workflow()["jobs"]
    assert jobs["image"]["if"] == "startsWith(github.ref, 'refs/tags/v')"
    runs = _runs(jobs["image"])
    order = [
        next(i for i, r in enumerate(runs) if key in r)
        for key in ("make image", "make run-container", "podman push")
    ]
    assert order == sorted(order), "build, run, then push"
    assert jobs["rerun"]["needs"] == "image"
    assert any("podman pull" in r and "make run-container" in r for r in _runs(jobs["rerun"]))


def test_no_job_writes_to_the_repository() -> None:
    workflow = _workflow()
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert job["permissions"] == {"contents": "read"}, name
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
