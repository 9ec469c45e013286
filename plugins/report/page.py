"""The HTML page: layout, tables, sections, and plotly figures with plotly.js embedded exactly once."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

INSTALL_HINT = "pip install 'infersight[report]'"


class PlotlyMissingError(ImportError):
    """plotly is not installed: the report cannot be drawn."""

    def __init__(self) -> None:
        super().__init__(f"the HTML report needs plotly: {INSTALL_HINT}")


def require_plotly() -> Any:
    """Import plotly's graph objects, or raise :class:`PlotlyMissingError` with the install command."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise PlotlyMissingError() from None
    return go


def fmt(x: float | int | None, digits: int = 4) -> str:
    """A number for a table cell: ``-`` for missing, scientific notation for tiny or huge values."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, int):
        return f"{x:,}"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e6):
        return f"{x:.2e}"
    return f"{x:.{digits}g}"


def iso(t: float) -> str:
    """Epoch seconds as a UTC timestamp plotly reads as a date."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def human_time(t: float) -> str:
    """Epoch seconds as a readable UTC time."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell: the text shown and the key it sorts by (numbers sort numerically)."""

    text: str
    sort: float | str | None = None
    css: str = ""


def cell(value: Any, digits: int = 4, css: str = "") -> Cell:
    """A cell from a number or text; numbers keep their value as the sort key."""
    if isinstance(value, Cell):
        return value
    if isinstance(value, bool):
        return Cell("yes" if value else "no", int(value), css)
    if isinstance(value, int | float):
        sort = None if isinstance(value, float) and math.isnan(value) else float(value)
        return Cell(fmt(value, digits), sort, css)
    return Cell(str(value), str(value), css)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, css_id: str = "", caption: str = "") -> str:
    """A sortable table (click a header); each row is a list of values or :class:`Cell`."""
    head = "".join(f'<th scope="col" data-col="{i}">{html.escape(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in rows:
        tds = []
        for v in row:
            c = cell(v)
            key = "" if c.sort is None else html.escape(str(c.sort), quote=True)
            klass = f' class="{c.css}"' if c.css else ""
            tds.append(f'<td data-sort="{key}"{klass}>{html.escape(c.text)}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    ident = f' id="{css_id}"' if css_id else ""
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (f'<table class="sortable"{ident}>{cap}<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def no_data(what: str, *, where: str = "", hint: str = "") -> str:
    """The note a section shows when the data directory holds nothing for it: what, where it looked, what to do."""
    text = f"No data recorded: {what}."
    if where:
        text += f" Looked in {where}."
    if hint:
        text += f" {hint}"
    return f'<p class="nodata">{html.escape(text)}</p>'


def para(text: str, css: str = "") -> str:
    """An escaped paragraph."""
    klass = f' class="{css}"' if css else ""
    return f"<p{klass}>{html.escape(text)}</p>"


@dataclass
class Section:
    """One section of the page: an anchor id, a title and its HTML fragments."""

    ident: str
    title: str
    parts: list[str] = field(default_factory=list)
    has_data: bool = False


@dataclass
class FigureWriter:
    """Turns plotly figures into HTML divs; the first carries the whole plotly.js bundle, later ones none."""

    count: int = 0

    def __call__(self, fig: Any, *, height: int = 340) -> str:
        """The figure as an HTML fragment that renders offline."""
        import plotly.io as pio

        fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 40, "b": 40}, template="plotly_white",
                          legend={"orientation": "h", "y": -0.2}, font={"size": 12})
        out = pio.to_html(
            fig, full_html=False, include_plotlyjs=self.count == 0, include_mathjax=False,
            config={"displaylogo": False, "responsive": True,
                    "modeBarButtonsToRemove": ["sendDataToCloud"]},
        )
        self.count += 1
        return f'<div class="figure">{out}</div>'


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2933;background:#f7f8fa}
header{background:#1f2933;color:#fff;padding:16px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#cbd2d9;font-size:13px}
nav{padding:8px 32px;background:#fff;border-bottom:1px solid #e4e7eb;position:sticky;top:0;z-index:10}
nav a{margin-right:18px;color:#3e4c59;text-decoration:none;font-size:14px}nav a.empty{color:#9aa5b1}
main{padding:8px 32px 48px;max-width:1280px}
section{background:#fff;border:1px solid #e4e7eb;border-radius:6px;margin:18px 0;padding:12px 20px}
h2{font-size:18px;margin:6px 0 10px}h3{font-size:15px;margin:14px 0 6px;color:#3e4c59}
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
.tile{border:1px solid #e4e7eb;border-radius:6px;padding:8px 14px;min-width:120px}
.tile b{display:block;font-size:20px}.tile span{font-size:12px;color:#616e7c}
table{border-collapse:collapse;font-size:13px;margin:8px 0;min-width:50%}
th,td{border-bottom:1px solid #e4e7eb;padding:4px 10px;text-align:left}
th{background:#f5f7fa;cursor:pointer;user-select:none}th.asc:after{content:" \\25B2"}th.desc:after{content:" \\25BC"}
td.bad{color:#b42318;font-weight:600}td.ok{color:#067647}caption{text-align:left;color:#616e7c;padding:4px 0}
.nodata{color:#7b8794;font-style:italic}.note{color:#616e7c;font-size:13px}
.barlists{display:flex;flex-wrap:wrap;gap:10px 32px;margin:8px 0}.barlist{min-width:420px}
.barlist h4{font-size:13px;font-weight:600;margin:6px 0 4px;color:#3e4c59}
.bar-row{display:flex;align-items:center;gap:8px;font-size:13px;margin:2px 0}
.bar-label{width:140px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bar{flex:0 0 180px;height:12px;background:#eef2f6;border-radius:2px}
.bar>span{display:block;height:12px;background:#2f80ed;border-radius:2px}.bar-value{color:#3e4c59}
"""

# Sorting is page behaviour, not drawing: a click re-orders rows by each cell's data-sort key.
_JS = """
document.querySelectorAll("table.sortable th").forEach(function(th){th.addEventListener("click",function(){
var t=th.closest("table"),b=t.tBodies[0],c=+th.dataset.col,asc=!th.classList.contains("asc");
t.querySelectorAll("th").forEach(function(h){h.classList.remove("asc","desc")});th.classList.add(asc?"asc":"desc");
var rows=Array.from(b.rows);rows.sort(function(x,y){var a=x.cells[c].dataset.sort,d=y.cells[c].dataset.sort;
var na=parseFloat(a),nd=parseFloat(d),r;if(a===""&&d==="")r=0;else if(a==="")r=1;else if(d==="")r=-1;
else if(!isNaN(na)&&!isNaN(nd))r=na-nd;else r=a<d?-1:a>d?1:0;return asc?r:-r});
rows.forEach(function(r){b.appendChild(r)})})});
"""


def tiles(items: Sequence[tuple[str, str]]) -> str:
    """A row of headline numbers: (value, label)."""
    inner = "".join(f'<div class="tile"><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>'
                    for v, k in items)
    return f'<div class="tiles">{inner}</div>'


def render(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole self-contained page."""
    nav = "".join(
        f'<a href="#{s.ident}"{"" if s.has_data else " class=empty"}>{html.escape(s.title)}</a>' for s in sections
    )
    body = "".join(
        f'<section id="{s.ident}" data-has-data="{str(s.has_data).lower()}"><h2>{html.escape(s.title)}</h2>'
        f'{"".join(s.parts)}</section>'
        for s in sections
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main><script>{_JS}</script></body></html>"
    )
