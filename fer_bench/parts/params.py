"""A part's parameters, declared once as data (scikit-learn's `_parameter_constraints`).

A part lists them in its `parameters` table, `{name: Param(default, constraint)}`: the default's
type is the parameter's type, and the constraint (`Interval`, `Options`, `RunIds`, or
`registry.Registered` for a part's name) says which values of it are allowed. The registry checks
values against them, and `fer-bench list` shows them. A tunable parameter also says what a search
may tune it over, `Param(default, constraint, search=Range(...) or Choices(...))`: its part's search
space is read from these, a search file narrows them, and the conformance checks hold each inside
its constraint.
"""

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from fer_bench.errors import FerBenchError

RUN_ID_LENGTH = 12


class Constraint(ABC):
    """Which values of a parameter's type are allowed; `str()` completes "must be ..."."""

    @abstractmethod
    def allows(self, value: Any) -> bool:
        """Whether `value`, of the parameter's type, is allowed."""


@dataclass(frozen=True)
class Interval(Constraint):
    """Numbers from `low` to `high` (None: unbounded); `closed` is "both", "left", "right" or "neither"."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __post_init__(self) -> None:
        if self.closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be both, left, right or neither, got {self.closed!r}")

    def allows(self, value: Any) -> bool:
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        above = self.low is None or (value >= self.low if left else value > self.low)
        below = self.high is None or (value <= self.high if right else value < self.high)
        return above and below

    def __str__(self) -> str:
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.high is None:
            return f"{'>=' if left else '>'} {self.low}"
        if self.low is None:
            return f"{'<=' if right else '<'} {self.high}"
        return f"in {'[' if left else '('}{self.low}, {self.high}{']' if right else ')'}"


class Options(Constraint):
    """One of the given values."""

    def __init__(self, *values: Any) -> None:
        self.values = values

    @property
    def choices(self) -> tuple:
        return self.values

    def allows(self, value: Any) -> bool:
        return value in self.choices

    def __str__(self) -> str:
        return f"one of {list(self.choices)}"


@dataclass(frozen=True)
class RunIds(Constraint):
    """Run ids (`fer-bench show NAME` gives one): a tuple of different ones, or with `optional`
    one id or "" for none."""

    optional: bool = False

    def allows(self, value: Any) -> bool:
        ids = ((value,) if value else ()) if self.optional else value
        return all(isinstance(i, str) and len(i) == RUN_ID_LENGTH for i in ids) and len(set(ids)) == len(ids)

    def __str__(self) -> str:
        what = '"" or a run id' if self.optional else "different run ids"
        return f"{what} ({RUN_ID_LENGTH} characters; `fer-bench show NAME` gives one)"


@dataclass(frozen=True)
class Range:
    """What a search may tune a number parameter over: `low` to `high` (integers for an integer
    parameter), on a log scale where `log`; `when` as Choices'."""

    low: float
    high: float
    log: bool = False
    when: dict[str, Any] | None = None

    def space(self, param: "Param") -> dict[str, Any]:
        return {"low": self.low, "high": self.high, **({"log": True} if self.log else {}), **_condition(self.when)}


class Choices:
    """What a search may tune a parameter over: the given values, or with none every value its
    `Options` constraint allows. `when` = {other parameter: value or [values]} tunes it only where
    the other parameters hold those (svm's gamma with the kernels that use it)."""

    def __init__(self, *values: Any, when: dict[str, Any] | None = None) -> None:
        self.values, self.when = values, when

    def space(self, param: "Param") -> dict[str, Any]:
        values = self.values or param.choices
        assert values is not None  # Param refuses Choices() without values unless its constraint is Options
        return {"choices": list(values), **_condition(self.when)}


def _condition(when: dict[str, Any] | None) -> dict[str, Any]:
    return {"when": when} if when else {}


@dataclass(frozen=True)
class Param:
    """A part parameter: its default (whose type values must have), what else it must satisfy, and
    what a search may tune it over (None: it is not tunable)."""

    default: object
    constraint: Constraint | None = None
    search: Range | Choices | None = None
    name: str = ""  # set from the part's `parameters` table

    def __post_init__(self) -> None:
        if isinstance(self.search, Choices) and not self.search.values and not isinstance(self.constraint, Options):
            raise TypeError("Choices() with no values tunes over the Options constraint's, and it has none")

    @property
    def choices(self) -> tuple | None:
        return self.constraint.choices if isinstance(self.constraint, Options) else None

    @property
    def search_space(self) -> dict[str, Any] | None:
        """Its `search` as a search file and Optuna take it: {"low", "high"[, "log"]} or
        {"choices"}, with "when" where it is conditional."""
        return self.search.space(self) if self.search else None

    def check(self, where: str, value: Any) -> Any:
        """`value` (an int as a float, a list as a tuple) if it fits, else a FerBenchError naming it."""
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
        if self.constraint is not None and not self.constraint.allows(value):
            raise FerBenchError(f"{where}: parameter {self.name!r} must be {self.constraint}, got {value!r}")
        return value

    def describe(self) -> str:
        """What `fer-bench list` shows after the default: the type and the constraint."""
        return type(self.default).__name__ + (f", {self.constraint}" if self.constraint else "")
