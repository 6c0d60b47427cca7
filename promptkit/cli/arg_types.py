"""The command line's argument types: counts and seeds within bounds (a typo, not a request, beyond them)."""

from __future__ import annotations

import argparse
from typing import Any, get_args

from promptkit.schema import MOST, SEED_MAX


def count(text: str) -> int:
    """A flag that counts something: a whole number from 0 to MOST (more is a typo, not a request)."""
    value = _whole(text)
    if not 0 <= value <= MOST:
        raise argparse.ArgumentTypeError(f"{text}: expected 0 to {MOST:,}")
    return value


def seed(text: str) -> int:
    value = _whole(text)
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{text}: a seed is 0 to 2**64 - 1")
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def choices_of(literal: Any) -> str:
    return ", ".join(get_args(literal))
