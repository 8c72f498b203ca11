"""A Study: the trials of one optimization run, its best result and its exports."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bbopt.errors import MissingDependencyError, NoSuccessfulTrialError
from bbopt.space import Distribution, Space
from bbopt.trial import STATUS_FAIL, Trial

if TYPE_CHECKING:
    import pandas


class Study:
    """Trials plus what is needed to read them: the space, objective and backend names."""

    def __init__(
        self,
        name: str,
        space: Space,
        *,
        objective: str = "",
        backend: str = "",
        backend_options: dict[str, Any] | None = None,
        seed: int | None = None,
        f_star: float | None = None,
        trials: list[Trial] | None = None,
    ) -> None:
        self.name = name
        self.space = space
        self.objective_name = objective
        self.backend_name = backend
        self.backend_options = dict(backend_options or {})
        self.seed = seed
        self.f_star = f_star
        self.trials: list[Trial] = list(trials or [])

    def __repr__(self) -> str:
        return (
            f"<Study {self.name!r}: {len(self.trials)} trials, "
            f"objective={self.objective_name!r}, backend={self.backend_name!r}>"
        )

    def __len__(self) -> int:
        return len(self.trials)

    def __iter__(self) -> Iterator[Trial]:
        return iter(self.trials)

    @property
    def finished_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.finished]

    @property
    def ok_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.ok and t.loss is not None]

    @property
    def results(self) -> list[dict[str, Any]]:
        """One dict per finished trial, like hyperopt's ``trials.results``."""
        return [t.result_dict() for t in self.finished_trials]

    @property
    def losses(self) -> list[float | None]:
        return [t.loss for t in self.finished_trials]

    @property
    def best_trial(self) -> Trial:
        """The successful trial with the lowest loss (the earliest one on ties)."""
        ok = self.ok_trials
        if not ok:
            raise NoSuccessfulTrialError(self._no_success_message())
        return min(ok, key=lambda t: (t.loss, t.tid))

    @property
    def best_params(self) -> Any:
        """Parameters of the best trial (choice values, never indices).

        The nested configuration; a space that is one bare parameter gives
        ``{label: value}``, like hyperopt's ``fmin`` result.
        """
        return self.named_params(self.best_trial.params)

    def named_params(self, params: Any) -> Any:
        """``params`` as users see them: ``{label: value}`` when the whole space is one
        bare parameter, else the nested configuration unchanged."""
        if isinstance(self.space.tree, Distribution):
            return {self.space.tree.label: params}
        return params

    @property
    def best_loss(self) -> float:
        loss = self.best_trial.loss
        assert loss is not None
        return loss

    def best_so_far(self) -> list[float | None]:
        """Best loss after each finished trial, in trial order (None before the first success)."""
        best: float | None = None
        curve: list[float | None] = []
        for trial in self.finished_trials:
            if trial.ok and trial.loss is not None and (best is None or trial.loss < best):
                best = trial.loss
            curve.append(best)
        return curve

    def add_trial(self, trial: Trial) -> Trial:
        """Give ``trial`` the next id and keep it (storage-backed studies persist it)."""
        trial.tid = len(self.trials)
        self.trials.append(trial)
        return trial

    def save_trial(self, trial: Trial) -> None:
        """Called when ``trial`` changed state; in memory there is nothing to do."""

    def pending_retries(self) -> list[Trial]:
        """Queued re-runs of abandoned trials, to evaluate first when a stored study
        resumes; an in-memory study has none."""
        return []

    def count_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for trial in self.trials:
            counts[trial.state.value] = counts.get(trial.state.value, 0) + 1
        return counts

    def _no_success_message(self) -> str:
        failed = [t for t in self.trials if t.status == STATUS_FAIL]
        if not self.trials:
            return f"study {self.name!r} has no trials yet"
        first_error = (failed[0].error or "no error text").strip().splitlines()
        last_line = first_error[-1] if first_error else ""
        return (
            f"no trial of study {self.name!r} succeeded: {len(failed)} of "
            f"{len(self.trials)} failed; first error: {last_line}"
        )

    # -- export -------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows for tables: one per trial, parameters as ``params.<path>`` columns."""
        return [_row(t, self.named_params(t.params)) for t in self.trials]

    def to_dataframe(self) -> pandas.DataFrame:
        try:
            import pandas
        except ImportError:
            raise MissingDependencyError("pandas", "export", "Study.to_dataframe") from None
        return pandas.DataFrame(self.rows())

    def to_csv(self, path: str | Path) -> Path:
        rows = self.rows()
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        path = Path(path)
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        return path

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "objective": self.objective_name,
            "backend": self.backend_name,
            "backend_options": self.backend_options,
            "seed": self.seed,
            "f_star": self.f_star,
            "space": self.space.to_json(),
            "trials": [t.to_dict() for t in self.trials],
        }

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1, default=repr))
        return path

    # -- plots (matplotlib is imported only here) ---------------------------------

    def plot_history(self, path: str | Path | None = None) -> Any:
        """Loss per trial with the best-so-far line; saved as PNG when ``path`` is given."""
        from bbopt import plots

        return plots.plot_history(self, path)

    def plot_params(self, path: str | Path | None = None) -> Any:
        """Loss against each parameter (only trials where it was active)."""
        from bbopt import plots

        return plots.plot_params(self, path)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, out)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _flatten(f"{prefix}.{index}", item, out)
    else:
        out[prefix] = value


def _row(trial: Trial, params: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "tid": trial.tid,
        "state": trial.state.value,
        "status": trial.status,
        "loss": trial.loss,
    }
    _flatten("params", params, row)
    for key, value in trial.extras.items():
        row[f"extras.{key}"] = value if not isinstance(value, (dict, list)) else json.dumps(value)
    row.update(
        {
            "error": (trial.error or "").strip().splitlines()[-1] if trial.error else None,
            "started_at": trial.started_at.isoformat() if trial.started_at else None,
            "finished_at": trial.finished_at.isoformat() if trial.finished_at else None,
            "duration": trial.duration,
            "worker": trial.worker,
            "backend": trial.backend,
            "seed": trial.seed,
        }
    )
    return row
