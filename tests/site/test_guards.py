"""The build's guards fail when they should: each on a tiny throwaway site, never on the real one.

Every case is paired with a control: the same tiny site without the defect builds cleanly, so a failure can
only come from the guard under test. Remove the guard and the defective build passes, failing the test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, mkdocs_build

pytestmark = pytest.mark.build

PAGE = "transformer/normalization"
GOOD_SNIPPET = 'print("tiny snippet ran")\n'


def page(lang: str, include: str = f"{PAGE}.py") -> str:
    title = "小页面" if lang == "zh" else "Tiny page"
    return (
        f"---\ntitle: {title}\n---\n\n# {title} {{ #normalization }}\n\n"
        f'```python exec="on" source="above"\n--8<-- "{include}"\n```\n'
    )


def make_site(tmp_path: Path, *, snippet: str = GOOD_SNIPPET, langs=("zh", "en"), include=None) -> Path:
    """A copy of the real configuration with one question page per language and one snippet."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = config.replace("src/handbook_site/hooks.py", str(ROOT / "src/handbook_site/hooks.py"))
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    (tmp_path / "overrides").symlink_to(ROOT / "overrides")
    (tmp_path / "src").mkdir()
    (tmp_path / "src/mllm_handbook").symlink_to(ROOT / "src/mllm_handbook")
    (tmp_path / "snippets/transformer").mkdir(parents=True)
    (tmp_path / f"snippets/{PAGE}.py").write_text(snippet, encoding="utf-8")
    for lang in ("zh", "en"):
        (tmp_path / f"docs/{lang}/transformer").mkdir(parents=True)
        (tmp_path / f"docs/{lang}/index.md").write_text(f"# Home {lang} {{ #home }}\n", encoding="utf-8")
    for lang in langs:
        text = page(lang, include or f"{PAGE}.py")
        (tmp_path / f"docs/{lang}/{PAGE}.md").write_text(text, encoding="utf-8")
    return tmp_path


def build(site_root: Path, **env):
    result = mkdocs_build(site_root / "mkdocs.yml", site_root / "site", extra_env=env, timeout=300)
    return result


def test_control_tiny_site_builds_cleanly(tmp_path):
    result = build(make_site(tmp_path))
    assert result.returncode == 0, result.log
    html = (result.site / "en" / PAGE / "index.html").read_text(encoding="utf-8")
    assert "tiny snippet ran" in html


def test_snippet_that_raises_fails_naming_page_and_file(tmp_path):
    result = build(make_site(tmp_path, snippet='raise RuntimeError("boom from the tiny snippet")\n'))
    assert result.returncode != 0
    assert f"Snippet failed on page 'docs/zh/{PAGE}.md': snippets/{PAGE}.py" in result.log
    assert "boom from the tiny snippet" in result.log
    published = (result.site / PAGE / "index.html").read_text(encoding="utf-8")
    assert "boom from the tiny snippet" not in published, "a traceback reached the page"


def test_snippet_past_the_time_limit_fails_naming_the_file(tmp_path):
    result = build(make_site(tmp_path, snippet="while True:\n    pass\n"), HANDBOOK_EXEC_TIMEOUT="2")
    assert result.returncode != 0
    assert f"snippets/{PAGE}.py: SnippetTimeoutError" in result.log
    assert "2 s time limit" in result.log


def test_page_without_its_english_twin_fails_naming_the_path(tmp_path):
    result = build(make_site(tmp_path, langs=("zh",)))
    assert result.returncode != 0
    assert f"Page docs/zh/{PAGE}.md has no en twin: create docs/en/{PAGE}.md" in result.log


def test_missing_include_fails_naming_the_file(tmp_path):
    result = build(make_site(tmp_path, include="transformer/no-such-snippet.py"))
    assert result.returncode != 0
    assert "no-such-snippet.py" in result.log


def test_failed_blocks_are_not_cached(tmp_path):
    site_root = make_site(tmp_path, snippet='raise RuntimeError("boom")\n')
    assert build(site_root, HANDBOOK_EXEC_CACHE="1").returncode != 0
    assert not list((site_root / ".cache" / "exec").glob("*.md")) if (site_root / ".cache").exists() else True
    (site_root / f"snippets/{PAGE}.py").write_text(GOOD_SNIPPET, encoding="utf-8")
    assert build(site_root, HANDBOOK_EXEC_CACHE="1").returncode == 0
    assert len(list((site_root / ".cache" / "exec").glob("*.md"))) == 1
    shutil.rmtree(site_root / ".cache")
