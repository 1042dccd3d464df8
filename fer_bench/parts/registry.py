"""One registry for every kind of interchangeable part (features, resampler, model, detector).

A part is a class derived from its kind's base in `fer_bench.parts.base` and registered with
`@register(kind, name)`; its `parameters` table (fer_bench/parts/params.py) declares its parameters
with their defaults and constraints. Parts outside fer-bench register the same way in a module named
in `FER_BENCH_PLUGINS` (comma-separated) or in the entry-point group `fer_bench.parts.base` of an
installed package; `fer-bench list` shows them with the built-in ones. `temporary` registers a part
for the length of a `with` block (tests).
"""

import contextlib
import functools
import importlib
import inspect
import os
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

from fer_bench.errors import FerBenchError
from fer_bench.parts.base import Detector, Features, Model, Part, Resampler, capabilities
from fer_bench.parts.params import Options, Param


@dataclass(frozen=True)
class PartKind:
    """A kind of part, named by its base's `kind`."""

    base: type[Part]  # every part of the kind derives from it (fer_bench.parts.base)
    package: str  # the built-in parts: every public module of it (a new part is a new file)
    in_a_run: bool  # a run is made of one part of each such kind, in this order (base.Setup's)

    @property
    def name(self) -> str:
        return self.base.kind


# Every kind of part, declared here only: the names, bases and packages below are read from it.
_KINDS = (
    PartKind(Features, "fer_bench.parts.features", in_a_run=True),
    PartKind(Resampler, "fer_bench.parts.resamplers", in_a_run=True),
    PartKind(Model, "fer_bench.parts.models", in_a_run=True),
    # finds faces for the embedding, predict and evaluate
    PartKind(Detector, "fer_bench.parts.detectors", in_a_run=False),
)
BASES = {kind.name: kind.base for kind in _KINDS}
PART_KINDS = tuple(BASES)  # every kind, in the order `fer-bench list` shows them
KINDS = tuple(kind.name for kind in _KINDS if kind.in_a_run)  # the parts a run is made of
PLUGINS_VARIABLE = "FER_BENCH_PLUGINS"
ENTRY_POINT_GROUP = "fer_bench.parts.base"
_PARTS: dict[tuple[str, str], "RegisteredPart"] = {}
PartClass = TypeVar("PartClass", bound=type[Part])  # a decorated part keeps its own class to the type checker


@dataclass(frozen=True)
class RegisteredPart:
    kind: str
    name: str
    factory: type[Part]

    @property
    def params(self) -> tuple[Param, ...]:
        return tuple(self.factory.parameters.values())

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def param_names(self) -> set[str]:
        return set(self.factory.parameters)

    @property
    def version(self) -> str:
        return self.factory.version

    @property
    def search_space(self) -> dict[str, dict[str, Any] | None]:
        """{parameter: what a search may tune it over}, read from its tunable parameters."""
        return {p.name: p.search_space for p in self.params if p.search}

    @property
    def capabilities(self) -> list[str]:
        return capabilities(self.factory)

    @property
    def summary(self) -> str:
        return (inspect.getdoc(self.factory) or "").split("\n")[0]

    def resolve(self, values: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with `values`, each checked; unknown names are an error."""
        self._refuse_unknown(values)
        checked = {name: self.factory.parameters[name].check(self.key, v) for name, v in values.items()}
        return {p.name: p.default for p in self.params} | checked

    def specified(self, values: dict[str, Any]) -> dict[str, Any]:
        """The parameters a spec records of the part with `values` over its defaults (`built`)."""
        return self.recorded(self.built(values))

    def built(self, values: dict[str, Any]) -> Part:
        """The part with `values` over its defaults, each checked once, by its constructor (with the
        rules between them), then with the values that depend on this machine decided from them
        (Part.on_this_machine); unknown names are an error."""
        part = self.create(values)
        for name, value in self.factory.on_this_machine(part.get_params()).items():
            setattr(part, name, value)  # decided by the part's own code from checked values: not checked again
        return part

    def recorded(self, part: Part) -> dict[str, Any]:
        """The parameters a spec records of `part` (`built`): every one, less `added_later` ones at
        their defaults (so runs recorded before those were added keep their run ids)."""
        defaults = {p.name: p.default for p in self.params}
        return {k: v for k, v in part.get_params().items() if not (k in self.factory.added_later and v == defaults[k])}

    def create(self, values: dict[str, Any]) -> Part:
        """The part with `values` over its defaults, each checked once, by its constructor (with the
        rules between them); unknown names are an error."""
        self._refuse_unknown(values)
        try:
            return self.factory(**values)
        except ValueError as error:
            raise FerBenchError(f"{self.key}: {error}") from None

    def _refuse_unknown(self, values: dict[str, Any]) -> None:
        unknown = sorted(set(values) - self.param_names)
        if unknown:
            known = ", ".join(self.factory.parameters) or "none"
            raise FerBenchError(f"{self.key}: unknown parameter {unknown[0]!r} (known: {known})")


def register(kind: str, name: str) -> Callable[[PartClass], PartClass]:
    """Class decorator: register a part as `kind/name` (kind: features, resampler, model or detector).

    The class must derive from its kind's base in fer_bench.parts.base and declare its parameters
    in a `parameters` table, not as constructor arguments."""
    if kind not in PART_KINDS:
        raise ValueError(f"unknown part kind {kind!r}")

    def decorate(factory: PartClass) -> PartClass:
        if not (isinstance(factory, type) and issubclass(factory, BASES[kind])):
            raise TypeError(f"{kind}/{name}: {factory!r} must derive from fer_bench.parts.base.{BASES[kind].__name__}")
        named = [p for p in inspect.signature(factory.__init__).parameters.values() if p.kind is not p.VAR_KEYWORD]
        if len(named) > 1:
            raise TypeError(
                f"{kind}/{name}: declare its parameters in a `parameters` table (fer_bench.parts.params),"
                " not as constructor arguments"
            )
        factory.name = name
        _PARTS[(kind, name)] = RegisteredPart(kind, name, factory)
        return factory

    return decorate


class Registered(Options):
    """A parameter's constraint: the name of a registered part of `kind` (a part added later becomes
    a choice). It lives here, not in params.py, so that params.py imports nothing of the registry."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(part.name for part in parts(self.kind))


@contextlib.contextmanager
def temporary(kind: str, name: str, factory: type[Part]) -> Iterator[RegisteredPart]:
    """Register `factory` as `kind/name` inside a `with` block only (a test's part, or a stand-in for
    a registered one, which is back afterwards)."""
    load_parts()
    previous = _PARTS.get((kind, name))
    register(kind, name)(factory)
    try:
        yield _PARTS[(kind, name)]
    finally:
        if previous is None:
            del _PARTS[(kind, name)]
        else:
            _PARTS[(kind, name)] = previous


def load_parts() -> None:
    """Import the built-in parts (every public module of the part packages: a new part is a new
    file), the modules named in $FER_BENCH_PLUGINS and the installed plugins."""
    for kind in _KINDS:
        for module in pkgutil.iter_modules(getattr(importlib.import_module(kind.package), "__path__", ())):
            if not module.name.startswith("_"):
                importlib.import_module(f"{kind.package}.{module.name}")
    for plugin in filter(None, (m.strip() for m in os.environ.get(PLUGINS_VARIABLE, "").split(","))):
        _import_plugin(plugin, f"${PLUGINS_VARIABLE}")
    for entry in _installed_plugins():
        _import_plugin(entry.value, f"entry point {entry.name!r}")


@functools.cache
def _installed_plugins() -> tuple[EntryPoint, ...]:
    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def _import_plugin(module: str, where: str) -> None:
    try:
        importlib.import_module(module.split(":")[0])
    except ImportError as error:
        raise FerBenchError(f"plugin {module!r} ({where}) cannot be imported: {error}") from None


def get(kind: str, name: str) -> RegisteredPart:
    """The part registered as `kind/name`; an unknown name is a FerBenchError listing the known ones."""
    load_parts()
    try:
        return _PARTS[(kind, name)]
    except KeyError:
        names = sorted(n for k, n in _PARTS if k == kind)
        raise FerBenchError(f"unknown {kind} {name!r} (known: {', '.join(names)})") from None


def find(kind: str, name: str) -> RegisteredPart | None:
    """The registered part, or None (a record may name a part this installation does not have)."""
    load_parts()
    return _PARTS.get((kind, name))


def parts(kind: str | None = None) -> list[RegisteredPart]:
    """Every registered part (of `kind`, if given), sorted by kind and name; what `fer-bench list` shows."""
    load_parts()
    return [p for (k, _), p in sorted(_PARTS.items()) if kind in (None, k)]
