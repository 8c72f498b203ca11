"""hyperopt's ``hyperopt.early_stop`` module: ``no_progress_loss``."""

from bbopt.execution.stop import no_progress_loss

__all__ = ["no_progress_loss"]
