"""The result protocol every estimator and test of climetrics follows.

Every result offers

* ``tidy()`` -- a DataFrame whose first columns are :data:`TIDY_COLUMNS` (term, estimate,
  std_error, statistic, p_value, ci_low, ci_high; a result may add columns after them);
* ``table(**kw)`` -- the paper-style :class:`~climetrics.report.tables.Table`, and through it
  ``to_markdown()``, ``to_html()``, ``to_latex()`` and ``_repr_html_`` (Jupyter);
* ``summary()`` -- a dict of the headline numbers (JSON-friendly scalars);
* ``reading()`` -- the plain-language note the report prints under the table;
* ``plot(**kw)`` -- a matplotlib figure where the result has one (else NotImplementedError);
* ``results`` -- the underlying regressions (a list of :class:`EstimationResult`).

:class:`EstimationResult` is one regression, :class:`ResultSet` several side by side (the
columns of a table), :class:`TestResult` one hypothesis test, :class:`TestSet` several tests.
Other results (event study, placebo, mediation, ...) subclass :class:`Result`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..report.tables import Table

TIDY_COLUMNS = ["term", "estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high"]
COEF_COLUMNS = TIDY_COLUMNS


class Result:
    """Base of every result: the exports come from :meth:`table`, the rest is per result."""

    def tidy(self) -> pd.DataFrame:  # pragma: no cover - every result overrides it
        raise NotImplementedError

    def table(self, **kwargs: Any) -> Table:  # pragma: no cover - every result overrides it
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:  # pragma: no cover - every result overrides it
        raise NotImplementedError

    def reading(self) -> str:  # pragma: no cover - every result overrides it
        raise NotImplementedError

    def plot(self, **kwargs: Any):
        """A figure of the result; results without one raise NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} has no figure")

    @property
    def results(self) -> list[EstimationResult]:
        """The regressions this result was computed from (empty for pure tests)."""
        return []

    def to_markdown(self, **kwargs: Any) -> str:
        return self.table(**kwargs).to_markdown()

    def to_html(self, **kwargs: Any) -> str:
        return self.table(**kwargs).to_html()

    def to_latex(self, **kwargs: Any) -> str:
        return self.table(**kwargs).to_latex()

    def _repr_html_(self) -> str:
        return self.table().to_html()

    def __repr__(self) -> str:
        return self.table().to_text()


def tidy_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the :data:`TIDY_COLUMNS` first (missing ones filled with NaN), extras after."""
    out = rows.copy()
    for c in TIDY_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    extra = [c for c in out.columns if c not in TIDY_COLUMNS]
    return out[TIDY_COLUMNS + extra].reset_index(drop=True)


def jsonable(v: Any) -> Any:
    """A JSON-friendly scalar: numpy numbers as Python numbers, NaN/inf as None."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(v) else None
    return v


# ------------------------------------------------------------------------------- tests
_DISTRIBUTIONS = ("F", "chi2", "normal", "t", "randomization", "bootstrap")


@dataclass(eq=False)
class TestResult(Result):
    """One hypothesis test.

    Attributes
    ----------
    name
        What is tested, e.g. ``"Joint test of the leads"``, ``"Hausman (FE vs RE)"``.
    statistic, p_value
        The test statistic and its p-value.
    df, df_denom
        Degrees of freedom: chi²(df), t(df), F(df, df_denom); None where they do not apply.
    distribution
        ``"F"``, ``"chi2"``, ``"normal"``, ``"t"``, ``"randomization"`` or ``"bootstrap"``.
    null
        The null hypothesis in words.
    alpha
        Level at which :attr:`reject` is decided.
    verdict
        The plain-language conclusion (what :meth:`reading` returns); a default is built from
        :attr:`null` and the decision.
    details, notes
        Supporting numbers and caveats.
    """

    __test__ = False  # not a pytest test class

    name: str
    statistic: float
    p_value: float
    df: float | None = None
    df_denom: float | None = None
    distribution: str = "chi2"
    null: str = ""
    alpha: float = 0.05
    verdict: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.distribution not in _DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {_DISTRIBUTIONS}, got {self.distribution!r}")
        self.statistic = float(self.statistic)
        self.p_value = float(self.p_value)
        if not self.verdict:
            from .wording import p_phrase

            if not math.isfinite(self.p_value):
                self.verdict = f"{self.name}: no p-value (the statistic could not be computed)."
            elif self.reject:
                self.verdict = f"{self.name} rejects the null ({self.null or 'H0'}) at the {self.alpha:g} level ({p_phrase(self.p_value)})."
            else:
                self.verdict = f"{self.name} does not reject the null ({self.null or 'H0'}) at the {self.alpha:g} level ({p_phrase(self.p_value)})."

    @property
    def reject(self) -> bool:
        """Whether the null is rejected at :attr:`alpha` (False when the p-value is missing)."""
        return math.isfinite(self.p_value) and self.p_value < self.alpha

    @property
    def distribution_label(self) -> str:
        """``'F(3, 29)'``, ``'chi2(2)'``, ``'t(29)'``, ``'z'``, ``'RI'`` or ``'bootstrap'``."""
        d = self.distribution
        if d == "F":
            return f"F({self.df:g}, {self.df_denom:g})" if self.df_denom is not None and math.isfinite(self.df_denom) else f"F({self.df:g}, inf)"
        if d == "chi2":
            return f"chi2({self.df:g})"
        if d == "t":
            return f"t({self.df:g})"
        return {"normal": "z", "randomization": "RI", "bootstrap": "bootstrap"}[d]

    def tidy(self) -> pd.DataFrame:
        return tidy_frame(pd.DataFrame({
            "term": [self.name], "statistic": [self.statistic], "p_value": [self.p_value],
            "df": [self.df], "df_denom": [self.df_denom], "distribution": [self.distribution],
        }))

    def table(self, **kwargs: Any) -> Table:
        return TestSet([self]).table(**kwargs)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name, "statistic": jsonable(self.statistic), "df": jsonable(self.df),
            "df_denom": jsonable(self.df_denom), "p_value": jsonable(self.p_value),
            "distribution": self.distribution, "null": self.null, "alpha": self.alpha,
            "reject": self.reject, "verdict": self.verdict,
        }

    to_dict = summary

    def reading(self) -> str:
        return self.verdict

    def __repr__(self) -> str:
        return f"{self.name}: {self.distribution_label} = {self.statistic:.4f}, p = {self.p_value:.4g}\n-> {self.verdict}"


class TestSet(Result, Sequence[TestResult]):
    """Several tests shown together (e.g. the model-selection table of seed 001)."""

    __test__ = False

    def __init__(self, tests: Iterable[TestResult], *, title: str | None = None):
        self._tests = list(tests)
        if not self._tests:
            raise ValueError("a TestSet needs at least one test")
        self.title = title

    def __getitem__(self, i):  # type: ignore[override]
        return self._tests[i]

    def __len__(self) -> int:
        return len(self._tests)

    def __iter__(self) -> Iterator[TestResult]:
        return iter(self._tests)

    def tidy(self) -> pd.DataFrame:
        return pd.concat([t.tidy() for t in self._tests], ignore_index=True)

    def summary(self) -> dict[str, Any]:
        return {t.name: t.summary() for t in self._tests}

    def reading(self) -> str:
        return " ".join(t.reading() for t in self._tests)

    def table(self, *, digits: int = 3, title: str | None = None) -> Table:
        """Rows: test, distribution, statistic (with stars), p-value, conclusion."""
        from ..report.tables import Table, fmt, stars

        rows = [
            [t.name, t.distribution_label, fmt(t.statistic, digits) + stars(t.p_value),
             fmt(t.p_value, digits if t.p_value >= 10 ** (-digits) else 4), t.verdict]
            for t in self._tests
        ]
        alphas = sorted({t.alpha for t in self._tests})
        notes = [f"Decisions at the {', '.join(f'{a:g}' for a in alphas)} level. * p<0.1, ** p<0.05, *** p<0.01."]
        for t in self._tests:
            notes += [n for n in t.notes if n not in notes]
        return Table(columns=["Distribution", "Statistic", "p-value", "Conclusion"], rows=rows,
                     title=title or self.title or "Tests", notes=notes, stub="Test")


def wald_test(
    estimate: np.ndarray,
    cov: np.ndarray,
    *,
    name: str = "Wald test",
    null: str = "all coefficients are zero",
    df_denom: float | None = None,
    alpha: float = 0.05,
    restriction: np.ndarray | None = None,
    value: np.ndarray | None = None,
) -> TestResult:
    """Wald test of ``R b = r`` (default ``b = 0``): ``W = (Rb - r)' (R V R')^{-1} (Rb - r)``.

    Reported as ``F = W / q`` with F(q, df_denom) p-value when ``df_denom`` is given (as Stata's
    ``test`` after ``reghdfe``: df_denom = G - 1 with clustered errors), else chi²(q) on ``W``.
    """
    from scipy import special

    b = np.atleast_1d(np.asarray(estimate, dtype=float))
    v = np.atleast_2d(np.asarray(cov, dtype=float))
    R = np.eye(b.size) if restriction is None else np.atleast_2d(np.asarray(restriction, float))
    r = np.zeros(R.shape[0]) if value is None else np.atleast_1d(np.asarray(value, float))
    q = R.shape[0]
    diff = R @ b - r
    w = float(diff @ np.linalg.solve(R @ v @ R.T, diff))
    if df_denom is not None and math.isfinite(df_denom):
        p = float(special.fdtrc(q, df_denom, w / q))
        return TestResult(name, w / q, p, df=q, df_denom=float(df_denom), distribution="F", null=null, alpha=alpha)
    return TestResult(name, w, float(special.chdtrc(q, w)), df=q, distribution="chi2", null=null, alpha=alpha)


@dataclass(eq=False)  # results compare by identity; their tables are not hashable values
class EstimationResult(Result):
    """Estimates of one model.

    Attributes
    ----------
    coefs
        Tidy table with columns :data:`TIDY_COLUMNS`, one row per term.
    depvar
        Name of the dependent variable.
    model
        Short model name, e.g. ``"TWFE"``, ``"OLS"``.
    n_obs
        Observations used.
    fixed_effects
        Names of the absorbed fixed effects (data columns).
    vcov
        Variance estimator, e.g. ``"CRV1"``, ``"hetero"``, ``"iid"``, ``"WCR"``.
    cluster
        Clustering variable, if any, and ``n_clusters`` its number of clusters.
    stats
        Goodness-of-fit and other scalars (``r2``, ``r2_within``, ...).
    notes
        Plain-language notes (dropped rows, collinear terms, ...), shown under tables.
    meta
        Anything else an estimator wants to carry (``treat``, ``controls``, ``df_t``, ...).
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
        missing = [c for c in TIDY_COLUMNS if c not in self.coefs.columns]
        if missing:
            raise ValueError(f"coefficient table lacks columns {missing}")
        self.coefs = self.coefs[TIDY_COLUMNS].reset_index(drop=True)

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

    @property
    def results(self) -> list[EstimationResult]:
        return [self]

    @property
    def key_term(self) -> str:
        """The coefficient of interest: the (first) treatment, else the first term."""
        treat = self.meta.get("treat") or []
        treat = [treat] if isinstance(treat, str) else list(treat)
        for t in treat:
            if t in self.terms:
                return t
        return self.terms[0]

    def wald_test(
        self, terms: Sequence[str], *, name: str | None = None, null: str | None = None, alpha: float = 0.05
    ) -> TestResult:
        """Joint test that ``terms`` are all zero: ``F = b' V^-1 b / q``.

        The p-value uses F(q, df) with df the t-test degrees of freedom of the fit (G-1 with
        clustered errors, as Stata's ``test`` after ``reghdfe``), or chi²(q) when unknown.
        """
        if self.cov is None:
            raise ValueError("this result carries no covariance matrix; a Wald test is not possible")
        terms = list(terms)
        idx = [self.terms.index(t) for t in terms]
        b = self.coefs["estimate"].to_numpy()[idx]
        v = np.asarray(self.cov)[np.ix_(idx, idx)]
        return wald_test(
            b, v, name=name or f"Wald test: {', '.join(terms)} = 0",
            null=null or f"{', '.join(terms)} {'is' if len(terms) == 1 else 'are all'} zero",
            df_denom=self.meta.get("df_t"), alpha=alpha,
        )

    def summary(self) -> dict[str, Any]:
        """Headline numbers: the key term's estimate, SE, t, p and CI, N, clusters, R²."""
        t = self.key_term
        r = self._row(t)
        return {
            "term": t,
            **{k: jsonable(r[k]) for k in TIDY_COLUMNS[1:]},
            "depvar": self.depvar, "model": self.model, "n_obs": int(self.n_obs),
            "vcov": self.vcov, "cluster": self.cluster, "n_clusters": jsonable(self.n_clusters),
            **{k: jsonable(v) for k, v in self.stats.items()},
        }

    def reading(self, term: str | None = None, *, label: str | None = None, outcome_label: str | None = None) -> str:
        """The coefficient of ``term`` (default :attr:`key_term`) in words: size, t, p,
        significance and, for a log outcome, the implied percentage change."""
        from .wording import effect_size_phrase, p_phrase, significance_phrase

        term = term or self.key_term
        b, t, p = self.coef(term), self.tstat(term), self.pvalue(term)
        se_kind = _vcov_phrase(self)
        return (
            f"The coefficient on {label or term} is {b:.4f} (t = {t:.2f}, {p_phrase(p)}{se_kind}), "
            f"{significance_phrase(p)}. "
            + effect_size_phrase(b, self.depvar, outcome_label or self.depvar) + "."
        )

    # -------------------------------------------------------------- rendering
    def table(self, **kwargs: Any) -> Table:
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
            "stats": {k: jsonable(v) for k, v in self.stats.items()},
            "notes": list(self.notes),
            "coefs": [{k: jsonable(v) for k, v in row.items()} for row in self.coefs.to_dict("records")],
        }


def _vcov_phrase(res: EstimationResult) -> str:
    """``'; SEs clustered by city'`` etc. -- readings say which covariance their p-value uses."""
    if res.vcov in ("WCR", "WCU"):
        kind = "restricted" if res.vcov == "WCR" else "unrestricted"
        return f"; p-value from the {kind} wild cluster bootstrap by {res.cluster}"
    if res.cluster:
        return f"; standard errors clustered by {res.cluster}"
    return {"hetero": "; heteroskedasticity-robust standard errors", "iid": "; i.i.d. standard errors"}.get(
        res.vcov, f"; {res.vcov} standard errors"
    )


class ResultSet(Result, Sequence[EstimationResult]):
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

    @property
    def results(self) -> list[EstimationResult]:
        return list(self._results)

    def tidy(self) -> pd.DataFrame:
        """Every column's coefficients, with ``column`` (1, 2, ...) and ``label``."""
        frames = []
        for i, r in enumerate(self._results, start=1):
            f = r.tidy()
            f["column"] = i
            f["label"] = r.label
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> dict[str, Any]:
        """The fullest column's headline numbers plus the key term's range across columns."""
        out = self.last.summary()
        term = out["term"]
        ests = [r.coef(term) for r in self._results if term in r.terms]
        out.update(n_columns=len(self), estimate_min=float(min(ests)), estimate_max=float(max(ests)))
        return out

    def reading(self, term: str | None = None, *, label: str | None = None, outcome_label: str | None = None) -> str:
        """The fullest column in words, then how stable the estimate is across columns."""
        last = self.last
        term = term or last.key_term
        k = len(self)
        text = last.reading(term, label=label, outcome_label=outcome_label)
        if k == 1:
            return text
        text = f"In the fullest specification (column ({k})), " + text[0].lower() + text[1:]
        ests = [r.coef(term) for r in self._results if term in r.terms]
        same_sign = all(math.copysign(1, e) == math.copysign(1, ests[-1]) for e in ests)
        sig = sum(r.pvalue(term) < 0.1 for r in self._results if term in r.terms)
        return text + (
            f" Across the {k} columns the estimate ranges from {min(ests):.4f} to {max(ests):.4f}; "
            + ("its sign never changes" if same_sign else "its sign changes across columns")
            + f", and it is significant at 10% in {sig} of {len(ests)}."
        )

    def table(self, **kwargs: Any) -> Table:
        from ..report.tables import regression_table

        kwargs.setdefault("title", self.title)
        return regression_table(self._results, **kwargs)

    def __repr__(self) -> str:
        return self.table().to_text()
