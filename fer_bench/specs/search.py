"""Search files (`experiments/searches/NAME.toml`) -> Search: what an Optuna study tunes, and how.

description = "..."
base = "svm"                  # the experiment whose parts are tuned
holdout = 0.2                 # the share of Training a `holdout` rule validates on
folds = 3                     # the folds of an `out-of-fold` rule
sampler_seed = 0
trials = 20                   # the study's total (`fer-bench tune --trials` overrides it)
compare_with = ["svm"]        # experiments whose runs the report pairs with the tuned run
[choose]                      # the rule the best trial is chosen by (fer_bench/specs/choice.py):
split = "holdout"             # a stratified share of Training, or "out-of-fold" (k-fold cross-validation)
metric = "accuracy_all"       # on validation images: accuracy_all (uncovered count as wrong) or accuracy
[space.model]                 # parameters to tune: `true` takes the part's declared range,
C = {low = 1.0, high = 300.0} # a table narrows it
gamma = true
[space.resampler]
name = {choices = ["none", "smote"]}   # a part's name can be a choice too
"""

import itertools
from dataclasses import dataclass

from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.specs.choice import HOLDOUT, OUT_OF_FOLD, Rule, parse_rule
from fer_bench.specs.experiment import MAX_SEED, Experiment, PartSpec, is_seed, load_base
from fer_bench.specs.files import check_keys, description, find_file, read_toml

SEARCH_KEYS = {"description", "base", "choose", "holdout", "folds", "sampler_seed", "space", "trials", "compare_with"}


@dataclass(frozen=True)
class Search:
    name: str
    description: str
    base: Experiment
    space: dict  # (kind, param) -> {"low", "high", "log"} | {"choices"}, optionally "when"
    rule: Rule  # the validation images (holdout or out-of-fold) and metric the best trial is chosen on
    holdout: float
    folds: int
    sampler_seed: int
    trials: int
    compare_with: tuple = ()  # experiment names

    @property
    def metric(self):
        return self.rule.metric

    @property
    def validation_text(self):
        if self.rule.split == HOLDOUT:
            return f"holdout ({self.holdout:g} of Training)"
        return f"{self.folds}-fold cross-validation on Training"


def load_search(name_or_path) -> Search:
    path = find_file(name_or_path, "search")
    return parse_search(path.stem, read_toml(path), str(path))


def parse_search(name, document, where) -> Search:
    check_keys(document, SEARCH_KEYS, where)
    rule = parse_rule(document, where, (HOLDOUT, OUT_OF_FOLD), f"search {name}")
    base = load_base(document, where)
    holdout, folds = document.get("holdout", 0.2), document.get("folds", 3)
    if not isinstance(holdout, float) or not 0 < holdout < 1 or type(folds) is not int or folds < 2:
        raise FerBenchError(f"{where}: need 0 < holdout < 1 and folds >= 2")
    space = _parse_space(base, document.get("space"), where)
    seed, trials = document.get("sampler_seed", 0), document.get("trials", 20)
    if not is_seed(seed) or type(trials) is not int or trials < 1:
        raise FerBenchError(f"{where}: sampler_seed must be an integer in 0..{MAX_SEED} and trials an integer >= 1")
    compare_with = document.get("compare_with", [])
    if not isinstance(compare_with, list) or not all(isinstance(n, str) for n in compare_with):
        raise FerBenchError(f"{where}: compare_with must be a list of experiment names")
    return Search(
        name, description(document, where), base, space, rule, holdout, folds, seed, trials, tuple(compare_with)
    )


def _parse_space(base, tables, where):
    if not isinstance(tables, dict) or not tables:
        raise FerBenchError(f"{where}: needs a [space.<kind>] table of parameters to tune")
    space = {}
    for kind, table in tables.items():
        if kind not in registry.KINDS or not isinstance(table, dict):
            raise FerBenchError(f"{where}: [space.{kind}]: kind must be one of {list(registry.KINDS)}")
        part = registry.get(kind, base.part(kind).name)
        for param, spec in table.items():
            context = f"{where}: space.{kind}.{param}"
            if param == "name":
                space[(kind, param)] = _part_choices(kind, spec, context)
                continue
            declared = part.search_space.get(param)
            if declared is None:
                tunable = ", ".join(part.search_space) or "none"
                raise FerBenchError(f"{context}: {part.key} does not declare it tunable (tunable: {tunable})")
            if spec is True:
                space[(kind, param)] = dict(declared)
            elif isinstance(spec, dict):
                narrow = _narrow_choices if "choices" in declared else _narrow_range
                condition = {"when": declared["when"]} if "when" in declared else {}
                space[(kind, param)] = {**narrow(declared, spec, context), **condition}
            else:
                raise FerBenchError(f"{context}: use true, {{low = .., high = ..}} or {{choices = [..]}}")
            if kind == "features" and "choices" not in space[(kind, param)]:
                raise FerBenchError(f"{context}: features parameters are tuned over choices only")
    if not space:
        raise FerBenchError(f"{where}: [space.<kind>] tables name no parameter to tune")
    return space


def _part_choices(kind, spec, context):
    choices = spec.get("choices") if isinstance(spec, dict) and set(spec) == {"choices"} else None
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
        raise FerBenchError(f'{context}: a part\'s name is tuned with {{choices = ["name", ...]}}')
    for choice in choices:
        try:
            registry.get(kind, choice)
        except FerBenchError as error:
            raise FerBenchError(f"{context}: {error}") from None
    return {"choices": choices}


def _narrow_choices(declared, spec, context):
    choices = spec.get("choices", declared["choices"]) if set(spec) <= {"choices"} else None
    allowed = [(type(c), c) for c in declared["choices"]]  # 64.0 is not the batch size 64
    if not isinstance(choices, list) or not choices or not all((type(c), c) in allowed for c in choices):
        raise FerBenchError(f"{context}: use {{choices = [..]}} drawn from {declared['choices']}")
    return {"choices": choices}


def _narrow_range(declared, spec, context):
    """`{low, high, log}` within the declared range; an integer range stays integer, a float range float."""
    if not set(spec) <= {"low", "high", "log"}:
        raise FerBenchError(f"{context}: a range parameter is tuned with {{low = .., high = .., log = ..}}")
    integer = type(declared["low"]) is int
    low, high = spec.get("low", declared["low"]), spec.get("high", declared["high"])
    log = spec.get("log", declared.get("log", False))
    numbers = (int,) if integer else (int, float)
    if not all(isinstance(v, numbers) and not isinstance(v, bool) for v in (low, high)) or type(log) is not bool:
        kind = "integers" if integer else "numbers"
        raise FerBenchError(f"{context}: low and high must be {kind} and log true or false")
    if not declared["low"] <= low < high <= declared["high"]:
        allowed = f"[{declared['low']}, {declared['high']}]"
        raise FerBenchError(f"{context}: range must lie within {allowed}, got [{low}, {high}]")
    if log and low <= 0:
        raise FerBenchError(f"{context}: a log range needs low > 0, got {low}")
    bounds = (low, high) if integer else (float(low), float(high))
    return {"low": bounds[0], "high": bounds[1], "log": log}


def applies(spec, current):
    """A parameter declared with `when = {other: value or [values]}` is tuned only where that holds."""
    for other, wanted in spec.get("when", {}).items():
        if current.get(other) not in (wanted if isinstance(wanted, list) else [wanted]):
            return False
    return True


def feature_variants(search: Search) -> list[PartSpec]:
    """Every features spec a trial can produce (loading the search checked that features parameters
    are tuned over choices only)."""
    tuned = {param: spec for (kind, param), spec in search.space.items() if kind == "features"}
    return [
        search.base.features.with_values("features", dict(zip(tuned, values)), lenient=True)
        for values in itertools.product(*(spec["choices"] for spec in tuned.values()))
    ]
