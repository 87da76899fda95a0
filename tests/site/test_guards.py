"""The build's guards fail when they should, name the file, and pass a clean twin.

Most guards are tested in-process on one Markdown string or one call of a hook. Each family then has one
end-to-end build of a tiny project (``tiny_site``): a snippet that raises, a page without its twin, a missing
include, TeX that cannot be rendered; and a clean control that must build, so a failure can only come from the
guard under test.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import markdown
import pytest

from handbook_build import hooks, snippets
from tests.site import tiny_site

GOOD = 'print("tiny snippet ran")\n'
BAD = 'raise RuntimeError("boom from the tiny snippet")\n'


# --- in-process: the executed-snippet fence --------------------------------------------------------------


@pytest.fixture
def fence(tmp_path, monkeypatch):
    """A Markdown converter with the handbook's python fence and includes from ``tmp_path/snippets``."""
    monkeypatch.setenv("HANDBOOK_STORE", str(tmp_path / "store"))
    (tmp_path / "snippets/demo").mkdir(parents=True)
    snippets.start_build()
    snippets.STATE.page = "docs/zh/demo/alpha.md"
    fences = [{"name": "python", "class": "python", "format": snippets.formatter,
               "validator": __import__("markdown_exec").validator}]
    md = markdown.Markdown(
        extensions=["admonition", "pymdownx.superfences", "pymdownx.snippets"],
        extension_configs={
            "pymdownx.superfences": {"custom_fences": fences},
            "pymdownx.snippets": {"base_path": [str(tmp_path / "snippets")], "check_paths": True},
        },
    )

    def convert(code: str, title: str = "snippets/demo/alpha.py") -> str:
        (tmp_path / "snippets/demo/alpha.py").write_text(code, encoding="utf-8")
        return md.reset().convert(f'```python exec="on" source="above" title="{title}"\n--8<-- "demo/alpha.py"\n```\n')

    return convert


def stored(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "store").glob("*.md")) if (tmp_path / "store").exists() else []


def test_fence_runs_a_snippet_once_and_then_reads_the_store(fence, tmp_path):
    html = fence(GOOD)
    assert "tiny snippet ran" in html and len(stored(tmp_path)) == 1
    executed = snippets.STATE.executed
    assert "tiny snippet ran" in fence(GOOD)
    assert snippets.STATE.executed == executed  # the second render is a store hit


def test_fence_failure_names_page_and_file_and_keeps_the_traceback_off_the_page(fence, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="mkdocs.handbook"):
        html = fence(BAD)
    assert "Snippet snippets/demo/alpha.py failed on page 'docs/zh/demo/alpha.md'" in caplog.text
    assert "boom from the tiny snippet" in caplog.text
    assert "Traceback" not in html and "most recent call" not in html  # the source shows, not the traceback
    assert "snippets/demo/alpha.py failed during the build" in html
    assert stored(tmp_path) == []  # a failed run is never stored


def test_fence_time_limit_holds_outside_the_main_thread(fence, monkeypatch, caplog):
    """The limit is the worker's own: it holds when the fence runs in a `make serve` rebuild thread."""
    import threading

    monkeypatch.setenv("HANDBOOK_SNIPPET_TIMEOUT", "1")
    result = {}
    thread = threading.Thread(target=lambda: result.update(html=fence("while True:\n    pass\n")))
    with caplog.at_level(logging.WARNING, logger="mkdocs.handbook"):
        thread.start()
        thread.join(timeout=60)
    assert "time limit" in caplog.text and "failed during the build" in result["html"]


def test_fence_needs_a_snippet_title(fence, caplog):
    with caplog.at_level(logging.WARNING, logger="mkdocs.handbook"):
        html = fence(GOOD, title="inline")
    assert "needs title=" in caplog.text and "no snippet title" in html


def test_missing_include_raises_naming_the_file(fence, tmp_path):
    md = markdown.Markdown(extensions=["pymdownx.snippets"],
                           extension_configs={"pymdownx.snippets": {"base_path": [str(tmp_path)], "check_paths": True}})
    with pytest.raises(Exception, match="no-such-snippet.py"):
        md.convert('--8<-- "demo/no-such-snippet.py"\n')


def test_unrenderable_tex_raises_naming_the_tex():
    md = markdown.Markdown(extensions=["handbook_build.math"])
    assert "<math" in md.convert(r"$\alpha + \beta$")
    with pytest.raises(ValueError, match=r"cannot render TeX `\\notacommand x`: .*Unknown command"):
        md.reset().convert(r"$\notacommand x$")


# --- in-process: hooks -----------------------------------------------------------------------------------


def config_for(root: Path, lang: str) -> SimpleNamespace:
    return tiny_site.config(root, lang)


def files_of(*src_uris: str) -> SimpleNamespace:
    pages = [SimpleNamespace(src_uri=uri) for uri in src_uris]
    return SimpleNamespace(documentation_pages=lambda: pages)


def test_page_without_its_twin_or_outside_the_site_map_is_reported(tmp_path, caplog):
    root = tiny_site.make(tmp_path, {"zh/demo/alpha.md": "# a\n", "en/demo/alpha.md": "# a\n", "zh/demo/beta.md": "# b\n"})
    with caplog.at_level(logging.WARNING, logger="mkdocs.handbook"):
        hooks.on_files(files_of("demo/alpha.md", "demo/beta.md"), config_for(root, "zh"))
    assert caplog.messages == [
        "Page docs/zh/demo/beta.md has no en twin: create docs/en/demo/beta.md",
        "Page docs/zh/demo/beta.md is not listed in site_map.yml",
    ]
    caplog.clear()
    hooks.on_files(files_of("demo/alpha.md"), config_for(root, "en"))
    assert caplog.messages == []


def test_scaffold_placeholder_is_reported(tmp_path, caplog):
    root = tiny_site.make(tmp_path, {})
    page = SimpleNamespace(file=SimpleNamespace(src_uri="demo/alpha.md"), meta={"title": "x"}, url="demo/alpha/")
    with caplog.at_level(logging.WARNING, logger="mkdocs.handbook"):
        hooks.on_page_markdown(f"# x\n\n{hooks.SCAFFOLD_MARKER}: write me\n", page, config_for(root, "zh"), None)
    assert "docs/zh/demo/alpha.md still has TODO(scaffold) placeholders" in caplog.text


def test_navigation_follows_the_site_map_and_skips_unwritten_pages(tmp_path):
    plan = {**tiny_site.SITE_MAP, "sections": [{"slug": "demo", "zh": "演示", "en": "Demo", "pages": ["beta", "alpha", "gamma"]}]}
    root = tiny_site.make(tmp_path, {f"{lang}/demo/{p}.md": "# x\n" for lang in ("zh", "en") for p in ("alpha", "beta")},
                          site_map=plan)
    from handbook_build import content

    nav = hooks.navigation(content.site_map(root / "site_map.yml"), root / "docs/en", "en")
    assert nav == ["index.md", {"Demo": ["demo/index.md", "demo/beta.md", "demo/alpha.md"]}]


# --- end to end: one build per guard family ----------------------------------------------------------------


@pytest.fixture(scope="module")
def control(tmp_path_factory):
    """A clean tiny project with a snippet, a redirect and an English page that lags its Chinese twin."""
    plan = {**tiny_site.SITE_MAP, "redirects": {"demo/old-alpha": "demo/alpha"}}
    pages = {f"{lang}/{tiny_site.PAGE}.md": tiny_site.page(lang, snippet="demo/alpha.py") for lang in ("zh", "en")}
    root = tiny_site.make(tmp_path_factory.mktemp("control"), pages, {"demo/alpha.py": GOOD}, site_map=plan)
    return tiny_site.build(root)


@pytest.mark.build
def test_control_project_builds_both_languages(control):
    assert control.returncode == 0, control.log
    for lang_root in (control.site, control.site / "en"):
        assert "tiny snippet ran" in (lang_root / "demo/alpha/index.html").read_text(encoding="utf-8")
        assert "demo/alpha/" in (lang_root / "demo/old-alpha/index.html").read_text(encoding="utf-8")
    en = (control.site / "en/demo/alpha/index.html").read_text(encoding="utf-8")
    assert "This translation may be out of date" in en  # no translated_from record yet


def guarded(tmp_path: Path, pages: dict[str, str], snippet: str = GOOD):
    return tiny_site.build(tiny_site.make(tmp_path, pages, {"demo/alpha.py": snippet}))


def both(body: str = "", snippet: str | None = "demo/alpha.py") -> dict[str, str]:
    return {f"{lang}/{tiny_site.PAGE}.md": tiny_site.page(lang, body, snippet=snippet) for lang in ("zh", "en")}


@pytest.mark.build
def test_snippet_that_raises_fails_the_build_naming_pages_and_file(tmp_path):
    result = guarded(tmp_path, both(), snippet=BAD)
    assert result.returncode != 0
    assert "snippets/demo/alpha.py failed (included by docs/en/demo/alpha.md, docs/zh/demo/alpha.md)" in result.log
    assert "boom from the tiny snippet" in result.log


@pytest.mark.build
def test_page_without_its_twin_fails_the_build(tmp_path):
    pages = both()
    del pages[f"en/{tiny_site.PAGE}.md"]
    result = guarded(tmp_path, pages)
    assert result.returncode != 0
    assert f"Page docs/zh/{tiny_site.PAGE}.md has no en twin: create docs/en/{tiny_site.PAGE}.md" in result.log


@pytest.mark.build
def test_missing_include_fails_the_build_naming_the_file(tmp_path):
    pages = {rel: text.replace('"demo/alpha.py"\n```', '"demo/no-such-snippet.py"\n```') for rel, text in both().items()}
    result = guarded(tmp_path, pages)
    assert result.returncode != 0 and "snippets/demo/no-such-snippet.py" in result.log


@pytest.mark.build
def test_unrenderable_tex_fails_the_build_naming_the_page(tmp_path):
    result = guarded(tmp_path, both(r"Bad: $\notacommand x$" + "\n", snippet=None))
    assert result.returncode != 0
    assert "Error reading page 'demo/alpha.md'" in result.log and "notacommand" in result.log
