"""Shared helpers of the reference scripts: paths, data loading, versions, JSON output."""

from __future__ import annotations

import json
import platform
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "mpdta.csv"
OUT = ROOT / "tests" / "data" / "reference"


def mpdta() -> pd.DataFrame:
    """The mpdta panel with a state identifier (county FIPS // 1000) for clustering."""
    df = pd.read_csv(DATA)
    df["state"] = df["countyreal"] // 1000
    return df


def versions(*packages: str) -> dict[str, str]:
    out = {p: version(p) for p in packages}
    out["python"] = platform.python_version()
    return out


def clean(x):
    """JSON-ready copy: numpy scalars/arrays to Python, NaN to None."""
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray, pd.Series)):
        return [clean(v) for v in list(x)]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if not np.isfinite(x) else float(x)
    return x


def write(name: str, payload: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(clean(payload), indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
