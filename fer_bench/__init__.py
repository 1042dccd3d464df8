"""fer-bench: a benchmark harness for facial emotion recognition on FER2013.

    import fer_bench
    record = fer_bench.run("paper", data="../shared/fer2013")   # run and record an experiment
    table = fer_bench.load_records("results")                    # every record, one DataFrame row each

The functions are those of `fer_bench.api`, each `fer-bench` verb one of them; parts are written
against the contracts in `fer_bench.parts.base` and registered with `fer_bench.parts.registry.register`.
"""

import importlib
import importlib.util

__version__ = "0.2.0"


def __getattr__(name):
    """The API (fer_bench.api's public names), imported on first use, so that `import fer_bench` (and
    the CLI's start) stays light."""
    if (name.startswith("_") and name != "__all__") or importlib.util.find_spec(f"{__name__}.{name}"):
        # a submodule not imported yet: `from fer_bench import backend` imports it, not the API
        raise AttributeError(f"module 'fer_bench' has no attribute {name!r}")
    api = importlib.import_module("fer_bench.api")
    if name == "__all__":
        return [*api.__all__, "__version__"]
    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'fer_bench' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *importlib.import_module("fer_bench.api").__all__])
