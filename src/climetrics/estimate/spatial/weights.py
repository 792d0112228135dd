"""Spatial weights matrices aligned to panel units.

A :class:`SpatialWeights` holds an ``n x n`` sparse matrix ``W`` (zero diagonal, non-negative) and the
unit ids that label its rows and columns. Models align it to a panel's units by id, never by
position, so a W built in another order or with extra units is reordered or subset explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ...errors import EstimationError


@dataclass(frozen=True, eq=False)
class SpatialWeights:
    """A spatial weights matrix labelled by unit ids.

    Attributes
    ----------
    ids
        Unit ids in row/column order (unique).
    matrix
        ``n x n`` CSR matrix, non-negative, zero diagonal.
    kind
        Human-readable description, e.g. ``"contiguity (province)"``; shown in table notes.
    row_standardized
        Whether every non-island row sums to one.
    """

    ids: pd.Index
    matrix: sparse.csr_array
    kind: str = "user"
    row_standardized: bool = False

    def __post_init__(self) -> None:
        ids = pd.Index(self.ids)
        object.__setattr__(self, "ids", ids)
        m = sparse.csr_array(self.matrix, dtype=float)
        m.eliminate_zeros()
        object.__setattr__(self, "matrix", m)
        if m.shape != (len(ids), len(ids)):
            raise EstimationError(
                f"Spatial weights are {m.shape[0]}x{m.shape[1]} but {len(ids)} unit ids were given."
            )
        dup = ids[ids.duplicated()].unique()
        if len(dup):
            raise EstimationError(f"Spatial weights list unit {dup[0]!r} more than once.")
        if not np.all(np.isfinite(m.data)) or (m.data < 0).any():
            bad = int(np.flatnonzero(~np.isfinite(m.data) | (m.data < 0))[0])
            row = int(np.searchsorted(m.indptr, bad, side="right") - 1)
            raise EstimationError(
                f"Spatial weights row for unit {ids[row]!r} has a negative or missing weight."
            )
        diag = m.diagonal()
        if (diag != 0).any():
            unit = ids[int(np.flatnonzero(diag)[0])]
            raise EstimationError(
                f"Spatial weights give unit {unit!r} a non-zero weight on itself."
            )

    @classmethod
    def from_matrix(cls, matrix, ids, kind: str = "user") -> SpatialWeights:
        """Wrap a dense or sparse matrix whose rows/columns follow ``ids``."""
        return cls(
            pd.Index(ids),
            sparse.csr_array(
                np.asarray(matrix, dtype=float) if not sparse.issparse(matrix) else matrix
            ),
            kind,
        )

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def islands(self) -> list:
        """Units with no neighbours (all-zero rows)."""
        return list(self.ids[np.diff(self.matrix.indptr) == 0])

    def standardized(self) -> SpatialWeights:
        """Row-standardised copy: each row divided by its sum (islands keep a zero row)."""
        sums = np.asarray(self.matrix.sum(axis=1)).ravel()
        scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
        m = sparse.csr_array(sparse.diags_array(scale) @ self.matrix)
        return SpatialWeights(self.ids, m, self.kind, row_standardized=True)

    def aligned(self, ids) -> SpatialWeights:
        """Reorder (and subset) to ``ids``; error naming units the weights do not cover.

        Subsetting drops neighbours outside ``ids``; a row-standardised matrix is re-standardised so
        rows still sum to one over the units kept.
        """
        ids = pd.Index(ids)
        missing = ids.difference(self.ids)
        if len(missing):
            shown = ", ".join(map(repr, list(missing[:5])))
            raise EstimationError(
                f"Spatial weights have no row for {len(missing)} panel unit(s): {shown}. "
                "Build W for the same units (ids must match the panel's unit column)."
            )
        if ids.equals(self.ids):
            return self
        pos = self.ids.get_indexer(ids)
        m = sparse.csr_array(self.matrix[pos][:, pos])
        out = SpatialWeights(ids, m, self.kind)
        return out.standardized() if self.row_standardized else out

    def dense(self) -> np.ndarray:
        return self.matrix.toarray()

    def lag(self, values: np.ndarray) -> np.ndarray:
        """Spatial lag ``W @ values`` (values stacked by unit in ``ids`` order; 1-D or 2-D)."""
        return self.matrix @ np.asarray(values, dtype=float)
