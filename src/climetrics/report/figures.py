"""Figures (matplotlib, imported lazily, Agg backend) returned as PNG/SVG bytes."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save(fig, fmt: str = "png", dpi: int = 150, *, close: bool = True) -> bytes:
    """Serialise a matplotlib figure to bytes (png, svg, pdf) and, by default, close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    if close:
        _pyplot().close(fig)
    return buf.getvalue()


def group_trends(df: pd.DataFrame, y: str, time: str, group: str, *, unit: str,
                 labels: tuple[str, str] = ("Never treated", "Ever treated"),
                 ylabel: str | None = None, marks: list[int] | None = None):
    """Mean of ``y`` per period for the units with ``group`` = 0 and 1, with optional vertical
    lines at the adoption years (``marks``). Returns the matplotlib figure."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for val, lab, style in ((0, labels[0], "--"), (1, labels[1], "-")):
        m = df[df[group] == val].groupby(time)[y].mean()
        ax.plot(m.index, m.to_numpy(), style, marker="o", ms=3, label=f"{lab} (n={df.loc[df[group] == val, unit].nunique()})")
    for yr in marks or []:
        ax.axvline(yr, color="grey", lw=0.8, ls=":")
    ax.set_xlabel(time)
    ax.set_ylabel(ylabel or y)
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    return fig


def coefficient_path(labels: list[str], est: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, ylabel: str = "Estimate"):
    """Point estimates with confidence intervals across specifications."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    x = np.arange(len(labels))
    ax.errorbar(x, est, yerr=[est - lo, hi - est], fmt="o", capsize=3, color="#1f4e8c")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, labels)
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
