"""``python -m handbook_build``: the whole build (``make build``), or one of its steps.

* ``build`` (default): execute the snippets the store lacks, run the zh and en MkDocs builds in parallel
  (strict), and assemble them into one site: ``<site>/`` (zh) and ``<site>/en/`` (en).
* ``snippets``: only the snippet stage.

``--empty-store`` builds with a fresh, temporary snippet store (``make test`` and CI), so every snippet runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from handbook_build import snippets, urls
from handbook_build.content import ROOT

CONFIGS = {"zh": "mkdocs.yml", "en": "mkdocs.en.yml"}


def stage(root: Path) -> bool:
    started = time.perf_counter()
    report = snippets.run_stage(root)
    print(
        f"snippets: {report.distinct} distinct, {report.executed} executed, {len(report.failures)} failed "
        f"({time.perf_counter() - started:.1f} s, store {snippets.store_dir()})"
    )
    for failure in report.failures:
        print(f"error: snippet {failure}", file=sys.stderr)
    return not report.failures


def mkdocs(root: Path, lang: str, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    # Not --quiet: it hides warnings from the count that makes a strict build fail.
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", CONFIGS[lang], "-d", str(out)]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)


def build(root: Path, site: Path) -> bool:
    """Both languages in parallel into a scratch folder beside ``site``, then moved into place."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    if "SITE_URL" in env and "SITE_URL_EN" not in env:
        env["SITE_URL_EN"] = urls.language_site_url(env["SITE_URL"], "en")
    site.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=site.parent))
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(len(CONFIGS)) as pool:
            runs = {lang: pool.submit(mkdocs, root, lang, scratch / lang, env) for lang in CONFIGS}
        failed = False
        for lang, run in runs.items():
            result = run.result()
            lines = (result.stdout + result.stderr).splitlines()
            output = "\n".join(line for line in lines if not line.startswith("INFO")).strip()
            if output:
                print(f"--- mkdocs build ({lang}) ---\n{output}", file=sys.stderr)
            failed |= result.returncode != 0
        print(f"mkdocs: zh and en built in parallel ({time.perf_counter() - started:.1f} s)")
        if failed:
            print("error: the strict build failed; see the messages above", file=sys.stderr)
            return False
        shutil.rmtree(site, ignore_errors=True)
        (scratch / "zh").rename(site)
        (scratch / "en").rename(site / urls.root("en").rstrip("/"))
        return True
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def empty_store():
    with tempfile.TemporaryDirectory(prefix="handbook-store-") as store:
        previous = os.environ.get("HANDBOOK_STORE")
        os.environ["HANDBOOK_STORE"] = store
        try:
            yield
        finally:
            if previous is None:
                del os.environ["HANDBOOK_STORE"]
            else:
                os.environ["HANDBOOK_STORE"] = previous


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handbook_build", description=__doc__.split("\n")[0])
    parser.add_argument("step", nargs="?", choices=["build", "snippets"], default="build")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project (mkdocs.yml, docs/, snippets/)")
    parser.add_argument("--site-dir", type=Path, help="where the site goes (default: <root>/site)")
    parser.add_argument("--empty-store", action="store_true", help="run every snippet (a temporary store)")
    parser.add_argument("--stats", type=Path, help="write the build's figures to this JSON file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with empty_store() if args.empty_store else contextlib.nullcontext():
        if args.stats:
            os.environ["HANDBOOK_STATS"] = str(args.stats)
        root = args.root.resolve()
        if args.step == "snippets":
            ok = stage(root)
        else:  # the builds start at once and wait only for the snippets they render
            store = snippets.store_dir()
            store.mkdir(parents=True, exist_ok=True)
            (store / snippets.RUNNING).write_text(str(os.getpid()), encoding="utf-8")
            with ThreadPoolExecutor(1) as runner:
                staged = runner.submit(stage, root)
                built = build(root, (args.site_dir or root / "site").resolve())
                ok = staged.result() and built
    print(f"{'done' if ok else 'FAILED'} in {time.perf_counter() - started:.1f} s")
    if args.stats and ok:
        figures = {"seconds": time.perf_counter() - started}
        for lang in CONFIGS:
            part = Path(f"{args.stats}.{lang}.json")
            if part.exists():
                figures[lang] = json.loads(part.read_text())
                part.unlink()
        args.stats.write_text(json.dumps(figures, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
