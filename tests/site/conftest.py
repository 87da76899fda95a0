"""The built site, once per test session: ``python -m handbook_build`` from an empty snippet store.

The site is built for the sub-path GitHub Pages serves a project site under (``SITE_URL`` ends in
``/mllm-handbook/``) and served there from a thread; one headless Chromium drives it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

SERVED_SITE_URL = "http://127.0.0.1:8000/mllm-handbook/"


@dataclass
class Build:
    """The outcome of a build: where the site went, the exit code, the log, and the build's figures."""

    site: Path
    returncode: int
    log: str
    stats: dict


def handbook_build(root: Path, site: Path, env: dict[str, str] | None = None, timeout: float = 900) -> Build:
    """``python -m handbook_build --clean --empty-store`` for the project at ``root``, in a fresh interpreter:
    every page rendered and every snippet run, as on a fresh clone (no ``.cache/build`` from earlier builds)."""
    stats = site.parent / f"{site.name}-stats.json"
    proc = subprocess.run(
        [sys.executable, "-m", "handbook_build", "--root", str(root), "--site-dir", str(site),
         "--clean", "--empty-store", "--stats", str(stats)],
        cwd=root,
        env={**os.environ, "SITE_URL": SERVED_SITE_URL, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    figures = json.loads(stats.read_text()) if stats.exists() else {}
    return Build(site, proc.returncode, proc.stdout + proc.stderr, figures)


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory, worker_id) -> Path:
    """A folder every pytest-xdist worker of this test run shares (the base temp of the run)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


@pytest.fixture(scope="session")
def once(run_folder):
    """``once(name, compute)``: ``compute()`` runs once per test run, in whichever worker asks first; the
    others wait on a file lock and read its JSON (pytest-xdist's documented recipe for a session fixture
    shared by workers). The expensive checks (the build, page audit, search table and PDFs) use it."""
    from filelock import FileLock

    def run(name: str, compute):
        result = run_folder / f"{name}.json"
        with FileLock(str(result) + ".lock"):
            if not result.is_file():
                result.write_text(json.dumps(compute()), encoding="utf-8")
        return json.loads(result.read_text(encoding="utf-8"))

    return run


@pytest.fixture(scope="session")
def site_build(once, run_folder) -> Build:
    """The real site, built once per test run with every snippet executed (never a warm store)."""

    def build() -> dict:
        done = handbook_build(ROOT, run_folder / "site")
        return {**done.__dict__, "site": str(done.site)}

    data = once("site-build", build)
    return Build(Path(data["site"]), data["returncode"], data["log"], data["stats"])


@pytest.fixture(scope="session")
def site(site_build) -> Path:
    """The built site's folder; fails every dependent test if the strict build failed."""
    if site_build.returncode != 0:
        pytest.fail(f"the strict build failed:\n{site_build.log[-6000:]}")
    return site_build.site


@pytest.fixture(scope="session")
def served_site(site):
    """Base URL of the built site, served from a thread at ``http://127.0.0.1:<port>/mllm-handbook/``."""
    import checks

    with checks.serve(site) as base:
        yield base


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session; a missing browser fails (never skips) with how to get one."""
    from playwright.sync_api import sync_playwright

    import checks

    with sync_playwright() as playwright:
        try:
            browser = checks.launch_chromium(playwright)
        except Exception as error:
            pytest.fail(f"{error}\n\n{checks.NO_BROWSER}" if checks.NO_BROWSER not in str(error) else str(error))
        yield browser
        browser.close()
