"""Paper-style tables: one :class:`Table` object, rendered to text, Markdown, HTML or LaTeX.

Conventions of applied economics journals: coefficient with stars (* p<0.1, ** p<0.05,
*** p<0.01), t-statistic or standard error in parentheses underneath, then rows for fixed
effects, clustering, N and R².
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats as _st

if TYPE_CHECKING:
    from ..core.results import EstimationResult

STAR_LEVELS = (0.1, 0.05, 0.01)


def stars(p: float, levels: Sequence[float] = STAR_LEVELS) -> str:
    """``*`` for p < levels[0], ``**`` for p < levels[1], ``***`` for p < levels[2]."""
    if p is None or not np.isfinite(p):
        return ""
    return "*" * sum(p < lv for lv in levels)


def fmt(x: float | int | None, digits: int = 3) -> str:
    """Fixed-point number, integers with thousands separators, blanks for missing."""
    if x is None:
        return ""
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if not np.isfinite(x):
        return ""
    return f"{x:.{digits}f}"


#: first characters that make a spreadsheet treat a cell as a formula (CSV/formula injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_CELL = re.compile(r"\(?[-+]?(\d[\d,]*)?\.?\d+(e[-+]?\d+)?\)?\**")


def neutralise(cell: object) -> str:
    """A text cell safe to open in a spreadsheet: text starting with ``=``, ``+``, ``-``, ``@``,
    tab or CR gets a leading apostrophe so that Excel/LibreOffice show it instead of evaluating
    it (OWASP "CSV injection"). Number displays such as ``-0.123***`` or ``(-1.2)`` are kept."""
    text = str(cell)
    if text.startswith(_FORMULA_START) and text != "-" and not _NUMBER_CELL.fullmatch(text):
        return "'" + text
    return text


@dataclass
class Table:
    """A rendered table: header, rows of cells (first cell is the row label), notes.

    ``rules`` holds the row positions *before* which a horizontal rule is drawn (e.g. between
    coefficients and the statistics block). ``header_rows`` are extra header lines above the
    column titles (e.g. the dependent variable of each column).
    """

    columns: list[str]
    rows: list[list[str]]
    title: str | None = None
    notes: list[str] = field(default_factory=list)
    header_rows: list[list[str]] = field(default_factory=list)
    rules: list[int] = field(default_factory=list)
    stub: str = ""

    # ------------------------------------------------------------------ renderers
    def to_frame(self) -> pd.DataFrame:
        """The cells as a DataFrame of strings (row labels in the first column)."""
        return pd.DataFrame(self.rows, columns=[self.stub or " "] + self.columns)

    def to_text(self) -> str:
        grid = [[self.stub] + self.columns] + [[""] + h for h in self.header_rows] + self.rows
        widths = [max(len(r[j]) for r in grid) for j in range(len(grid[0]))]

        def line(r: list[str]) -> str:
            return "  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True)))

        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
        out = [self.title] if self.title else []
        out += [rule, line(grid[0])] + [line(h) for h in grid[1 : 1 + len(self.header_rows)]] + [rule]
        for i, r in enumerate(self.rows):
            if i in self.rules:
                out.append(rule)
            out.append(line(r))
        out.append(rule)
        out += self.notes
        return "\n".join(out)

    __str__ = to_text

    def to_markdown(self) -> str:
        def esc(c: str) -> str:
            return c.replace("|", "\\|")

        head = "| " + " | ".join(esc(c) for c in [self.stub] + self.columns) + " |"
        sep = "|" + "|".join([":---"] + ["---:"] * len(self.columns)) + "|"
        body = ["| " + " | ".join(esc(c) for c in [""] + h) + " |" for h in self.header_rows]
        body += ["| " + " | ".join(esc(c) for c in r) + " |" for r in self.rows]
        out = [f"**{esc(self.title)}**", ""] if self.title else []
        out += [head, sep, *body]
        if self.notes:
            out += [""] + [f"*{esc(n)}*  " for n in self.notes]
        return "\n".join(out)

    def to_html(self) -> str:
        e = html.escape
        parts = ['<table class="cm-table">']
        if self.title:
            parts.append(f"<caption>{e(self.title)}</caption>")
        parts.append("<thead>")
        parts.append("<tr>" + "".join(f"<th>{e(c)}</th>" for c in [self.stub] + self.columns) + "</tr>")
        for h in self.header_rows:
            parts.append("<tr class=\"sub\">" + "".join(f"<th>{e(c)}</th>" for c in [""] + h) + "</tr>")
        parts.append("</thead><tbody>")
        for i, r in enumerate(self.rows):
            cls = ' class="rule"' if i in self.rules else ""
            cells = f"<th scope=\"row\">{e(r[0])}</th>" + "".join(f"<td>{e(c)}</td>" for c in r[1:])
            parts.append(f"<tr{cls}>{cells}</tr>")
        parts.append("</tbody>")
        if self.notes:
            span = len(self.columns) + 1
            parts.append(
                "<tfoot>" + "".join(f'<tr><td colspan="{span}">{e(n)}</td></tr>' for n in self.notes) + "</tfoot>"
            )
        parts.append("</table>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_latex(self) -> str:
        e = latex_escape
        ncol = len(self.columns)
        out = ["\\begin{table}[htbp]", "\\centering"]
        if self.title:
            out.append(f"\\caption{{{e(self.title)}}}")
        out += [f"\\begin{{tabular}}{{l{'c' * ncol}}}", "\\toprule"]
        out.append(" & ".join(e(c) for c in [self.stub] + self.columns) + " \\\\")
        for h in self.header_rows:
            out.append(" & ".join(e(c) for c in [""] + h) + " \\\\")
        out.append("\\midrule")
        for i, r in enumerate(self.rows):
            if i in self.rules:
                out.append("\\midrule")
            out.append(" & ".join(e(c) for c in r) + " \\\\")
        out.append("\\bottomrule")
        out.append("\\end{tabular}")
        if self.notes:
            out.append("\\par\\smallskip\\footnotesize " + " ".join(e(n) for n in self.notes))
        out.append("\\end{table}")
        return "\n".join(out)


    def to_csv(self) -> str:
        """The cells as CSV text (like :meth:`to_frame`), every text cell :func:`neutralise`-d."""
        return self.to_frame().map(neutralise).to_csv(index=False)

    def to_xlsx(self, path) -> None:
        """Write the table to an Excel sheet: title, header rows, cells, then notes. Text that a
        spreadsheet would run as a formula is :func:`neutralise`-d."""
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Border, Font, Side

        wb = Workbook()
        ws = wb.active
        ws.title = "table"
        r = 1
        if self.title:
            ws.cell(r, 1, neutralise(self.title)).font = Font(bold=True)
            r += 1
        line = Side(style="thin")
        for i, row in enumerate([[self.stub, *self.columns], *([""] + h for h in self.header_rows)]):
            for j, v in enumerate(row, start=1):
                c = ws.cell(r, j, neutralise(v))
                c.alignment = Alignment(horizontal="left" if j == 1 else "center")
                if i == 0:
                    c.border = Border(top=line)
            r += 1
        for i, row in enumerate(self.rows):
            for j, v in enumerate(row, start=1):
                c = ws.cell(r, j, neutralise(v))
                c.alignment = Alignment(horizontal="left" if j == 1 else "right")
                if i in self.rules or i == 0:
                    c.border = Border(top=line)
            r += 1
        for n in self.notes:
            ws.cell(r, 1, neutralise(n)).font = Font(italic=True, size=9)
            r += 1
        ws.column_dimensions["A"].width = max([len(x[0]) for x in self.rows] + [12]) + 2
        wb.save(path)

    def to_docx(self, path) -> None:
        """Write the table to a Word document (three-line table style, notes below)."""
        from docx import Document
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Pt

        doc = Document()
        if self.title:
            doc.add_paragraph().add_run(self.title).bold = True
        head = [[self.stub, *self.columns], *([""] + h for h in self.header_rows)]
        grid = head + self.rows
        t = doc.add_table(rows=len(grid), cols=len(grid[0]))
        # row.cells once per row: Table.cell(i, j) re-walks the whole grid on every call, which
        # made export quadratic in the number of cells
        for i, (row, values) in enumerate(zip(t.rows, grid, strict=True)):
            for j, (cell, v) in enumerate(zip(row.cells, values, strict=True)):
                cell.text = v
                par = cell.paragraphs[0]
                par.alignment = WD_ALIGN_PARAGRAPH.LEFT if j == 0 else WD_ALIGN_PARAGRAPH.CENTER
                for run in par.runs:
                    run.font.size = Pt(9)
                    run.bold = i < len(head) and i == 0
        for n in self.notes:
            p = doc.add_paragraph()
            run = p.add_run(n)
            run.italic = True
            run.font.size = Pt(8)
        doc.save(path)


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(s: str) -> str:
    """Escape LaTeX special characters; stars become superscripts (``0.1^{***}``)."""
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s)
    stripped = out.rstrip("*")
    n = len(out) - len(stripped)
    if n and stripped and (stripped[-1].isdigit() or stripped[-1] == ")"):
        return f"{stripped}$^{{{'*' * n}}}$"
    return out


# ---------------------------------------------------------------------- regression tables
def regression_table(
    results: Sequence[EstimationResult],
    *,
    keep: Sequence[str] | None = None,
    labels: dict[str, str] | None = None,
    stat: str = "t",
    digits: int = 4,
    title: str | None = None,
    column_labels: Sequence[str] | None = None,
    extra_rows: dict[str, Sequence[str]] | None = None,
    notes: Sequence[str] | None = None,
) -> Table:
    """Side-by-side regression table.

    Parameters
    ----------
    results
        Results, one per column.
    keep
        Terms to show, in order (default: every term, in order of first appearance).
    labels
        Display names for terms and fixed effects (``{"did": "DID", "city": "City"}``).
    stat
        ``"t"`` (t-statistic, as seeds 002/003 report) or ``"se"`` (standard error) in parentheses.
    extra_rows
        Additional rows placed before the statistics block, e.g. ``{"Controls": ["No", "Yes"]}``.
    """
    if stat not in ("t", "se"):
        raise ValueError(f"stat must be 't' or 'se', got {stat!r}")
    labels = dict(labels or {})
    if keep is None:
        keep = []
        for r in results:
            keep += [t for t in r.terms if t not in keep]
    cols = list(column_labels) if column_labels else [f"({i + 1})" for i in range(len(results))]
    rows: list[list[str]] = []
    for term in keep:
        est_row, par_row = [labels.get(term, term)], [""]
        for r in results:
            m = r.coefs["term"] == term
            if not m.any():
                est_row.append("")
                par_row.append("")
                continue
            c = r.coefs.loc[m].iloc[0]
            est_row.append(fmt(c["estimate"], digits) + stars(c["p_value"]))
            inner = c["statistic"] if stat == "t" else c["std_error"]
            par_row.append(f"({fmt(inner, 2 if stat == 't' else digits)})")
        rows += [est_row, par_row]
    rules = [len(rows)]
    for name, values in (extra_rows or {}).items():
        rows.append([name, *values])
    fes: list[str] = []
    for r in results:
        fes += [f for f in r.fixed_effects if f not in fes]
    for fe in fes:
        rows.append([f"{labels.get(fe, fe)} FE", *["Yes" if fe in r.fixed_effects else "No" for r in results]])
    if any(r.cluster for r in results):
        rows.append(["Cluster", *[labels.get(r.cluster, r.cluster) if r.cluster else "" for r in results]])
    rows.append(["N", *[fmt(int(r.n_obs)) for r in results]])
    for key, name in (("r2", "R²"), ("r2_within", "Within R²")):
        if any(key in r.stats for r in results):
            rows.append([name, *[fmt(r.stats.get(key), 3) for r in results]])
    clus = sorted({labels.get(r.cluster, r.cluster) for r in results if r.cluster})
    kind = (f"clustered by {', '.join(clus)}" if clus
            else "heteroskedasticity-robust" if {r.vcov for r in results} == {"hetero"} else "")
    if stat == "t":
        base = "t-statistics in parentheses" + (f", based on standard errors {kind}" if kind else "")
    else:
        base = "Standard errors" + (f" {kind}" if kind else "") + " in parentheses"
    all_notes = [base + ". * p<0.1, ** p<0.05, *** p<0.01."]
    for r in results:
        all_notes += [n for n in r.notes if n not in all_notes]
    all_notes += list(notes or [])
    header = [[labels.get(r.depvar, r.depvar) for r in results]]
    return Table(columns=cols, rows=rows, title=title, notes=all_notes, header_rows=header, rules=rules)


# ---------------------------------------------------------------------- data tables
def describe_table(df: pd.DataFrame, columns: Sequence[str], *, labels: dict[str, str] | None = None,
                   digits: int = 3) -> Table:
    """N, mean, SD (n-1), min and max per variable (seed 003 Table 1)."""
    labels = labels or {}
    rows = []
    for c in columns:
        v = pd.to_numeric(df[c], errors="coerce").astype(float).dropna()
        rows.append([labels.get(c, c), fmt(int(v.size)), fmt(v.mean(), digits), fmt(v.std(ddof=1), digits),
                     fmt(v.min(), digits), fmt(v.max(), digits)])
    return Table(columns=["N", "Mean", "SD", "Min", "Max"], rows=rows, title="Descriptive statistics",
                 stub="Variable")


def correlation_matrix(df: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise-complete Pearson correlations and their two-sided p-values.

    p-values use t = r sqrt((n-2)/(1-r²)) with n-2 degrees of freedom, n the number of rows
    where both variables are observed.
    """
    x = df[list(columns)].apply(pd.to_numeric, errors="coerce").astype(float)
    k = len(columns)
    r = np.eye(k)
    p = np.zeros((k, k))
    for i in range(k):
        for j in range(i):
            m = x.iloc[:, i].notna() & x.iloc[:, j].notna()
            n = int(m.sum())
            a, b = x.iloc[:, i][m].to_numpy(), x.iloc[:, j][m].to_numpy()
            if n < 3 or a.std() == 0 or b.std() == 0:
                r[i, j] = r[j, i] = np.nan
                p[i, j] = p[j, i] = np.nan
                continue
            rij = float(np.corrcoef(a, b)[0, 1])
            t = rij * np.sqrt((n - 2) / max(1e-300, 1 - rij**2))
            r[i, j] = r[j, i] = rij
            p[i, j] = p[j, i] = 2 * _st.t.sf(abs(t), n - 2)
    idx = list(columns)
    return pd.DataFrame(r, index=idx, columns=idx), pd.DataFrame(p, index=idx, columns=idx)


def correlation_table(df: pd.DataFrame, columns: Sequence[str], *, labels: dict[str, str] | None = None,
                      digits: int = 3) -> Table:
    """Lower-triangular correlation matrix with stars (seed 003 Table 2)."""
    labels = labels or {}
    r, p = correlation_matrix(df, columns)
    names = [labels.get(c, c) for c in columns]
    rows = []
    for i, name in enumerate(names):
        row = [name]
        for j in range(len(columns)):
            if j > i:
                row.append("")
            elif j == i:
                row.append("1")
            else:
                row.append(fmt(r.iloc[i, j], digits) + stars(p.iloc[i, j]))
        rows.append(row)
    return Table(columns=names, rows=rows, title="Correlation matrix",
                 notes=["Pearson correlations, pairwise complete observations. * p<0.1, ** p<0.05, *** p<0.01."])
