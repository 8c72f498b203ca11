"""``python -m benchmarks.coco NAME``: COCO's own post-processing of a bbob benchmark.

Runs ``cocopp`` (the ``coco`` extra) on the COCO data that ``python -m benchmarks.run
--name NAME`` wrote for its bbob objectives (``results/NAME/coco/data/<backend>/``),
with COCO's best-2009 reference algorithm, into ``results/NAME/coco/`` (cocopp's
HTML pages with SVG and PNG figures; what cocopp printed is in ``cocopp.log``),
links it from ``results/NAME/index.html``, and prints, per dimension, the fraction
of (function, target) pairs each backend reached within its budget as cocopp reads
the data: the number to set next to the end of bbopt's ``ecdf_bbob_dDD.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import shutil
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from bbopt.errors import BBoptError, MissingDependencyError
from benchmarks import page, stats

PROG = "python -m benchmarks.coco"
REFERENCE = "best 2009"
LOG = "cocopp.log"  # what cocopp prints, kept next to its output


class UsageError(BBoptError):
    """A results folder without COCO data (exit code 2)."""


def _cocopp() -> Any:
    with warnings.catch_warnings():  # the archive index is fetched on import: offline here
        warnings.simplefilter("ignore")
        try:
            import cocopp
        except ImportError:
            raise MissingDependencyError("cocopp", "coco", "COCO post-processing") from None
    return cocopp


def algorithms(data: Path) -> list[str]:
    """The backend folders under ``data`` (one per backend, named after it)."""
    if not data.is_dir():
        return []
    return sorted(p.name for p in data.iterdir() if p.is_dir() and any(p.glob("*.info")))


def run_cocopp(folder: Path, name: str) -> Path:
    """cocopp on ``folder/coco/data/*`` into ``folder/coco/``; returns its index.html."""
    data = folder / page.COCO_DATA
    names = algorithms(data)
    if not names:
        raise UsageError(
            f"no COCO data in {data}/: run `python -m benchmarks.run --objectives bbob... "
            f"--name {name}` first"
        )
    cocopp = _cocopp()
    output = (folder / "coco").resolve()
    for old in output.iterdir():  # cocopp adds a dated folder per call: keep only the newest
        if old.is_dir() and old.name != page.COCO_DATA.name:
            shutil.rmtree(old)
        elif old.is_file():
            old.unlink()
    if "png" not in cocopp.genericsettings.figure_file_formats:
        cocopp.genericsettings.figure_file_formats.append("png")
    cocopp.genericsettings.interactive_mode = False
    here = Path.cwd()
    os.chdir(data)  # cocopp names each algorithm after the folder given: the backend's name
    try:
        with (
            warnings.catch_warnings(),
            (output / LOG).open("w") as log,
            contextlib.redirect_stdout(log),
        ):
            warnings.simplefilter("ignore")  # fewer than COCO's 15 instances, and the like
            warnings.showwarning = functools.partial(_log_warning, log)  # cocopp turns
            cocopp.main(["-o", str(output), *names])  # some back on: into its log
    finally:
        os.chdir(here)
    reference = cocopp.testbedsettings.current_testbed.reference_algorithm_displayname
    if reference != REFERENCE:
        raise BBoptError(f"cocopp used the reference {reference!r}, expected {REFERENCE!r}")
    return output / "index.html"


def _log_warning(
    log: TextIO,
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    log.write(warnings.formatwarning(message, category, filename, lineno, line))


def reached_within_budget(data: Path) -> dict[int, dict[str, float]]:
    """Per dimension and backend: the fraction of (function, target, run) triples whose
    target (COCO's 51, 1e2 .. 1e-8) was reached within the run, as cocopp reads the files.

    Functions weigh equally, as in bbopt's ``ecdf_bbob_dDD.png`` at its last evaluation.
    """
    cocopp = _cocopp()
    fractions: dict[int, dict[str, list[float]]] = {}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        for name in algorithms(data):
            for dataset in cocopp.pproc.DataSetList(str(data / name)):
                evals = np.array(dataset.detEvals(stats.COCO_TARGETS), dtype=float)
                by_backend = fractions.setdefault(int(dataset.dim), {})
                by_backend.setdefault(name, []).append(float(np.isfinite(evals).mean()))
    return {
        dim: {name: float(np.mean(values)) for name, values in by_backend.items()}
        for dim, by_backend in sorted(fractions.items())
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the benchmark's folder name (results/NAME/)")
    parser.add_argument("--results-dir", default="results", type=Path)
    args = parser.parse_args(argv)
    folder = args.results_dir / args.name
    try:
        index = run_cocopp(folder, args.name)
        fractions = reached_within_budget(folder / page.COCO_DATA)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except (BBoptError, OSError, ImportError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    page.refresh_coco_section(folder, args.name)
    print(f"cocopp output with the {REFERENCE} reference: {index}")
    for dim, by_backend in fractions.items():
        print(f"{dim}-D, fraction of (function, target) pairs reached within the budget:")
        for name, fraction in sorted(by_backend.items(), key=lambda item: -item[1]):
            print(f"  {name:<28} {fraction:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
