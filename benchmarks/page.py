"""``results/<name>/index.html``: the whole benchmark on one self-contained page.

Tables, notes and every figure (PNG embedded as data URIs) in one file with inline
CSS and no script or remote address, so it works offline and can be mailed. When
``python -m benchmarks.coco`` has run, the page links COCO's own output
(``coco/index.html``); that paragraph sits between two markers so the COCO command
can refresh it without redoing the analysis.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

from benchmarks import cost_report, report
from benchmarks.analysis import Comparison, ObjectiveResult, OverallRow
from benchmarks.cost_report import Comparison as CostComparison
from benchmarks.cost_report import CostRow
from benchmarks.grid import safe_name

COCO_BEGIN, COCO_END = "<!-- coco:begin -->", "<!-- coco:end -->"
COCO_INDEX = Path("coco") / "index.html"
COCO_DATA = Path("coco") / "data"

_STYLE = """
body { font-family: sans-serif; max-width: 72rem; margin: 1.5rem auto; padding: 0 1rem;
       color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #bbb; padding: 0.2rem 0.5rem; text-align: left; }
th { background: #eee; }
img { max-width: 100%; }
code { background: #f2f2f2; padding: 0 0.2rem; }
details { margin: 0.5rem 0; }
summary { cursor: pointer; font-weight: bold; }
.note { color: #844; }
"""


def _inline(text: str) -> str:
    """Escaped text with the report's `code` and *emphasis* marks as HTML."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*([^*\s][^*]*)\*", r"<em>\1</em>", escaped)


def _table(table: report.Table) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(path: Path, alt: str) -> str:
    if not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></p>'


def coco_section(folder: Path, name: str) -> str:
    """The paragraph on COCO's output: a link when it exists, else how to make it."""
    if (folder / COCO_INDEX).exists():
        body = (
            f'<p>COCO post-processing (cocopp, with the best-2009 reference): <a href="'
            f'{COCO_INDEX.as_posix()}">{COCO_INDEX.as_posix()}</a></p>'
        )
    elif (folder / COCO_DATA).is_dir():
        body = (
            f"<p>COCO data for cocopp is in <code>{COCO_DATA.as_posix()}/</code>; "
            f"<code>python -m benchmarks.coco {html.escape(name)}</code> writes COCO's "
            "figures next to it and links them here.</p>"
        )
    else:
        body = ""
    return f"{COCO_BEGIN}{body}{COCO_END}"


def refresh_coco_section(folder: Path, name: str) -> bool:
    """Replace the COCO paragraph of an existing index.html; False if there is none."""
    index = folder / "index.html"
    if not index.exists():
        return False
    text = index.read_text()
    start, end = text.find(COCO_BEGIN), text.find(COCO_END)
    if start < 0 or end < 0:
        return False
    index.write_text(text[:start] + coco_section(folder, name) + text[end + len(COCO_END) :])
    return True


def cost_section(
    folder: Path, rows: Sequence[CostRow], tests: Sequence[CostComparison]
) -> list[str]:
    """The comparison at equal spent budget: its tables, notes and figures."""
    objectives = dict.fromkeys(row.objective for row in rows)
    return [
        "<h2>Regret at equal spent budget</h2>",
        f"<p>{_inline(cost_report.INTRO)}</p>",
        _table(cost_report.regret_table(rows)),
        *(f'<p class="note">{_inline(note)}</p>' for note in cost_report.short_run_notes(rows)),
        f"<p>{_inline(cost_report.TESTS_INTRO)}</p>",
        _table(cost_report.tests_table(tests)),
        *(
            _image(
                folder / f"cost_{safe_name(objective)}.png", f"regret against cost on {objective}"
            )
            for objective in objectives
        ),
    ]


def write_index(
    folder: Path,
    results: Sequence[ObjectiveResult],
    table: Sequence[OverallRow],
    comparison: Comparison,
    info: report.RunInfo,
    cost: Sequence[str] = (),
) -> Path:
    """Write ``index.html`` from the analysis and the figures already in ``folder``;
    ``cost`` is the :func:`cost_section` of objectives that declare a fidelity."""
    parts = [
        *_head(info),
        f"<p>{html.escape(report.heading(results, len(table), info))}</p>",
        *(f'<p class="note">note: {_inline(note)}</p>' for note in info.notes),
        f"<p>{_inline(report.how_to_read(info))}</p>",
        "<h2>Overall ranking</h2>",
        _table(report.ranking_table(table, info.baseline)),
        *(f"<p>{_inline(line)}</p>" for line in report.comparison_text(comparison)),
        _image(folder / "cd.png", "critical difference diagram"),
        "<h2>Anytime performance (ECDF)</h2>",
        _image(folder / "ecdf.png", "ECDF over normalized targets"),
        *(_image(path, path.stem) for path in sorted(folder.glob("ecdf_bbob_d*.png"))),
        coco_section(folder, info.name),
        *cost,
        "<h2>Per objective</h2>",
    ]
    for result in results:
        figure = folder / f"convergence_{safe_name(result.objective)}.png"
        parts += [
            f"<details><summary>{html.escape(result.objective)}: best "
            f"{html.escape(result.best_backend)}</summary>",
            f"<p>{_inline(report.objective_caption(result, info))}</p>",
            _table(report.objective_table(result, info)),
            _image(figure, f"convergence on {result.objective}"),
            "</details>",
        ]
    return _write_page(folder, info.name, parts)


def write_cost_index(folder: Path, info: report.RunInfo, cost: Sequence[str]) -> Path:
    """``index.html`` of a run under ``--cost-budget``: its runs end by cost, so the page
    holds the comparison at equal spent budget (there is no per-evaluation summary)."""
    notes = [f'<p class="note">note: {_inline(note)}</p>' for note in info.notes]
    return _write_page(folder, info.name, [*_head(info), *notes, *cost])


def _head(info: report.RunInfo) -> list[str]:
    return [
        f"<h1>Benchmark <code>{html.escape(info.name)}</code></h1>",
        f"<p><code>{html.escape(info.command)}</code></p>",
    ]


def _write_page(folder: Path, name: str, parts: Sequence[str]) -> Path:
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Benchmark {html.escape(name)}</title><style>{_STYLE}</style></head>"
        "<body>\n" + "\n".join(p for p in parts if p) + "\n</body></html>\n"
    )
    path = folder / "index.html"
    path.write_text(page)
    return path
