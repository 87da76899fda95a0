"""Translation freshness: each English page records which version of its Chinese twin it translates.

The Chinese page is the source of truth. Every English page carries, in its front matter,

    translated_from: "0123456789ab"

the first 12 hex digits of the SHA-256 of its Chinese twin as it was when the translation was last checked
(:func:`fingerprint`). What is hashed is the **Chinese file only** (front matter and body, since a changed
title needs translating too), with line endings normalised and trailing whitespace ignored, so a CRLF checkout
or an editor that trims spaces does not make every page stale. The English file never enters the hash:
editing the English page never changes its record, and the record never changes the hash.

A page is ``fresh`` when the record matches the Chinese file, ``stale`` when it does not, and ``missing`` when
there is no record yet. ``missing`` is treated like ``stale``: nobody has confirmed that the translation
matches the Chinese text, so the reader is told so.

* The build (``hooks.on_page_markdown``) calls :func:`outdated_notice`: a stale or unrecorded English page
  gets a warning admonition under its title that links to the Chinese page. It is a notice, not a build
  warning, so the strict build still passes.
* ``make test`` lists the stale pages in pytest's warnings summary without failing
  (``tests/test_freshness.py``).
* ``make stale`` (``python -m handbook_site.freshness --report``) lists them;
  ``make translated PAGE=section/slug`` (``--update PAGE``) records the current Chinese version after the
  English page has been checked; without ``PAGE`` it records every page.
"""

from __future__ import annotations

import argparse
import hashlib
import posixpath
import re
import subprocess
import sys
from pathlib import Path

from handbook_site import sitemap

FIELD = "translated_from"
SOURCE, TARGET = "zh", "en"
FRESH, STALE, MISSING = "fresh", "stale", "missing"
NOTICE_CLASS = "handbook-outdated"
_H1 = re.compile(r"\A(\s*#[ \t][^\n]*\n)")


class StaleTranslationWarning(UserWarning):
    """Shown by ``make test`` for English pages whose Chinese twin changed since they were translated."""


def fingerprint(zh_text: str) -> str:
    """First 12 hex digits of the SHA-256 of a Chinese page, ignoring line endings and trailing spaces."""
    lines = [line.rstrip() for line in zh_text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    normalised = "\n".join(lines).strip("\n") + "\n"
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:12]


def recorded(en_text: str) -> str | None:
    """The ``translated_from`` record of an English page, or ``None``."""
    value = sitemap.front_matter(en_text.replace("\r\n", "\n")).get(FIELD)
    return None if value is None else str(value)


def with_record(en_text: str, value: str) -> str:
    """The English page with its record set to ``value``; every other line of the file stays as it is."""
    newline = "\r\n" if "\r\n" in en_text else "\n"
    line = f'{FIELD}: "{value}"{newline}'
    lines = en_text.splitlines(keepends=True)
    closing = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if not lines or lines[0].strip() != "---" or closing is None:
        return f"---{newline}{line}---{newline}{newline}{en_text}"
    for i in range(1, closing):
        if lines[i].startswith(f"{FIELD}:"):
            lines[i] = line
            return "".join(lines)
    lines.insert(closing, line)
    return "".join(lines)


def pages(docs_dir: Path) -> list[str]:
    """Every English page with a Chinese twin, as a path under the language folder without ``.md``."""
    en_dir, zh_dir = docs_dir / TARGET, docs_dir / SOURCE
    keys = []
    for path in sorted(en_dir.rglob("*.md")):
        rel = path.relative_to(en_dir)
        if rel.parts[0].startswith("_") or not (zh_dir / rel).is_file():
            continue
        keys.append(rel.with_suffix("").as_posix())
    return keys


def fingerprint_of(docs_dir: Path, key: str) -> str:
    """The fingerprint of the Chinese twin of ``key``."""
    return fingerprint((docs_dir / SOURCE / f"{key}.md").read_text(encoding="utf-8"))


def status(docs_dir: Path, key: str) -> str:
    """``fresh``, ``stale`` or ``missing`` (no record) for one English page."""
    record = recorded((docs_dir / TARGET / f"{key}.md").read_text(encoding="utf-8"))
    if record is None:
        return MISSING
    return FRESH if record == fingerprint_of(docs_dir, key) else STALE


def outdated(docs_dir: Path) -> dict[str, str]:
    """Every English page that is not fresh, with its status."""
    statuses = {key: status(docs_dir, key) for key in pages(docs_dir)}
    return {key: value for key, value in statuses.items() if value != FRESH}


def update(docs_dir: Path, key: str) -> bool:
    """Record the current Chinese version in one English page; ``True`` if the file changed."""
    en_path = docs_dir / TARGET / f"{key}.md"
    en_text = en_path.read_text(encoding="utf-8")
    new = with_record(en_text, fingerprint_of(docs_dir, key))
    if new == en_text:
        return False
    en_path.write_text(new, encoding="utf-8")
    return True


def _zh_url(en_url: str) -> str:
    """``en/transformer/normalization/`` -> ``transformer/normalization/``."""
    return en_url.removeprefix(f"{TARGET}/") if en_url != TARGET else ""


def relative_url(from_url: str, to_url: str) -> str:
    """Relative link between two page URLs of the built site (directory or ``.html`` URLs)."""
    base = from_url if from_url.endswith("/") or not from_url else posixpath.dirname(from_url) + "/"
    rel = posixpath.relpath("/" + to_url, "/" + base)
    if to_url.endswith("/") or not to_url:
        rel = "./" if rel == "." else rel + "/"
    return rel


def notice(page_url: str) -> str:
    """The admonition shown at the top of an English page that may be outdated."""
    href = relative_url(page_url, _zh_url(page_url))
    return (
        f'!!! warning {NOTICE_CLASS} "This translation may be out of date"\n'
        "    The Chinese page is the source of truth, and it may have changed since this English page was "
        f'last checked against it. See the <a href="{href}" hreflang="zh">Chinese original</a> '
        "for the current version.\n\n"
    )


def outdated_notice(markdown: str, src_uri: str, page_url: str, docs_dir: Path) -> str:
    """For an English page that is stale or has no record, add the notice under its H1 (else at the top).

    Any other page is returned unchanged. ``src_uri`` is the page's path under ``docs/`` (``en/a/b.md``).
    """
    lang, _, rest = src_uri.partition("/")
    if lang != TARGET or not (docs_dir / SOURCE / rest).is_file():
        return markdown
    if status(docs_dir, rest.removesuffix(".md")) == FRESH:
        return markdown
    h1 = _H1.match(markdown)
    if h1:
        return f"{h1.group(1)}\n{notice(page_url)}{markdown[h1.end() :]}"
    return notice(page_url) + markdown


def normalise_key(page: str, docs_dir: Path) -> str:
    """Accept ``section/slug``, ``section/slug.md``, ``docs/en/section/slug.md``, ``zh/section/slug`` or a
    section (its ``index``); return the key or raise ``ValueError``."""
    key = page.strip().strip("/").removeprefix("docs/")
    for lang in (SOURCE, TARGET):
        key = key.removeprefix(f"{lang}/")
    key = key.removesuffix(".md")
    known = set(pages(docs_dir))
    for candidate in (key, f"{key}/index"):
        if candidate in known:
            return candidate
    raise ValueError(
        f"No English page with a Chinese twin for '{page}': expected docs/{TARGET}/{key}.md and "
        f"docs/{SOURCE}/{key}.md. Give PAGE as section/slug, e.g. PAGE=transformer/normalization."
    )


def translated_commit(docs_dir: Path, key: str, limit: int = 200) -> str | None:
    """The latest git commit whose Chinese page matches the English page's record, if git can tell."""
    record = recorded((docs_dir / TARGET / f"{key}.md").read_text(encoding="utf-8"))
    zh = docs_dir / SOURCE / f"{key}.md"
    if record is None:
        return None

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=zh.parent, capture_output=True, text=True, timeout=60)

    try:
        commits = git("log", f"--max-count={limit}", "--format=%h", "--", zh.name).stdout.split()
        for commit in commits:
            shown = git("show", f"{commit}:./{zh.name}")
            if shown.returncode == 0 and fingerprint(shown.stdout) == record:
                return commit
    except (OSError, subprocess.SubprocessError):
        return None
    return None


def report(docs_dir: Path, with_diff: bool = False) -> str:
    """Human-readable list of the English pages that may be outdated.

    With ``with_diff``, a stale page also gets the ``git diff`` command that shows what changed in the
    Chinese page since the commit its translation was recorded against (when git history has it).
    """
    stale = outdated(docs_dir)
    if not stale:
        return f"All {len(pages(docs_dir))} English pages are up to date with their Chinese source."
    lines = [f"{len(stale)} English page(s) may be outdated (the Chinese page changed, or no record yet):"]
    for key, value in stale.items():
        commit = translated_commit(docs_dir, key) if with_diff and value == STALE else None
        since = f"; changes since: git diff {commit} -- docs/{SOURCE}/{key}.md" if commit else ""
        lines.append(f"  docs/{TARGET}/{key}.md ({value}{since})")
    lines.append(
        "Update the English page from the Chinese one, then record it: make translated PAGE=section/slug"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m handbook_site.freshness", description=__doc__.split("\n\n")[0]
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--update",
        nargs="*",
        metavar="PAGE",
        help="record the current Chinese version in these English pages (all pages if none is given)",
    )
    action.add_argument("--report", action="store_true", help="list the English pages that may be outdated")
    parser.add_argument(
        "--check", action="store_true", help="with --report: exit with status 1 if any page is outdated"
    )
    parser.add_argument(
        "--docs-dir", type=Path, default=Path("docs"), help="the docs folder (default: ./docs)"
    )
    args = parser.parse_args(argv)
    docs_dir: Path = args.docs_dir
    if not (docs_dir / SOURCE).is_dir() or not (docs_dir / TARGET).is_dir():
        print(f"error: {docs_dir}/{SOURCE} and {docs_dir}/{TARGET} not found; run from the repository root")
        return 2
    if args.report:
        print(report(docs_dir, with_diff=True))
        return 1 if args.check and outdated(docs_dir) else 0
    try:
        keys = [normalise_key(page, docs_dir) for page in args.update] or pages(docs_dir)
    except ValueError as error:
        print(f"error: {error}")
        return 2
    changed = [key for key in keys if update(docs_dir, key)]
    for key in changed:
        print(f"recorded: docs/{TARGET}/{key}.md {FIELD} {fingerprint_of(docs_dir, key)}")
    print(f"{len(changed)} record(s) updated, {len(keys) - len(changed)} already up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
