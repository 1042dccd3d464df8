"""One registry for every kind of interchangeable part (features, resampler, model).

A part is a class derived from its kind's base in `fer_bench.parts.base` and registered with
`@register(kind, name)`; its constructor's keyword arguments, with their defaults, are the part's
parameters, and `typing.Literal` annotations restrict choices. Parts outside fer-bench register the
same way in a module named in `FER_BENCH_PLUGINS` (comma-separated) or in the entry-point group
`fer_bench.parts.base` of an installed package; `fer-bench list` shows them with the built-in ones.
"""

import functools
import importlib
import inspect
import math
import os
import typing
from dataclasses import dataclass
from importlib.metadata import entry_points

from fer_bench.errors import FerBenchError
from fer_bench.parts.base import BASES, capabilities

KINDS = ("features", "resampler", "model")
_PACKAGES = ("fer_bench.parts.features", "fer_bench.parts.resamplers", "fer_bench.parts.models")
PLUGINS_VARIABLE = "FER_BENCH_PLUGINS"
ENTRY_POINT_GROUP = "fer_bench.parts.base"
_PARTS: dict = {}


@dataclass(frozen=True)
class Param:
    name: str
    default: object
    choices: tuple | None = None

    def check(self, where, value):
        """Return `value` if it fits this parameter, else raise a FerBenchError naming it."""
        expected = type(self.default)
        ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if expected is tuple and isinstance(value, list):  # TOML and JSON give lists
            value, ok = tuple(value), True
        if not ok:
            raise FerBenchError(f"{where}: parameter {self.name!r} must be {expected.__name__}, got {value!r}")
        if expected is float and not math.isfinite(value):
            raise FerBenchError(f"{where}: parameter {self.name!r} must be a finite number, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise FerBenchError(f"{where}: parameter {self.name!r} must be one of {list(self.choices)}, got {value!r}")
        return value


@dataclass(frozen=True)
class RegisteredPart:
    kind: str
    name: str
    factory: type
    params: tuple

    @property
    def key(self):
        return f"{self.kind}/{self.name}"

    @property
    def param_names(self):
        return {p.name for p in self.params}

    @property
    def version(self):
        return self.factory.version

    @property
    def search_space(self):
        return self.factory.search_space

    @property
    def capabilities(self):
        return capabilities(self.factory)

    @property
    def summary(self):
        return (inspect.getdoc(self.factory) or "").split("\n")[0]

    def resolve(self, values):
        """Defaults overlaid with `values`, each checked; unknown names are an error."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise FerBenchError(f"{self.key}: unknown parameter {unknown[0]!r} (known: {', '.join(known) or 'none'})")
        resolved = {p.name: p.default for p in self.params}
        resolved.update({name: known[name].check(self.key, v) for name, v in values.items()})
        return resolved

    def create(self, values):
        resolved = self.resolve(values)
        try:
            return self.factory(**resolved)
        except ValueError as error:
            raise FerBenchError(f"{self.key}: {error}") from None


def register(kind, name):
    if kind not in KINDS:
        raise ValueError(f"unknown part kind {kind!r}")

    def decorate(factory):
        if not (isinstance(factory, type) and issubclass(factory, BASES[kind])):
            raise TypeError(f"{kind}/{name}: {factory!r} must derive from fer_bench.parts.base.{BASES[kind].__name__}")
        factory.name = name
        _PARTS[(kind, name)] = RegisteredPart(kind, name, factory, _params_of(factory))
        return factory

    return decorate


def _params_of(factory):
    hints = typing.get_type_hints(factory.__init__)
    params = []
    for p in inspect.signature(factory).parameters.values():
        if p.kind is not p.KEYWORD_ONLY and p.kind is not p.POSITIONAL_OR_KEYWORD:
            continue
        if p.default is p.empty:
            raise TypeError(f"{factory.__name__}.{p.name} needs a default to be a part parameter")
        hint = hints.get(p.name)
        choices = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else None
        params.append(Param(p.name, p.default, choices))
    return tuple(params)


def load_parts():
    """Import the built-in parts, the modules named in $FER_BENCH_PLUGINS and the installed plugins."""
    for package in _PACKAGES:
        importlib.import_module(package)
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_VARIABLE, "").split(","))):
        _import_plugin(module, f"${PLUGINS_VARIABLE}")
    for entry in _installed_plugins():
        _import_plugin(entry.value, f"entry point {entry.name!r}")


@functools.cache
def _installed_plugins():
    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def _import_plugin(module, where):
    try:
        importlib.import_module(module.split(":")[0])
    except ImportError as error:
        raise FerBenchError(f"plugin {module!r} ({where}) cannot be imported: {error}") from None


def get(kind, name) -> RegisteredPart:
    load_parts()
    try:
        return _PARTS[(kind, name)]
    except KeyError:
        names = sorted(n for k, n in _PARTS if k == kind)
        raise FerBenchError(f"unknown {kind} {name!r} (known: {', '.join(names)})") from None


def find(kind, name) -> RegisteredPart | None:
    """The registered part, or None (a record may name a part this installation does not have)."""
    load_parts()
    return _PARTS.get((kind, name))


def parts(kind=None):
    load_parts()
    return [p for (k, _), p in sorted(_PARTS.items()) if kind in (None, k)]
