"""Global and local Moran's I, with analytic and permutation inference.

Global (Moran 1950; moments from Cliff & Ord 1981, ch. 2), for ``z = x - mean(x)``:

    I = n / S0 * z'Wz / z'z,        E(I) = -1 / (n - 1)
    S0 = sum_ij w_ij,  S1 = 1/2 sum_ij (w_ij + w_ji)^2,  S2 = sum_i (w_i. + w_.i)^2
    Var_N(I) = (n^2 S1 - n S2 + 3 S0^2) / ((n^2 - 1) S0^2) - E(I)^2                 (normality)
    Var_R(I) = [n((n^2 - 3n + 3) S1 - n S2 + 3 S0^2) - b2((n^2 - n) S1 - 2n S2 + 6 S0^2)]
               / ((n - 1)(n - 2)(n - 3) S0^2) - E(I)^2                       (randomisation)
    with b2 = n sum z^4 / (sum z^2)^2.

Local (Anselin 1995): ``I_i = z_i / m2 * sum_j w_ij z_j`` with ``m2 = z'z / n``; its moments
follow R spdep's ``localmoran`` (Sokal, Oden & Thomson 1998): the total-permutation moments
(``conditional=False``) or, by default, those conditional on ``z_i``.

Permutation inference runs on the project's replicate engine
(:func:`climetrics.core.replicate.map_replicates`; ``backend`` / ``chunk_size`` as there). A replicate
is a fixed block of :data:`PERMUTATION_BLOCK` permutations drawn from its own stream
:func:`~climetrics.core.replicate.replicate_rng` ``(seed, block)`` (the last block uses the first rows
of its stream), and a chunk of blocks is evaluated as one matrix product, so results depend only
on ``seed`` and the number of permutations, never on chunking or backend. (One stream per block
rather than per permutation: creating a stream costs about as much as evaluating 100
permutations of a 300-unit map.) The pseudo p-value is
``(1 + #{I_perm at least as extreme as I on the observed side}) / (R + 1)`` (spdep
``moran.mc`` / PySAL ``esda``, one-sided in the direction of the observed statistic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ...core.results import Result, jsonable, tidy_frame
from ...errors import EstimationError, PanelError
from ...report.tables import Table, fmt
from .weights import SpatialWeights, require_weights

PERMUTATION_BLOCK = 100
_CHUNK_ELEMENTS = 4_000_000  # floats per vectorised step (chunk sizes and local unit steps)
_QUADRANTS = np.array(["LL", "LH", "HL", "HH"])  # index: 2 * (z > 0) + (lag > 0)


@dataclass(frozen=True)
class MoranResult(Result):
    """Global Moran's I with its moments under normality and randomisation.

    ``p_norm`` / ``p_rand`` are two-sided normal p-values of ``z_norm`` / ``z_rand``;
    ``p_perm`` is the permutation pseudo p-value (NaN without permutations); ``n_draws`` the
    number of permutations.
    """

    I: float  # noqa: E741 (the statistic's name)
    expected: float
    var_norm: float
    var_rand: float
    z_norm: float
    z_rand: float
    p_norm: float
    p_rand: float
    p_perm: float
    n_draws: int
    n: int
    alpha: float = 0.05

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    @property
    def p_value(self) -> float:
        """The p-value the reading uses: permutation if drawn, else randomisation."""
        return self.p_perm if self.n_draws else self.p_rand

    def tidy(self) -> pd.DataFrame:
        """One row (term ``"Moran's I"``): I, its randomisation SD, z, the p-value of
        :attr:`p_value`, and the normal-approximation interval of I; extra columns with the
        other moments and p-values."""
        crit = stats.norm.ppf(1 - self.alpha / 2)
        sd = float(np.sqrt(self.var_rand))
        return tidy_frame(pd.DataFrame([{
            "term": "Moran's I", "estimate": self.I, "std_error": sd, "statistic": self.z_rand,
            "p_value": self.p_value, "ci_low": self.I - crit * sd, "ci_high": self.I + crit * sd,
            "expected": self.expected, "z_norm": self.z_norm, "p_norm": self.p_norm,
            "p_rand": self.p_rand, "p_perm": self.p_perm, "n_draws": self.n_draws, "n": self.n,
        }]))

    def summary(self) -> dict:
        return {k: jsonable(v) for k, v in self.as_dict().items()}

    def reading(self) -> str:
        """Whether the variable clusters in space, with the p-value the table reports."""
        from ...core.wording import p_phrase

        kind = f"permutation test, {self.n_draws:,} draws" if self.n_draws else "randomisation"
        if self.p_value < self.alpha:
            what = "positive: similar values cluster in space" if self.I > self.expected else (
                "negative: neighbouring values tend to differ")
            return (f"Moran's I = {self.I:.4f} (E(I) = {self.expected:.4f}; {p_phrase(self.p_value)}, "
                    f"{kind}): spatial autocorrelation is {what}.")
        return (f"Moran's I = {self.I:.4f} (E(I) = {self.expected:.4f}; {p_phrase(self.p_value)}, {kind}): "
                f"no significant spatial autocorrelation at the {self.alpha:g} level.")

    def table(self, *, digits: int = 4, title: str = "Global Moran's I") -> Table:
        """The statistic, its expectation and the z / p under both assumptions (and the
        permutation p-value when permutations were drawn)."""
        rows = [
            ["I", fmt(self.I, digits), fmt(self.I, digits)],
            ["E(I)", fmt(self.expected, digits), fmt(self.expected, digits)],
            ["Var(I)", fmt(self.var_norm, 6), fmt(self.var_rand, 6)],
            ["z", fmt(self.z_norm, 3), fmt(self.z_rand, 3)],
            ["p (two-sided)", fmt(self.p_norm, 4), fmt(self.p_rand, 4)],
        ]
        notes = [f"n = {self.n}."]
        if self.n_draws:
            notes.append(f"Permutation pseudo p-value ({self.n_draws} draws): {fmt(self.p_perm, 4)}.")
        return Table(columns=["Normality", "Randomisation"], rows=rows, title=title, notes=notes)


def _values(values, w: SpatialWeights, what: str) -> np.ndarray:
    """Values in ``w.ids`` order (a Series is aligned by id); errors name the unit at fault."""
    require_weights(w, what)
    if isinstance(values, pd.Series):
        missing = w.ids.difference(values.index)
        if len(missing):
            raise EstimationError(
                f"{what}: no value for unit(s) {', '.join(map(repr, missing[:5]))} of the weights."
            )
        if values.index.has_duplicates:
            raise EstimationError(
                f"{what}: unit {values.index[values.index.duplicated()][0]!r} appears twice."
            )
        values = values.reindex(w.ids)
    x = pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce").to_numpy(float)
    if x.size != w.n:
        raise EstimationError(f"{what}: {x.size} values for {w.n} units of the weights.")
    bad = ~np.isfinite(x)
    if bad.any():
        raise EstimationError(f"{what}: unit {w.ids[int(np.flatnonzero(bad)[0])]!r} has no value.")
    if np.ptp(x) == 0:
        raise EstimationError(
            f"{what}: the variable is constant across units; Moran's I is undefined."
        )
    w.require_no_islands(what)
    if w.n < 4:
        raise EstimationError(f"{what} needs at least 4 units, got {w.n}.")
    return x


def _seed(seed) -> int:
    """An integer seed for the replicate streams (fresh entropy when ``seed`` is None)."""
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(2, np.uint64)[0])
    return int(seed)


def _draws(blocks: np.ndarray, seed: int, total: int, n: int, k: int | None = None) -> np.ndarray:
    """Permutations of ``range(n)`` (first ``k`` entries if given) of the given blocks, stacked.

    Block b holds permutations ``b * PERMUTATION_BLOCK ...`` up to ``total``; each row is the
    argsort of uniform draws from the block's stream.
    """
    from ...core.replicate import replicate_rng

    rows = []
    for b in blocks:
        size = min(PERMUTATION_BLOCK, total - int(b) * PERMUTATION_BLOCK)
        rows.append(replicate_rng(seed, int(b)).random((size, n)).argsort(axis=1)[:, :k])
    return np.concatenate(rows)


def _global_kernel(indices: np.ndarray, shared: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Per block: how many permuted I are >= / <= the observed I."""
    z, m, scale, observed, seed, total = shared
    zp = z[_draws(indices, seed, total, z.size)].T  # n x permutations, one per column
    ip = scale * np.einsum("ij,ij->j", zp, m @ zp)
    return _block_counts(ip >= observed, ip <= observed, indices, total)


def _local_kernel(indices: np.ndarray, shared: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Conditional permutations of every unit's local I for a chunk of permutations.

    Permutation r draws ``k_max`` (the largest number of neighbours) of the other n - 1 values
    without replacement; unit i uses the first ``k_i`` of them with its own weights, so a chunk
    is one (units x permutations x k_max) contraction, taken in unit steps to bound memory.
    """
    z, wpad, ii, m2, seed, total = shared
    n, k_max = wpad.shape
    draw = _draws(indices, seed, total, n - 1, k_max)  # perms x k_max positions among others
    above = np.empty((len(draw), n), dtype=bool)
    below = np.empty_like(above)
    step = max(1, _CHUNK_ELEMENTS // (len(draw) * k_max))
    for lo in range(0, n, step):
        units = np.arange(lo, min(lo + step, n))
        others = draw[None] + (draw[None] >= units[:, None, None])  # skip unit i itself
        ip = (z[units] / m2)[:, None] * np.einsum("ubk,uk->ub", z[others], wpad[units])
        above[:, units] = (ip >= ii[units, None]).T
        below[:, units] = (ip <= ii[units, None]).T
    return _block_counts(above, below, indices, total)


def _block_counts(above, below, blocks: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum indicator rows (one per permutation) within each block: (blocks, ...) counts."""
    sizes = np.minimum(PERMUTATION_BLOCK, total - blocks * PERMUTATION_BLOCK)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return np.add.reduceat(above, starts, axis=0), np.add.reduceat(below, starts, axis=0)


def _run(kernel, permutations: int, shared: tuple, n: int, backend, chunk_size) -> np.ndarray:
    """Pseudo p-values from the engine's per-block (above, below) counts; ``chunk_size`` counts
    blocks of :data:`PERMUTATION_BLOCK` permutations."""
    from ...core.replicate import map_replicates

    above, below = map_replicates(
        kernel,
        -(-permutations // PERMUTATION_BLOCK),
        (*shared, permutations),
        backend=backend,
        chunk_size=chunk_size,
        default_chunk=max(1, _CHUNK_ELEMENTS // (4 * n * PERMUTATION_BLOCK)),
        label=f"Moran permutation blocks of {PERMUTATION_BLOCK}",
    )
    return _pseudo_p(above.sum(axis=0), below.sum(axis=0), permutations)


def _pseudo_p(above: np.ndarray, below: np.ndarray, r: int) -> np.ndarray:
    """Folded pseudo p-value from the counts of permuted statistics >= and <= the observed."""
    return (1.0 + np.minimum(above, below)) / (r + 1.0)


def moran(
    values,
    w: SpatialWeights,
    n_draws: int = 999,
    seed=None,
    *,
    backend=None,
    chunk_size: int | None = None,
) -> MoranResult:
    """Global Moran's I of ``values`` (ordered as ``w.ids``, or a Series indexed by id).

    Matches R spdep ``moran.test`` (``randomisation=TRUE`` and ``FALSE``, two-sided) and, in
    distribution, ``moran.mc``. See the module docstring for the formulas.
    """
    x = _values(values, w, "Moran's I")
    n = x.size
    z = x - x.mean()
    m = w.matrix
    s0 = float(m.sum())
    sym = m + m.T
    s1 = 0.5 * float((sym.multiply(sym)).sum())
    s2 = float(np.sum((np.asarray(m.sum(axis=1)).ravel() + np.asarray(m.sum(axis=0)).ravel()) ** 2))
    zz = float(z @ z)
    i_obs = n / s0 * float(z @ (m @ z)) / zz
    e = -1.0 / (n - 1)
    var_n = (n * n * s1 - n * s2 + 3 * s0**2) / ((n * n - 1) * s0**2) - e**2
    b2 = n * float(np.sum(z**4)) / zz**2
    var_r = (
        n * ((n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0**2)
        - b2 * ((n * n - n) * s1 - 2 * n * s2 + 6 * s0**2)
    ) / ((n - 1) * (n - 2) * (n - 3) * s0**2) - e**2
    z_n, z_r = (i_obs - e) / np.sqrt(var_n), (i_obs - e) / np.sqrt(var_r)
    p_perm = np.nan
    if n_draws:
        shared = (z, m, n / s0 / zz, i_obs, _seed(seed))
        p_perm = float(_run(_global_kernel, n_draws, shared, n, backend, chunk_size))
    return MoranResult(
        I=i_obs,
        expected=e,
        var_norm=var_n,
        var_rand=var_r,
        z_norm=z_n,
        z_rand=z_r,
        p_norm=2 * stats.norm.sf(abs(z_n)),
        p_rand=2 * stats.norm.sf(abs(z_r)),
        p_perm=p_perm,
        n_draws=int(n_draws),
        n=n,
    )


def moran_by_year(
    data,
    variable: str,
    w: SpatialWeights,
    *,
    unit: str | None = None,
    time: str | None = None,
    n_draws: int = 999,
    seed=None,
    backend=None,
) -> pd.DataFrame:
    """Global Moran's I of ``variable`` for each period (seed 001, Table 6).

    ``data`` is a :class:`~climetrics.Panel` or a long DataFrame with ``unit`` and ``time``
    columns; the unit values must be the ids of ``w`` (every unit of ``w`` in every period).
    Each year gets its own child seed of ``SeedSequence(seed)``. Returns one row per period:
    time, n, I, E_I, var_norm, z_norm, p_norm, var_rand, z_rand, p_rand, p_perm.
    """
    from ...panel import Panel

    if isinstance(data, Panel):
        unit, time, df = unit or data.unit, time or data.time, data.df
    else:
        df = data
    for col in (unit, time, variable):
        if col is None or col not in df.columns:
            raise PanelError(
                f"moran_by_year needs column {col!r}; the data have {list(df.columns)}."
            )
    rows = []
    periods = np.sort(df[time].unique())
    seeds = np.random.SeedSequence(seed).spawn(len(periods))
    for period, child in zip(periods, seeds, strict=True):
        part = df.loc[df[time] == period, [unit, variable]]
        s = part.set_index(unit)[variable]
        missing = w.ids.difference(s.index)
        if len(missing):
            raise PanelError(
                f"{time} {period}: no row for unit(s) {', '.join(map(repr, missing[:5]))} of the "
                "weights; Moran's I needs every unit (balance the panel or align W to its units)."
            )
        if s.isna().any():
            bad = s.index[s.isna()][0]
            raise PanelError(f"{unit} {bad!r} has no value of '{variable}' in {time} {period}.")
        r = moran(s, w, n_draws, seed=child, backend=backend)
        rows.append(
            {
                time: period,
                "n": r.n,
                "I": r.I,
                "E_I": r.expected,
                "var_norm": r.var_norm,
                "z_norm": r.z_norm,
                "p_norm": r.p_norm,
                "var_rand": r.var_rand,
                "z_rand": r.z_rand,
                "p_rand": r.p_rand,
                "p_perm": r.p_perm,
            }
        )
    return pd.DataFrame(rows)


def local_moran(
    values,
    w: SpatialWeights,
    n_draws: int = 999,
    seed=None,
    *,
    conditional: bool = True,
    alpha: float = 0.05,
    backend=None,
    chunk_size: int | None = None,
) -> pd.DataFrame:
    """Local Moran's I (LISA) per unit, indexed by ``w.ids``.

    Columns: ``Ii``, ``E``, ``Var``, ``z``, ``p`` (two-sided normal; moments as R spdep
    ``localmoran(conditional=...)``), ``p_perm`` (conditional permutation pseudo p-value: the
    other n-1 values are permuted over unit i's neighbours, keeping ``z_i`` fixed; NaN without
    ``n_draws`` = 0), ``quadrant`` (HH, LL, HL, LH from the signs of ``z_i`` and its spatial lag;
    zero counts as low, as in spdep) and ``cluster`` (the quadrant when the p-value -- ``p_perm``
    if permutations were drawn (``n_draws`` > 0), else ``p`` -- is below ``alpha``; "not significant" otherwise).
    """
    x = _values(values, w, "Local Moran's I")
    n = x.size
    z = x - x.mean()
    m = w.matrix
    m2 = float(z @ z) / n
    lag = m @ z
    ii = z / m2 * lag
    wi = np.asarray(m.sum(axis=1)).ravel()
    wi2 = np.asarray(m.multiply(m).sum(axis=1)).ravel()
    if conditional:
        e = -(z**2) * wi / ((n - 1) * m2)
        var = (z / m2) ** 2 * (n / (n - 2)) * (wi2 - wi**2 / (n - 1)) * (m2 - z**2 / (n - 1))
    else:
        b2 = float(np.sum(z**4)) / n / m2**2
        e = -wi / (n - 1)
        var = (n - b2) / (n - 1) * wi2 + (2 * b2 - n) / ((n - 1) * (n - 2)) * (wi**2 - wi2) - e**2
    zs = (ii - e) / np.sqrt(var)
    p_perm = np.nan
    if n_draws:
        counts = np.diff(m.indptr)
        wpad = np.zeros((n, int(counts.max())))
        wpad[np.arange(wpad.shape[1]) < counts[:, None]] = m.data  # row i: its weights, padded
        shared = (z, wpad, ii, m2, _seed(seed))
        p_perm = _run(_local_kernel, n_draws, shared, n, backend, chunk_size)
    quadrant = _QUADRANTS[2 * (z > 0) + (lag > 0)]
    p = 2 * stats.norm.sf(np.abs(zs))
    p_used = p_perm if n_draws else p
    cluster = np.where(p_used < alpha, quadrant, "not significant")
    return pd.DataFrame(
        {
            "Ii": ii,
            "E": e,
            "Var": var,
            "z": zs,
            "p": p,
            "p_perm": p_perm,
            "quadrant": quadrant,
            "cluster": cluster,
        },
        index=w.ids,
    )


def moran_scatter(values, w: SpatialWeights, *, labels=None, ax=None, title: str | None = None):
    """Moran scatter plot: standardised ``x`` against its spatial lag ``W x`` (Anselin 1996).

    The fitted line has slope ``z'Wz / z'z``, which equals Moran's I for a row-standardised W.
    Dashed lines at zero mark the HH / LH / LL / HL quadrants. ``labels=True`` writes each
    unit's id next to its point; a dict or Series maps ids to other labels. Returns the figure.
    """
    from ...report.figures import _pyplot

    x = _values(values, w, "Moran scatter plot")
    z = (x - x.mean()) / x.std()
    lag = w.lag(z)
    slope = float(z @ lag) / float(z @ z)
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4.5))
    else:
        fig = ax.figure
    ax.scatter(z, lag, s=14, color="#1f4e8c", alpha=0.8)
    grid = np.array([z.min(), z.max()])
    i_val = moran(x, w, n_draws=0).I
    ax.plot(grid, slope * grid, color="#b2182b", lw=1.2, label=f"Moran's I = {i_val:.3f}")
    ax.axhline(0, color="grey", lw=0.8, ls="--")
    ax.axvline(0, color="grey", lw=0.8, ls="--")
    if labels is not None and labels is not False:
        names = w.ids if labels is True else pd.Series(labels).reindex(w.ids).fillna("").to_numpy()
        for xi, yi, name in zip(z, lag, names, strict=True):
            ax.annotate(str(name), (xi, yi), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set_xlabel("standardised value")
    ax.set_ylabel("spatial lag")
    ax.legend(frameon=False, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title)
    return fig


def moran_table(
    results: dict[str, pd.DataFrame],
    *,
    time: str = "year",
    inference: str = "rand",
    digits: int = 3,
):
    """Seed 001 Table 6: Moran's I, z and p per year, one block of columns per weights matrix.

    ``results`` maps a label (e.g. ``"W1 contiguity"``) to a :func:`moran_by_year` frame;
    ``inference`` picks the z and p shown: ``"rand"`` (randomisation), ``"norm"`` (normality) or
    ``"perm"`` (permutation pseudo p, with the randomisation z). I carries significance stars
    from that p-value. Returns a :class:`climetrics.report.tables.Table`.
    """
    from ...report.tables import Table, fmt, stars

    if inference not in ("rand", "norm", "perm"):
        raise EstimationError(f"inference must be 'rand', 'norm' or 'perm', got {inference!r}")
    zcol, pcol = (
        ("z_rand", "p_perm") if inference == "perm" else (f"z_{inference}", f"p_{inference}")
    )
    periods = sorted(set().union(*(set(df[time]) for df in results.values())))
    rows = []
    for period in periods:
        row = [str(period)]
        for df in results.values():
            hit = df[df[time] == period]
            if hit.empty:
                row += ["", "", ""]
                continue
            r = hit.iloc[0]
            row += [
                fmt(r["I"], digits) + stars(r[pcol]),
                fmt(r[zcol], digits),
                fmt(r[pcol], digits),
            ]
        rows.append(row)
    header = [sum(([label, "", ""] for label in results), [])]
    notes = [
        "z and p: "
        + {"rand": "randomisation", "norm": "normality", "perm": "permutation"}[inference]
        + " inference (two-sided normal p; permutation p one-sided in the observed direction)."
    ]
    return Table(
        columns=["I", "z", "p"] * len(results),
        rows=rows,
        title="Global Moran's I",
        notes=notes,
        header_rows=header,
        stub=time,
    )
