"""``python -m handbook_build``: the whole build (``make build``), or its snippet stage alone.

* ``build`` (default): the snippet stage and the zh and en MkDocs builds start together (a build waits only
  for the snippets it renders); the builds run in parallel, strict, each into its own work folder
  (``.cache/build/<lang>``), and the site is assembled from them: ``<site>/`` (zh) and ``<site>/en/``.
  After a first build, a build is incremental: only pages whose inputs changed are rendered
  (:mod:`handbook_build.incremental`). ``--clean`` builds everything from nothing in a scratch folder.
* ``snippets``: only the snippet stage.

``--empty-store`` uses a fresh, temporary snippet store, so every snippet runs (``make test`` and CI).
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from handbook_build import incremental, snippets, urls
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
    """One language's strict build; dirty (incremental) when ``out`` holds an earlier build."""
    # Not --quiet: it hides warnings from the count that makes a strict build fail.
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", CONFIGS[lang], "-d", str(out)]
    if (out / incremental.MANIFEST).is_file():
        command.append("--dirty")
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)


def sync(source: Path, target: Path, keep: set[str] = frozenset()) -> None:
    """Make ``target`` a copy of ``source``, copying changed files only; ``keep`` names its own subfolders."""
    target.mkdir(parents=True, exist_ok=True)
    for path in target.iterdir():
        if path.name not in keep and not (source / path.name).exists():
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    for path in source.iterdir():
        if path.name == incremental.MANIFEST:
            continue
        if path.is_dir():
            sync(path, target / path.name)
        elif not (target / path.name).is_file() or not filecmp.cmp(path, target / path.name, shallow=True):
            if (target / path.name).is_dir():
                shutil.rmtree(target / path.name)
            shutil.copy2(path, target / path.name)


def build(root: Path, site: Path, work: Path) -> bool:
    """Both languages in parallel, each into ``work/<lang>``; then ``site`` is made to match them."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    if "SITE_URL" in env and "SITE_URL_EN" not in env:
        env["SITE_URL_EN"] = urls.language_site_url(env["SITE_URL"], "en")
    started = time.perf_counter()
    with ThreadPoolExecutor(len(CONFIGS)) as pool:
        runs = {lang: pool.submit(mkdocs, root, lang, work / lang, env) for lang in CONFIGS}
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
    en = urls.root("en").rstrip("/")
    sync(work / "zh", site, keep={en})
    sync(work / "en", site / en)
    return True


@contextlib.contextmanager
def scratch(clean: bool, root: Path):
    """The work folders: persistent in ``.cache/build`` (incremental), or temporary for ``--clean``."""
    if not clean:
        yield root / ".cache" / "build"
        return
    with tempfile.TemporaryDirectory(prefix="handbook-build-") as folder:
        yield Path(folder)


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
    parser.add_argument("--clean", action="store_true", help="build every page from nothing")
    parser.add_argument("--empty-store", action="store_true", help="run every snippet (a temporary store)")
    parser.add_argument("--stats", type=Path, help="write the build's figures to this JSON file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    root = args.root.resolve()
    with empty_store() if args.empty_store else contextlib.nullcontext(), scratch(args.clean, root) as work:
        if args.stats:
            os.environ["HANDBOOK_STATS"] = str(args.stats)
        if args.step == "snippets":
            ok = stage(root)
        else:  # the builds start at once and wait only for the snippets they render
            store = snippets.store_dir()
            store.mkdir(parents=True, exist_ok=True)
            (store / snippets.RUNNING).write_text(str(os.getpid()), encoding="utf-8")
            with ThreadPoolExecutor(1) as runner:
                staged = runner.submit(stage, root)
                built = build(root, (args.site_dir or root / "site").resolve(), work)
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
