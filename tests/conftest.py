"""Shared fixtures: one strict build of the real site per test session, with an empty exec cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]

# Property-based tests explore the same examples on every run, so CI is reproducible; a failure found
# locally with `--hypothesis-seed` can be reproduced exactly.
settings.register_profile("handbook", derandomize=True, print_blob=True)
settings.load_profile("handbook")


@dataclass
class Build:
    """The outcome of ``mkdocs build --strict``: where the site went, the exit code, the log, exec stats."""

    site: Path
    returncode: int
    log: str
    stats: dict


def mkdocs_build(
    config: Path, site: Path, extra_env: dict[str, str] | None = None, timeout: float = 900
) -> Build:
    """Run a strict build of ``config`` into ``site`` in a subprocess (a fresh interpreter, empty caches)."""
    stats_path = site.parent / f"{site.name}-exec-stats.json"
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "HANDBOOK_EXEC_CACHE": "0",
        "HANDBOOK_EXEC_STATS": str(stats_path),
        **(extra_env or {}),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(config),
            "--site-dir",
            str(site),
        ],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    return Build(site, proc.returncode, proc.stdout + proc.stderr, stats)


@pytest.fixture(scope="session")
def site_build(tmp_path_factory) -> Build:
    """The real site, built once per session (CI and ``make test`` never reuse an exec cache)."""
    return mkdocs_build(ROOT / "mkdocs.yml", tmp_path_factory.mktemp("build") / "site")


@pytest.fixture(scope="session")
def site(site_build) -> Path:
    """The built site's folder; fails every dependent test if the strict build failed."""
    if site_build.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{site_build.log[-6000:]}")
    return site_build.site


# --- Quality gates (issue 7): the built site served under a sub-path, and one headless Chromium. ---


@pytest.fixture(scope="session")
def served_site(site):
    """Base URL of the built site, served from a thread at ``http://127.0.0.1:<port>/mllm-handbook/``."""
    from handbook_site import checks

    with checks.serve(site) as base:
        yield base


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session; a missing browser fails (never skips) with how to get one."""
    from playwright.sync_api import sync_playwright

    from handbook_site import checks

    with sync_playwright() as playwright:
        try:
            browser = checks.launch_chromium(playwright)
        except Exception as error:
            pytest.fail(
                f"{error}\n\n{checks.NO_BROWSER}" if checks.NO_BROWSER not in str(error) else str(error)
            )
        yield browser
        browser.close()
