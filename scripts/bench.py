"""``make bench``: the project's figures against its budgets. It prints; it never fails on a number.

1. a clean strict build from an empty snippet store: wall and CPU time, per HTML page; the snippet stage
   (executed = distinct, workers, speed-up over running the snippets one after another, slow snippets);
2. an unchanged rebuild (incremental, warm store);
3. reproducibility: a second clean build compared file by file;
4. weight: the site, and each question page's first visit before searching (gzip, as GitHub Pages sends);
5. search: the table's top-1/top-3 per language, and the time to results on a throttled phone;
6. the edit loop and the suite: ``make check`` and ``make test`` wall time (skip with ``--no-tests``);
7. Lighthouse (mobile) on the heaviest Chinese question page, when npm and Chromium are available.

Budgets (issues 11 and 12, 2 cores) are printed next to the figures.
"""

from __future__ import annotations

import argparse
import filecmp
import gzip
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

import checks
import lighthouse
from handbook_build import urls

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "tests/site/search_queries.yml"
# Files allowed to differ between two clean builds, and why: none today (the sitemaps carry no <lastmod>,
# the card and figures are drawn deterministically).
TIMESTAMPED: dict[str, str] = {}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def timed(command: list[str], **env: str) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run ``command`` in the project; return wall seconds, CPU seconds of all its processes, the result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode:
        print(f"  ! {' '.join(command)} exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-2000:]}")
    return wall, cpu, proc


def build(site: Path, clean: bool = True) -> tuple[float, float, dict]:
    stats = ROOT / ".cache" / f"bench-{site.name}-stats.json"  # never beside the site: that is the repo root
    stats.parent.mkdir(exist_ok=True)
    flags = ["--clean", "--empty-store"] if clean else []
    command = [sys.executable, "-m", "handbook_build", *flags, "--site-dir", str(site), "--stats", str(stats)]
    wall, cpu, _ = timed(command)
    return wall, cpu, json.loads(stats.read_text()) if stats.exists() else {}


# Issue 11 set its budgets at wave 1's content: 55 Markdown pages per language and a 404 page each, counted
# as html_pages() counts them. As pages are added, a budget scales with the page count (the per-page figure).
WAVE1_PAGES = 112


def scaled(budget: float, pages: int) -> str:
    """A wave-1 budget as a per-page figure and at ``pages`` pages."""
    return (
        f"{budget:g} s for wave 1's {WAVE1_PAGES} HTML pages = {1000 * budget / WAVE1_PAGES:.0f} ms per page, "
        f"i.e. {budget * pages / WAVE1_PAGES:.1f} s at {pages} pages"
    )


def html_pages(site: Path) -> list[Path]:
    """Every rendered page (redirect stubs left out)."""
    return [p for p in site.rglob("*.html") if 'http-equiv="refresh"' not in p.read_text(encoding="utf-8")]


def report_build(site: Path, wall: float, cpu: float, stats: dict) -> int:
    """Print the clean build's figures; return its HTML page count, which scales the other budgets."""
    pages = len(html_pages(site))
    print(f"clean build: {wall:.1f} s wall, {cpu:.1f} s CPU for {pages} HTML pages")
    print(f"  per page: {1000 * wall / pages:.0f} ms wall, {1000 * cpu / pages:.0f} ms CPU")
    print(f"  budget: {scaled(8, pages)}")
    stage = stats.get("stage", {})
    snippets = stage.get("snippets", {})
    serial = sum(snippets.values())
    print(
        f"  snippets: executed {stage.get('executed')} = distinct {stage.get('distinct')}, "
        f"{stage.get('workers')} workers, stage {stage.get('wall', 0):.1f} s for {serial:.1f} s of snippets "
        f"(x{serial / max(stage.get('wall', 1), 1e-9):.1f})"
    )
    for lang in urls.LANGUAGES:
        part = stats.get(lang, {})
        print(f"  {lang}: rendered {part.get('requested')} snippet blocks, executed {part.get('executed')}")
    slow = sorted(((s, n) for n, s in snippets.items() if s > 0.5), reverse=True)
    print(f"  snippets over 0.5 s: {len(slow)}" + "".join(f"\n    {s:5.2f} s  {n}" for s, n in slow))
    return pages


def differing(a: Path, b: Path) -> list[str]:
    names = sorted({p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()})
    return [
        rel
        for rel in names
        if rel not in TIMESTAMPED
        and not ((b / rel).is_file() and filecmp.cmp(a / rel, b / rel, shallow=False))
    ]


def first_visit(site: Path, page: Path) -> int:
    """Gzipped bytes of a page and the local CSS, JS and images its HTML names: a quick estimate, used to
    find the heaviest pages, which :func:`transferred` then loads in a browser."""
    text = page.read_text(encoding="utf-8")
    total = len(gzip.compress(text.encode(), mtime=0))
    refs = re.findall(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src|img[^>]+src)="([^"#?]+)', text)
    for ref in set(refs):
        asset = (page.parent / ref).resolve()
        if asset.is_file() and site.resolve() in asset.parents:
            total += len(gzip.compress(asset.read_bytes(), mtime=0))
    return total


def transferred(browser, url: str) -> int:
    """Bytes a phone's browser transfers for ``url`` on a first visit, headers included, until the network
    is idle: the page, its CSS and JS, whatever the theme's script fetches, and the favicon (gzip served)."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    requests = []
    page.on("requestfinished", lambda request: requests.append(request))
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(2000)  # what the theme's script fetches after load (Material: the sitemaps)
    page.wait_for_load_state("networkidle")
    total = 0
    for request in requests:
        sizes = request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    # A headless browser may skip the favicon; a reader's fetches it.
    icon = page.evaluate("document.querySelector('link[rel~=icon]')?.href")
    if icon and icon not in {request.url for request in requests}:
        response = context.request.get(icon, headers={"Accept-Encoding": "gzip"})
        headers = response.headers_array
        total += int(response.headers.get("content-length", len(response.body())))
        total += 17 + sum(len(h["name"]) + len(h["value"]) + 4 for h in headers)  # status line and headers
    context.close()
    return total


def report_weight(site: Path) -> str:
    from playwright.sync_api import sync_playwright

    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    print(f"site: {size / 1e6:.1f} MB on disk")
    questions = {}
    for lang in urls.LANGUAGES:
        docs = ROOT / "docs" / lang
        for md in docs.glob("*/*.md"):
            key = urls.key_of(md.relative_to(docs).as_posix())
            if md.name != "index.md":
                questions[(lang, key)] = first_visit(site, site / urls.url_path(lang, key) / "index.html")
    with checks.serve(site, compress=True) as base, sync_playwright() as playwright:
        browser = checks.launch_chromium(playwright)
        for lang in urls.LANGUAGES:
            sizes = {k: v for (lg, k), v in questions.items() if lg == lang}
            heavy = sorted(sizes, key=sizes.get)[-3:]  # the three heaviest by the estimate, in a browser
            measured = {k: transferred(browser, base + urls.url_path(lang, k)) for k in heavy}
            heaviest = max(measured, key=measured.get)
            print(
                f"  {lang} question pages, first visit (gzip): median {statistics.median(sizes.values()) / 1024:.0f} KB "
                f"(page and assets); heaviest {measured[heaviest] / 1024:.1f} KB transferred in Chromium, "
                f"all requests and headers ({heaviest}); budget 100 KB"
            )
        browser.close()
    return max((k for (lg, k) in questions if lg == "zh"), key=lambda k: questions[("zh", k)])


def report_search(site: Path) -> None:
    from playwright.sync_api import sync_playwright

    table = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))
    with checks.serve(site, compress=True) as base, sync_playwright() as playwright:
        browser = checks.launch_chromium(playwright)
        page = browser.new_page()
        for lang in urls.LANGUAGES:
            root = checks.language_roots(base)[lang]
            started = time.perf_counter()
            found = checks.search_all(page, root, [row["q"] for row in table[lang]])
            seconds = time.perf_counter() - started
            top1 = top3 = 0
            for row in table[lang]:
                answers = [root + key + "/" for key in [row["page"], *row.get("also", [])]]
                top1 += found[row["q"]][:1] != [] and found[row["q"]][0] in answers
                top3 += bool(set(answers) & set(found[row["q"]][:3]))
            n = len(table[lang])
            print(
                f"  {lang}: top-1 {top1}/{n} = {top1 / n:.1%}, top-3 {top3}/{n} = {top3 / n:.1%} "
                f"({1000 * seconds / n:.0f} ms per query); budget 95 % and 100 %"
            )
        runs = [throttled_search(browser, base) for _ in range(5)]
        print(
            f"  throttled phone, results after typing: median {statistics.median(runs):.0f} ms of 5 runs "
            f"({min(runs):.0f}-{max(runs):.0f}); budget 1000 ms"
        )
        browser.close()


def throttled_search(browser, base: str) -> float:
    """4x CPU, 1.6 Mbit/s, 150 ms RTT: open search on a question page, then time one typed query."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 150, "downloadThroughput": 200_000, "uploadThroughput": 96_000},
    )
    page.goto(base + "transformer/normalization/", wait_until="load")
    page.locator(".handbook-search-open").click()
    dialog = "document.querySelector('dialog.handbook-search')"
    page.wait_for_function(f"{dialog}.querySelector('.handbook-search__status').textContent === ''")
    page.locator("dialog.handbook-search input").type("旋转位置编码")
    started = time.perf_counter()
    page.wait_for_function(f"{dialog}.dataset.answered === '旋转位置编码'", timeout=30_000)
    elapsed = 1000 * (time.perf_counter() - started)
    context.close()
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-tests", action="store_true", help="skip timing make check and make test")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="handbook-bench-") as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        print("== build ==")
        pages = report_build(a, *build(a))
        wall, _, _ = build(ROOT / "site", clean=False)
        wall, _, _ = build(ROOT / "site", clean=False)
        print(f"unchanged rebuild: {wall:.1f} s wall; budget 3 s")
        build(b)
        diffs = differing(a, b)
        print(f"two clean builds: {len(diffs)} differing files" + "".join(f"\n    {d}" for d in diffs[:10]))
        print("== weight ==")
        heaviest = report_weight(a)
        print("== search ==")
        report_search(a)
        print("== Lighthouse (mobile) ==")
        lighthouse.report(a, [heaviest])
    if not args.no_tests:
        print("== tests ==")
        for target, budget in (("check", "20 s"), ("test", scaled(90, pages))):
            wall, cpu, proc = timed(["make", target])
            tail = (proc.stdout.strip().splitlines() or [""])[-1]
            print(f"make {target}: {wall:.0f} s wall, {cpu:.0f} s CPU; budget {budget} ({tail[:100]})")


if __name__ == "__main__":
    main()
