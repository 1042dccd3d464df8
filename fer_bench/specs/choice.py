"""Choice rules: the split and metric a file chooses among runs on, declared before the runs.

Every file that chooses among runs declares its rule in one form, a `[choose]` table:

    [choose]
    split = "PublicTest"     # what the choice reads: "PublicTest", "holdout" (the Training images
                             # a fit holds out) or "out-of-fold" (k-fold cross-validation on Training)
    metric = "accuracy_all"  # or "accuracy" (on the images a run evaluates)
    [choose.previous]        # optional: the rule the file declared when runs were recorded without one
    split = "holdout"
    metric = "accuracy"
    commit = "0db0281"       # the commit whose file said so

A grid chooses a setting per axis (PublicTest or holdout), an ensemble that selects its members
(`select = "greedy"`) on PublicTest accuracy, a search its best trial (holdout or out-of-fold). None
may choose on PrivateTest, the test split the boards report. A run made under a rule keeps it in its
record's `rule`, beside its spec and never in it: run ids do not change with a rule.
"""

from dataclasses import dataclass
from typing import TypedDict

from fer_bench.errors import FerBenchError
from fer_bench.specs.files import check_keys

PUBLIC_TEST, HOLDOUT, OUT_OF_FOLD = "PublicTest", "holdout", "out-of-fold"
REPORTED_TEST = "PrivateTest"  # the boards' test split: no choice may read it
METRICS = ("accuracy_all", "accuracy")
EXAMPLE = '[choose] split = "PublicTest", metric = "accuracy_all"'


class RecordedRule(TypedDict):
    """A Rule as a run's record keeps it (Record.rule)."""

    declared_in: str
    split: str
    metric: str


@dataclass(frozen=True)
class Rule:
    split: str
    metric: str
    declared_in: str = ""  # the file that declares it, as "grid NAME", "experiment NAME" or "search NAME"
    previous: "Rule | None" = None  # the rule runs recorded without one were made under
    commit: str | None = None  # of a previous rule: the commit whose file declared it

    @property
    def text(self):
        return f"{{split: {self.split}, metric: {self.metric}}}"

    def recorded(self) -> "RecordedRule":
        """The rule as a run's record keeps it."""
        return {"declared_in": self.declared_in, "split": self.split, "metric": self.metric}

    def is_recorded(self, recorded: "RecordedRule | None") -> bool:
        """Whether a record's `rule` is this rule."""
        return recorded == self.recorded()

    @classmethod
    def from_recorded(cls, recorded: "RecordedRule") -> "Rule":
        return cls(recorded["split"], recorded["metric"], recorded["declared_in"])


def parse_rule(document, where, splits, declared_in) -> Rule:
    """The `[choose]` table of a file that chooses among runs on one of `splits`: refused in one line
    naming the file and the option where it is missing, names PrivateTest, or names what is not allowed."""
    table = document.get("choose")
    if table is None:
        raise FerBenchError(f"{where}: choose: declare the split and metric this file chooses on, e.g. {EXAMPLE}")
    rule = _rule(table, where, "choose", splits, {"previous"})
    if "previous" not in table:
        return Rule(rule.split, rule.metric, declared_in)
    previous = _rule(table["previous"], where, "choose.previous", (REPORTED_TEST, *splits), {"commit"})
    commit = table["previous"].get("commit")
    if not isinstance(commit, str) or not commit:
        raise FerBenchError(f"{where}: choose.previous.commit must name the commit whose file declared it")
    return Rule(rule.split, rule.metric, declared_in, Rule(previous.split, previous.metric, declared_in), commit)


def _rule(table, where, option, splits, other_keys) -> Rule:
    if not isinstance(table, dict):
        raise FerBenchError(f"{where}: {option} must be a table, e.g. {EXAMPLE}")
    check_keys(table, {"split", "metric", *other_keys}, f"{where}: {option}")
    split, metric = table.get("split"), table.get("metric")
    if split == REPORTED_TEST and REPORTED_TEST not in splits:
        raise FerBenchError(
            f"{where}: {option}.split: {REPORTED_TEST} is the test split the boards report, "
            f"so nothing may be chosen on it; choose on one of {list(splits)}"
        )
    if split not in splits:
        raise FerBenchError(f"{where}: {option}.split must be one of {list(splits)}, got {split!r}")
    if metric not in METRICS:
        raise FerBenchError(f"{where}: {option}.metric must be one of {list(METRICS)}, got {metric!r}")
    assert isinstance(split, str) and isinstance(metric, str)  # each is one of the strings it was checked against
    return Rule(split, metric)
