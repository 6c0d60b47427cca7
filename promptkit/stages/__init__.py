from .base import Stage
from .demos import SelectDemos
from .extract import Extract
from .generate import Generate
from .least_to_most import Decompose, SolveInOrder
from .pack import PackDemos
from .vote import Vote, majority

__all__ = ["Decompose", "Extract", "Generate", "PackDemos", "SelectDemos", "SolveInOrder", "Stage", "Vote", "majority"]
