"""Helpers for worker processes."""


def die_with_parent():
    """Make this (worker) process die when its parent does, rather than run on with nobody waiting (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
