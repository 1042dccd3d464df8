"""Experiment, grid and search files: where they are found, and what their parsers share.

A name is looked up in $FER_BENCH_EXPERIMENTS, then ./experiments, then the experiments that ship
with fer-bench (the repository's experiments/ folder, installed inside the package); a path ending
in `.toml` is read as given. Grid files live in a `grids/` and search files in a `searches/`
subfolder, the reports' settings in `reports/`. experiment.py, grid.py and search.py parse each kind of file.
"""

import os
import tomllib
from pathlib import Path

from fer_bench.errors import FerBenchError

SUBFOLDERS = {"experiment": "", "grid": "grids", "search": "searches", "report": "reports"}


def shipped_experiments() -> Path:
    """Inside the installed package (a wheel), or the checkout's experiments/ (an editable install)."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "experiments"
    return installed if installed.is_dir() else package.parent / "experiments"


def experiment_dirs():
    dirs = [Path(os.environ["FER_BENCH_EXPERIMENTS"])] if os.environ.get("FER_BENCH_EXPERIMENTS") else []
    return dirs + [Path("experiments"), shipped_experiments()]


def find_file(name_or_path, what="experiment") -> Path:
    """A `.toml` path as given, or NAME looked up in each experiments folder."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        if candidate.is_file():
            return candidate
        raise FerBenchError(f"{what} file not found: {candidate}")
    for folder in (d / SUBFOLDERS[what] for d in experiment_dirs()):
        if (folder / f"{name_or_path}.toml").is_file():
            return folder / f"{name_or_path}.toml"
    raise FerBenchError(f"unknown {what} {name_or_path!r} (known: {', '.join(names(what)) or 'none'})")


def names(what="experiment"):
    """Every name that `find_file(name, what)` finds."""
    folders = [d / SUBFOLDERS[what] for d in experiment_dirs()]
    return sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.toml")})


def read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise FerBenchError(f"{path}: not valid TOML ({error})") from None
    except OSError as error:
        raise FerBenchError(f"{path}: cannot be read ({error.strerror})") from None


def check_keys(document, known, where):
    unknown = sorted(set(document) - set(known))
    if unknown:
        raise FerBenchError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")


def description(document, where) -> str:
    text = document.get("description", "")
    if not isinstance(text, str):
        raise FerBenchError(f"{where}: description must be a string")
    return text
