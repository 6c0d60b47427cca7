"""Learning the prompt itself: soft prompts through peft, black-box tuning through CMA-ES."""

from promptkit.tuning.run import TuneResult, tune
from promptkit.tuning.settings import TUNE_METHODS, TuneSettings

__all__ = ["TUNE_METHODS", "TuneResult", "TuneSettings", "tune"]
