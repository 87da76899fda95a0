"""The link-preview card (Open Graph / Twitter image): 1200 x 630 px, drawn by the build, no network.

A row of image patches turns into tokens that join a text sequence, the handbook's subject in one picture.
Only matplotlib's bundled font is used, and the PNG carries no software or date metadata, so every build
draws the same bytes.
"""

from __future__ import annotations

from pathlib import Path

INDIGO, LIGHT, ACCENT = "#3f51b5", "#e8eaf6", "#ff9800"


def draw(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, Rectangle

    with matplotlib.rc_context({"font.family": "DejaVu Sans", "svg.hashsalt": "mllm-handbook"}):
        figure = Figure(figsize=(12, 6.3), dpi=100, facecolor=INDIGO)
        ax = figure.add_axes((0, 0, 1, 1), xlim=(0, 120), ylim=(0, 63))
        ax.axis("off")
        ax.text(8, 48, "MLLM Interview Handbook", color="white", fontsize=46, weight="bold")
        ax.text(8, 40, "Multimodal LLM interview questions, answered in Chinese and English", color=LIGHT, fontsize=20)
        ax.text(8, 34, "Every formula backed by PyTorch code that runs and is tested", color=LIGHT, fontsize=20)
        for i in range(2):  # an image as 2 x 2 patches ...
            for j in range(2):
                ax.add_patch(Rectangle((8 + 5.2 * j, 9 + 5.2 * i), 5, 5, color=ACCENT, alpha=0.55 + 0.3 * ((i + j) % 2)))
        ax.annotate("", (30, 14), (22, 14), arrowprops={"arrowstyle": "->", "color": "white", "lw": 2})
        for k in range(12):  # ... become four tokens in the same sequence as the text
            color = ACCENT if k < 4 else LIGHT
            ax.add_patch(FancyBboxPatch((32 + 6.5 * k, 11), 5, 6, boxstyle="round,pad=0.3", color=color))
        ax.text(32, 4, "image tokens + text tokens -> one Transformer", color=LIGHT, fontsize=16)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", facecolor=INDIGO, metadata={"Software": None})
