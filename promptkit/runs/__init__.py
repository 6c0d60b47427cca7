"""Runs: building a spec into objects, running and scoring it, experiments over specs, run folders, report and viewer."""
