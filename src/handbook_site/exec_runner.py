"""Run the pages' Python blocks for markdown-exec: once per distinct block, with a time limit.

markdown-exec parses the fence options and renders the result (source above, output below); this module
only replaces the step that executes the code, to add what the handbook needs:

* **Once per build.** The zh and en pages include the same snippet, and mkdocs-static-i18n builds the
  site twice in one process. Results are memoised on a key that covers the code, every file of
  ``src/mllm_handbook`` and the torch version, so the second language reuses the first one's output.
* **Optional disk cache** (``HANDBOOK_EXEC_CACHE=1``, set by ``make serve`` only) for a fast edit loop.
  ``make test`` and CI set it to 0, so they always execute every block.
* **Time limit** (``HANDBOOK_EXEC_TIMEOUT`` seconds, default 30) and **failures that name the page and
  the snippet file**. A failed block is never cached, and its traceback never reaches a page: the page
  shows a short notice and the build log has the details (``--strict`` turns the warning into an error).
* **Figures.** ``mllm_handbook.figures.show`` prints one line of inline SVG; everything else a snippet
  prints is shown as plain text.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

import markdown_exec

log = logging.getLogger("mkdocs.hooks.handbook")

from mllm_handbook.figures import FIGURE_PREFIX  # noqa: E402 - one home for the marker


class SnippetTimeoutError(Exception):
    """Raised inside a snippet that runs past the time limit."""


@dataclass
class BuildState:
    """What the runner knows about the current build; reset by :func:`start_build`."""

    package_dir: Path | None = None
    fingerprint: str = ""
    page: str = "?"
    includes: dict[str, str] = field(default_factory=dict)  # snippet path -> its text
    memory: dict[str, str] = field(default_factory=dict)
    requested: int = 0
    executed: int = 0
    failures: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


STATE = BuildState()


def fingerprint(package_dir: Path) -> str:
    """Hash every file of the package plus the torch version: the part of the key that is not the code."""
    torch_version = importlib.metadata.version("torch")  # without importing torch (1-2 s)
    digest = hashlib.sha256(f"torch {torch_version}\n".encode())
    for path in sorted(p for p in package_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def start_build(package_dir: Path) -> None:
    """Refresh the package fingerprint; forget imported package modules if the package changed."""
    new = fingerprint(package_dir)
    if new != STATE.fingerprint:
        for name in [m for m in sys.modules if m == "mllm_handbook" or m.startswith("mllm_handbook.")]:
            del sys.modules[name]
        STATE.memory.clear()
    STATE.package_dir, STATE.fingerprint = package_dir, new


def start_page(page: str, includes: dict[str, str]) -> None:
    """Record the page being rendered and the snippet files it includes, for error messages."""
    STATE.page, STATE.includes = page, includes


def snippet_name(code: str) -> str:
    """The snippet file whose text is this block's code, or a short description if none matches."""
    for path, text in STATE.includes.items():
        if text.strip() and text.strip() in code:
            return f"snippets/{path}"
    return "an inline block (no snippet include)"


def _cache_dir() -> Path | None:
    if os.environ.get("HANDBOOK_EXEC_CACHE", "0") != "1" or STATE.package_dir is None:
        return None
    default = STATE.package_dir.parents[1] / ".cache" / "exec"
    return Path(os.environ.get("HANDBOOK_EXEC_CACHE_DIR", default))


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise SnippetTimeoutError in the block after ``seconds`` (main thread only; elsewhere no limit)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise SnippetTimeoutError(f"the block ran past the {seconds:g} s time limit")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def execute(code: str, name: str) -> str:
    """Execute ``code`` as a fresh module and return what it printed; raise on error or timeout."""
    module = types.ModuleType(f"handbook_snippet_{hashlib.sha1(code.encode()).hexdigest()[:12]}")
    module.__file__ = name
    sys.modules[module.__name__] = module
    buffer = io.StringIO()
    limit = float(os.environ.get("HANDBOOK_EXEC_TIMEOUT", "30"))
    try:
        with contextlib.redirect_stdout(buffer), time_limit(limit):
            exec(compile(code, name, "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return buffer.getvalue()


def as_markdown(output: str) -> str:
    """Plain text goes into ``text`` fences; figure lines stay raw HTML blocks."""
    parts: list[str] = []
    text: list[str] = []

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


def _key(code: str) -> str:
    return hashlib.sha256(f"{STATE.fingerprint}\n{code}".encode()).hexdigest()


def run_python(code: str, **_: object) -> str:
    """markdown-exec ``run`` callback: memoised, time-limited execution returning Markdown."""
    STATE.requested += 1
    key = _key(code)
    if key in STATE.memory:
        return STATE.memory[key]
    cache_dir = _cache_dir()
    cached = cache_dir / f"{key}.md" if cache_dir else None
    if cached and cached.exists():
        STATE.memory[key] = cached.read_text(encoding="utf-8")
        return STATE.memory[key]

    name = snippet_name(code)
    started = time.perf_counter()
    try:
        result = as_markdown(execute(code, name))
    except BaseException as error:
        STATE.failures += 1
        trace = "".join(traceback.format_exception(error)).rstrip()
        log.warning(
            "Snippet failed on page '%s': %s: %s: %s\n%s",
            STATE.page,
            name,
            type(error).__name__,
            error,
            trace,
        )
        notice = f"Snippet {name} failed during the build; see the build log."
        raise markdown_exec.ExecutionError(f"!!! failure\n    {notice}") from None
    finally:
        STATE.executed += 1
        STATE.seconds[name] = STATE.seconds.get(name, 0.0) + time.perf_counter() - started

    STATE.memory[key] = result
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(result, encoding="utf-8")
    return result


def format_python(**kwargs: object) -> str:
    """The SuperFences formatter for ``python exec="on"`` blocks."""
    return markdown_exec.base_format(language="python", run=run_python, **kwargs)


def formatter(source, language, css_class, options, md, **kwargs):
    """Drop-in replacement for ``markdown_exec.formatter`` that routes Python to :func:`format_python`."""
    if language in ("python", "py"):
        return format_python(code=source, md=md, **options)
    return markdown_exec.formatter(source, language, css_class, options, md, **kwargs)


def write_stats(path: Path) -> None:
    """Write executed/requested/distinct counts and per-snippet seconds (read by ``make bench``)."""
    stats = {
        "requested": STATE.requested,
        "executed": STATE.executed,
        "distinct": len(STATE.memory) + STATE.failures,
        "failures": STATE.failures,
        "seconds": STATE.seconds,
    }
    path.write_text(json.dumps(stats, indent=2, sort_keys=True), encoding="utf-8")
