"""`results/grids/NAME.md`: a table per axis, figures, and what the numbers show, from the run records.

Each setting is compared (McNemar, points) with the base where both are scored against the same test
labels. A setting on other labels (a `labels` axis: FER+ against the base's FER2013) is compared
instead with its labels' reference: the setting on those labels that changes nothing else from the
base (its majority mode first); where the grid has none, it is reported without a comparison.

The grid file's rule (`[choose]`, fer_bench/specs/choice.py) picks each axis's setting: the report
applies the file's current rule, shows the column it chooses on beside the test figures, names the
pick, and says which runs were recorded under another rule, or before the file declared one.
"""

from dataclasses import dataclass, field

import numpy as np
from tabulate import tabulate

from fer_bench.analysis import yardsticks
from fer_bench.data.dataset import UNLABELLED
from fer_bench.reports import figures
from fer_bench.reports.base import Report
from fer_bench.runs import layout
from fer_bench.runs.records import report_split
from fer_bench.scoring.metrics import UNCOVERED, decode_predictions
from fer_bench.scoring.stats import bootstrap_ci, mcnemar_exact, mean_std, paired_bootstrap_ci
from fer_bench.specs.choice import HOLDOUT, Rule
from fer_bench.specs.grid import Grid

SIGNIFICANCE = 0.05
UNGROUPED = "(ungrouped)"  # beside a held-out figure of fits whose splits did not keep copies together


@dataclass
class Setting:
    """One experiment of the grid over its recorded seeds, on one test split."""

    axis_label: str
    records: list
    correct: np.ndarray  # (runs, images) bool
    evaluated: np.ndarray  # (runs, images) bool
    split: str
    scored_against: str = ""  # settings compare only with settings of the same (Dataset.scored_against)
    measured: yardsticks.Split | None = None  # the data set's yardsticks on `split` (from `fer-bench labels`)


@dataclass
class Summary:
    """The numbers of one table row: a setting over its seeds, and against the base where it has one."""

    seeds: list
    mean: float  # accuracy on the evaluated images, over the seeds
    std: float
    ci: tuple  # bootstrap 95% interval of the mean
    accuracy_all: float
    macro_f1: float
    n_evaluated: int  # images every seed evaluates
    fit_s: float
    held_out: float | None  # accuracy on the Training images the fits held out, where every seed's record has it
    ungrouped: bool  # a seed's splits of Training did not keep copies together (Record.ungrouped_splits)
    clean: float | None  # accuracy on the test images without a copy in Training (None: no yardsticks)
    other_labels: float | None  # accuracy against the labels it was not trained for (yardsticks.other_labels_score)
    chosen_on: float | None  # the grid rule's metric on its split, over the seeds (None: a seed's record lacks it)
    p_values: list = field(default_factory=list)  # McNemar against the base, per shared seed
    delta: float | None = None  # points against the base (None: the base itself, or no base)
    delta_ci: tuple | None = None  # bootstrap 95% interval of the difference, on the images both always evaluate
    delta_all: float | None = None
    base_evaluated: int | None = None
    against: str | None = None  # the label of the setting compared with (None: the base itself, or none)
    reference: bool = False  # the base, or the reference of its labels (see the module's doc)


@dataclass
class GridInfo:
    grid: Grid
    layout: str  # of the data set
    name: str  # of the data set (data_name): reports name no machine's path
    n_images: int
    fingerprint: str
    split: str
    settings: dict  # experiment name -> Setting, of the experiments with a record
    rows_by_axis: dict  # axis -> [(Setting, Summary)]
    missing: list  # (experiment, seed, None) of the cells not run yet
    failed: list  # (experiment, seed, error)
    other_code: int  # runs shown that other code or another backend made
    rules: dict  # (Rule or None, whether recorded) -> runs: the rules the runs shown were made under (rules_recorded)

    @property
    def base(self) -> Setting | None:
        return self.settings.get(self.grid.base.name)

    @property
    def chart_rows(self):
        """(axis, setting, mean, low, high) of every row, for the accuracy chart."""
        return [(axis, s.axis_label, row.mean, *row.ci) for axis, rows in self.rows_by_axis.items() for s, row in rows]


def _setting(label, records, labels, split, scored_against="", measured=None):
    predictions = np.stack([decode_predictions(r.predictions[split]) for r in records])
    evaluated = (predictions != UNCOVERED) & (labels != UNLABELLED)
    return Setting(label, records, predictions == labels, evaluated, split, scored_against, measured)


def references(grid: Grid, settings: dict, base_scored_against) -> dict:
    """scored_against -> the recorded setting the other settings scored so are compared with: the base
    on its labels (none while it has no record); on other labels, the setting that differs from the
    base in its labels only, in their majority mode where the grid has it (FER+ tests on the majority)."""
    found = {base_scored_against: settings.get(grid.base.name)}
    for experiment in sorted(grid.experiments, key=lambda e: e.labels.mode != "majority"):
        setting = settings.get(experiment.name)
        only_labels = all(experiment.part(kind) == grid.base.part(kind) for kind in ("features", "resampler", "model"))
        if setting is not None and only_labels and setting.scored_against not in found:
            found[setting.scored_against] = setting
    return {space: setting for space, setting in found.items() if setting is not None}


def _mean(records, split, metric):
    return float(np.mean([getattr(r.metrics[split], metric) for r in records]))


def _yardstick_mean(setting: Setting, score):
    """The mean over the seeds of a yardsticks score, None without the data set's yardsticks."""
    if setting.measured is None:
        return None
    return float(np.mean([score(r, setting.measured, setting.split).accuracy for r in setting.records]))


def rule_mean(setting: Setting, rule: Rule):
    """The rule's metric on the rule's split, over the setting's seeds; None where a record lacks it."""
    measured = [r.held_out if rule.split == HOLDOUT else r.metrics.get(rule.split) for r in setting.records]
    return None if None in measured else float(np.mean([getattr(m, rule.metric) for m in measured]))


def rules_recorded(rule: Rule, records) -> dict:
    """(rule, whether its records carry it) -> runs: a record without one was made under the file's
    previous rule where it declares one, else before any (None)."""
    counts: dict[tuple[Rule | None, bool], int] = {}
    for record in records:
        key = (Rule.from_recorded(record.rule), True) if record.rule else (rule.previous, False)
        counts[key] = counts.get(key, 0) + 1
    return counts


def summarize(setting: Setting, base: Setting | None, rule: Rule) -> Summary:
    """The numbers of one table row; `rule` the grid's, for the column it chooses on."""
    mean, std = mean_std([r.metrics[setting.split].accuracy for r in setting.records])
    shared = setting.evaluated.all(axis=0)
    row = Summary(
        reference=base is setting,
        seeds=[r.seed for r in setting.records],
        mean=mean,
        std=std,
        ci=tuple(bootstrap_ci(setting.correct[:, shared])),
        accuracy_all=_mean(setting.records, setting.split, "accuracy_all"),
        macro_f1=_mean(setting.records, setting.split, "macro_f1"),
        n_evaluated=int(shared.sum()),
        fit_s=float(np.mean([r.timings["fit"] for r in setting.records])),
        held_out=float(np.mean([r.held_out.accuracy for r in setting.records]))
        if all(r.held_out for r in setting.records)
        else None,
        ungrouped=any(r.ungrouped_splits for r in setting.records),
        clean=_yardstick_mean(setting, yardsticks.clean_score),
        other_labels=_yardstick_mean(setting, yardsticks.other_labels_score),
        chosen_on=rule_mean(setting, rule),
    )
    if base is not None and base is not setting:
        row.against = base.axis_label
        by_seed = {r.seed: i for i, r in enumerate(base.records)}
        for i, record in enumerate(setting.records):
            j = by_seed.get(record.seed)
            if j is None:
                continue
            both = setting.evaluated[i] & base.evaluated[j]
            row.p_values.append(mcnemar_exact(setting.correct[i, both], base.correct[j, both])[2])
        row.delta = mean - _mean(base.records, base.split, "accuracy")
        both = setting.evaluated.all(axis=0) & base.evaluated.all(axis=0)
        row.delta_ci = paired_bootstrap_ci(setting.correct[:, both], base.correct[:, both])
        row.delta_all = row.accuracy_all - _mean(base.records, base.split, "accuracy_all")
        row.base_evaluated = int(base.evaluated.all(axis=0).sum())
    return row


def _p_text(row: Summary):
    p = row.p_values
    if not p:
        return "base" if row.reference else "n/a"
    significant = sum(v < SIGNIFICANCE for v in p)
    return f"{np.median(p):.2g} ({significant}/{len(p)} < {SIGNIFICANCE})"


def _delta_text(row: Summary):
    """Points against the base, with the interval of the difference."""
    if row.delta is None:
        return "base" if row.reference else "n/a"
    assert row.delta_ci is not None  # a row with a difference has its interval
    low, high = row.delta_ci
    return f"{100 * row.delta:+.2f} ({100 * low:+.2f} to {100 * high:+.2f})"


def _pct(value):
    return f"{100 * value:.2f}"


def cell_record(spec, latest, earlier):
    """The record of a cell: of its run id (the last word on it, ok or failed), else the latest ok
    record of the same configuration made by other code or another backend (marked in the report)."""
    return latest.get(spec.run_id) or earlier.get(spec.config_id)


class GridReport(Report[GridInfo]):
    folder = layout.GRIDS
    title = "Grid reports (ablations over seeds, with intervals and tests)"
    link_order = 10

    def compute(self, grid: Grid, dataset, records, measured=()) -> GridInfo:
        """`measured`: the yardsticks of the data sets (yardsticks.load_all), for the clean and
        other-labels columns."""
        latest, earlier = {}, {}
        for record in records:
            latest[record.run_id] = record
            if record.ok:
                earlier[record.config_id] = record
        split = report_split(dataset.test_splits())
        by_labels = {}  # labels name -> `dataset` under those labels (a grid may vary them)

        def under(labels):
            if labels.name not in by_labels:
                by_labels[labels.name] = labels.apply(dataset)
            return by_labels[labels.name]

        settings, other_code = {}, 0
        missing: list[tuple[str, int, str | None]] = []  # (cell, seed, None): no record
        failed: list[tuple[str, int, str | None]] = []  # (cell, seed, its error)
        for experiment in grid.experiments:
            data = under(experiment.labels)
            runs = []
            for seed in grid.seeds:
                spec = experiment.spec(data.fingerprint, seed)
                record = cell_record(spec, latest, earlier)
                if record is None or not record.ok:
                    (failed if record else missing).append((experiment.name, seed, record and record.error))
                elif split in record.metrics:
                    runs.append(record)
                    other_code += record.run_id != spec.run_id
            if runs:
                labels = data.labels[data.indices(split)]
                found = yardsticks.for_record(measured, runs[0])
                on_split = found and found.splits.get(split)
                settings[experiment.name] = _setting(
                    grid.label_of(experiment), runs, labels, split, data.scored_against, on_split
                )
        shown = under(grid.base.labels)  # the base's data set, in the head
        against = references(grid, settings, shown.scored_against)
        rows_by_axis = {}
        for axis, experiments in grid.axes.items():
            recorded = [settings[e.name] for e in experiments if e.name in settings]
            rows_by_axis[axis] = [(s, summarize(s, against.get(s.scored_against), grid.rule)) for s in recorded]
        shown_runs = [r for s in settings.values() for r in s.records]
        return GridInfo(
            grid,
            shown.layout,
            shown.name,
            len(shown),
            shown.fingerprint,
            split,
            settings,
            rows_by_axis,
            missing,
            failed,
            other_code,
            rules_recorded(grid.rule, shown_runs),
        )

    def file_name(self, info: GridInfo) -> str:
        return f"{info.grid.name}.md"

    def figures(self, info: GridInfo):
        name, split = info.grid.name, info.split
        if info.chart_rows:
            yield f"{name}/accuracy.png", figures.accuracy_chart(info.chart_rows, split)
        for setting in info.settings.values():
            for record in setting.records:
                yield f"{name}/confusion-{record.run_id}.png", figures.confusion_matrix(record, split)
                if record.history:
                    yield f"{name}/curves-{record.run_id}.png", figures.training_curves(record)

    def figure_folder(self, info: GridInfo) -> str:
        """The grid's own folder: a cell recorded again leaves the figures of its earlier run there."""
        return info.grid.name

    def markdown(self, info: GridInfo, command: str) -> str:
        grid, split, base = info.grid, info.split, info.base
        failed, missing, settings, rows_by_axis = info.failed, info.missing, info.settings, info.rows_by_axis
        lines = [
            f"# Grid `{grid.name}`",
            "",
            f"Generated by `{command}` from the run records in `../runs.jsonl`; do not edit by hand.",
            f"Grid file: `experiments/grids/{grid.name}.toml`. {grid.description}",
            "",
            f"Data: {info.layout} `{info.name}` ({info.n_images} images, fingerprint `{info.fingerprint}`). "
            f"Seeds: {', '.join(map(str, grid.seeds))}. Every figure is on **{split}**"
            + ("." if grid.rule.split == split else f", but the column the rule chooses on ({grid.rule.split})."),
            "",
            _backends(settings),
            "",
            *_rule_lines(grid.rule, info.rules),
            "",
            "How to read a row: *mean +/- std* is the accuracy on the evaluated images (the study's figure) over",
            "the seeds (no std for one seed); *95% CI* is a bootstrap interval of that mean, resampling test",
            "images (2,000 draws); *points vs base* is the difference of the means, with the same bootstrap's",
            "interval of it (each resample the same images for both, on the images every seed of both evaluates);",
            f"*McNemar p* is the exact test against `{grid.base.name}` with the same seed on the images both",
            "evaluate: the median over seed pairs, and how many pairs fall under 0.05.",
            "",
        ]
        if any(s.measured is not None for s in settings.values()):
            lines[-1:-1] = [
                "*clean acc.*: on the test images without a copy in Training, against the setting's own labels;",
                "*acc. on the other labels*: a FER2013 setting against the FER+ majority (the images whose majority",
                "is one of FER2013's 7 classes), a FER+ setting against FER2013's labels (contempt counts as wrong);",
                "both from the data set's yardsticks (`fer-bench labels`), over the seeds.",
            ]
        if len({e.labels for e in grid.experiments}) > 1:
            lines[-1:-1] = [
                "A setting on other test labels than the base's is compared, as its row says, with the setting on",
                "its labels that changes nothing else from the base, where the grid has one.",
            ]
        if info.other_code:
            lines += [
                f"**{info.other_code} of the runs shown were made by other code, another Keras backend or splits of",
                "Training that did not keep copies together** (their part versions, backend or `split_groups` differ",
                f"from this report's; see the record of each run id): `fer-bench grid {grid.name}` runs those cells",
                "again with the current code.",
                "",
            ]
        if any(row.ungrouped and row.held_out is not None for rows in rows_by_axis.values() for _, row in rows):
            lines += [
                f"Held-out Training accuracy marked {UNGROUPED}: its fits split Training before splits kept copies",
                "of an image together, so some held-out images have a copy among the images fitted on",
                "(fer_bench/data/copies.py).",
                "",
            ]
        if failed or missing:
            lines += [f"**Incomplete**: {len(missing)} cell(s) not run yet, {len(failed)} failed:", ""]
            lines += [f"- `{name}` seed {seed}: {error or 'not run'}" for name, seed, error in failed + missing]
            lines += [""]
        if grid.refused:
            lines += [f"Not run, because their parts refuse to run together ({len(grid.refused)}):", ""]
            lines += [f"- `{name}`: {reason}" for name, reason in grid.refused]
            lines += [""]
        if base is None:
            lines += [f"_The base `{grid.base.name}` has no record yet, so nothing is compared with it._", ""]
        effects = _effects(rows_by_axis)
        if effects:
            lines += [
                "## Largest effects",
                "",
                tabulate(
                    [
                        [
                            axis,
                            f"`{s.axis_label}`" + _versus(row, grid.base.name),
                            _delta_text(row),
                            f"{100 * row.delta_all:+.2f}",
                            _p_text(row),
                        ]
                        for axis, s, row in effects
                    ],
                    [
                        "axis",
                        "setting",
                        f"points vs `{grid.base.name}` (95% CI)",
                        "points over all images",
                        "McNemar p",
                    ],
                    tablefmt="github",
                    disable_numparse=True,
                ),
                "",
            ]
        if info.chart_rows:
            lines += [f"![{split} accuracy per setting]({grid.name}/accuracy.png)", ""]
        if base is not None:
            first = base.records[0]
            lines += [
                f"The base `{grid.base.name}`, seed {first.seed}: confusion matrix and training curves",
                "(the study's figures 4, 2 and 3).",
                "",
                f"![confusion matrix]({grid.name}/confusion-{first.run_id}.png)",
            ]
            if first.history:
                lines += [f"![training curves]({grid.name}/curves-{first.run_id}.png)"]
            lines += [""]
        for axis, rows in rows_by_axis.items():
            if not rows:  # e.g. a machine sharing a grid whose cells of this axis the others took
                lines += [f"## {axis}", "", "_No cell of this axis is recorded in these results yet._", ""]
                continue
            lines += [
                f"## {axis}",
                "",
                _axis_table(rows, grid.base.name, grid.rule),
                "",
                _pick_sentence(rows, grid.rule, split),
                *_sentences(rows, base, grid),
                "",
            ]
            lines += ["Figures per run: " + "; ".join(_figure_links(grid, s) for s, _ in rows), ""]
        return "\n".join(lines)


def _isa(record):
    return f" {record.hardware['isa']}" if "isa" in record.hardware else ""


def _backends(settings):
    """Which Keras backend trained the runs: fit times compare only within one backend."""
    counts = {}
    for setting in settings.values():
        for record in setting.records:
            counts[record.backend] = counts.get(record.backend, 0) + 1
    records = [r for s in settings.values() for r in s.records if r.hardware]
    machines = {f"{r.hardware['processor']}{_isa(r)}, {r.hardware['cores']} cores" for r in records}
    listed = ", ".join(f"{backend} ({n} runs)" for backend, n in sorted(counts.items()))
    return f"Keras backend: {listed}; machine: {'; '.join(sorted(machines)) or 'unknown'}."


def _versus(row: Summary, base_name):
    """What a row is compared with, where that is not the grid's base."""
    if row.reference or row.against == base_name:
        return ""
    return " (no base on its labels)" if row.against is None else f" (vs `{row.against}`)"


def _role(setting, row: Summary, base_name):
    if setting.axis_label == base_name:
        return " (base)"
    return " (base of its labels)" if row.reference else _versus(row, base_name)


def _rule_lines(rule: Rule, recorded):
    """The grid's rule, and the runs recorded under another, or before the file declared one."""
    lines = [
        f"Choice rule (`[choose]` in the grid file): each axis's setting is the one with the highest "
        f"{_metric_text(rule)} (mean over seeds), **{rule.text}**; its column stands beside the test figures."
    ]
    for (earlier, carried), runs in recorded.items():
        if earlier is None:
            lines.append(f"The rule was declared after {runs} of the runs shown: their records carry none.")
        elif not carried:
            lines.append(
                f"**Rule changed after {runs} runs**: recorded under {earlier.text} (the grid file at "
                f"`{rule.commit}` said so; their records carry no rule), now {rule.text}."
            )
        elif earlier.declared_in == rule.declared_in and earlier.text != rule.text:
            lines.append(f"**Rule changed after {runs} runs**: recorded under {earlier.text}, now {rule.text}.")
        elif earlier.declared_in != rule.declared_in:
            lines.append(
                f"{runs} of the runs shown were recorded under another file's rule: {earlier.text} "
                f"({earlier.declared_in})."
            )
    return lines


def _metric_text(rule: Rule):
    """The rule's metric on its split, as the report's headers name it."""
    where = "held-out Training" if rule.split == HOLDOUT else rule.split
    return f"{where} {'acc. all images' if rule.metric == 'accuracy_all' else 'accuracy'}"


def _pick(rows, rule: Rule):
    """The setting `rule` chooses among `rows` (the first of the highest), or why none: their
    settings are scored against different test labels, or one lacks the rule's figure."""
    if len({s.scored_against for s, _ in rows}) > 1:
        return "its settings are scored against different test labels"
    values = [rule_mean(s, rule) for s, _ in rows]
    if None in values:
        return f"`{rows[values.index(None)][0].axis_label}` has no {_metric_text(rule)} in its records"
    return rows[values.index(max(values))][0]


def _pick_sentence(rows, rule: Rule, split):
    """What the rule chooses and how the pick scores on the test split; what a previous rule chose."""
    sentences = []
    for which, applied in (("The rule chooses", rule), ("The previous rule chose", rule.previous)):
        if applied is None:
            continue
        pick = _pick(rows, applied)
        if isinstance(pick, str):
            sentences.append(f"{which} no setting here: {pick}.")
        elif pick is not None:
            row = next(row for s, row in rows if s is pick)
            sentences.append(
                f"{which} `{pick.axis_label}` ({_metric_text(applied)} "
                f"{_pct(rule_mean(pick, applied))}%), {_pct(row.mean)}% on {split}."
            )
    return " ".join(sentences)


def _axis_table(rows, base_name, rule: Rule):
    """One row per setting, the rule's pick marked, with the column the rule chooses on; a held-out
    column where any setting has held-out accuracy (no test image goes into it)."""
    pick = _pick(rows, rule)
    table = [
        [
            f"`{s.axis_label}`" + _role(s, row, base_name) + (" **chosen**" if s is pick else ""),
            len(row.seeds),
            _pct(row.mean) + (f" +/- {_pct(row.std)}" if len(row.seeds) > 1 else ""),
            f"{_pct(row.ci[0])} - {_pct(row.ci[1])}",
            row.n_evaluated,
            _pct(row.accuracy_all),
            "n/a" if row.chosen_on is None else _pct(row.chosen_on),
            _pct(row.macro_f1),
            _delta_text(row),
            _p_text(row),
            f"{row.fit_s:.0f}",
        ]
        for s, row in rows
    ]
    headers = [
        "setting",
        "seeds",
        "accuracy %",
        "95% CI",
        "evaluated",
        "acc. all images %",
        f"{_metric_text(rule)} % (chosen on)",
        "macro-F1 %",
        "points vs base (95% CI)",
        "McNemar p vs base",
        "fit s",
    ]
    optional = [
        ("held-out Training acc. %", lambda row: row.held_out),
        ("clean acc. %", lambda row: row.clean),
        ("acc. on the other labels %", lambda row: row.other_labels),
    ]
    for header, value in optional:
        if any(value(row) is not None for _, row in rows):
            headers.append(header)
            for line, (_, row) in zip(table, rows):
                marked = header.startswith("held-out") and row.ungrouped
                line.append("n/a" if value(row) is None else _pct(value(row)) + (f" {UNGROUPED}" if marked else ""))
    return tabulate(table, headers, tablefmt="github", disable_numparse=True)


def _sentences(rows, base, grid):
    """Two sentences that state what the axis's numbers show."""
    ranked = sorted(rows, key=lambda item: -item[1].mean)
    (best, best_row), (worst, worst_row) = ranked[0], ranked[-1]
    first = (
        f"`{best.axis_label}` scores highest ({_pct(best_row.mean)}%) and `{worst.axis_label}` lowest "
        f"({_pct(worst_row.mean)}%), a spread of {100 * (best_row.mean - worst_row.mean):.2f} points"
    )
    if base is not None and len(base.records) > 1:
        base_std = mean_std([r.metrics[base.split].accuracy for r in base.records])[1]
        first += f" against a seed-to-seed std of {_pct(base_std)} points for `{grid.base.name}`"
    elif base is not None:
        first += f"; `{grid.base.name}` has one seed: no seed-to-seed spread"
    if len({s.scored_against for s, _ in rows}) > 1:
        first = "Its settings are scored against different test labels: their accuracies compare only on the same ones"
    compared = [(s, row) for s, row in rows if row.p_values]
    if not compared:
        return [first + ".", "No setting of this axis could be compared with the base."]
    parts = [
        f"`{s.axis_label}`{_versus(row, grid.base.name)} {100 * row.delta:+.2f} points "
        f"(median p {np.median(row.p_values):.2g}, "
        f"{sum(p < SIGNIFICANCE for p in row.p_values)}/{len(row.p_values)} seed pairs < {SIGNIFICANCE})"
        + (
            f", but it evaluates {row.n_evaluated} images against {row.base_evaluated}: "
            f"{100 * row.delta_all:+.2f} points over all images"
            if row.n_evaluated != row.base_evaluated
            else ""
        )
        for s, row in compared
    ]
    consistent = [s.axis_label for s, row in compared if all(p < SIGNIFICANCE for p in row.p_values)]
    verdict = (
        f"McNemar's test separates {', '.join(f'`{c}`' for c in consistent)} from the base in every seed pair"
        if consistent
        else "no setting differs from the base significantly in every seed pair"
    )
    unless = " unless another is named" if any(_versus(row, grid.base.name) for _, row in compared) else ""
    return [first + ".", f"Against `{grid.base.name}`{unless}: " + "; ".join(parts) + f" — {verdict}."]


def _effects(rows_by_axis):
    """Per axis, its setting furthest from the base; largest first."""
    effects = []
    for axis, rows in rows_by_axis.items():
        compared = [(s, row) for s, row in rows if row.delta is not None]
        if compared:
            s, row = max(compared, key=lambda item: abs(item[1].delta))
            effects.append((axis, s, row))
    return sorted(effects, key=lambda item: -abs(item[2].delta))


def _figure_links(grid, setting):
    links = []
    for r in setting.records:
        links.append(f"[confusion s{r.seed}]({grid.name}/confusion-{r.run_id}.png)")
        if r.history:
            links.append(f"[curves s{r.seed}]({grid.name}/curves-{r.run_id}.png)")
    return f"`{setting.axis_label}` " + " ".join(links)
