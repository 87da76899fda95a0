"""Deterministic inline-SVG figures for the snippets.

A snippet builds a :class:`matplotlib.figure.Figure` with :func:`new_figure` and hands it to :func:`show`,
which prints the figure as one line of inline SVG. The build shows that line as a figure; when the snippet
runs as a plain script the line is just printed. Two runs print byte-identical SVG: there is no metadata
(no date) and the ids matplotlib generates are salted with a fixed string.

Figures follow the page's light or dark theme: the background is transparent and black (text, axes,
ticks, and what matplotlib leaves unfilled) is ``currentColor``, the colour of the text around the figure. The colour cycle uses
colours of middling luminance (0.15–0.27), which keep a 3:1 contrast (WCAG's minimum for graphics) against
both Material's white and its dark slate background.
"""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_PREFIX = '<figure class="handbook-figure"'
PALETTE = [
    "#1f77b4",  # blue
    "#d95f02",  # orange
    "#2ca02c",  # green
    "#d62728",  # red
    "#9467bd",  # purple
    "#b5651d",  # brown
    "#c2469d",  # pink
    "#7f7f7f",  # grey
    "#8c8c00",  # olive
    "#1a9aa8",  # teal
]
_STYLE = {
    "svg.hashsalt": "mllm-handbook",
    "svg.fonttype": "none",  # text stays text: smaller, selectable, rendered in the reader's font
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": "cycler(color=[" + ", ".join(f"'{c}'" for c in PALETTE) + "])",
}


def new_figure(width: float = 6.4, height: float = 3.2, ncols: int = 1, nrows: int = 1):
    """A figure and its axes (a single ``Axes`` when ``ncols == nrows == 1``), in the handbook's style."""
    # matplotlib is imported on first use: the site build imports this module only for FIGURE_PREFIX.
    import matplotlib
    from matplotlib.figure import Figure

    # The style is set for the whole process, not a context: colours named later ("C1") and artists added
    # after this call take the palette too.
    matplotlib.rcParams.update(_STYLE)
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots(nrows, ncols, squeeze=True)


def to_svg(figure: Figure, alt: str) -> str:
    """Render ``figure`` as a one-line SVG string with an accessible name ``alt``."""
    import matplotlib

    for legend in [*figure.legends, *(ax.get_legend() for ax in figure.axes)]:
        if legend is not None:  # a white legend box would be a bright patch in dark mode
            legend.get_frame().set_facecolor("none")
    buffer = io.StringIO()
    # No <metadata> (date, creator, format): it is never shown, and every page would download it.
    blank = {"Date": None, "Creator": None, "Format": None, "Type": None}
    with matplotlib.rc_context(_STYLE):
        figure.savefig(buffer, format="svg", metadata=blank, transparent=True)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :].replace("\n", " ").replace("#000000", "currentColor")
    label = html.escape(alt, quote=True)
    head_end = svg.index(">") + 1
    # matplotlib leaves black text and markers without a fill, and SVG's default fill is black: inherit
    # currentColor instead, or tick labels vanish on the dark theme.
    head = f'{svg[: head_end - 1]} fill="currentColor" role="img" aria-label="{label}">'
    return f"{head}<title>{label}</title>{svg[head_end:]}"


def show(figure: Figure, alt: str) -> None:
    """Print ``figure`` as inline SVG inside a ``<figure>`` that the build renders as HTML."""
    print(f"{FIGURE_PREFIX} data-search-exclude>{to_svg(figure, alt)}</figure>")
