"""Searching the prompt under a budget of engine calls: demonstrations (random search with successive halving,
or Lu et al.'s entropy without labels), bootstrapped rationales (DSPy's BootstrapFewShot) and instructions
(APE's proposals refined as OPRO does), each scored on development examples drawn from the training pool."""

from promptkit.search.settings import SEARCH_METHODS, SearchSettings

__all__ = ["SEARCH_METHODS", "SearchSettings"]
