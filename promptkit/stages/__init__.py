from promptkit.stages.framework.stage import Stage, call_engine, map_states
from promptkit.stages.kinds.extract import Extract
from promptkit.stages.kinds.generate import Generate
from promptkit.stages.kinds.least_to_most import DECOMPOSERS, Decompose, Decomposer, SolveInOrder
from promptkit.stages.kinds.pack import PackDemos
from promptkit.stages.kinds.select_demos import SelectDemos
from promptkit.stages.kinds.vote import First, Vote
from promptkit.stages.library.voting import majority

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
