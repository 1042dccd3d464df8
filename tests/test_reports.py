"""Reports compute, then render: each report's numbers from records alone (no file written), and
`compare` returning numbers that the comparison report formats."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fer_bench.analysis import boards, pairs
from fer_bench.analysis.yardsticks import AS_FER2013, Score, Split, Yardsticks, other_labels_score
from fer_bench.data import FER2013_CLASSES
from fer_bench.data.copies import GROUPING
from fer_bench.data.ferplus import FERPLUS_CLASSES
from fer_bench.reports import leaderboard
from fer_bench.reports.base import public_command, reports_to_link
from fer_bench.reports.calibration import CalibrationReport
from fer_bench.reports.comparison import ComparisonReport
from fer_bench.reports.grid import GridReport
from fer_bench.reports.labels import FerplusReport
from fer_bench.reports.search import SearchReport
from fer_bench.runs.records import Record, RunData
from fer_bench.scoring.metrics import encode_predictions, split_metrics
from fer_bench.specs.experiment import PartSpec, RunSpec
from fer_bench.specs.grid import load_grid
from fer_bench.specs.search import load_search
from fer_bench.testing import simulated_dataset

from conftest import CHEAP_EXPERIMENT, GRID_RULE, SEARCH_RULE

SPLIT = "PrivateTest"


def _record(spec, experiment, seed, predicted, labels, fit=2.0, params=None):
    """An ok record of `spec` (default: pixels, none and logreg with `params`) predicting `predicted`
    for the PrivateTest images of `labels`."""
    run_id = spec.run_id if spec is not None else f"{experiment}{seed}".ljust(12, "0")
    if spec is None:
        parts = {
            kind: PartSpec(name, dict((params or {}).get(kind, {})), "1")
            for kind, name in (("features", "pixels"), ("resampler", "none"), ("model", "logreg"))
        }
        spec = RunSpec(experiment, "f1", **parts, seed=seed, test_splits=(SPLIT,), backend="tensorflow")
    return Record(
        run_id=run_id,
        experiment=experiment,
        status="ok",
        spec=spec,
        seed=seed,
        created="2026-12-01T00:00:00+00:00",
        data=RunData("s", "usage folders", spec.data, len(labels), FER2013_CLASSES, "fer2013"),
        metrics={SPLIT: split_metrics(labels, predicted, FER2013_CLASSES)},
        predictions={SPLIT: encode_predictions(predicted)},
        timings={"fit": fit, "total": fit},
    )


@pytest.fixture
def grid_and_data(write_experiments):
    write_experiments(
        {
            "cheap.toml": CHEAP_EXPERIMENT,
            "grids/g.toml": 'base = "cheap"\n' + GRID_RULE + 'seeds = [0, 1]\n[[product]]\naxis = "model"\n'
            'model.name = ["test-centroid", "logreg"]\n',
        }
    )
    return load_grid("g"), simulated_dataset()


def test_the_grid_report_computes_each_settings_numbers_against_the_base(grid_and_data):
    grid, dataset = grid_and_data
    labels = dataset.labels[dataset.indices(SPLIT)]
    half_wrong = np.where(np.arange(len(labels)) % 2 == 0, labels, (labels + 1) % 7)
    logreg = next(e for e in grid.experiments if e.name != "cheap")
    records = [_record(grid.base.spec(dataset.fingerprint, seed), "cheap", seed, labels, labels) for seed in (0, 1)]
    records.append(_record(logreg.spec(dataset.fingerprint, 0), logreg.name, 0, half_wrong, labels, fit=4.0))

    info = GridReport().compute(grid, dataset, records)

    assert info.split == SPLIT and info.missing == [(logreg.name, 1, None)] and info.failed == []
    assert info.other_code == 0 and info.base is info.settings["cheap"]
    (base, base_row), (other, row) = info.rows_by_axis["model"]
    assert base_row.seeds == [0, 1] and base_row.mean == 1.0 and base_row.delta is None and base_row.p_values == []
    assert other is info.settings[logreg.name] and row.seeds == [0] and row.fit_s == 4.0
    assert row.mean == pytest.approx(0.5, abs=0.02) and row.delta == pytest.approx(row.mean - 1.0)
    assert len(row.p_values) == 1 and row.p_values[0] < 0.05 and row.n_evaluated == row.base_evaluated == len(labels)
    assert row.ci[0] <= row.mean <= row.ci[1] and row.delta_ci[0] <= row.delta <= row.delta_ci[1] < 0
    text = GridReport().markdown(info, "fer-bench grid g")
    assert "**Incomplete**: 1 cell(s) not run yet, 0 failed" in text and "(base)" in text


def test_a_grid_report_removes_the_figures_of_runs_it_no_longer_shows(grid_and_data, tmp_path):
    """A cell recorded again left its earlier run's figures in the grid's folder, linked from nowhere."""
    grid, dataset = grid_and_data
    labels = dataset.labels[dataset.indices(SPLIT)]
    records = [_record(grid.base.spec(dataset.fingerprint, seed), "cheap", seed, labels, labels) for seed in (0, 1)]
    folder = tmp_path / "grids" / "g"
    folder.mkdir(parents=True)
    (folder / "confusion-0123456789ab.png").write_bytes(b"an earlier run's")
    (folder / "notes.txt").write_text("not a figure")

    path = GridReport().write(GridReport().compute(grid, dataset, records), tmp_path, "fer-bench grid g")

    shown = {f"confusion-{r.run_id}.png" for r in records}
    assert {p.name for p in folder.glob("*.png")} == shown | {"accuracy.png"}
    assert all(f"(g/{name})" in path.read_text() for name in shown) and (folder / "notes.txt").is_file()


def test_the_grid_report_scores_each_setting_on_the_clean_images_and_the_other_labels(grid_and_data):
    grid, dataset = grid_and_data
    labels = dataset.labels[dataset.indices(SPLIT)]
    records = [_record(grid.base.spec(dataset.fingerprint, seed), "cheap", seed, labels, labels) for seed in (0, 1)]
    copied = np.arange(len(labels)) < 10
    ferplus = np.where(np.arange(len(labels)) % 2 == 0, labels, (labels + 1) % 7)  # FER+ agrees on half
    # (in FER+'s codes: argsort inverts the FER+ -> FER2013 map of its 7 shared classes)
    measured = Yardsticks(
        dataset.fingerprint,
        dataset.images_fingerprint,
        {SPLIT: Split(labels, np.argsort(AS_FER2013[:7])[ferplus], copied)},
        "t",
    )

    row = GridReport().compute(grid, dataset, records, [measured]).rows_by_axis["model"][0][1]
    bare = GridReport().compute(grid, dataset, records).rows_by_axis["model"][0][1]

    assert row.clean == 1.0 and row.other_labels == pytest.approx(0.5, abs=0.02)
    assert bare.clean is None and bare.other_labels is None
    text = GridReport().markdown(GridReport().compute(grid, dataset, records, [measured]), "fer-bench grid g")
    header = next(line for line in text.splitlines() if line.startswith("| setting"))
    assert "clean acc. %" in header and "acc. on the other labels %" in header


def test_a_ferplus_run_is_scored_against_fer2013_labels_with_contempt_wrong():
    ferplus_classes = [FERPLUS_CLASSES.index(c) for c in ("Happiness", "Contempt", "Neutral")]
    record = replace(
        _record(None, "f", 0, np.zeros(3, dtype=int), np.zeros(3, dtype=int)),
        predictions={SPLIT: encode_predictions(np.array(ferplus_classes))},
        data=RunData("s", "usage folders", "f1", 3, FERPLUS_CLASSES, "ferplus-majority"),
    )
    fer2013 = np.array([FER2013_CLASSES.index(c) for c in ("Happy", "Angry", "Sad")])
    split = Split(fer2013, np.array(ferplus_classes), np.zeros(3, dtype=bool))
    assert other_labels_score(record, split, SPLIT) == Score(1 / 3, 3)


def test_the_leaderboard_computes_its_boards_and_shows_the_parameters_that_tell_runs_apart():
    labels = np.arange(700) % 7
    right = lambda share: np.where(np.arange(700) < share * 700, labels, (labels + 1) % 7)  # noqa: E731
    records = [
        _record(None, "a", 0, right(0.5), labels, params={"model": {"C": 1.0, "max_iter": 100}}),
        _record(None, "b", 0, right(0.7), labels, params={"model": {"C": 10.0, "max_iter": 100}}),
    ]
    report = leaderboard.LeaderboardReport()

    info = report.compute(records)  # no report file lists logreg: its parameters that differ show
    (view,) = info.views
    assert [r.experiment for r in view.board.runs] == ["b", "a"] and view.clean is None and not view.has_yardsticks
    assert info.shown == {"logreg": {"C"}}
    assert "logreg (C=10)" in report.markdown(info, "")

    listed = report.compute(records, listed={"logreg": ["max_iter"]})
    assert listed.shown["logreg"] == {"max_iter"} and "logreg (max_iter=100)" in report.markdown(listed, "")
    assert "| 1 | b | embedding + classic ML | 70.00 | 1 |" in " ".join(leaderboard.headline(listed, "results").split())


def test_the_shipped_report_file_lists_every_part_on_the_leaderboard_with_what_it_shows():
    listed = boards.listed_params()
    assert listed["svm"] == ["C", "gamma"] and listed["embedding"] == ["protocol"] and listed["ensemble"] == []


def test_compare_returns_numbers_and_the_report_formats_them():
    labels = np.arange(700) % 7
    base = _record(None, "base", 0, labels, labels)
    other = _record(None, "other", 0, np.where(np.arange(700) < 350, labels, (labels + 1) % 7), labels)

    comparison = pairs.compare([base, other], labels, base.scored_against, SPLIT)

    (row,) = comparison.rows
    assert comparison.base is base and comparison.split == SPLIT and row.record is other
    assert row.accuracy_all == 0.5 and row.paired.shared == 700
    assert (row.paired.accuracy_a, row.paired.accuracy_b, row.paired.only_a, row.paired.only_b) == (1.0, 0.5, 350, 0)
    text = ComparisonReport().markdown(comparison, "fer-bench compare base other")
    assert "| `other` (seed 0, run `other0000000`) | 50.00" in text and "| +50.00 " in text and "350 / 0" in text
    assert comparison.agreement == [[1.0, 0.5], [0.5, 1.0]]
    assert "| 2. `other` (`other0000000`) | 50.0  | 100.0 |" in text


def test_a_report_names_its_command_without_the_machines_paths(tmp_path):
    assert public_command("fer-bench compare a b --data ../shared/fer2013 --out /tmp/x.md --split PublicTest") == (
        "fer-bench compare a b --data <fer2013> --out <x.md> --split PublicTest"
    )
    kept = "fer-bench compare a b --data data/fer2013 --out results/comparisons/x.md"  # inside a checkout
    assert public_command(kept) == kept
    assert public_command("fer-bench grid g --data='/my data/fer' --storage postgresql://me:secret@host/db") == (
        "fer-bench grid g --data=<fer> --storage <db>"
    )  # a storage URL may hold a password
    assert (
        public_command("fer_bench.labels(data=PosixPath('/work/shared/fer2013'))") == "fer_bench.labels(data=<fer2013>)"
    )
    assert public_command("fer_bench.grid('g', jobs=2)") == "fer_bench.grid('g', jobs=2)"
    labels = np.arange(700) % 7
    comparison = pairs.compare(
        [_record(None, "a", 0, labels, labels), _record(None, "b", 0, labels, labels)], labels, "f1", SPLIT
    )
    written = ComparisonReport().write(comparison, tmp_path, "fer-bench compare a b --data /work/shared/fer2013")
    assert "--data <fer2013>" in written.read_text() and "/work" not in written.read_text()


def test_the_leaderboard_finds_the_reports_it_links_and_links_them_in_their_order(tmp_path):
    linked = reports_to_link()
    assert all(report.folder for report in linked)
    assert len({r.title for r in linked}) == len({(r.title, r.folder, r.link_order) for r in linked})  # one line each
    (tmp_path / "grids").mkdir()
    (tmp_path / "grids" / "g.md").write_text("")
    links = leaderboard.linked_reports(tmp_path)
    in_order = (GridReport, SearchReport, ComparisonReport, FerplusReport, CalibrationReport)  # as ever
    assert list(links) == [report.title for report in in_order]
    assert links[GridReport.title] == ["grids/g.md"] and links[SearchReport.title] == []


SEARCH_REPORT = Path(__file__).parent / "fixtures" / "search-report.md"  # as written before reports computed


def test_the_search_report_renders_as_before(write_experiments):
    """`fer-bench tune` is too dear to run again for the shipped reports: the text is pinned here."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import TrialState, create_trial

    search = (
        f'description = "what it tunes"\nbase = "cheap"\n{SEARCH_RULE}sampler_seed = 3\n'
        'compare_with = ["paper", "svm", "svm-full"]\n[space.model]\nshrink = true\nmetric = true\n'
    )
    write_experiments({"cheap.toml": CHEAP_EXPERIMENT, "searches/s.toml": search})
    dataset = simulated_dataset()
    labels = dataset.labels[dataset.indices(SPLIT)]

    def run(run_id, experiment, share):
        record = _record(None, experiment, 0, np.where(np.arange(42) < share * 42, labels, (labels + 1) % 7), labels)
        metrics = {"PublicTest": record.metrics[SPLIT], SPLIT: record.metrics[SPLIT]}
        data = replace(record.data, fingerprint=dataset.fingerprint)
        return replace(record, run_id=run_id, metrics=metrics, data=data)

    study = optuna.create_study(direction="maximize")
    space = {
        "model.shrink": FloatDistribution(0.0, 1.0),
        "model.metric": CategoricalDistribution(["euclidean", "cosine"]),
    }
    # trial 0 ran before splits grouped copies (no "splits" attribute), trial 1 after
    for value, shrink, metric, grouped in ((0.5, 0.25, "cosine", {}), (0.75, 0.5, "euclidean", {"splits": GROUPING})):
        study.add_trial(
            create_trial(
                value=value,
                params={"model.shrink": shrink, "model.metric": metric},
                distributions=space,
                user_attrs={"worker": "host:1", **grouped},
            )
        )
    study.add_trial(
        create_trial(
            state=TrialState.PRUNED, params={"model.shrink": 0.1, "model.metric": "cosine"}, distributions=space
        )
    )
    best = run("b" * 12, "s", 0.8)
    records = [run("p" * 12, "paper", 0.6), run("q" * 12, "svm", 0.7), best]
    summary = {
        "storage": "sqlite:///s.db",
        "best_trial": 1,
        "best_value": 0.75,
        "validation": "holdout (0.2 of Training)",
    }
    summary["best_params"] = {"model.shrink": 0.5, "model.metric": "euclidean"}
    report = SearchReport()

    info = report.compute(load_search("s"), study, summary, best, records, dataset)

    assert [ref.name for ref in info.references] == ["paper", "svm"] and info.importances is None
    assert [t.number for t in info.completed] == [1, 0] and info.states["PRUNED"] == 1
    assert [t.grouped for t in info.completed] == [True, False]
    assert report.markdown(info, "fer-bench tune s") == SEARCH_REPORT.read_text()
