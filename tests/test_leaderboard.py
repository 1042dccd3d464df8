import re
from dataclasses import replace
from itertools import takewhile

import numpy as np
import pytest

from fer_bench.analysis import boards, ferplus_modes, provenance
from fer_bench.analysis.reference import kaggle_place
from fer_bench.analysis.yardsticks import Split, Yardsticks
from fer_bench.data import FER2013_CLASSES
from fer_bench.data.dataset import UNLABELLED
from fer_bench.data.ferplus import FERPLUS_CLASSES
from fer_bench.parts import registry
from fer_bench.reports import leaderboard
from fer_bench.runs.records import RunData
from fer_bench.scoring.metrics import UNCOVERED, encode_predictions, split_metrics
from fer_bench.specs.experiment import PartSpec
from fer_bench.testing import example_record

Y = np.arange(1000) % 7


def record(
    run_id,
    experiment,
    accuracy,
    fingerprint="f1",
    splits=("PublicTest", "PrivateTest"),
    coverage=1.0,
    versions=True,
    seed=0,
):
    metrics, predictions = {}, {}
    for split in splits:
        pred = np.where(np.arange(1000) < accuracy * 1000, Y, (Y + 1) % 7)
        pred[int(coverage * 1000) :] = UNCOVERED
        metrics[split], predictions[split] = split_metrics(Y, pred, FER2013_CLASSES), encode_predictions(pred)
    r = example_record(
        run_id,
        experiment,
        fingerprint,
        versions,
        metrics=metrics,
        predictions=predictions,
        timings={"fit": 20.0, "total": 30.0},
    )
    return replace(r, spec=replace(r.spec, seed=seed), seed=seed, hardware={"keras_backend": "tensorflow", "cores": 2})


def _render(records, measured=()):
    report = leaderboard.LeaderboardReport()
    return report.markdown(report.compute(records, measured), "fer-bench leaderboard")


def _main_table(text, title="## usage folders"):
    """The lines of the first table under the board `title`."""
    lines = text[text.index(title) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    return list(takewhile(lambda line: line.startswith("|"), lines[start:]))


def _caption(text, title="## usage folders"):
    """The sentence over the first table under the board `title`."""
    lines = text[text.index(title) :].splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith("|")) - 2]


def _cells(line):
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_runs_rank_by_accuracy_over_all_images_not_on_the_covered_subset():
    subset_champion = record("a" * 12, "detector", 0.6, coverage=0.7)  # 60% over all, 85.7% on covered
    whole = record("b" * 12, "full", 0.65)
    board = boards.boards([subset_champion, whole])[0]
    assert [r.experiment for r in board.runs] == ["full", "detector"]
    text = _render([subset_champion, whole])
    assert "700/1000 (70.0%)" in text and "85.71" in text


def test_each_data_set_gets_its_own_board_and_train_test_data_ranks_on_test():
    records = [
        record("a" * 12, "p", 0.5),
        record("b" * 12, "q", 0.6),
        record("c" * 12, "t", 0.7, fingerprint="f2", splits=("Test",)),
    ]
    found = boards.boards(records)
    assert [(b.data.fingerprint, b.split) for b in found] == [("f1", "PrivateTest"), ("f2", "Test")]
    text = _render(records)
    assert text.count("\n## usage folders") == 2 and "Test acc. (all 1000 images, 7 classes)" in text


def test_a_rerun_replaces_its_earlier_record_on_the_board():
    old, new = record("a" * 12, "p", 0.5), record("a" * 12, "p", 0.55)
    (board,) = boards.boards([old, new])
    assert len(board.runs) == 1 and board.runs[0] is new


def test_a_run_of_the_current_code_replaces_the_earlier_codes_on_the_board():
    legacy, current = record("a" * 12, "p", 0.5, versions=False), record("b" * 12, "p", 0.5)
    assert legacy.config_id == current.config_id
    assert boards.boards([legacy, current])[0].runs == [current]
    assert boards.boards([current, legacy])[0].runs == [current]  # never the older code's over it
    on_jax = replace(legacy, run_id="c" * 12, spec=replace(legacy.spec, backend="jax"))
    assert len(boards.boards([on_jax, current])[0].runs) == 2  # another backend is another run


def test_a_resumed_run_shows_the_training_its_earlier_attempts_did():
    whole = record("a" * 12, "p", 0.5)
    resumed = replace(record("b" * 12, "q", 0.6), timings={"total": 600.0, "fit_earlier_attempts": 300.0})
    text = _render([whole, resumed])
    main, details = text.split("## Details")
    assert "| 5.0 min, resumed, 2 cores " in main and "| 20 s, 2 cores " in main  # training: the fits'
    assert "| 15.0 min, resumed, 2 cores " in details and "| 30 s, 2 cores " in details  # the runs'

    hardware = {"keras_backend": "tensorflow", "cores": 2, "isa": "avx512-bf16"}
    seeds = [
        replace(record(c * 12, "p", 0.5, seed=seed), hardware=hardware, timings={"fit": fit, "total": fit})
        for c, seed, fit in (("c", 0, 450.0), ("d", 1, 558.0))
    ]
    assert "| 8.4 min, 2 cores avx512-bf16 |" in re.sub(" +", " ", _render(seeds))  # the mean over seeds


def test_runs_of_earlier_code_are_marked():
    current, legacy = record("a" * 12, "now", 0.5), record("b" * 12, "before", 0.6, versions=False)
    changed = record("c" * 12, "changed", 0.55)
    changed = replace(changed, spec=replace(changed.spec, model=replace(changed.spec.model, version="0")))
    assert current.outdated_parts() == [] and changed.outdated_parts() == ["model/logreg v0, now v1"]
    assert len(legacy.outdated_parts()) == 3
    text = _render([current, legacy, changed])
    assert "| before †" in text and "| changed †" in text and "| now " in text and "| now †" not in text


def test_configurations_of_older_code_rank_apart_below_the_main_table():
    current, legacy = record("a" * 12, "now", 0.5), record("b" * 12, "before", 0.6, versions=False)
    text = _render([current, legacy])
    main = "\n".join(_main_table(text))
    older = text[text.index("### Older code †") : text.index("## The study")]
    assert "| now " in main and "before" not in main
    assert "| 1   | before † " in older and "now" not in older.split("\n\n", 2)[2]
    assert text.index("### Older code") < text.index("## Details")


def test_the_main_table_has_at_most_ten_columns_every_column_stays_in_the_details():
    copied = np.arange(1000) < 100
    yard = Yardsticks("f1", "images", {"PrivateTest": Split(Y, Y, copied)}, "test")
    text = _render([record("a" * 12, "p", 0.5), record("b" * 12, "q", 0.6)], [yard])
    header = _main_table(text)[0]
    assert _cells(header) == [
        "#",
        "experiment",
        "PrivateTest acc. (all 1000 images, 7 classes)",
        "seeds",
        "clean acc. (900 images)",
        "FER+ acc. (1000 images, 7 classes)",
        "coverage",
        "training (on)",
        "run id",
    ]
    details = text[text.index("## Details") :]
    for column in (
        "seed",
        "features",
        "resampler",
        "model",
        "acc. on evaluated",
        "macro-F1",
        "FER+ rank (change)",
        "PublicTest acc. (all)",
        "Kaggle place (of 56)",
        "run time (on)",
    ):
        assert f"| {column} " in details, column
    assert '<a id="details-f1"></a>' in details and "[details](#details-f1)" in text


def test_seeds_of_a_configuration_fold_into_one_row_with_mean_std_and_their_number():
    seeds = [record("a" * 12, "p", 0.60), record("b" * 12, "p", 0.64, seed=1), record("c" * 12, "q", 0.70)]
    text = _render(seeds)
    rows = [_cells(line) for line in _main_table(text)[2:] if _cells(line)[0].isdigit()]  # no reference
    assert [row[:4] for row in rows] == [["1", "q", "70.00", "1"], ["2", "p", "62.00 ± 2.83", "2"]]
    assert rows[1][-1] == f"`{seeds[0].spec.run_id}`"  # the configuration's id: its seed 0's run id
    details = text[text.index("## Details") :]
    assert all(f"`{r.run_id}`" in details for r in seeds)  # each seed apart


def test_boards_are_named_by_layout_name_and_fingerprint_never_by_a_path():
    located = replace(
        record("a" * 12, "p", 0.5),
        data=RunData("/work/shared/fer2013", "usage folders", "f1", 1000, FER2013_CLASSES, "fer2013"),
    )
    text = _render([located])
    titles = re.findall(r"^#+ .*$", text, flags=re.MULTILINE)
    assert "## usage folders `fer2013` (1000 images, fingerprint `f1`)" in titles
    assert "/work" not in text and "shared/" not in text


def test_kaggle_places():
    assert kaggle_place(71.2) == "1 of 56"
    assert kaggle_place(66.0) == "5 of 56"
    assert kaggle_place(54.0) == "below 10th of 56"


def test_readme_headline_block_is_replaced_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- leaderboard:start -->\nSTALE\n<!-- leaderboard:end -->\noutro\n")
    runs = [record(f"{i:012d}", f"e{i}", 0.3 + i / 100) for i in range(12)]
    info = leaderboard.LeaderboardReport().compute(runs, frontier=True)
    leaderboard.update_readme(info, readme, tmp_path / "results")
    text = readme.read_text()
    assert "STALE" not in text and text.startswith("intro\n") and text.endswith("outro\n")
    rows = [
        line
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith("| #") and _cells(line)[2] != "reference"
    ]
    assert [_cells(row)[1] for row in rows] == [f"e{i}" for i in range(11, 1, -1)]  # the best ten, best first
    assert len(_cells(rows[0])) <= 6 and "| 41.00 " in rows[0]
    assert "[results/LEADERBOARD.md](results/LEADERBOARD.md)" in text
    assert "(results/frontier.png)](results/frontier.md)" in text


def test_readme_without_markers_is_an_error(tmp_path):
    import pytest

    from fer_bench.errors import FerBenchError

    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(FerBenchError, match="no <!-- leaderboard:start -->"):
        leaderboard.update_readme(leaderboard.LeaderboardReport().compute([]), readme, tmp_path)


def test_the_ferplus_board_compares_the_modes_a_grid_measured_with_seeds():
    truth = np.arange(1000) % 8  # FER+ majority classes; the first 100 images have none
    truth[:100] = UNCOVERED
    labels = np.where(truth == UNCOVERED, UNLABELLED, truth)

    def run(experiment, mode, seed, right):
        pred = np.where(np.arange(1000) < right * 1000, labels.clip(0), (labels.clip(0) + 1) % 8)
        metrics = {"PrivateTest": split_metrics(labels, pred, FERPLUS_CLASSES)}
        r = example_record(
            f"{experiment[:5]}{mode[:3]}{seed}".ljust(12, "0"),
            experiment,
            f"f-{mode}",
            metrics=metrics,
            predictions={"PrivateTest": encode_predictions(pred)},
            timings={"fit": 20.0, "total": 30.0},
        )
        data = RunData("s", "usage folders", f"f-{mode}", 1000, FERPLUS_CLASSES, f"ferplus-{mode}", "img")
        return replace(r, spec=replace(r.spec, seed=seed), seed=seed, data=data)

    cells = [run("g/labels=ferplus-majority", "majority", s, 0.6) for s in (0, 1)]
    cells += [run("g/labels=ferplus-probability", "probability", s, 0.7) for s in (0, 1)]
    measured = Yardsticks("f1", "img", {"PrivateTest": Split(Y, truth, np.zeros(1000, dtype=bool))}, "t")

    majority, probability = ferplus_modes.mode_rows(cells, measured.splits["PrivateTest"], "PrivateTest")

    assert (majority.grid, majority.mode, majority.delta) == ("g", "majority", None)
    assert probability.mode == "probability" and probability.delta == pytest.approx(100 / 900)  # 100 more right
    assert 0 < probability.delta_ci[0] < 100 / 900 < probability.delta_ci[1]
    text = _render([run("cnn-fast-ferplus", "majority", 0, 0.65), *cells], [measured])
    assert "| [`g`](grids/g.md) | probability | 2 " in re.sub(" +", " ", text) and "+11.11 (" in text
    assert "g/labels" not in text  # the cells stay off the board's own tables
    # its heading and column say what the accuracy is computed on, counted
    assert re.search(r"^## FER\+ labels: .*\(PrivateTest: all 900 images with a FER\+ majority, 8 classes;", text, re.M)
    assert "| PrivateTest acc. (all 900 images with a FER+ majority, 8 classes) " in _main_table(text, "## FER+")[0]


GPU = {"keras_backend": "tensorflow", "cores": 16, "accelerator": "NVIDIA H200"}


def built_on(run_id, experiment, accuracy, *members):
    """A run of the current code on 2 cores built on recorded runs (an ensemble's members, a student's teacher)."""
    return replace(record(run_id, experiment, accuracy), selection={"members": [{"run_id": m.run_id} for m in members]})


def _row(table, experiment):
    return next(_cells(line) for line in table if _cells(line)[1].removesuffix(" †") == experiment)


def test_provenance_propagates_from_members_to_an_ensemble_and_from_a_teacher_to_its_student():
    gpu_member = replace(record("a" * 12, "gpu-net", 0.70, versions=False), hardware=GPU)  # older code, on a GPU
    cpu_member = record("b" * 12, "cpu-net", 0.60)
    ensemble = built_on("c" * 12, "vote", 0.75, gpu_member, cpu_member)
    student = built_on("d" * 12, "student", 0.68, ensemble)  # of the ensemble: GPU and older code, through it
    fair = built_on("e" * 12, "fair-vote", 0.65, cpu_member)
    by_run_id = {r.run_id: r for r in (gpu_member, cpu_member, ensemble, student, fair)}
    assert [r.run_id for r in provenance.lineage(student, by_run_id)] == ["c" * 12, "a" * 12, "b" * 12]
    assert provenance.older_code(student, by_run_id) and provenance.trained_on_accelerator(student, by_run_id)
    assert not provenance.older_code(fair, by_run_id) and not provenance.trained_on_accelerator(fair, by_run_id)

    text = _render(list(by_run_id.values()))
    main, older = _main_table(text), _main_table(text, "### Older code")
    assert [_cells(line)[1] for line in main[2:] if _cells(line)[0].isdigit()] == ["fair-vote", "cpu-net"]
    assert "2 cores + 2 runs on NVIDIA H200 / 2 cores" in _row(older, "vote")[-2]
    assert "2 cores + 3 runs on NVIDIA H200 / 2 cores" in _row(older, "student")[-2]
    assert _row(older, "vote")[1] == "vote †" and _row(older, "student")[1] == "student †"
    assert _row(main, "fair-vote")[-2] == "20 s + 1 run, 2 cores"  # built where it ran: one place named
    details = text[text.index("## Details") :]
    assert "| vote † " in details and "| student † " in details and "| fair-vote † " not in details
    caption = _caption(text)
    assert caption.startswith("Configurations of the current code") and "All of them" in caption


def test_a_current_configuration_built_on_gpu_runs_names_the_gpu_in_its_row_and_the_first_line():
    gpu_teacher = replace(record("a" * 12, "teacher", 0.70), hardware=GPU)  # current code, on a GPU
    student = built_on("b" * 12, "student", 0.66, gpu_teacher)
    text = _render([gpu_teacher, student])
    main = _main_table(text)
    assert _row(main, "student")[-2] == "20 s, 2 cores + 1 run on NVIDIA H200"
    caption = _caption(text)
    assert "2 of them trained on a GPU (NVIDIA H200), or built on runs that did" in caption
    info = leaderboard.LeaderboardReport().compute([gpu_teacher, student])
    assert "2 of them trained on a GPU (NVIDIA H200)" in leaderboard.headline(info, "results")


def test_the_kaggle_top_10_and_published_figures_rank_among_the_configurations():
    runs = [record(f"{i:012d}", f"e{i}", accuracy) for i, accuracy in enumerate((0.74, 0.70, 0.66, 0.5, 0.4))]
    table = [_cells(line) for line in _main_table(_render(runs))[2:]]
    assert [row[0] for row in table] == [
        "ref",
        "1",
        "ref",
        "K1",
        "2",
        "K2",
        "K3",
        "K4",
        "3",
        "K5",
        "K6",
        "K7",
        "K8",
        "K9",
        "K10",
        "4",
        "5",
    ]
    accuracies = [float(row[2].split(" ")[0]) for row in table]
    assert accuracies == sorted(accuracies, reverse=True)
    assert table[0][1:3] == ["_Pramerdorfer & Kampel 2016_", "75.20"]
    assert table[3][1:3] == ["_Tang 2013 (SVM-loss CNN)_", "71.162"]
    assert "chosen on PrivateTest" in table[2][-2] and "of 56 teams" in table[3][-2]
    level = [record("a" * 12, "level", 0.652)]  # 65.2%, as 5th place: it ranks below it, as kaggle_place has it
    assert [_cells(line)[0] for line in _main_table(_render(level))[2:]][6:8] == ["K5", "1"]

    info = leaderboard.LeaderboardReport().compute(runs[:3])  # the README: down to its last configuration
    shown = [_cells(line) for line in leaderboard.headline(info, "results").splitlines()[2:] if line.startswith("| ")]
    assert [row[0] for row in shown] == ["ref", "1", "ref", "K1", "2", "K2", "K3", "K4", "3"]
    assert {row[2] for row in shown if not row[0].isdigit()} == {"reference"}
    test_board = [record("t" * 12, "t", 0.7, fingerprint="f2", splits=("Test",))]  # not Kaggle's PrivateTest
    assert [_cells(line)[0] for line in _main_table(_render(test_board))[2:]] == ["1"]


def test_runs_with_ungrouped_splits_sit_apart_and_are_marked_and_so_is_what_builds_on_them():
    """A run recorded before splits kept copies together is its own row beside the same configuration
    run with grouped splits, marked ‡, and so is an ensemble of it; a model that splits nothing is not."""
    from fer_bench.data.copies import GROUPING

    y = np.arange(1000) % 7

    def run(run_id, experiment, accuracy, model, grouped=False, **values):
        pred = np.where(np.arange(1000) < accuracy * 1000, y, (y + 1) % 7)
        metrics = {s: split_metrics(y, pred, FER2013_CLASSES) for s in ("PublicTest", "PrivateTest")}
        r = example_record(run_id, experiment, metrics=metrics, timings={"fit": 60.0, "total": 65.0}, **values)
        spec = replace(
            r.spec,
            model=PartSpec(model, {}, registry.get("model", model).version),
            split_groups=GROUPING if grouped else "",
        )
        return replace(r, spec=spec)

    old = run("a" * 12, "fast", 0.60, "cnn-fast")
    new = run("b" * 12, "fast", 0.62, "cnn-fast", grouped=True)
    vote = run("c" * 12, "vote", 0.64, "ensemble", selection={"members": [{"run_id": "a" * 12}]})
    plain = run("d" * 12, "plain", 0.50, "logreg")
    assert old.ungrouped_splits and not any(r.ungrouped_splits for r in (new, vote, plain))
    board = leaderboard.LeaderboardReport()
    text = re.sub(" +", " ", board.markdown(board.compute([old, new, vote, plain]), "fer-bench leaderboard"))
    assert "| fast (splits=copies<=2) | 62.00 " in text and "| fast (splits=ungrouped) ‡ | 60.00 " in text
    assert "| vote ‡ | 64.00 " in text and "| plain | 50.00 " in text
    assert "‡: recorded before fer-bench's splits of Training kept copies of an image together" in text
