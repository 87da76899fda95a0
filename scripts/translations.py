"""``make stale`` and ``make translated PAGE=section/slug``: which English pages may lag their Chinese twin.

The record and its meaning are defined in :mod:`handbook_build.freshness` (the build shows the notice). This
script lists the pages whose record is missing or out of date (``--report``), and records the current
Chinese version after the English page has been checked (``--update [PAGE ...]``; no page means all).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from handbook_build import content
from handbook_build.freshness import FIELD, FRESH, SOURCE, STALE, TARGET, fingerprint, status

ROOT = Path(__file__).resolve().parents[1]


def with_record(en_text: str, value: str) -> str:
    """The English page with ``translated_from`` set to ``value``; every other line stays as it is."""
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


def pages(docs: Path) -> list[str]:
    """Every English page with a Chinese twin, as a path under ``docs/en`` (``section/slug.md``)."""
    return [
        p.relative_to(docs / TARGET).as_posix()
        for p in sorted((docs / TARGET).rglob("*.md"))
        if (docs / SOURCE / p.relative_to(docs / TARGET)).is_file()
    ]


def outdated(docs: Path) -> dict[str, str]:
    """Every English page that is not fresh, with its status."""
    return {rel: s for rel in pages(docs) if (s := status(docs, rel)) != FRESH}


def update(docs: Path, rel: str) -> bool:
    """Record the current Chinese version in one English page; ``True`` if the file changed."""
    en = docs / TARGET / rel
    text = en.read_text(encoding="utf-8")
    new = with_record(text, fingerprint((docs / SOURCE / rel).read_text(encoding="utf-8")))
    en.write_text(new, encoding="utf-8")
    return new != text


def normalise(page: str, docs: Path) -> str:
    """``section/slug``, ``docs/en/section/slug.md`` or a section -> ``section/slug.md``; else ValueError."""
    key = page.strip().strip("/").removeprefix("docs/")
    for lang in (SOURCE, TARGET):
        key = key.removeprefix(f"{lang}/")
    key = key.removesuffix(".md")
    known = set(pages(docs))
    for candidate in (f"{key}.md", f"{key}/index.md"):
        if candidate in known:
            return candidate
    raise ValueError(
        f"No English page with a Chinese twin for '{page}': expected docs/{TARGET}/{key}.md and "
        f"docs/{SOURCE}/{key}.md. Give PAGE as section/slug, e.g. PAGE=transformer/normalization."
    )


def translated_commit(docs: Path, rel: str, limit: int = 200) -> str | None:
    """The latest commit whose Chinese page matches the English page's record, if git can tell."""
    record = content.front_matter((docs / TARGET / rel).read_text(encoding="utf-8")).get(FIELD)
    zh = docs / SOURCE / rel
    if record is None:
        return None

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=zh.parent, capture_output=True, text=True, timeout=60)

    try:
        for commit in git("log", f"--max-count={limit}", "--format=%h", "--", zh.name).stdout.split():
            shown = git("show", f"{commit}:./{zh.name}")
            if shown.returncode == 0 and fingerprint(shown.stdout) == str(record):
                return commit
    except (OSError, subprocess.SubprocessError):
        return None
    return None


def report(docs: Path) -> str:
    stale = outdated(docs)
    if not stale:
        return f"All {len(pages(docs))} English pages are up to date with their Chinese source."
    lines = [f"{len(stale)} English page(s) may be outdated (the Chinese page changed, or no record yet):"]
    for rel, value in stale.items():
        commit = translated_commit(docs, rel) if value == STALE else None
        since = f"; changes since: git diff {commit} -- docs/{SOURCE}/{rel}" if commit else ""
        lines.append(f"  docs/{TARGET}/{rel} ({value}{since})")
    lines.append(
        "Update the English page from the Chinese one, then record it: make translated PAGE=section/slug"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/translations.py", description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--update", nargs="*", metavar="PAGE", help="record these pages (all if none)")
    action.add_argument("--report", action="store_true", help="list the English pages that may be outdated")
    parser.add_argument("--docs-dir", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    docs: Path = args.docs_dir
    if args.report:
        print(report(docs))
        return 0
    try:
        rels = [normalise(page, docs) for page in args.update] or pages(docs)
    except ValueError as error:
        print(f"error: {error}")
        return 2
    changed = [rel for rel in rels if update(docs, rel)]
    for rel in changed:
        print(f"recorded: docs/{TARGET}/{rel}")
    print(f"{len(changed)} record(s) updated, {len(rels) - len(changed)} already up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
