"""pytest plugin (loaded by ``-p tests.site.markdown_includes`` in pyproject): page code blocks as the page shows them.

pytest-markdown-docs reads raw Markdown, so a block that includes a snippet (``--8<-- "path"``) would be run as
that literal line. This plugin expands the include, as pymdownx.snippets does at build time (a missing file
fails the test, naming it), and captures the block's output so that printed SVG figures do not flood the log
(the plugin runs blocks with pytest's capture suspended).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path

from handbook_build.content import INCLUDE

ROOT = Path(__file__).resolve().parents[2]


def expand_includes(code: str) -> str:
    """Replace ``--8<-- "path"`` lines with the snippet file, as pymdownx.snippets does at build time."""
    return INCLUDE.sub(lambda m: (ROOT / "snippets" / m.group(1)).read_text(encoding="utf-8"), code)


def pytest_collection_modifyitems(items):
    """pytest-markdown-docs reads raw Markdown: test each page's Python blocks as the page shows them.

    Includes are expanded (a missing file fails the test, naming it), and output is captured so that
    printed SVG figures do not flood the log (the plugin turns capture off).
    """
    for item in items:
        if type(item).__name__ != "MarkdownInlinePythonItem":
            continue
        expanded = expand_includes(item.test_definition.source)
        item.test_definition = dataclasses.replace(item.test_definition, source=expanded)
        item.code = expanded

        def runtest(original=item.runtest, item=item):
            runner = item.runner  # set up by the plugin; it runs the code with capture suspended

            class QuietRunner:
                def runtest(self, *args, **kwargs):
                    with contextlib.redirect_stdout(io.StringIO()):
                        return runner.runtest(*args, **kwargs)

            item.runner = QuietRunner()
            try:
                original()
            finally:
                item.runner = runner

        item.runtest = runtest
