"""User-facing errors: the command line prints them in one line and exits 2."""


class PromptkitError(Exception):
    """A mistake in the user's input (file, field, name, template). Never a bug of ours."""


class ReplayMiss(PromptkitError):
    """A prompt was asked of the replay engine that its recording does not hold."""


class EngineUnavailable(PromptkitError):
    """The engine cannot be used: a missing extra, an unreachable server."""


class CacheFailed(PromptkitError):
    """The cache file failed mid-run (a damaged page, a full disk); the run's finished work is kept."""
