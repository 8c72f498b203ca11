"""The ``bbopt`` command line: what is registered, running studies, reading stored ones.

Exit codes: 0 success, 2 usage errors (bad arguments, unknown names, bad backend
options, bad stored content), 1 runtime failures, 130 interrupted. Errors go to
stderr as one line, without a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import json
import os
import re
import sys
import tempfile
import unicodedata
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import bbopt
from bbopt.backends.base import MAX_SEED
from bbopt.errors import BBoptError, OptionValueError, UnknownNameError, UnknownOptionError
from bbopt.storage import StorageContentError
from bbopt.study import Study
from bbopt.worker_cli import add_worker_arguments, add_worker_command, run_worker

Handler = Callable[[argparse.Namespace], int]


class UsageError(BBoptError):
    """A command line that cannot run as written (exit code 2)."""


USAGE_ERRORS = (
    UsageError,
    UnknownNameError,
    UnknownOptionError,
    OptionValueError,
    StorageContentError,
)
INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)  # bad arguments: one line, exit 2
    except SystemExit as exit_:  # --help, --version and argument errors
        return exit_.code if isinstance(exit_.code, int) else 2
    return run_handler(args.handler, args)


def run_handler(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command's handler; errors become one line on stderr and an exit code."""
    formatwarning = warnings.formatwarning
    warnings.formatwarning = _format_warning  # for this command only
    try:
        return handler(args)
    except BrokenPipeError:  # the reader went away (``bbopt show ... | head``)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except USAGE_ERRORS as exc:
        return _fail(exc, 2)
    except (BBoptError, OSError, ImportError) as exc:
        return _fail(exc, 1)
    except KeyboardInterrupt:
        return _fail("interrupted", INTERRUPTED)
    finally:
        warnings.formatwarning = formatwarning


def mongo_worker_main(argv: Sequence[str] | None = None) -> int:
    """``bbopt-mongo-worker``: bbopt's queue worker with hyperopt-mongo-worker's options."""
    parser = _Parser(
        prog="bbopt-mongo-worker",
        description="bbopt's queue worker under hyperopt-mongo-worker's name: claim queued "
        "trials from MongoDB, evaluate them, write results.",
    )
    add_worker_arguments(parser, hyperopt_names=True)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    return run_handler(run_worker, args)


def _format_warning(message: Warning | str, category: type[Warning], *args: Any, **kw: Any) -> str:
    return f"bbopt: warning: {message}\n"


def _fail(message: object, code: int) -> int:
    print(f"bbopt: error: {message}", file=sys.stderr)
    return code


class _Parser(argparse.ArgumentParser):
    """argparse with whole option names only (``--max-eval`` is not ``--max-evals``) and
    errors as one line that offers the close matches of a mistyped option."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._line: list[str] = []

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._line = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> Any:
        prog = self.prog
        if message.startswith("unrecognized arguments:"):  # found once the command parsed
            command = _chosen_command(self, self._line)
            known = sorted(set(_option_strings(self, self._line)))
            for token in message.split(":", 1)[1].split():
                close = difflib.get_close_matches(token.split("=")[0], known, n=2, cutoff=0.6)
                if token.startswith("-") and close:
                    message += f" (did you mean {' or '.join(close)}?)"
                    break
            prog = prog if command is None else command.prog
        print(f"{prog}: error: {message} (see {prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _chosen_command(
    parser: argparse.ArgumentParser, line: Sequence[str]
) -> argparse.ArgumentParser | None:
    """The parser of the subcommand that ``line`` names, if any."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = next((token for token in line if token in action.choices), None)
            if chosen is not None:
                return action.choices[chosen]
    return None


def _option_strings(parser: argparse.ArgumentParser, line: Sequence[str]) -> Iterator[str]:
    """Every option string of ``parser`` and of the subcommand that ``line`` names."""
    for action in parser._actions:
        yield from action.option_strings
    command = _chosen_command(parser, line)
    if command is not None:
        yield from _option_strings(command, line)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bbopt",
        description="Pluggable black-box optimization: run and inspect studies.",
    )
    parser.add_argument("--version", action="version", version=f"bbopt {bbopt.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        _add_objectives,
        _add_backends,
        _add_pruners,
        _add_run,
        _add_studies,
        _add_show,
        _add_export,
        _add_plot,
        _add_bench,
        add_worker_command,
    ):
        add(commands)
    return parser


# -- what is registered ---------------------------------------------------------------


#: Families of objectives with more members than this are summarised in one line.
FAMILY_LISTED = 20


def _add_objectives(commands: Any) -> None:
    command = commands.add_parser(
        "objectives",
        help="list the registered objectives",
        description="List the registered objectives with their descriptions. Large families "
        "(such as the 720 COCO bbob problems) are summarised in one line each; give a "
        "PATTERN (a glob such as 'bbob.f01.*' or a name) to list its members.",
    )
    command.add_argument("pattern", nargs="?", help="glob of objective names to list")
    command.set_defaults(handler=_objectives)


def _objectives(args: argparse.Namespace) -> int:
    from bbopt.objective import get_objective

    names = bbopt.list_objectives()
    if args.pattern is not None:
        chosen = fnmatch.filter(names, args.pattern)
        if not chosen:
            raise UnknownNameError("objective", args.pattern, names)
        _print_listing((n, get_objective(n).description) for n in chosen)
        return 0
    families: dict[str, list[str]] = {}
    for name in names:
        families.setdefault(name.split(".", 1)[0], []).append(name)
    rows = []
    for family, members in families.items():
        if len(members) > FAMILY_LISTED:
            example = get_objective(members[0]).description
            text = f"{len(members)} objectives, e.g. {members[0]}: {example} "
            rows.append((f"{family}.*", f"{text}(list them: bbopt objectives '{family}.*')"))
        else:
            rows.extend((n, get_objective(n).description) for n in members)
    _print_listing(rows)
    return 0


def _add_backends(commands: Any) -> None:
    command = commands.add_parser(
        "backends",
        help="list the registered backends",
        description="List the registered backends (built-in and from installed plugins).",
    )
    command.set_defaults(handler=_backends)


def _backends(args: argparse.Namespace) -> int:
    from bbopt.backends import get_backend

    _print_listing((n, get_backend(n).description) for n in bbopt.list_backends())
    return 0


def _add_pruners(commands: Any) -> None:
    command = commands.add_parser("pruners", help="list the registered pruners")
    command.set_defaults(handler=_pruners)


def _pruners(args: argparse.Namespace) -> int:
    from bbopt.pruners import get_pruner

    _print_listing((n, get_pruner(n).description) for n in bbopt.list_pruners())
    return 0


def _print_listing(items: Any) -> None:
    items = [(name, " ".join((text or "").split())) for name, text in items]
    width = max((len(name) for name, _ in items), default=0)
    for name, text in items:
        print(f"{name:<{width}}  {text}".rstrip())


# -- run ----------------------------------------------------------------------------------


def _add_run(commands: Any) -> None:
    command = commands.add_parser(
        "run",
        help="minimize a registered objective",
        description="Minimize a registered objective; with --storage the study is kept in an "
        "SQLite file and running the same command again resumes it.",
    )
    command.add_argument("objective", help="a registered objective (see `bbopt objectives`)")
    command.add_argument("--backend", default="hyperopt.tpe", help="default: %(default)s")
    command.add_argument(
        "--max-evals",
        type=_count(1),
        default=100,
        metavar="N",
        help="trials in the study in all (default: %(default)s)",
    )
    command.add_argument(
        "--seed",
        type=_count(0, MAX_SEED),
        default=None,
        metavar="S",
        help="default: a random seed, printed and stored so the run can be repeated",
    )
    command.add_argument("--timeout", type=_seconds, default=None, metavar="SECONDS")
    command.add_argument(
        "--storage",
        type=storage_location,
        default=None,
        metavar="WHERE",
        help="an SQLite file or a mongodb://host:port/db address",
    )
    command.add_argument(
        "--study", type=_name, default=None, metavar="NAME", help="default: the objective"
    )
    command.add_argument(
        "--option",
        type=option_argument,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a backend option (VALUE is read as JSON when it parses); repeatable",
    )
    command.add_argument(
        "--pruner", default=None, metavar="NAME", help="stop bad trials early (see `bbopt pruners`)"
    )
    command.add_argument(
        "--pruner-option",
        type=option_argument,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a pruner option (VALUE is read as JSON when it parses); repeatable",
    )
    command.add_argument(
        "--workers", type=_count(1), default=None, metavar="N", help="trials run in parallel"
    )
    command.add_argument(
        "--executor",
        type=_executor,
        default=None,
        metavar="WHERE",
        help="'process' (local worker processes, the default with --workers), 'dask' "
        "(a Dask LocalCluster), a Dask scheduler address such as tcp://HOST:8786 or "
        "tls://HOST:8786 (credentials from Dask's config, see docs/parallel.md), or "
        "'queue' (trials queued in --storage for `bbopt worker` processes; --workers N "
        "keeps N queued or running)",
    )
    command.add_argument(
        "--trial-timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="a trial running longer fails and its worker is stopped (needs --workers)",
    )
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.set_defaults(handler=_run)


def run_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`bbopt.minimize` from a parsed ``bbopt run`` line."""
    return {
        "backend": args.backend,
        "backend_options": dict(args.option),
        "max_evals": args.max_evals,
        "seed": args.seed,
        "timeout": args.timeout,
        "storage": args.storage,
        "study": args.study,
        "progress": not args.quiet,
        "workers": args.workers,
        "executor": args.executor,
        "trial_timeout": args.trial_timeout,
        "pruner": args.pruner,
        "pruner_options": dict(args.pruner_option),
    }


def _run(args: argparse.Namespace) -> int:
    from bbopt.execution import Execution

    if args.trial_timeout is not None and args.workers is None and args.executor is None:
        raise UsageError(
            "--trial-timeout needs --workers N (a trial in this process cannot be stopped)"
        )
    if args.executor == "queue" and args.storage is None:
        raise UsageError(
            "--executor queue needs --storage: an SQLite file (for `bbopt worker` processes "
            "on this machine) or mongodb://HOST:27017/DB"
        )
    try:  # e.g. --trial-timeout with the queue
        Execution.from_args(args.workers, args.executor, args.trial_timeout)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.pruner_option and args.pruner is None:
        raise UsageError("--pruner-option needs --pruner NAME (see `bbopt pruners`)")
    study = bbopt.minimize(args.objective, **run_arguments(args))
    counts = ", ".join(f"{n} {state}" for state, n in sorted(study.count_by_state().items()))
    print(f"study {study.name!r}: {len(study.trials)} trials ({counts}), seed {study.seed}")
    interrupted = study.stop_reason == "interrupted"
    _print_best(study, required=not interrupted)
    return INTERRUPTED if interrupted else 0


def _count(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``minimum`` (and <= ``maximum``), with a
    message saying so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum}, got {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    """An argparse type: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text}")
    return value


def _name(text: str) -> str:
    """An argparse type: a non-empty name."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _executor(text: str) -> str:
    from bbopt.execution.plan import is_executor_name, unknown_executor

    if not is_executor_name(text):
        raise argparse.ArgumentTypeError(unknown_executor(text))
    return text


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` as (key, value): the value read as JSON (a number, true, a list, ...:
    data, never code), else kept as text; ValueError without a key or ``=``."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


def option_argument(text: str) -> tuple[str, Any]:
    """:func:`parse_option` as an argparse ``type``: a bad option is a usage error."""
    try:
        return parse_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- stored studies -----------------------------------------------------------------


def storage_location(text: str) -> str | Path:
    """A ``--storage`` value: a MongoDB address as given, else an SQLite file path."""
    from bbopt.storage.mongo import is_mongo_url

    return text if is_mongo_url(text) else Path(text)


def _shown(location: str | Path) -> str:
    """A storage location as printed: a MongoDB address without its credentials."""
    from bbopt.storage.mongo import display_address, is_mongo_url

    return display_address(str(location)) if is_mongo_url(location) else str(location)


def _storage_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument("--storage", type=storage_location, required=True, metavar="WHERE")


def _add_studies(commands: Any) -> None:
    command = commands.add_parser(
        "studies",
        help="list the studies in a storage file",
        description="List the studies of a storage file with their objective, backend, "
        "trial counts and best loss.",
    )
    _storage_argument(command)
    command.set_defaults(handler=_studies)


def _studies(args: argparse.Namespace) -> int:
    names = bbopt.list_studies(args.storage)  # fails clearly on a missing or foreign file
    rows = []
    for name in names:
        study = bbopt.load_study(name, args.storage)
        counts = study.count_by_state()
        finished = len(study.finished_trials)
        best = min((t.loss for t in study.ok_trials if t.loss is not None), default=None)
        rows.append(
            [
                name,
                study.objective_name,
                study.backend_name,
                str(finished),
                str(sum(counts.values()) - finished),
                "-" if best is None else f"{best:.6g}",
            ]
        )
    if not rows:
        _say(f"no studies in {_shown(args.storage)}", file=sys.stderr)
        return 0
    _say(_table(["study", "objective", "backend", "finished", "other", "best loss"], rows))
    return 0


def _add_show(commands: Any) -> None:
    command = commands.add_parser(
        "show",
        help="summary of a stored study",
        description="Show a stored study: its record, trial counts, best trial and last "
        "trials. Reading never runs anything named in the file.",
    )
    command.add_argument("study")
    _storage_argument(command)
    command.add_argument(
        "--last", type=_count(0), default=10, metavar="N", help="trials listed (default: 10)"
    )
    command.set_defaults(handler=_show)


def _show(args: argparse.Namespace) -> int:
    study = bbopt.load_study(args.study, args.storage)
    versions = ", ".join(f"{k} {v}" for k, v in study.versions.items())
    _say(f"study {study.name!r} in {_shown(args.storage)}")
    _say(f"  objective {study.objective_name}, backend {study.backend_name}, seed {study.seed}")
    _say(f"  created {study.record.created_at} with {versions}")
    counts = ", ".join(f"{n} {state}" for state, n in sorted(study.count_by_state().items()))
    _say(f"trials: {len(study.trials)} ({counts or 'none'})")
    _print_best(study)
    last = study.trials[-args.last :] if args.last else []
    if last:
        _say(f"\nlast {len(last)} trials:")
        rows = [
            [
                str(t.tid),
                t.state.value,
                "-" if t.loss is None else f"{t.loss:.6g}",
                "-" if t.duration is None else f"{t.duration:.3g}s",
                t.origin,
                _short(json.dumps(study.shown_params(t), default=repr)),
            ]
            for t in last
        ]
        _say(_table(["tid", "state", "loss", "duration", "origin", "params"], rows))
    return 0


def _print_best(study: Study, required: bool = False) -> None:
    """Print the best trial; without one, say so, or raise when ``required``."""
    if not study.ok_trials and not required:
        _say("best: no successful trial yet")
        return
    best = study.best_trial  # NoSuccessfulTrialError (exit code 1) when required
    _say(f"best: trial {best.tid}, loss {best.loss:.6g}")
    _say(f"  params {json.dumps(study.best_params, default=repr)}")


def _say(text: str = "", file: Any = None) -> None:
    """Print text that holds what a storage file says with its control characters
    escaped: a crafted study name must not drive the terminal (clear it, retitle it)."""
    print("".join(_visible(char) for char in text), file=file)


def _visible(char: str) -> str:
    if char in "\n\t" or unicodedata.category(char) != "Cc":
        return char
    return f"\\x{ord(char):02x}"


def _add_export(commands: Any) -> None:
    command = commands.add_parser(
        "export",
        help="write a stored study's trials as CSV or JSON",
        description="Write a stored study's trials as CSV (one row per trial) or JSON, to a "
        "file or to standard output.",
    )
    command.add_argument("study")
    _storage_argument(command)
    command.add_argument("--format", choices=("csv", "json"), default="csv")
    command.add_argument(
        "-o", "--output", type=Path, default=None, metavar="FILE", help="default: standard output"
    )
    command.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    study = bbopt.load_study(args.study, args.storage)
    write = study.to_csv if args.format == "csv" else study.to_json
    if args.output is not None:
        write(args.output)
        print(f"wrote {len(study.trials)} trials to {args.output}", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        sys.stdout.write(write(Path(folder) / f"study.{args.format}").read_text())
    return 0


def _add_plot(commands: Any) -> None:
    command = commands.add_parser(
        "plot",
        help="loss history and parameter plots of a study",
        description="Write PNG figures of a stored study: loss per trial with the best so "
        "far, and loss against each parameter.",
    )
    command.add_argument("study")
    _storage_argument(command)
    command.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    command.set_defaults(handler=_plot)


def _plot(args: argparse.Namespace) -> int:
    study = bbopt.load_study(args.study, args.storage)
    os.environ.setdefault("MPLBACKEND", "Agg")  # files only, no window
    args.output.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", study.name)
    plots = [("history", study.plot_history), ("params", study.plot_params)]
    if any(t.intermediate for t in study.trials):
        plots.append(("intermediate", study.plot_intermediate))
    for kind, plot in plots:
        path = args.output / f"{stem}-{kind}.png"
        plot(path)
        print(path)
    return 0


# -- benchmarks ---------------------------------------------------------------------


def _add_bench(commands: Any) -> None:
    # prefix_chars="+": every argument, flags included, goes to the benchmark's own parser
    command = commands.add_parser(
        "bench",
        help="run the benchmark suite (`bbopt bench --help`; same as python -m benchmarks.run)",
        add_help=False,
        prefix_chars="+",
    )
    command.add_argument("arguments", nargs=argparse.REMAINDER)
    command.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from benchmarks.run import main as run_benchmark

    return run_benchmark(args.arguments, prog="bbopt bench")


# -- text tables ----------------------------------------------------------------------


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Aligned columns; a cell's own line breaks and tabs are escaped, so that a crafted
    study name cannot add a row."""
    rows = [[cell.replace("\n", "\\n").replace("\t", "\\t") for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
