"""COCO's bbob data format, written from stored runs, so ``cocopp`` can read them.

For every backend, ``<folder>/<backend>/`` gets what COCO's ``bbob`` logger writes
(data format ``bbob-new2``): one ``bbobexp_f<F>.info`` per function, listing each
(dimension, instance, run) with its evaluations and final f - Fopt, and under
``data_f<F>/`` one ``bbobexp_f<F>_DIM<D>.dat`` (a line whenever the best value
improves: what cocopp's runtimes come from) and ``.tdat`` (a line at COCO's
evaluation triggers: what its fixed-budget figures read). Runs of the same instance
with different seeds are repeated entries, as COCO's own repeated runs are.

The files come from the losses alone (``RunData``), after the runs; columns hold
evaluations, 0 constraint evaluations, best f - Fopt, f, best f, then one column per
coordinate that is written as ``nan`` (the points are not part of the run data, and
cocopp does not read them).
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from benchmarks.grid import safe_name
from benchmarks.rundata import RunData

PRECISION = 1e-8  # COCO's final target on f - Fopt
_NAME = re.compile(r"^bbob\.f(\d+)\.d(\d+)\.i(\d+)$")
_HEADER = (
    "% f evaluations | g evaluations | best noise-free fitness - Fopt ({fopt:.12e}) + sum g_i+ "
    "| measured fitness | best measured fitness or single-digit g-values | x1 | x2..."
)
_EVALUATION_TRIGGERS_PER_DECADE = 20
_BASE_EVALUATION_TRIGGERS = (1, 2, 5)  # times dimension times 10^k
_Entry = tuple[int, RunData, float]  # instance, run, Fopt


def parse_bbob(name: str) -> tuple[int, int, int] | None:
    """(function, dimension, instance) of a ``bbob.fFF.dDD.iII`` objective name, else None."""
    match = _NAME.match(name)
    if match is None:
        return None
    function, dimension, instance = (int(g) for g in match.groups())
    return function, dimension, instance


def dimension_of(name: str) -> int | None:
    """The dimension of a bbob objective name, None for other objectives."""
    parsed = parse_bbob(name)
    return None if parsed is None else parsed[1]


def evaluation_triggers(budget: int, dimension: int) -> list[int]:
    """The evaluations at which COCO's logger writes a ``.tdat`` line, up to ``budget``.

    floor(10^(i/20)) for i = 0, 1, ..., and {1, 2, 5} x dimension x 10^k, plus the
    last evaluation.
    """
    found = {budget}
    i = 0
    while (value := math.floor(10 ** (i / _EVALUATION_TRIGGERS_PER_DECADE))) <= budget:
        found.add(value)
        i += 1
    scale = dimension
    while scale <= budget:
        found.update(b * scale for b in _BASE_EVALUATION_TRIGGERS if b * scale <= budget)
        scale *= 10
    return sorted(found)


def _line(evaluation: int, best: float, value: float, fopt: float, dimension: int) -> str:
    columns = [str(evaluation), "0", f"{best - fopt:+.9e}", f"{value:+.9e}", f"{best:+.9e}"]
    return " ".join(columns + ["nan"] * dimension)


def _blocks(run: RunData, fopt: float, dimension: int) -> tuple[list[str], list[str]]:
    """The ``.dat`` and ``.tdat`` lines of one run (header first)."""
    losses = np.asarray(run.losses, dtype=float)
    best = np.minimum.accumulate(np.where(np.isnan(losses), np.inf, losses))
    header = _HEADER.format(fopt=fopt)
    improved = [t for t in range(len(best)) if t == 0 or best[t] < best[t - 1]]
    improved += [len(best) - 1] if improved[-1] != len(best) - 1 else []
    triggers = [t - 1 for t in evaluation_triggers(len(best), dimension)]
    lines = [
        [header, *(_line(t + 1, best[t], losses[t], fopt, dimension) for t in rows)]
        for rows in (improved, triggers)
    ]
    return lines[0], lines[1]


def _final(run: RunData, fopt: float) -> str:
    """An ``.info`` entry's ``evaluations|final f - Fopt``."""
    finite = [loss for loss in run.losses if math.isfinite(loss)]
    best = min(finite) if finite else math.inf
    return f"{len(run.losses)}|{best - fopt:.1e}"


def _coco_version() -> str:
    try:
        return metadata.version("coco-experiment")
    except metadata.PackageNotFoundError:
        return ""


def write_data(folder: Path, runs: Sequence[RunData], comment: str) -> list[Path]:
    """COCO data of the bbob runs among ``runs``, one sub-folder per backend.

    ``folder`` is emptied first, so it holds exactly these runs. Returns the backend
    folders written (none when no run is on a bbob objective).
    """
    grouped: dict[str, dict[int, dict[int, list[_Entry]]]] = {}
    for run in runs:
        parsed = parse_bbob(run.objective)
        if parsed is None or run.f_star is None:
            continue
        function, dimension, instance = parsed
        by_function = grouped.setdefault(run.backend, {}).setdefault(function, {})
        by_function.setdefault(dimension, []).append((instance, run, run.f_star))
    if folder.exists():
        shutil.rmtree(folder)
    written = []
    for backend, functions in grouped.items():
        target = folder / safe_name(backend)
        for function, dimensions in functions.items():
            _write_function(target, backend, function, dimensions, comment)
        written.append(target)
    return written


def _write_function(
    folder: Path,
    backend: str,
    function: int,
    dimensions: dict[int, list[_Entry]],
    comment: str,
) -> None:
    data_folder = folder / f"data_f{function}"
    data_folder.mkdir(parents=True, exist_ok=True)
    info = []
    for dimension in sorted(dimensions):
        entries = sorted(dimensions[dimension], key=lambda e: (e[0], e[1].run_index))
        stem = f"bbobexp_f{function}_DIM{dimension}"
        dat, tdat = [], []
        for _, run, fopt in entries:
            improved, triggered = _blocks(run, fopt, dimension)
            dat += improved
            tdat += triggered
        (data_folder / f"{stem}.dat").write_text("\n".join(dat) + "\n")
        (data_folder / f"{stem}.tdat").write_text("\n".join(tdat) + "\n")
        listing = ", ".join(f"{i}:{_final(run, fopt)}" for i, run, fopt in entries)
        info += [
            f"suite = 'bbob', funcId = {function}, DIM = {dimension}, "
            f"Precision = {PRECISION:.3e}, algId = '{backend}', "
            f"coco_version = '{_coco_version()}', logger = 'bbob', data_format = 'bbob-new2'",
            f"% {comment}",
            f"data_f{function}/{stem}.dat, {listing}",
        ]
    (folder / f"bbobexp_f{function}.info").write_text("\n".join(info) + "\n")
