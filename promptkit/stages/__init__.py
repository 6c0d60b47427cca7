from .base import Stage, call_engine, map_states
from .demos import SelectDemos
from .extract import Extract
from .generate import Generate
from .least_to_most import DECOMPOSERS, Decompose, Decomposer, SolveInOrder
from .pack import PackDemos
from .vote import First, Vote, majority

__all__ = [
    "DECOMPOSERS",
    "Decompose",
    "Decomposer",
    "Extract",
    "First",
    "Generate",
    "PackDemos",
    "SelectDemos",
    "SolveInOrder",
    "Stage",
    "Vote",
    "call_engine",
    "majority",
    "map_states",
]
