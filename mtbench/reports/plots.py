"""Radar chart of per-category results (matplotlib, imported only when a plot is asked for)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pandas as pd

from mtbench.analysis.scores import ScoreReport
from mtbench.data.atomic import write_atomic
from mtbench.errors import ConfigError, MissingDependencyError


def radar_plot(report: ScoreReport, path: str | Path) -> Path:
    """Save a score report's per-category table as a radar chart (PNG), one polygon per model.

    Single scores are drawn on their 0-10 scale, pairwise adjusted win rates on 0-1.

    Raises:
        ValueError: when the report has no category table (it was built without questions).
        MissingDependencyError: without matplotlib (the `plot` extra).
    """
    if report.categories is None:
        raise ValueError("the report has no per-category table to plot")
    single = report.mode == "single"
    measure = "score" if single else "adjusted win rate"
    return radar_chart(
        report.categories, path, f"MT-bench {measure} by category", 10.0 if single else 1.0
    )


def radar_chart(categories: pd.DataFrame, path: str | Path, title: str, scale_max: float) -> Path:
    """Draw one polygon per model (columns) over the categories (rows) and save it as PNG.

    Args:
        categories: Category × model table, e.g. `ScoreReport.categories`.
        path: Where to write the image.
        title: Figure title.
        scale_max: The radial axis maximum (10 for scores, 1 for win rates).

    Returns:
        The path written.

    Raises:
        MissingDependencyError: without matplotlib (the `plot` extra).
        ConfigError: for a file name whose ending names no image format matplotlib writes.
        WriteError: when the file cannot be written (an older one is then unchanged).
    """
    plt, path = pyplot_for(path)
    labels = list(categories.index)
    angles = [2 * math.pi * i / len(labels) for i in range(len(labels))]
    figure, axes = plt.subplots(figsize=(7, 7), subplot_kw={"projection": "polar"})
    for model in categories.columns:
        values = [float(v) if pd.notna(v) else 0.0 for v in categories[model]]
        axes.plot(angles + angles[:1], values + values[:1], linewidth=1.5, label=str(model))
        axes.fill(angles + angles[:1], values + values[:1], alpha=0.1)
    axes.set_xticks(angles)
    axes.set_xticklabels(labels)
    axes.set_ylim(0, scale_max)
    axes.set_title(title, pad=20)
    axes.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1), fontsize="small")
    return save_figure(figure, path)


def pyplot_for(path: str | Path) -> tuple[Any, Path]:
    """matplotlib's pyplot (headless), once `path`'s ending is known to name an image format.

    Raises:
        MissingDependencyError: without matplotlib (the `plot` extra).
        ConfigError: for a file name whose ending names no image format matplotlib writes.
    """
    path = Path(path)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise MissingDependencyError("matplotlib", "plot", "--plot") from None
    if _image_format(path) not in FigureCanvasBase.get_supported_filetypes():
        raise ConfigError(
            f"{path}: cannot save a chart as .{_image_format(path)}; use a .png file name"
        )
    return plt, path


def save_figure(figure: Any, path: Path) -> Path:
    """Write `figure` to `path` in the format its ending names, atomically, and close it.

    Raises:
        WriteError: when the file cannot be written (an older one is then unchanged).
    """
    import matplotlib.pyplot as plt

    image = io.BytesIO()
    figure.savefig(image, format=_image_format(path), dpi=120, bbox_inches="tight")
    plt.close(figure)
    write_atomic(path, [image.getvalue()], "the plot")
    return path


def _image_format(path: Path) -> str:
    return path.suffix.lstrip(".").lower() or "png"
