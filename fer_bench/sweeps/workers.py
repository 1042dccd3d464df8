"""Helpers for worker processes."""

import os

from fer_bench import console


def die_with_parent():
    """Make this (worker) process die when its parent does, rather than run on with nobody waiting (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def quiet_worker(show_level=None):
    """For pool workers: die with the parent, leave the progress display to it, and say on the
    console what its parent says from `show_level` up (None: the parent shows nothing)."""
    die_with_parent()
    os.environ["TQDM_DISABLE"] = "1"  # read by the Keras progress callback when a fit starts
    if show_level is not None:
        console.show_messages(show_level)


def console_level(level):
    """What a worker should show of the messages at `level` and up: nothing unless this process shows them."""
    return level if console.showing() else None
