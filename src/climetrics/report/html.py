"""Self-contained HTML report: sections in paper order, tables, embedded figures, notes.

Every user-supplied string (titles, variable labels, notes, data values) is escaped; figures
are embedded as base64 PNG so the report is a single file that can be mailed or archived.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

from .tables import Table

_CSS = """
body{font-family:Georgia,'Times New Roman',serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem} h2{font-size:1.3rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.2rem}
.meta{color:#555;font-size:.9rem}
.banner{background:#fff4d6;border:1px solid #e0b84c;padding:.6rem .9rem;margin:1rem 0;font-family:sans-serif;font-size:.92rem}
.error{background:#fde8e8;border:1px solid #d66;padding:.6rem .9rem;font-family:monospace;white-space:pre-wrap}
table.cm-table{border-collapse:collapse;margin:1rem 0;font-size:.92rem;font-variant-numeric:tabular-nums}
table.cm-table caption{font-weight:bold;text-align:left;padding-bottom:.3rem}
table.cm-table th,table.cm-table td{padding:.15rem .7rem;text-align:right}
table.cm-table th[scope=row]{text-align:left;font-weight:normal}
table.cm-table thead tr:first-child th{border-top:2px solid #222}
table.cm-table thead tr:last-child th{border-bottom:1px solid #222}
table.cm-table tbody tr:last-child td,table.cm-table tbody tr:last-child th{border-bottom:2px solid #222}
table.cm-table tr.rule td,table.cm-table tr.rule th{border-top:1px solid #222}
table.cm-table tfoot td{text-align:left;font-size:.82rem;color:#444;padding-top:.3rem}
p.reading{background:#f4f7fb;border-left:3px solid #5b7db1;padding:.5rem .8rem}
figure{margin:1rem 0} figure img{max-width:100%} figcaption{font-size:.85rem;color:#444}
"""


@dataclass
class Figure:
    """A PNG figure (bytes) with a caption."""

    png: bytes
    caption: str = ""

    def to_html(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        cap = f"<figcaption>{html.escape(self.caption)}</figcaption>" if self.caption else ""
        return f'<figure><img alt="{html.escape(self.caption)}" src="data:image/png;base64,{data}">{cap}</figure>'


@dataclass
class Section:
    """One report section: heading, paragraphs, tables, figures, and an optional error."""

    key: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    reading: str | None = None
    error: str | None = None

    def to_html(self) -> str:
        e = html.escape
        out = [f'<section id="{e(self.key)}"><h2>{e(self.title)}</h2>']
        if self.error:
            out.append(f'<div class="error">This section failed and was skipped:\n{e(self.error)}</div>')
        out += [f"<p>{e(p)}</p>" for p in self.paragraphs]
        if self.reading:
            out.append(f'<p class="reading"><strong>Reading.</strong> {e(self.reading)}</p>')
        out += [t.to_html() for t in self.tables]
        out += [f.to_html() for f in self.figures]
        out.append("</section>")
        return "\n".join(out)


def render_report(title: str, sections: list[Section], *, banner: str | None = None,
                  meta: list[str] | None = None) -> str:
    """The whole report as one HTML document."""
    e = html.escape
    toc = "".join(f'<li><a href="#{e(s.key)}">{e(s.title)}</a></li>' for s in sections)
    head = [f"<h1>{e(title)}</h1>"]
    if meta:
        head.append('<p class="meta">' + "<br>".join(e(m) for m in meta) + "</p>")
    if banner:
        head.append(f'<div class="banner">{e(banner)}</div>')
    body = "\n".join(head) + f"<nav><ol>{toc}</ol></nav>" + "\n".join(s.to_html() for s in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{e(title)}</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )
