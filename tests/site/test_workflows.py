"""GitHub workflows use least privilege; issue forms ask for what a fix needs, in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
FORMS = sorted(p for p in (ROOT / ".github/ISSUE_TEMPLATE").glob("*.yml") if p.name != "config.yml")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
# The only jobs that may write: they run no project code, only pinned actions, in a protected environment.
WRITERS = {"github-pages": {"pages", "id-token"}, "pypi": {"id-token"}}
CPU_TORCH = "https://download.pytorch.org/whl/cpu"
CJK = re.compile(r"[\u4e00-\u9fff]")


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def triggers(workflow: dict) -> set[str]:
    on = workflow["on"]
    return {on} if isinstance(on, str) else set(on)


def steps(workflow: dict):
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield name, step


def environment(job: dict) -> str | None:
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "pages.yml", "release.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_explicit_least_privilege_permissions(path):
    workflow = load(path)
    top = workflow.get("permissions")
    assert top is not None, f"{path.name}: set top-level permissions (e.g. contents: read or {{}})"
    assert top != "write-all" and "write" not in (top.values() if isinstance(top, dict) else [top])
    for name, job in workflow["jobs"].items():
        permissions = job.get("permissions", top)
        assert isinstance(permissions, dict), f"{path.name}/{name}: permissions must list each scope"
        writes = {scope for scope, level in permissions.items() if level == "write"}
        if writes:
            allowed = WRITERS.get(environment(job), set())
            assert writes <= allowed, f"{path.name}/{name}: {writes} outside a protected deploy environment"
            assert not [s for s in job["steps"] if "run" in s], f"{path.name}/{name} writes: run no code"
        assert set(permissions.values()) <= {"read", "write", "none"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_pull_request_target_and_pinned_actions(path):
    workflow = load(path)
    assert "pull_request_target" not in triggers(workflow)
    code = [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")
    ]
    assert not [line for line in code if "pull_request_target" in line]
    for name, step in steps(workflow):
        uses = step.get("uses")
        if uses and not uses.startswith("./"):
            assert PINNED.match(uses), f"{path.name}/{name}: pin {uses} to a full commit SHA"
        if str(uses).startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, "do not keep the token in .git"


def test_ci_tests_pull_requests_without_secrets_and_uploads_the_preview():
    path = ROOT / ".github/workflows/ci.yml"
    workflow, text = load(path), path.read_text(encoding="utf-8")
    assert {"push", "pull_request"} <= triggers(workflow)
    assert not re.search(r"\bsecrets\.", text), "ci.yml runs fork code: it must not use secrets"
    assert "github.token" not in text and "GITHUB_TOKEN" not in text
    runs = " ".join(str(step.get("run", "")) for _, step in steps(workflow))
    assert "bash .ci/run" in runs and "make test" in (ROOT / ".ci/run").read_text(encoding="utf-8")
    uploads = [
        step["with"]["path"] for _, step in steps(workflow) if "upload-artifact" in str(step.get("uses"))
    ]
    assert "site/" in uploads and "artifacts/screenshots/" in uploads


def test_pages_deploys_only_from_main_with_the_official_actions():
    workflow = load(ROOT / ".github/workflows/pages.yml")
    assert triggers(workflow) <= {"push", "workflow_dispatch"}
    assert workflow["on"]["push"] == {"branches": ["main"]}
    for job in workflow["jobs"].values():
        assert job["if"] == "github.ref == 'refs/heads/main'"
    used = {str(step.get("uses", "")).split("@")[0] for _, step in steps(workflow)}
    assert {"actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages"} <= used
    build = next(step for _, step in steps(workflow) if "make build" in str(step.get("run")))
    assert build["env"]["SITE_URL"] == "${{ steps.pages.outputs.base_url }}/"
    assert build["env"]["HANDBOOK_REPOSITORY"] == "${{ github.server_url }}/${{ github.repository }}"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["environment"]["name"] == "github-pages" and deploy["needs"] == "build"


def test_pages_prints_the_pdfs_after_the_build_into_the_artifact():
    workflow = load(ROOT / ".github/workflows/pages.yml")
    runs = [str(step.get("run", "")) + str(step.get("uses", "")) for step in workflow["jobs"]["build"]["steps"]]
    build = next(i for i, run in enumerate(runs) if "make build" in run)
    printing = next(i for i, run in enumerate(runs) if "scripts/pdf.py site" in run)
    upload = next(i for i, run in enumerate(runs) if "upload-pages-artifact" in run)
    assert build < printing < upload
    assert any("apt-get install" in run and "chromium" in run for run in runs[build:printing])


def test_issue_forms_are_bilingual_and_the_wrong_answer_form_requires_the_evidence():
    names = {p.stem for p in FORMS}
    assert names == {"wrong-answer", "translation", "suggest-question"}
    for path in FORMS:
        form = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert form["name"] and form["description"] and form["body"], path.name
        assert CJK.search(form["name"]) and re.search(r"[A-Za-z]{3}", form["name"]), path.name
        ids = [item["id"] for item in form["body"] if "id" in item]
        assert len(ids) == len(set(ids)), path.name
        for item in form["body"]:
            label = item.get("attributes", {}).get("label")
            if label:
                assert CJK.search(label) and re.search(r"[A-Za-z]{3}", label), f"{path.name}: {label}"
    wrong = yaml.safe_load((ROOT / ".github/ISSUE_TEMPLATE/wrong-answer.yml").read_text(encoding="utf-8"))
    required = {item["id"] for item in wrong["body"] if item.get("validations", {}).get("required")}
    assert {"page", "claim", "source"} <= required
    config = yaml.safe_load((ROOT / ".github/ISSUE_TEMPLATE/config.yml").read_text(encoding="utf-8"))
    assert "blank_issues_enabled" in config


def test_pull_request_template_has_the_checks_ci_cannot_make():
    text = (ROOT / ".github/pull_request_template.md").read_text(encoding="utf-8")
    for item in ("primary source", "both languages", "make translated", "make test"):
        assert item in text, item
    assert text.count("- [ ]") >= 4


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_that_install_torch_use_the_cpu_build(path):
    text = path.read_text(encoding="utf-8")
    if "make " in text or ".ci/run" in text:
        assert f"PIP_EXTRA_INDEX_URL: {CPU_TORCH}" in text, f"{path.name}: the default torch wheel is GBs"


def test_ci_builds_and_test_installs_the_package():
    runs = [str(step.get("run", "")) for _, step in steps(load(ROOT / ".github/workflows/ci.yml"))]
    assert "make package" in runs
    recipe = (ROOT / "Makefile").read_text(encoding="utf-8").split("\npackage:")[1].split("\n\n")[0]
    assert "-m build" in recipe and "-m venv" in recipe and "pip install" in recipe and "snippets" in recipe


def test_release_publishes_tags_with_trusted_publishing_from_a_protected_environment():
    workflow = load(ROOT / ".github/workflows/release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}} and workflow["permissions"] == {}
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    assert build["permissions"] == {"contents": "read"}
    assert any("make package" in str(step.get("run")) for step in build["steps"])
    assert publish["needs"] == "build" and environment(publish) == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    uses = [str(step.get("uses")).split("@")[0] for step in publish["steps"]]
    assert uses == ["actions/download-artifact", "pypa/gh-action-pypi-publish"]
    assert not any("password" in step.get("with", {}) for step in publish["steps"]), "no API token"
