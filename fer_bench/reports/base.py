"""The contract every report keeps, after Optuna's visualization modules (`_get_*_info(study)`, then
`_get_*_plot(info)`): `compute` builds a typed info object from the records (and the data where it
needs them) and writes nothing, so its numbers can be tested on their own; `markdown` and `figures`
draw that object; `write` puts both into the report's folder of the results (runs/layout.py).

A new report is one module of this package with a `Report` subclass; the leaderboard links it where
it declares a `title` and a `link_order` (reports_to_link).
"""

import importlib
import inspect
import pkgutil
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from fer_bench.data.dataset import data_name
from fer_bench.reports import figures

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Info = TypeVar("Info")

# The options of a command (`--data PATH`, or the API's `data=...`) whose values are places: a report
# names a place outside the working folder by its last name alone (it names the data set by its name
# and fingerprint too), and a storage URL may hold a password.
_PLACE = re.compile(
    r"(--(?:data|results|cache|out|annotate|storage)[= ]|\b(?:data|results|cache|storage)=)"
    r"""(?!None\b)(\w+\('[^']*'\)|'[^']*'|"[^"]*"|[^\s,)]+)"""
)


def _on_the_machine(place: str) -> bool:
    """Whether `place` says where something lies on one machine: an absolute path, one out of the
    working folder, or a URL (a relative path inside a checkout says the same on every machine)."""
    return place.startswith(("/", "~", "\\")) or ".." in Path(place).parts or ":" in place


def public_command(command: str) -> str:
    """`command` as a report shows it: each value that names a place on the machine (_on_the_machine)
    replaced by `<its last name>`, e.g. `--data <fer2013>`."""

    def hide(match):
        value = re.sub(r"^\w+\(|\)$", "", match[2]).strip("'\"")
        return f"{match[1]}<{data_name(value)}>" if _on_the_machine(value) else match[0]

    return _PLACE.sub(hide, command)


class Report(ABC, Generic[Info]):
    folder: ClassVar[str]  # its folder in the results (runs/layout.py); "" for the results folder itself
    title: ClassVar[str | None] = None  # the leaderboard's line linking the folder's reports; None: not linked
    link_order: ClassVar[int]  # a linked report's line among the leaderboard's, lowest first (in tens: room between)

    @abstractmethod
    def compute(self, *inputs) -> Info:
        """The report's numbers, from its inputs (each report names its own); no I/O."""

    @abstractmethod
    def file_name(self, info: Info) -> str:
        """The markdown file's name in the report's folder."""

    @abstractmethod
    def markdown(self, info: Info, command: str) -> str:
        """The report's text; `command` is the command that wrote it."""

    def figures(self, info: Info) -> Iterator[tuple[str, "Figure"]]:
        """(path relative to the markdown file's folder, figure) for each figure it links."""
        return iter(())

    def figure_folder(self, info: Info) -> str | None:
        """The folder (relative to the markdown file's) that holds this report's figures and nothing
        else, or None. `write` removes the figures there it did not write: those of runs the report no
        longer shows would be published, linked from nowhere."""
        return None

    def text(self, info: Info, command: str) -> str:
        """The markdown as it is written and shown: naming `command` without the machine's paths
        (public_command)."""
        return self.markdown(info, public_command(command))

    def write(self, info: Info, results_root, command: str, path=None) -> Path:
        """Save the figures and the markdown (`text`, at `path`, default its file in its folder), and
        remove the figures of its figure folder it did not save; returns its path."""
        path = Path(path) if path else Path(results_root) / self.folder / self.file_name(info)
        written = set()
        for name, figure in self.figures(info):
            figures.save(figure, path.parent / name)
            written.add(path.parent / name)
        if (folder := self.figure_folder(info)) is not None:
            for unlinked in set((path.parent / folder).glob("*.png")) - written:
                unlinked.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.text(info, command))
        return path


def reports_to_link() -> list[type[Report]]:
    """The reports of this package that the leaderboard links (they have a `title`), by `link_order`.
    Found, not listed: every public module of the package is imported, as the registry finds parts
    (parts/registry.load_parts), so a new report is a new module."""
    found = []
    for listed in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        if not listed.name.startswith("_"):
            module = importlib.import_module(f"{__package__}.{listed.name}")
            defined = [c for c in vars(module).values() if inspect.isclass(c) and c.__module__ == module.__name__]
            found += [c for c in defined if issubclass(c, Report) and c.title]
    return sorted(found, key=lambda report: report.link_order)
