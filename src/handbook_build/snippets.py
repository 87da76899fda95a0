"""Executed snippets: each distinct snippet runs once per build, in parallel, into a content-addressed store.

A page shows its snippet in a fence that markdown-exec knows (declared in ``mkdocs.yml`` as a custom fence
whose ``format`` is :func:`formatter`)::

    ```python exec="on" source="above" title="snippets/<section>/<slug>.py"
    --8<-- "<section>/<slug>.py"
    ```

* **The stage** (:func:`run_stage`, ``python -m handbook_build snippets``; the build runs it before any page
  renders) finds every snippet the pages include and executes the ones the store lacks in a pool of worker
  processes, one per core. Each result is stored under ``sha256(torch version, every file of
  src/mllm_handbook, the code)``, so both language builds read the same entry. A failure names the pages and
  the snippet file, and is never stored.
* **The fence** reads a block's output from the store. On a miss (``make serve`` after an edit) it executes
  that block in the same kind of worker.
* **Time limit**: ``HANDBOOK_SNIPPET_TIMEOUT`` seconds (default 30) in every mode. Each snippet runs in a
  fresh worker process (forked from a server that has imported torch once), whose main thread takes the
  alarm; a worker that does not answer in time is killed.

Workers run single-threaded (``torch.set_num_threads(1)``): snippets use tiny tensors, and the build runs
one worker per core.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.metadata
import io
import json
import logging
import multiprocessing
import multiprocessing.pool
import os
import re
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from handbook_build.content import INCLUDE, ROOT, site_map

log = logging.getLogger("mkdocs.handbook")
PACKAGE = ROOT / "src" / "mllm_handbook"
DEFAULT_STORE = ROOT / ".cache" / "snippets"
FIGURE_PREFIX = '<figure class="handbook-figure"'  # what mllm_handbook.figures.show prints


def store_dir() -> Path:
    return Path(os.environ.get("HANDBOOK_STORE", DEFAULT_STORE))


def time_limit() -> float:
    return float(os.environ.get("HANDBOOK_SNIPPET_TIMEOUT", "30"))


def fingerprint(package: Path = PACKAGE) -> str:
    """Hash of the torch version and every file of the package: the part of a key that is not the code."""
    digest = hashlib.sha256(f"torch {importlib.metadata.version('torch')}\n".encode())
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def normalise(code: str) -> str:
    """The code as executed and hashed: what the page's include expands to, without surrounding blanks."""
    return code.strip("\n") + "\n"


def key(code: str, package_fingerprint: str) -> str:
    return hashlib.sha256(f"{package_fingerprint}\n{normalise(code)}".encode()).hexdigest()


def as_markdown(output: str) -> str:
    """Printed text goes into ``text`` fences; figure lines (inline SVG) stay raw HTML blocks."""
    parts, text = [], []

    def flush() -> None:
        if any(line.strip() for line in text):
            parts.append("```text\n" + "\n".join(text).strip("\n") + "\n```")
        text.clear()

    for line in output.splitlines():
        if line.startswith(FIGURE_PREFIX):
            flush()
            parts.append(line)
        else:
            text.append(line)
    flush()
    return "\n\n".join(parts) + "\n"


# --- the worker -------------------------------------------------------------------------------------------


#: Imported once by the fork server, so every worker starts with them (never mllm_handbook: it may change).
PRELOAD = [
    "torch",
    "torch.optim",
    "torch._dynamo",
    "matplotlib.figure",
    "matplotlib.backends.backend_svg",
    "handbook_build.snippets",
]


def _single_threaded() -> None:
    import torch

    torch.set_num_threads(1)


def execute(code: str, name: str, limit: float) -> tuple[bool, str, float]:
    """Run ``code`` as ``__main__`` for at most ``limit`` s; ``(ok, Markdown output or traceback, seconds)``."""
    started = time.perf_counter()
    buffer = io.StringIO()

    def alarm(signum, frame):
        raise TimeoutError(f"ran past the {limit:g} s time limit")

    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        with contextlib.redirect_stdout(buffer):
            exec(compile(normalise(code), name, "exec"), {"__name__": "__main__", "__file__": name})
    except BaseException as error:
        trace = traceback.format_exception(
            type(error), error, error.__traceback__.tb_next
        )  # from the snippet
        return False, "".join(trace).rstrip(), time.perf_counter() - started
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return True, as_markdown(buffer.getvalue()), time.perf_counter() - started


@dataclass
class Pool:
    """Worker processes forked from a server that imported torch once; one fresh process per snippet."""

    jobs: int
    package_fingerprint: str
    pool: multiprocessing.pool.Pool = field(init=False)

    def __post_init__(self) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        self.pool = context.Pool(self.jobs, initializer=_single_threaded, maxtasksperchild=1)

    def run(self, tasks: dict[str, str], done=None) -> dict[str, tuple[bool, str, float]]:
        """Execute ``{name: code}`` (``done(name, result)`` as each finishes); a worker that outlives the
        limit by 10 s is killed."""
        limit = time_limit()
        pending = {
            name: self.pool.apply_async(
                execute,
                (code, name, limit),
                callback=(lambda result, name=name: done(name, result)) if done else None,
            )
            for name, code in tasks.items()
        }
        results = {}
        for name, result in pending.items():
            try:
                results[name] = result.get(timeout=limit + 10)
            except multiprocessing.TimeoutError:
                self.close()
                results[name] = (False, f"TimeoutError: no answer within {limit + 10:g} s", 0.0)
                self.__post_init__()
        return results

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()


# --- the stage --------------------------------------------------------------------------------------------


def included_snippets(docs: Path) -> dict[str, list[str]]:
    """``snippets/<path>`` -> the pages (``docs/<lang>/…``) that include it, over every language."""
    found: dict[str, list[str]] = {}
    for page in sorted(docs.rglob("*.md")):
        for name in INCLUDE.findall(page.read_text(encoding="utf-8")):
            found.setdefault(f"snippets/{name}", []).append(page.relative_to(docs.parent).as_posix())
    return found


@dataclass
class StageReport:
    distinct: int = 0
    executed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


RUNNING = ".stage-running"  # in the store while a stage runs: a build that misses waits for the stage


def stage_running(store: Path) -> bool:
    """Whether a stage (the process named in the marker) is still running for this store."""
    try:
        os.kill(int((store / RUNNING).read_text(encoding="utf-8")), 0)
    except (OSError, ValueError):
        return False
    return True


def run_stage(root: Path = ROOT, store: Path | None = None, jobs: int | None = None) -> StageReport:
    """Execute every snippet the pages under ``root/docs`` include and the store lacks, in parallel.

    Snippets run in the order of ``site_map.yml``, the order MkDocs renders the pages in, and each result
    is stored as soon as it is ready, so builds started alongside the stage can read it.
    """
    store = store or store_dir()
    store.mkdir(parents=True, exist_ok=True)
    (store / RUNNING).write_text(str(os.getpid()), encoding="utf-8")
    try:
        return _stage(root, store, jobs)
    finally:
        (store / RUNNING).unlink(missing_ok=True)


def _stage(root: Path, store: Path, jobs: int | None) -> StageReport:
    package_fingerprint = fingerprint()
    pages = included_snippets(root / "docs")
    order = {f"snippets/{key}.py": i for i, key in enumerate(site_map(root / "site_map.yml").pages())}
    pages = dict(sorted(pages.items(), key=lambda item: order.get(item[0], len(order))))
    report = StageReport(distinct=len(pages))
    tasks = {}
    for name in pages:
        path = root / name
        if not path.is_file():
            report.failures.append(f"{name} (included by {', '.join(pages[name])}) does not exist")
            continue
        code = path.read_text(encoding="utf-8")
        entry = key(code, package_fingerprint)
        (store / f"{entry}.failed").unlink(missing_ok=True)
        if not (store / f"{entry}.md").is_file():
            tasks[name] = code
    if tasks:

        def done(name: str, result: tuple[bool, str, float]) -> None:
            entry = key(tasks[name], package_fingerprint)
            if result[0]:
                write(store, entry, result[1])
            else:  # tells a waiting build not to wait or run it again; never read as a result
                (store / f"{entry}.failed").write_text(result[1], encoding="utf-8")

        pool = Pool(jobs or os.cpu_count() or 1, package_fingerprint)
        try:
            results = pool.run(tasks, done)
        finally:
            pool.close()
        for name, (ok, output, seconds) in results.items():
            report.executed += 1
            report.seconds[name] = seconds
            if not ok:
                report.failures.append(f"{name} failed (included by {', '.join(pages[name])}):\n{output}")
    return report


def write(store: Path, entry: str, output: str) -> None:
    temporary = store / f".{entry}.{os.getpid()}.tmp"
    temporary.write_text(output, encoding="utf-8")
    os.replace(temporary, store / f"{entry}.md")


# --- the fence --------------------------------------------------------------------------------------------


@dataclass
class BuildState:
    """What the fence knows during one MkDocs build (reset by :func:`start_build`)."""

    page: str = "?"
    package_fingerprint: str = ""
    requested: int = 0
    executed: int = 0
    pool: Pool | None = None


STATE = BuildState()
_TITLE = re.compile(r"^snippets/[\w./-]+\.py$")


def start_build() -> None:
    STATE.package_fingerprint, STATE.requested, STATE.executed = fingerprint(), 0, 0


_POOL_LOCK = threading.Lock()


def on_demand_pool() -> Pool:
    """One worker for the blocks the store lacks (``make serve`` after an edit). Each snippet still runs in
    a fresh process, which imports the package as it is now."""
    with _POOL_LOCK:
        if STATE.pool is None:
            STATE.pool = Pool(1, STATE.package_fingerprint or fingerprint())
            # Closed before the interpreter tears down multiprocessing; otherwise Pool.__del__ prints a
            # traceback at exit ('NoneType' object has no attribute 'dumps').
            atexit.register(STATE.pool.close)
        return STATE.pool


def warm_up() -> None:
    """Create the on-demand worker in the background (its server imports torch once, which takes seconds)."""
    threading.Thread(target=on_demand_pool, daemon=True).start()


def run_from_store(code: str, title: str = "", **_: object) -> str:
    """markdown-exec's ``run``: the block's Markdown output, from the store or executed on a miss.

    A failure is logged here (a strict build then fails); the page gets a short notice, never the traceback.
    """
    STATE.requested += 1
    if not _TITLE.match(title):
        log.warning(f"Executed block on page '{STATE.page}' needs title=\"snippets/<section>/<slug>.py\"")
        return "!!! failure\n    This block has no snippet title.\n"
    entry = key(code, STATE.package_fingerprint or fingerprint())
    cached, failed = store_dir() / f"{entry}.md", store_dir() / f"{entry}.failed"
    while not cached.is_file() and not failed.is_file() and stage_running(store_dir()):
        time.sleep(0.02)  # the stage running beside this build will store it
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    if failed.is_file() and stage_running(store_dir()):
        log.warning(f"Snippet {title} failed on page '{STATE.page}':\n{failed.read_text(encoding='utf-8')}")
        return f"!!! failure\n    Snippet {title} failed during the build; see the build log.\n"
    ok, output, _seconds = on_demand_pool().run({title: code})[title]
    STATE.executed += 1
    if not ok:
        log.warning(f"Snippet {title} failed on page '{STATE.page}':\n{output}")
        return f"!!! failure\n    Snippet {title} failed during the build; see the build log.\n"
    store_dir().mkdir(parents=True, exist_ok=True)
    write(store_dir(), entry, output)
    return output


def formatter(src, language, css_class, options, md, **kwargs):
    """The SuperFences ``format`` of the ``python`` fence: markdown-exec's rendering, our ``run``."""
    import markdown_exec

    return markdown_exec.base_format(language=language, run=run_from_store, code=src, md=md, **options)


def write_stats(lang: str) -> None:
    """This build's requested and executed blocks, for the build driver and ``make bench``."""
    stats = os.environ.get("HANDBOOK_STATS")
    if stats:
        record = {"lang": lang, "requested": STATE.requested, "executed": STATE.executed}
        Path(f"{stats}.{lang}.json").write_text(json.dumps(record), encoding="utf-8")
