"""Lighthouse figures for ``make bench``: home page and three question pages, mobile and desktop.

Prints the four category scores, total byte weight, request count, LCP and TBT for each run, and the
audits that cost points outside performance. It never fails on a number: a missing tool or a failed run
is printed and skipped.

Usage: ``python -m handbook_site.lighthouse [--site DIR] [--pages KEY ...]``. Without ``--site`` it builds
the site into a temporary folder (with the exec cache, so after ``make test`` or ``make serve`` it is
quick). Lighthouse (npm ``lighthouse``, pinned below) is installed into ``.cache/lighthouse`` on first use;
Chromium is ``$CHROME_PATH`` or ``/usr/bin/chromium``. The site is served under the GitHub Pages sub-path
and gzip-compressed, as Pages serves it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import checks, sitemap

ROOT = Path(__file__).resolve().parents[2]
LIGHTHOUSE_VERSION = "12.8.2"
PREFIX_DIR = ROOT / ".cache" / "lighthouse"
PREFERRED_PAGES = ["transformer/normalization", "objectives/clip-loss", "training/peft-lora"]
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]


def lighthouse_cli() -> str | None:
    """The pinned Lighthouse CLI, installed with npm into .cache/lighthouse if it is not there yet."""
    exe = PREFIX_DIR / "node_modules" / ".bin" / "lighthouse"
    if exe.exists():
        return str(exe)
    if not shutil.which("npm"):
        print("lighthouse: npm not found; install Node.js to get Lighthouse figures")
        return None
    PREFIX_DIR.mkdir(parents=True, exist_ok=True)
    print(f"lighthouse: installing lighthouse@{LIGHTHOUSE_VERSION} into {PREFIX_DIR} ...")
    proc = subprocess.run(
        [
            "npm",
            "install",
            "--prefix",
            str(PREFIX_DIR),
            "--no-audit",
            "--no-fund",
            f"lighthouse@{LIGHTHOUSE_VERSION}",
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not exe.exists():
        print(f"lighthouse: npm install failed: {proc.stderr.strip()[-1000:]}")
        return None
    return str(exe)


def chrome_path() -> str | None:
    path = os.environ.get("CHROME_PATH") or checks.CHROMIUM
    return path if Path(path).is_file() else None


def build_site(target: Path) -> bool:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "HANDBOOK_EXEC_CACHE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(target)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        print(f"lighthouse: the site did not build:\n{(proc.stdout + proc.stderr)[-2000:]}")
    return proc.returncode == 0


def run(cli: str, chrome: str, url: str, device: str) -> dict | None:
    flags = " ".join(["--headless=new", *(f for f in checks.CHROMIUM_FLAGS if not f.startswith("--host-"))])
    cmd = [
        cli,
        url,
        "--output=json",
        "--output-path=stdout",
        "--quiet",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={flags}",
    ]
    if device == "desktop":
        cmd.append("--preset=desktop")
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "CHROME_PATH": chrome}, timeout=300
    )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        print(f"  {device:7} {url}: Lighthouse failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        return None


def figures(report: dict) -> dict:
    audits = report["audits"]
    requests = (audits.get("network-requests", {}).get("details") or {}).get("items") or []
    lost = sorted(
        f"{category}:{ref['id']}"
        for category in CATEGORIES[1:]
        for ref in report["categories"][category]["auditRefs"]
        if ref["weight"] > 0
        and (audits[ref["id"]].get("score") is not None)
        and audits[ref["id"]]["score"] < 1
    )
    return {
        **{c: report["categories"][c]["score"] for c in CATEGORIES},
        "bytes": audits["total-byte-weight"]["numericValue"],
        "requests": len(requests),
        "lcp": audits["largest-contentful-paint"]["numericValue"],
        "tbt": audits["total-blocking-time"]["numericValue"],
        "lost": lost,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one into a temp folder)")
    parser.add_argument("--pages", nargs="*", help="question pages as section/slug (default: three)")
    args = parser.parse_args(argv)

    cli, chrome = lighthouse_cli(), chrome_path()
    if not cli or not chrome:
        if not chrome:
            print("lighthouse: no Chromium (set CHROME_PATH or install /usr/bin/chromium); skipped")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site
        if site is None:
            site = Path(tmp) / "site"
            if not build_site(site):
                return 0
        written = [k for k in sitemap.planned_pages() if (site / k / "index.html").is_file()]
        pages = args.pages or [p for p in PREFERRED_PAGES if p in written] or written[:3]
        keys = ["", *pages[:3]] if not args.pages else ["", *pages]
        header = f"{'device':7} {'page':32} {'perf':>5} {'a11y':>5} {'bp':>5} {'seo':>5} {'KiB':>7} {'req':>4} {'LCP ms':>7} {'TBT ms':>7}"
        print(header)
        lost_all: set[str] = set()
        with checks.serve(site, compress=True) as base:  # gzip, as GitHub Pages serves it
            for device in ("mobile", "desktop"):
                for key in keys:
                    report = run(cli, chrome, base + (f"{key}/" if key else ""), device)
                    if report is None:
                        continue
                    f = figures(report)
                    lost_all.update(f["lost"])
                    scores = " ".join(f"{f[c]:5.2f}" if f[c] is not None else "    -" for c in CATEGORIES)
                    print(
                        f"{device:7} {key or '(home)':32} {scores} {f['bytes'] / 1024:7.1f} {f['requests']:4d} "
                        f"{f['lcp']:7.0f} {f['tbt']:7.0f}"
                    )
        if lost_all:
            print("audits below 1.0 outside performance: " + ", ".join(sorted(lost_all)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
