"""One result shape for every estimator.

An :class:`EstimationResult` is a tidy coefficient table (term, estimate, std_error,
statistic, p_value, ci_low, ci_high) plus metadata (N, R², fixed effects, vcov type,
clusters, notes). A :class:`ResultSet` is an ordered list of results rendered side by side,
e.g. the stepwise columns of a baseline table. Both render through
:func:`climetrics.report.tables.regression_table`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

COEF_COLUMNS = ["term", "estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high"]


class _Renders:
    """Table exports shared by a single result and a set of results (both define ``table``)."""

    def table(self, **kwargs: Any):  # pragma: no cover - overridden
        raise NotImplementedError

    def to_markdown(self, **kwargs: Any) -> str:
        return self.table(**kwargs).to_markdown()

    def to_html(self, **kwargs: Any) -> str:
        return self.table(**kwargs).to_html()

    def to_latex(self, **kwargs: Any) -> str:
        return self.table(**kwargs).to_latex()

    def _repr_html_(self) -> str:
        return self.table().to_html()


@dataclass(eq=False)  # results compare by identity; their tables are not hashable values
class EstimationResult(_Renders):
    """Estimates of one model.

    Attributes
    ----------
    coefs
        Tidy table with columns :data:`COEF_COLUMNS`, one row per term.
    depvar
        Name of the dependent variable.
    model
        Short model name, e.g. ``"TWFE"``, ``"OLS"``.
    n_obs
        Observations used.
    fixed_effects
        Names of the absorbed fixed effects (data columns).
    vcov
        Variance estimator, e.g. ``"CRV1"``, ``"hetero"``, ``"iid"``.
    cluster
        Clustering variable, if any, and ``n_clusters`` its number of clusters.
    stats
        Goodness-of-fit and other scalars (``r2``, ``r2_within``, ...).
    notes
        Plain-language notes (dropped rows, collinear terms, ...), shown under tables.
    meta
        Anything else an estimator wants to carry (controls, treatment counts, ...).
    cov
        Variance-covariance matrix of the estimates (same order as ``coefs``), if available.
    """

    coefs: pd.DataFrame
    depvar: str
    model: str
    n_obs: int
    fixed_effects: tuple[str, ...] = ()
    vcov: str = "iid"
    cluster: str | None = None
    n_clusters: int | None = None
    stats: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    cov: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        missing = [c for c in COEF_COLUMNS if c not in self.coefs.columns]
        if missing:
            raise ValueError(f"coefficient table lacks columns {missing}")
        self.coefs = self.coefs[COEF_COLUMNS].reset_index(drop=True)

    # -------------------------------------------------------------- accessors
    def tidy(self) -> pd.DataFrame:
        """A copy of the coefficient table."""
        return self.coefs.copy()

    def _row(self, term: str) -> pd.Series:
        m = self.coefs["term"] == term
        if not m.any():
            raise KeyError(f"term '{term}' not in this result; terms are {list(self.coefs['term'])}")
        return self.coefs.loc[m].iloc[0]

    def coef(self, term: str) -> float:
        return float(self._row(term)["estimate"])

    def se(self, term: str) -> float:
        return float(self._row(term)["std_error"])

    def pvalue(self, term: str) -> float:
        return float(self._row(term)["p_value"])

    def tstat(self, term: str) -> float:
        return float(self._row(term)["statistic"])

    def confint(self, term: str) -> tuple[float, float]:
        r = self._row(term)
        return float(r["ci_low"]), float(r["ci_high"])

    @property
    def terms(self) -> list[str]:
        return list(self.coefs["term"])

    def wald_test(self, terms: Sequence[str]) -> dict[str, float]:
        """Joint test that ``terms`` are all zero: F = b' V^-1 b / q.

        The p-value uses F(q, df) with df the t-test degrees of freedom of the fit (G-1 with
        clustered errors, as Stata's ``test`` after ``reghdfe``), or chi²(q) when unknown.
        """
        from scipy import stats

        if self.cov is None:
            raise ValueError("this result carries no covariance matrix; a Wald test is not possible")
        idx = [self.terms.index(t) for t in terms]
        b = self.coefs["estimate"].to_numpy()[idx]
        v = np.asarray(self.cov)[np.ix_(idx, idx)]
        q = len(idx)
        f = float(b @ np.linalg.solve(v, b) / q)
        df = self.meta.get("df_t")
        p = float(stats.f.sf(f, q, df)) if df else float(stats.chi2.sf(f * q, q))
        return {"F": f, "df1": q, "df2": float(df) if df else float("inf"), "p_value": p}

    # -------------------------------------------------------------- rendering
    def table(self, **kwargs: Any):
        """Render as a one-column regression table (see :func:`regression_table`)."""
        return ResultSet([self]).table(**kwargs)

    def __repr__(self) -> str:
        return f"<{self.model} result: {self.depvar}, N={self.n_obs}>\n{self.table().to_text()}"


    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly representation (used for manifests and caches)."""
        return {
            "label": self.label,
            "model": self.model,
            "depvar": self.depvar,
            "n_obs": self.n_obs,
            "fixed_effects": list(self.fixed_effects),
            "vcov": self.vcov,
            "cluster": self.cluster,
            "n_clusters": self.n_clusters,
            "stats": {k: _jsonable(v) for k, v in self.stats.items()},
            "notes": list(self.notes),
            "coefs": [{k: _jsonable(v) for k, v in row.items()} for row in self.coefs.to_dict("records")],
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


class ResultSet(_Renders, Sequence[EstimationResult]):
    """Several results shown side by side (columns (1), (2), ...)."""

    def __init__(self, results: Iterable[EstimationResult], *, title: str | None = None):
        self._results = list(results)
        if not self._results:
            raise ValueError("a ResultSet needs at least one result")
        self.title = title

    def __getitem__(self, i):  # type: ignore[override]
        return self._results[i]

    def __len__(self) -> int:
        return len(self._results)

    def __iter__(self) -> Iterator[EstimationResult]:
        return iter(self._results)

    @property
    def last(self) -> EstimationResult:
        """The final (fullest) specification."""
        return self._results[-1]

    def table(self, **kwargs: Any):
        from ..report.tables import regression_table

        kwargs.setdefault("title", self.title)
        return regression_table(self._results, **kwargs)

    def __repr__(self) -> str:
        return self.table().to_text()

