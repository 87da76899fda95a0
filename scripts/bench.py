"""``make bench``: print build, test and size figures. It never fails on a number.

Figures:
1. clean strict build wall time (empty exec cache), executed vs distinct vs requested blocks, slowest snippets;
2. unchanged rebuild with a warm exec cache (what ``make serve`` does on a save);
3. byte-for-byte reproducibility of two clean builds, ignoring only named timestamp files;
4. built site size, and one question page's transfer size (HTML + CSS + JS + fonts, gzip);
5. test-suite wall time (``pytest`` without the browser tests, which have their own figures);
6. Lighthouse, when ``handbook_site.lighthouse`` and a browser are available.
"""

from __future__ import annotations

import filecmp
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PAGE = "transformer/normalization/index.html"
# Files whose only differences are build timestamps we cannot control (sitemap <lastmod> dates).
TIMESTAMPED = {"sitemap.xml", "sitemap.xml.gz", "en/sitemap.xml", "en/sitemap.xml.gz"}


def build(site: Path, cache: bool, stats: Path) -> tuple[float, int]:
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "HANDBOOK_EXEC_CACHE": "1" if cache else "0",
        "HANDBOOK_EXEC_STATS": str(stats),
    }
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        print(proc.stdout[-3000:] + proc.stderr[-3000:])
    return time.perf_counter() - started, proc.returncode


def differing_files(a: Path, b: Path) -> list[str]:
    diffs = []
    for path in sorted(a.rglob("*")):
        rel = path.relative_to(a).as_posix()
        if path.is_file() and rel not in TIMESTAMPED:
            other = b / rel
            if not other.exists() or not filecmp.cmp(path, other, shallow=False):
                diffs.append(rel)
    return diffs


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def transfer_size(site: Path, page: str) -> dict[str, int]:
    """Gzipped bytes of a page and the local CSS/JS/fonts it loads."""
    html_path = site / page
    html = html_path.read_text(encoding="utf-8")
    sizes = {"html": len(gzip.compress(html.encode(), mtime=0))}
    for kind, pattern in (
        ("css", r'<link[^>]+href="([^"]+\.css)"'),
        ("js", r'<script[^>]+src="([^"]+\.js)"'),
    ):
        total = 0
        for href in re.findall(pattern, html):
            asset = (html_path.parent / href.split("?")[0]).resolve()
            if asset.is_file():
                total += len(gzip.compress(asset.read_bytes(), mtime=0))
        sizes[kind] = total
    fonts = [p for p in site.rglob("*") if p.suffix in {".woff", ".woff2", ".ttf"}]
    sizes["fonts"] = sum(len(gzip.compress(p.read_bytes(), mtime=0)) for p in fonts)
    return sizes


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("== clean strict build (empty exec cache) ==")
        seconds, code = build(tmp / "a", cache=False, stats=tmp / "a.json")
        stats = json.loads((tmp / "a.json").read_text()) if (tmp / "a.json").exists() else {}
        print(f"wall time: {seconds:.1f} s (exit code {code})")
        print(
            f"blocks: executed {stats.get('executed')} | distinct {stats.get('distinct')} | "
            f"rendered {stats.get('requested')} (both languages)"
        )
        slowest = sorted(stats.get("seconds", {}).items(), key=lambda kv: -kv[1])[:5]
        print("slowest snippets:")
        for name, s in slowest:
            print(f"  {s * 1000:8.1f} ms  {name}")

        print("\n== second clean build: reproducibility ==")
        seconds_b, _ = build(tmp / "b", cache=False, stats=tmp / "b.json")
        diffs = differing_files(tmp / "a", tmp / "b")
        print(f"wall time: {seconds_b:.1f} s")
        print(f"files differing (ignoring {', '.join(sorted(TIMESTAMPED))}): {len(diffs)}")
        for rel in diffs[:10]:
            print(f"  {rel}")

        print("\n== unchanged rebuild with a warm exec cache (make serve) ==")
        cache_root = tempfile.mkdtemp()
        os.environ["HANDBOOK_EXEC_CACHE_DIR"] = cache_root
        build(tmp / "c", cache=True, stats=tmp / "c.json")
        warm, _ = build(tmp / "c", cache=True, stats=tmp / "c2.json")
        warm_stats = json.loads((tmp / "c2.json").read_text()) if (tmp / "c2.json").exists() else {}
        print(f"wall time: {warm:.1f} s, blocks executed: {warm_stats.get('executed')}")

        print("\n== sizes ==")
        print(f"built site: {folder_size(tmp / 'a') / 1e6:.2f} MB")
        sizes = transfer_size(tmp / "a", SAMPLE_PAGE)
        total = sum(sizes.values())
        parts = ", ".join(f"{k} {v / 1024:.1f} KiB" for k, v in sizes.items())
        print(f"{SAMPLE_PAGE} transfer (gzip): {total / 1024:.1f} KiB ({parts})")

    print("\n== test suite (pytest -m 'not browser') ==")
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "not browser", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
    print(f"wall time: {time.perf_counter() - started:.1f} s ({summary})")

    try:
        from handbook_site import lighthouse
    except ImportError:
        print("\n(lighthouse module not present)")
    else:
        print("\n== Lighthouse ==")
        lighthouse.main()


if __name__ == "__main__":
    main()
