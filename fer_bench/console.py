"""What fer-bench says on the console: the `fer_bench` logger's messages, as `fer-bench: ...` lines on
stderr. The CLI turns it on; a library user sees them with `logging.basicConfig(level=logging.INFO)`."""

import logging
import os
import sys

from fer_bench import backend

log = logging.getLogger("fer_bench")


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a message comes (a test may have replaced it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _):
        pass


def show_messages(level=logging.INFO, verbose=False):
    """Print the logger's messages from `level` up; `verbose` adds debug messages and the backends'
    start-up output, in this process and the worker processes it starts."""
    if verbose:
        os.environ[backend.VERBOSE_VARIABLE] = "1"
    log.setLevel(logging.DEBUG if verbose else level)
    if not showing():
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("fer-bench: %(message)s"))
        log.addHandler(handler)


def showing():
    return any(isinstance(handler, _CurrentStderr) for handler in log.handlers)
