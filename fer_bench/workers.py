"""Helpers for worker processes."""

import os


def die_with_parent():
    """Make this (worker) process die when its parent does, rather than run on with nobody waiting (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def quiet_worker():
    """For pool workers: die with the parent, and leave the progress display to it."""
    die_with_parent()
    os.environ["TQDM_DISABLE"] = "1"  # read by the Keras progress callback when a fit starts
