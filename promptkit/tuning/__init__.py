"""Learning the prompt itself: soft prompts through peft, black-box tuning through CMA-ES."""

from promptkit.tuning.settings import TUNE_METHODS, TuneSettings
from promptkit.tuning.run import TuneResult, tune

__all__ = ["TUNE_METHODS", "TuneResult", "TuneSettings", "tune"]
