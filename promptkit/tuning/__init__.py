"""Learning the prompt itself: soft prompts through peft, black-box tuning through CMA-ES, BDPL's discrete
prompts. `tune` and `TuneResult` load torch, so they are imported when first used."""

from typing import Any

from promptkit.tuning.settings import TUNE_METHODS, TuneSettings


def __getattr__(name: str) -> Any:
    if name in ("tune", "TuneResult"):
        from promptkit.tuning import run

        return getattr(run, name)
    raise AttributeError(f"module 'promptkit.tuning' has no attribute {name!r}")


__all__ = ["TUNE_METHODS", "TuneResult", "TuneSettings", "tune"]
