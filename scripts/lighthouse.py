"""Lighthouse figures for ``make bench``: scores, LCP, TBT and bytes of a few pages, mobile by default.

It never fails on a number: a missing tool or a failed run is printed and skipped. Lighthouse (npm
``lighthouse``, pinned below) is installed into ``.cache/lighthouse`` on first use; Chromium is
``$CHROME_PATH`` or ``/usr/bin/chromium``. The site is served under the GitHub Pages sub-path and
gzip-compressed, as Pages serves it.

Usage: ``python scripts/lighthouse.py SITE [KEY ...]`` (keys as ``section/slug``; default: the home page).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import checks

ROOT = Path(__file__).resolve().parents[1]
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


def median_run(cli: str, chrome: str, url: str, device: str, runs: int) -> dict | None:
    """The figures of ``runs`` Lighthouse runs, each the median over the runs (Lighthouse's own advice for
    noisy machines; one run's LCP here ranges over about a second)."""
    results = [figures(r) for r in (run(cli, chrome, url, device) for _ in range(runs)) if r is not None]
    if not results:
        return None
    numbers = [*CATEGORIES, "bytes", "lcp", "tbt"]
    values = {k: [r[k] for r in results if r[k] is not None] for k in numbers}
    middle = {k: statistics.median(v) if v else None for k, v in values.items()}
    return {**middle, "lost": sorted({name for r in results for name in r["lost"]}), "runs": len(results)}


def report(site: Path, keys: list[str], devices: tuple[str, ...] = ("mobile",), runs: int = 3) -> None:
    """One line of figures per page and device: the medians of ``runs`` runs."""
    cli, chrome = lighthouse_cli(), chrome_path()
    if not cli or not chrome:
        if not chrome:
            print("lighthouse: no Chromium (set CHROME_PATH or install /usr/bin/chromium); skipped")
        return
    print(
        f"{'device':7} {'page':36} {'perf':>5} {'a11y':>5} {'bp':>5} {'seo':>5} {'KiB':>7} {'LCP ms':>7} {'TBT ms':>7}"
    )
    lost_all: set[str] = set()
    with checks.serve(site, compress=True) as base:  # gzip, as GitHub Pages serves it
        for device in devices:
            for key in keys:
                f = median_run(cli, chrome, base + (f"{key}/" if key else ""), device, runs)
                if f is None:
                    continue
                lost_all.update(f["lost"])
                scores = " ".join(f"{f[c]:5.2f}" if f[c] is not None else "    -" for c in CATEGORIES)
                print(
                    f"{device:7} {key or '(home)':36} {scores} {f['bytes'] / 1024:7.1f} "
                    f"{f['lcp']:7.0f} {f['tbt']:7.0f}  (median of {f['runs']} runs)"
                )
    if lost_all:
        print("audits below 1.0 outside performance: " + ", ".join(sorted(lost_all)))
    print("budget: performance >= 0.98 and LCP <= 1800 ms (mobile, heaviest zh question page)")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if not arguments:
        sys.exit(__doc__)
    report(Path(arguments[0]), arguments[1:] or [""])
