"""Stored probabilities, calibration, temperature scaling and the ensemble of recorded runs: what
they compute, and that PrivateTest never reaches selection, weighting or a temperature fit."""

import re
from dataclasses import replace

import numpy as np
import pytest

from fer_bench import api
from fer_bench.cli import main
from fer_bench.data.dataset import UNLABELLED
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.parts.base import RecordedRun, RecordedRuns, SplitProbabilities
from fer_bench.parts.models import ensemble
from fer_bench.reports import calibration as calibration_reports
from fer_bench.runs import layout, probabilities
from fer_bench.runs.records import RecordStore
from fer_bench.scoring import calibration
from fer_bench.testing import CHECK_CLASSES, CheapCentroidHoldout, simulated_dataset, write_csv

MEMBER = '[features]\nname = "pixels"\n[model]\nname = "test-centroid"\nshrink = {shrink}\n'
HELD_OUT = '[features]\nname = "pixels"\n[model]\nname = "test-centroid-holdout"\n'
ENSEMBLE = '[features]\nname = "pixels"\n[model]\nname = "ensemble"\nmembers = {members}\n{more}\n'
GREEDY = 'select = "greedy"\nrounds = 5\n[choose]\nsplit = "PublicTest"\nmetric = "accuracy"'  # its declared rule


@pytest.fixture
def recorded(write_experiments, tmp_path):
    """Two members (test-centroid, shrink 0 and 0.6) recorded on a simulated data set; returns
    (dataset, results folder, {name: record})."""
    dataset = simulated_dataset({"Training": 12, "PublicTest": 8, "PrivateTest": 8})
    write_experiments({"a.toml": MEMBER.format(shrink=0.0), "b.toml": MEMBER.format(shrink=0.6)})
    results = tmp_path / "results"
    members = {name: api.run(name, data=dataset, results=results) for name in ("a", "b")}
    return dataset, results, members


def ensemble_of(write_experiments, members, more=""):
    ids = "[" + ", ".join(f'"{m.run_id}"' for m in members) + "]"
    write_experiments({"vote.toml": ENSEMBLE.format(members=ids, more=more)})


def errors_in(err):
    """The error lines of a command's stderr (its progress messages are on stderr too)."""
    return [line for line in err.splitlines() if line.startswith("fer-bench: error: ")]


def stored(results, record, split):
    return probabilities.load(results, record, [split])[split]


def test_a_run_stores_each_test_images_probabilities_and_calibration(recorded):
    dataset, results, members = recorded
    record = members["a"]
    assert record.probabilities == layout.probabilities(record.run_id)
    private = stored(results, record, "PrivateTest")
    assert np.array_equal(private.rows, dataset.indices("PrivateTest"))
    assert np.array_equal(private.labels, dataset.labels[private.rows])
    assert "".join(map(str, private.predictions)) == record.predictions["PrivateTest"]
    m = record.metrics["PrivateTest"]
    assert m.nll == pytest.approx(calibration.measure(private.labels, private.proba).nll, rel=1e-6)
    assert m.brier is not None and m.ece is not None
    # test-centroid's validation rows are resampled ones: no held-out Training images to keep
    assert probabilities.stored_splits(results, record) == {"PublicTest", "PrivateTest"}


def test_the_ensembles_probabilities_are_the_members_mean(recorded, write_experiments):
    dataset, results, members = recorded
    ensemble_of(write_experiments, members.values())
    vote = api.run("vote", data=dataset, results=results)
    a, b = (stored(results, members[name], "PrivateTest").proba for name in "ab")
    mean = stored(results, vote, "PrivateTest").proba
    np.testing.assert_allclose(mean, (a + b) / 2, atol=1e-6)
    assert vote.selection == {
        "method": "equal weights",
        "on": None,
        "members": [{"run_id": m.run_id, "experiment": m.experiment, "weight": 0.5} for m in members.values()],
    }

    ensemble_of(write_experiments, members.values(), "weights = [1, 3]")
    weighted = api.run("vote", data=dataset, results=results)
    assert weighted.run_id != vote.run_id
    np.testing.assert_allclose(stored(results, weighted, "PrivateTest").proba, (a + 3 * b) / 4, atol=1e-6)


def test_greedy_selection_sees_publictest_only_and_the_board_says_so(recorded, write_experiments, monkeypatch):
    dataset, results, members = recorded
    seen_splits, seen_labels = [], []
    load, choose = probabilities.load, ensemble.choose_weights

    def spy_load(root, record, splits):
        seen_splits.extend(splits)
        return load(root, record, splits)

    def spy_choose(candidates, labels, rounds):
        seen_labels.append(labels)
        return choose(candidates, labels, rounds)

    monkeypatch.setattr(probabilities, "load", spy_load)
    monkeypatch.setattr(ensemble, "choose_weights", spy_choose)
    ensemble_of(write_experiments, members.values(), GREEDY)
    vote = api.run("vote", data=dataset, results=results)

    assert set(seen_splits) == {"PublicTest"}
    assert len(seen_labels) == 1 and np.array_equal(seen_labels[0], dataset.labels[dataset.indices("PublicTest")])
    assert vote.selection["on"] == "PublicTest"
    assert vote.selection["method"] == "greedy forward selection on PublicTest accuracy, 5 rounds"
    assert sum(m["weight"] for m in vote.selection["members"]) == pytest.approx(1.0)
    details = (results / "LEADERBOARD.md").read_text().split("## Details")[1]
    row = next(line for line in details.splitlines() if f"`{vote.run_id}`" in line)
    assert "(selection)" in row
    assert vote.rule == {"declared_in": "experiment vote", "split": "PublicTest", "metric": "accuracy"}


@pytest.mark.parametrize(
    "rule, message",
    [
        ("", "vote.toml: choose: declare the split and metric this file chooses on"),
        (
            '[choose]\nsplit = "PrivateTest"\nmetric = "accuracy"',
            "vote.toml: choose.split: PrivateTest is the test split the boards report",
        ),
        (
            '[choose]\nsplit = "PublicTest"\nmetric = "accuracy_all"',
            'vote.toml: choose: model/ensemble chooses on PublicTest accuracy, so declare split = "PublicTest"',
        ),
    ],
)
def test_a_selecting_ensemble_without_its_rule_or_choosing_on_privatetest_is_refused_before_it_runs(
    recorded, write_experiments, simulated_csv, capsys, rule, message
):
    _, results, members = recorded
    ensemble_of(write_experiments, members.values(), 'select = "greedy"\n' + rule)
    before = RecordStore(results).all()
    assert main(["run", "vote", "--results", str(results), "--data", str(simulated_csv)]) == 2
    (line,) = errors_in(capsys.readouterr().err)
    assert message in line
    assert RecordStore(results).all() == before  # nothing ran


def test_greedy_selection_adds_the_candidate_that_helps_most():
    labels = np.array([0, 1, 1, 0])
    right = np.eye(2)[labels] * 0.8 + 0.1
    wrong = np.eye(2)[1 - labels] * 0.8 + 0.1
    assert ensemble.choose_weights([wrong, right], labels, 4).tolist() == [0.0, 1.0]
    half = right.copy()
    half[:2] = wrong[:2]  # right on two images: a tie on accuracy with nothing better, broken by NLL
    assert ensemble.choose_weights([half, right], labels, 2).tolist() == [0.0, 1.0]


def test_greedy_selection_accuracy_comes_before_likelihood_and_the_earlier_candidate_is_not_preferred():
    labels = np.array([1, 1, 1])
    accurate = np.array([[0.45, 0.55], [0.45, 0.55], [0.55, 0.45]])  # right on 2 of 3
    likely = np.array([[0.02, 0.98], [0.55, 0.45], [0.55, 0.45]])  # right on 1, a higher mean log-likelihood
    assert ensemble.choose_weights([likely, accurate], labels, 1).tolist() == [0.0, 1.0]
    assert ensemble.choose_weights([accurate, likely], labels, 1).tolist() == [1.0, 0.0]
    assert ensemble.choose_weights([likely], labels, 3).tolist() == [1.0]  # a lone candidate takes every round


def test_greedy_selection_scores_the_mean_of_every_round_s_pick_not_of_the_last():
    labels = np.zeros(3, dtype=int)
    first_class = np.array([[0.12, 0.68, 0.68], [0.83, 0.34, 0.12], [0.83, 0.12, 0.57]])
    a, b, c = (np.stack([p, 1 - p], axis=1) for p in first_class)
    # Rounds 1-2 pick c (right on 2 images, like a, with the higher likelihood; then c + c beats
    # c + a). Round 3: (2c + a) / 3 is right on 2 images too, more likely than c alone: a. The mean
    # of the last pick with a, (c + a) / 2, would be right on 1 image only.
    assert ensemble.choose_weights([a, b, c], labels, 3).tolist() == pytest.approx([1 / 3, 0, 2 / 3])


def test_greedy_selection_reads_only_the_images_every_member_covers_that_have_a_label(
    recorded, write_experiments, monkeypatch
):
    dataset, results, members = recorded
    load, choose, seen = probabilities.load, ensemble.choose_weights, []

    def with_gaps(root, record, splits):  # member a covers no first image and leaves the second unlabelled
        got = load(root, record, splits)
        if record.run_id != members["a"].run_id:
            return got
        proba, labels = got["PublicTest"].proba.copy(), got["PublicTest"].labels.copy()
        proba[0], labels[1] = np.nan, UNLABELLED
        return {"PublicTest": replace(got["PublicTest"], proba=proba, labels=labels)}

    def spy_choose(candidates, labels, rounds):
        seen.append((candidates, labels))
        return choose(candidates, labels, rounds)

    monkeypatch.setattr(probabilities, "load", with_gaps)
    monkeypatch.setattr(ensemble, "choose_weights", spy_choose)
    ensemble_of(write_experiments, members.values(), GREEDY)
    api.run("vote", data=dataset, results=results)
    [(candidates, labels)] = seen
    np.testing.assert_array_equal(labels, dataset.labels[dataset.indices("PublicTest")][2:])
    assert all(len(c) == len(labels) and not np.isnan(c).any() for c in candidates)


def test_greedy_selection_refuses_members_whose_publictest_images_differ(recorded, write_experiments, monkeypatch):
    dataset, results, members = recorded
    load = probabilities.load

    def reordered(root, record, splits):
        got = load(root, record, splits)
        if record.run_id == members["b"].run_id:
            return {"PublicTest": replace(got["PublicTest"], rows=got["PublicTest"].rows[::-1])}
        return got

    monkeypatch.setattr(probabilities, "load", reordered)
    ensemble_of(write_experiments, members.values(), GREEDY)
    with pytest.raises(FerBenchError, match=r": the members' stored PublicTest probabilities are of other images$"):
        api.run("vote", data=dataset, results=results)


def test_a_greedy_ensemble_of_one_member_gives_it_the_whole_weight(recorded, write_experiments):
    dataset, results, members = recorded
    ensemble_of(write_experiments, [members["a"]], GREEDY)
    vote = api.run("vote", data=dataset, results=results)
    assert [(m["run_id"], m["weight"]) for m in vote.selection["members"]] == [(members["a"].run_id, 1.0)]


A, B = "a" * 12, "b" * 12  # the run ids of _Kept's runs


class _Kept(RecordedRuns):
    """Two recorded runs, A (out of fold) and B, on `dataset`: their temperatures, their stored
    Training probabilities, and which models were loaded."""

    where = "a test"

    def __init__(self, dataset):
        self.runs = {
            run_id: RecordedRun(run_id, run_id[:1], dataset.classes, dataset.fingerprint, ("pixels", {}), True, oof)
            for run_id, oof in ((A, True), (B, False))
        }
        self.temperatures = {A: calibration.Temperature(1.5, 10), B: calibration.Temperature(1 / 3, 10)}
        rows = dataset.indices("Training")
        proba = np.random.default_rng(0).dirichlet(np.ones(7), len(rows)).astype(np.float32)
        self.training = SplitProbabilities(rows, dataset.labels[rows], proba, out_of_fold=True)
        self.loaded = []

    def run(self, run_id):
        return self.runs.get(run_id)

    def model(self, run_id):
        self.loaded.append(run_id)
        return object()  # never asked to predict here

    def probabilities(self, run_id, split):
        assert split == "Training" and self.runs[run_id].out_of_fold
        return self.training

    def temperature(self, run_id):
        return self.temperatures[run_id]


def _kept():
    dataset = simulated_dataset({"Training": 4, "PublicTest": 2, "PrivateTest": 2})
    return _Kept(dataset), dataset


def _given(kept, dataset, **params):
    """An ensemble of both kept runs (on pixels), given its runs."""
    vote = registry.get("model", "ensemble").create({"members": (A, B)} | params)
    vote.use_runs(kept, registry.get("features", "pixels").create({}), dataset)
    return vote


def _vote_of_kept(**params):
    kept, dataset = _kept()
    vote = _given(kept, dataset, **params)
    vote.fit(None)
    return vote, kept


def test_a_calibrating_ensemble_uses_each_members_temperature_and_an_uncalibrated_one_none():
    vote, _ = _vote_of_kept(calibrate=True, weights=(1, 2))
    members = vote.choice()["members"]
    assert [(m["weight"], m["temperature"]) for m in members] == [(0.333333, 1.5), (0.666667, 0.333333)]
    assert vote.choice()["method"] == "given weights"
    vote, _ = _vote_of_kept()
    assert ["temperature" in m for m in vote.choice()["members"]] == [False, False]
    assert vote.choice()["method"] == "equal weights"


def test_a_member_of_weight_0_is_not_loaded_nor_asked_for_out_of_fold_probabilities():
    vote, kept = _vote_of_kept(weights=(1, 0))
    assert kept.loaded == [A]
    rows = kept.training.rows[::-1]
    oof = vote.out_of_fold_proba(rows, None, None, 0)
    assert oof.dtype == np.float32  # as stored probabilities are
    np.testing.assert_array_equal(oof, kept.training.proba[::-1])
    vote, kept = _vote_of_kept()
    assert vote.out_of_fold_proba(rows, None, None, 0) is None  # b votes, with no out-of-fold probabilities


def test_a_member_whose_inputs_the_ensembles_features_cannot_give_is_refused_naming_both():
    kept, dataset = _kept()
    kept.runs[B] = replace(kept.runs[B], features=("embedding", {}))
    refusal = rf"^model/ensemble: member {B} \(b\) takes features embedding .*, which features pixels "
    with pytest.raises(FerBenchError, match=refusal):
        _given(kept, dataset)


def test_a_member_without_saved_weights_is_refused_naming_it():
    kept, dataset = _kept()
    kept.runs[B] = replace(kept.runs[B], saved_weights=False)
    with pytest.raises(FerBenchError, match=rf"^model/ensemble: member {B} \(b\) saved no weights$"):
        _given(kept, dataset)


@pytest.mark.parametrize(
    ("other", "what"), [({"seed": 1}, "data fingerprint"), ({"classes": CHECK_CLASSES}, "label space")]
)
def test_members_that_agree_with_each_other_but_not_with_the_data_are_refused_showing_both(other, what):
    kept, dataset = _kept()
    data = simulated_dataset({"Training": 4, "PublicTest": 2, "PrivateTest": 2}, **other)
    members, given = {
        "data fingerprint": (dataset.fingerprint, data.fingerprint),
        "label space": ("7 classes", "3 classes"),
    }[what]
    refusal = f"model/ensemble: the members' {what} ({members}) is not the data's ({given})"
    with pytest.raises(FerBenchError, match=f"^{re.escape(refusal)}$"):
        _given(kept, data)


@pytest.mark.parametrize(
    "weights", [(True, 1), (1, float("nan")), (float("inf"), 1), ("1", 1), (-1, 2), (1,), (1, 1, 1), (0, 0)]
)
def test_given_weights_must_be_one_finite_non_negative_number_per_member_not_all_zero(weights):
    refusal = "model/ensemble: weights must be one non-negative number per member, not all zero"
    with pytest.raises(FerBenchError, match=rf"^{refusal}$"):
        registry.get("model", "ensemble").create({"members": (A, B), "weights": weights})


def test_weights_given_and_selected_are_refused():
    with pytest.raises(FerBenchError, match=r"^model/ensemble: give weights or select them, not both$"):
        registry.get("model", "ensemble").create({"members": (A, B), "weights": (1, 1), "select": "greedy"})


@pytest.mark.parametrize("weights", [(0, 1), (2.5, 0.5), ()])
def test_weights_of_one_non_negative_number_per_member_or_none_are_taken(weights):
    assert registry.get("model", "ensemble").create({"members": (A, B), "weights": weights}).weights == weights


def test_an_ensemble_fitted_before_its_runs_are_given_says_so():
    vote = registry.get("model", "ensemble").create({"members": (A,)})
    with pytest.raises(FerBenchError, match=r"fitted before its runs were given \(BuildsOnRuns.use_runs\)$"):
        vote.fit(None)


def test_members_with_different_label_spaces_or_data_are_refused_in_one_line(write_experiments, tmp_path, capsys):
    results = tmp_path / "results"
    write_experiments({"a.toml": MEMBER.format(shrink=0.0)})
    seven = api.run("a", data=simulated_dataset(), results=results)
    three = api.run("a", data=simulated_dataset(classes=CHECK_CLASSES), results=results)
    other = api.run("a", data=simulated_dataset(seed=1), results=results)
    csv = write_csv(simulated_dataset(), tmp_path / "data.csv")
    for pair, what in (((seven, three), "label spaces"), ((seven, other), "data fingerprints")):
        ensemble_of(write_experiments, pair)
        status = main(["run", "vote", "--data", str(csv), "--results", str(results)])
        [error] = errors_in(capsys.readouterr().err)
        assert status == 2 and f"members with different {what}" in error
        shown = {  # each member named, with what differs
            "label spaces": ("7 classes", "3 classes"),
            "data fingerprints": tuple(simulated_dataset(seed=seed).fingerprint for seed in (0, 1)),
        }[what]
        assert f"{pair[0].run_id} (a: {shown[0]}) and {pair[1].run_id} (a: {shown[1]})" in error


def test_an_ensemble_needs_members_and_names_a_missing_one(write_experiments, tmp_path, simulated_csv, capsys):
    write_experiments(
        {
            "empty.toml": ENSEMBLE.format(members="[]", more=""),
            "ghost.toml": ENSEMBLE.format(members='["0123456789ab"]', more=""),
        }
    )
    for name, message in (("empty", "name its members"), ("ghost", "no successful run 0123456789ab")):
        status = main(["run", name, "--data", str(simulated_csv), "--results", str(tmp_path / "results")])
        [error] = errors_in(capsys.readouterr().err)
        assert status == 2 and message in error


def test_the_temperature_is_fitted_on_held_out_training_images_only(write_experiments, tmp_path, monkeypatch):
    dataset = simulated_dataset({"Training": 16, "PublicTest": 4, "PrivateTest": 4})
    write_experiments({"held.toml": HELD_OUT})
    results = tmp_path / "results"
    record = api.run("held", data=dataset, results=results)
    held = stored(results, record, probabilities.HOLDOUT)
    assert set(dataset.splits[held.rows]) == {"Training"} and len(held.rows) == 28  # 25% of 112, stratified

    fitted_on = []
    fit = calibration.fit_temperature
    monkeypatch.setattr(calibration, "fit_temperature", lambda y, p: fitted_on.append(y) or fit(y, p))
    report = api.write_calibration(["held"], results=results)
    assert len(fitted_on) == 1 and np.array_equal(fitted_on[0], dataset.labels[held.rows])
    assert "held" in report.read_text() and (report.parent / calibration_reports.FIGURE_FILE).is_file()


def test_the_held_out_rows_are_the_ones_the_fit_validated_on(write_experiments, tmp_path, monkeypatch):
    dataset = simulated_dataset({"Training": 16, "PrivateTest": 4})
    write_experiments({"held.toml": HELD_OUT})
    validated = []
    fit = CheapCentroidHoldout.fit
    monkeypatch.setattr(
        CheapCentroidHoldout, "fit", lambda self, data: validated.append(data.validation[0]) or fit(self, data)
    )
    results = tmp_path / "results"
    record = api.run("held", data=dataset, results=results)
    held = stored(results, record, probabilities.HOLDOUT)
    pixels = dataset.images[held.rows].astype(np.float32)[..., None] / 255.0
    assert sorted(map(bytes, validated[0])) == sorted(map(bytes, pixels))


def test_calibration_figures_on_known_cases():
    y = np.array([0, 1, 0, 1])
    perfect = np.eye(2)[y]
    assert calibration.measure(y, perfect) == calibration.Calibration(0.0, 0.0, 0.0)
    sure = np.tile([0.8, 0.2], (4, 1))  # says 80% for class 0, right half the time
    measured = calibration.measure(y, sure)
    assert measured.ece == pytest.approx(0.3)
    assert measured.brier == pytest.approx((0.2**2 * 2 + 0.8**2 * 2) / 2)
    assert measured.nll == pytest.approx(-(np.log(0.8) + np.log(0.2)) / 2)


def test_temperature_scaling_undoes_an_over_confident_model():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, (4000, 5))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(5, p=p) for p in truth])
    over_confident = calibration.scaled(truth, 1 / 3)  # logits tripled
    assert calibration.fit_temperature(y, over_confident) == pytest.approx(3.0, rel=0.1)
    assert (calibration.scaled(over_confident, 3.0).argmax(axis=1) == over_confident.argmax(axis=1)).all()


def test_probabilities_regenerated_from_saved_weights_equal_the_stored_ones(recorded, monkeypatch):
    dataset, results, members = recorded
    record = members["a"]
    before = stored(results, record, "PrivateTest").proba
    (results / record.probabilities).unlink()
    [(again, path, agreement)] = api.compute_probabilities(["a"], data=dataset, results=results)
    assert again.run_id == record.run_id and path == record.probabilities
    assert agreement == {"PublicTest": 1.0, "PrivateTest": 1.0}
    np.testing.assert_array_equal(stored(results, record, "PrivateTest").proba, before)
    from fer_bench.parts.features.pixels import Pixels

    monkeypatch.setattr(Pixels, "extract", lambda *args, **kwargs: pytest.fail("features extracted again"))
    assert api.compute_probabilities(["a"], data=dataset, results=results)[0][2] == {}  # stored: not computed again


def test_imported_records_bring_their_probabilities(recorded, tmp_path):
    _, results, members = recorded
    elsewhere = tmp_path / "elsewhere"
    api.import_records(results, results=elsewhere)
    record = RecordStore(elsewhere).find("a")[-1]
    assert probabilities.stored_path(elsewhere, record) is not None


def test_the_probabilities_command_says_what_it_computed(write_experiments, tmp_path, capsys):
    csv = write_csv(simulated_dataset(), tmp_path / "data.csv")
    write_experiments({"a.toml": MEMBER.format(shrink=0.0)})
    results = tmp_path / "results"
    record = api.run("a", data=csv, results=results)
    arguments = ["probabilities", "a", "--data", str(csv), "--results", str(results)]
    assert main(arguments) == 0 and capsys.readouterr().out.strip().endswith("already stored")
    assert main([*arguments, "--training"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == f"a (run {record.run_id}): {record.probabilities}  computed Training"
    assert main(["probabilities", "nothing", "--results", str(results)]) == 2


def test_the_members_of_a_recorded_ensemble_keep_their_weights(recorded, write_experiments, capsys):
    dataset, results, members = recorded
    ensemble_of(write_experiments, members.values())
    vote = api.run("vote", data=dataset, results=results)
    assert main(["prune", "b", "a", "--results", str(results)]) == 2
    assert errors_in(capsys.readouterr().err) == [
        f"fer-bench: error: run {members['b'].run_id} (b): vote (run {vote.run_id}) build(s) on it; its weights stay"
    ]
    assert all((results / m.artefact).is_file() for m in members.values())  # nothing removed


def test_a_member_names_every_run_that_builds_on_it_and_a_run_none_builds_on_is_pruned(recorded, write_experiments):
    """The refusal names each ensemble of the member; a run that nothing builds on is pruned: its record
    appended again without weights, saying by which command, its file gone, the members' kept."""
    dataset, results, members = recorded
    ensemble_of(write_experiments, members.values())
    vote = api.run("vote", data=dataset, results=results)
    ensemble_of(write_experiments, members.values(), "weights = [1, 3]")
    weighted = api.run("vote", data=dataset, results=results)
    with pytest.raises(FerBenchError) as refused:
        api.prune([members["a"].run_id], results=results)
    users = sorted(f"vote (run {r.run_id})" for r in (vote, weighted))
    assert str(refused.value) == f"run {members['a'].run_id} (a): {', '.join(users)} build(s) on it; its weights stay"

    write_experiments({"c.toml": MEMBER.format(shrink=0.3)})
    alone = api.run("c", data=dataset, results=results)
    (done,) = api.prune(["c"], results=results, command="fer-bench prune c")
    assert RecordStore(results).all()[-1] == done and done.run_id == alone.run_id
    assert done.artefact is None and done.pruned["command"] == "fer-bench prune c"
    assert not (results / alone.artefact).exists() and all((results / m.artefact).is_file() for m in members.values())
    with pytest.raises(FerBenchError, match="has no weights to remove"):
        api.prune(["c"], results=results)


def test_a_retired_ensemble_holds_its_members_no_more_and_a_rerun_holds_them_again(recorded, write_experiments, capsys):
    """Pruning an ensemble (no weights of its own) retires it: appended with `pruned`, its probabilities
    kept; a member then stays only for the ensembles not retired, and a vote run again holds it again."""
    dataset, results, members = recorded
    ensemble_of(write_experiments, members.values())
    vote = api.run("vote", data=dataset, results=results)
    ensemble_of(write_experiments, members.values(), "weights = [1, 3]")
    weighted = api.run("vote", data=dataset, results=results)

    assert main(["prune", vote.run_id, "--results", str(results)]) == 0
    assert capsys.readouterr().out == (
        f"vote (run {vote.run_id}): retired, its members free to prune; record and probabilities kept\n"
    )
    retired = RecordStore(results).all()[-1]
    assert retired.run_id == vote.run_id and retired.pruned and retired.probabilities == vote.probabilities
    assert (results / vote.probabilities).is_file()
    with pytest.raises(FerBenchError) as refused:
        api.prune(["a"], results=results)
    assert (
        str(refused.value)
        == f"run {members['a'].run_id} (a): vote (run {weighted.run_id}) build(s) on it; its weights stay"
    )
    with pytest.raises(FerBenchError) as again:
        api.prune([vote.run_id], results=results)
    assert str(again.value) == f"run {vote.run_id} (vote) is retired already: it holds its members no more"

    ensemble_of(write_experiments, members.values())
    rerun = api.run("vote", data=dataset, results=results, force=True)
    assert rerun.run_id == vote.run_id and rerun.pruned is None
    api.prune([weighted.run_id], results=results)
    with pytest.raises(FerBenchError, match=f"vote \\(run {vote.run_id}\\) build\\(s\\) on it"):
        api.prune(["a"], results=results)
    assert all((results / m.artefact).is_file() for m in members.values())


def test_an_ensemble_retired_with_its_members_in_one_call_frees_them(recorded, write_experiments):
    dataset, results, members = recorded
    ensemble_of(write_experiments, members.values())
    vote = api.run("vote", data=dataset, results=results)
    done = api.prune(["a", vote.run_id, "b"], results=results)
    assert [(r.run_id, r.artefact) for r in done] == [
        (members["a"].run_id, None),
        (vote.run_id, None),
        (members["b"].run_id, None),
    ]
    assert not any((results / m.artefact).exists() for m in members.values())
    assert [r.run_id for r in RecordStore(results).all()[-3:]] == [r.run_id for r in done]


def test_weights_already_gone_are_pruned_all_the_same(recorded):
    dataset, results, members = recorded
    (results / members["b"].artefact).unlink()  # by hand
    (done,) = api.prune(["b"], results=results)
    assert done.artefact is None and RecordStore(results).ok_record(members["b"].run_id) == done
