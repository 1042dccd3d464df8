"""fer-bench: a benchmark harness for facial emotion recognition on FER2013.

    import fer_bench
    record = fer_bench.run("paper", data="../shared/fer2013")   # run and record an experiment
    table = fer_bench.load_records("results")                    # every record, one DataFrame row each

The functions are those of `fer_bench.api` (each `fer-bench` verb is one of them); parts are
written against the contracts in `fer_bench.parts.base` and registered with `fer_bench.parts.registry.register`.
"""

__version__ = "0.2.0"

API = ("run", "grid", "tune", "list_parts", "load_records", "latest_record", "write_leaderboard", "compare",
       "labels", "predict", "import_records", "compute_probabilities", "write_calibration")  # fmt: skip
__all__ = [*API, "__version__"]


def __getattr__(name):
    """The API, imported on first use, so that `import fer_bench` (and the CLI's start) stays light."""
    if name in API:
        from fer_bench import api

        return getattr(api, name)
    raise AttributeError(f"module 'fer_bench' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *API])
