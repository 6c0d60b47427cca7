from .base import Stage
from .extract import Extract
from .generate import Generate

__all__ = ["Extract", "Generate", "Stage"]
