from promptkit.stages.base import Stage, call_engine, map_states
from promptkit.stages.extract import Extract
from promptkit.stages.generate import Generate
from promptkit.stages.least_to_most import DECOMPOSERS, Decompose, Decomposer, SolveInOrder
from promptkit.stages.pack import PackDemos
from promptkit.stages.select_demos import SelectDemos
from promptkit.stages.vote import First, Vote, majority

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
