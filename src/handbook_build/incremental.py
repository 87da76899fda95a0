"""Incremental builds: after a first build, a page is rendered again only when what it is made of changed.

MkDocs' ``--dirty`` build (used by ``make serve`` and by ``make build`` after a first build) skips a page
whose output is newer than its Markdown file. But a page is also made of the snippets it includes (whose
output depends on ``src/mllm_handbook``), of the package itself (the API reference), and of inputs every page
shares: the configs, ``site_map.yml``, ``bibliography.yml``, the templates, the build package and every page's
front matter (the navigation shows every title). A manifest of those inputs is kept next to the output:

* a shared input changed: the output folder is emptied and every page is built;
* a page's own inputs changed: its output file is removed, so MkDocs builds it again.

A clean build (MkDocs' default) starts from an empty folder, so this changes nothing for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from mkdocs import utils

from handbook_build import content, snippets

MANIFEST = ".handbook-build.json"
SHARED = ["mkdocs.yml", "mkdocs.en.yml", "site_map.yml", "bibliography.yml", "glossary.yml"]


def _digest(parts: list[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def shared_key(root: Path, docs: Path) -> str:
    """What every page of one language depends on."""
    files = [root / name for name in SHARED if (root / name).is_file()]
    for folder in ("overrides", "src/handbook_build"):
        files += sorted(p for p in (root / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    fronts = [content.FRONT_MATTER.match(p.read_text(encoding="utf-8")) for p in sorted(docs.rglob("*.md"))]
    return _digest([f.read_bytes() for f in files] + [m.group(0).encode() for m in fronts if m])


def page_key(root: Path, docs: Path, src_uri: str, package: str) -> str:
    """What one page depends on beyond the shared inputs: its text, its snippets, its twin's text."""
    text = (docs / src_uri).read_text(encoding="utf-8")
    parts = [text.encode()]
    for name in content.INCLUDE.findall(text):
        snippet = root / "snippets" / name
        parts.append(snippet.read_bytes() if snippet.is_file() else name.encode())
    if parts[1:] or "handbook:api-reference" in text:
        parts.append(package.encode())
    twin = docs.parent / "zh" / src_uri  # an English page shows a notice while its Chinese twin is newer
    if docs.name != "zh" and twin.is_file():
        parts.append(twin.read_bytes())
    return _digest(parts)


def invalidate(config, files) -> dict:
    """Remove the outputs a dirty build must render again; return the keys of this build."""
    root, docs, site = (
        Path(config.config_file_path).resolve().parent,
        Path(config.docs_dir),
        Path(config.site_dir),
    )
    keys = {
        "shared": shared_key(root, docs),
        "pages": {
            f.src_uri: page_key(root, docs, f.src_uri, snippets.STATE.package_fingerprint)
            for f in files.documentation_pages()
        },
    }
    manifest = site / MANIFEST
    if not manifest.is_file():
        return keys  # a clean build: nothing to keep
    old = json.loads(manifest.read_text(encoding="utf-8"))
    if old.get("shared") != keys["shared"]:
        utils.clean_directory(str(site))
        return keys
    for file in files.documentation_pages():
        if old["pages"].get(file.src_uri) != keys["pages"][file.src_uri]:
            Path(file.abs_dest_path).unlink(missing_ok=True)
    return keys


def record(config, keys: dict) -> None:
    (Path(config.site_dir) / MANIFEST).write_text(json.dumps(keys), encoding="utf-8")


def _not_the_dirty_notice(record: logging.LogRecord) -> bool:
    """MkDocs warns that a dirty build may leave stale navigation; the manifest above prevents that."""
    return "A 'dirty' build is being performed" not in record.getMessage()


def quiet_dirty_notice() -> None:
    logging.getLogger("mkdocs.commands.build").addFilter(_not_the_dirty_notice)
