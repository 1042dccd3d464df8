import numpy as np
import pytest

from fer_bench.data import FER2013_CLASSES
from fer_bench.data.dataset import UNLABELLED
from fer_bench.scoring.metrics import (
    UNCOVERED,
    SplitMetrics,
    decode_predictions,
    encode_predictions,
    predicted,
    split_metrics,
)


def test_uncovered_images_count_as_wrong_only_in_accuracy_all():
    y_true = np.array([0, 1, 2, 3, 3, 6])
    y_pred = np.array([0, 1, 5, 3, UNCOVERED, UNCOVERED])
    m = split_metrics(y_true, y_pred, FER2013_CLASSES)
    assert (m.n_total, m.n_evaluated) == (6, 4)
    assert m.accuracy == pytest.approx(3 / 4)
    assert m.accuracy_all == pytest.approx(3 / 6)
    assert m.coverage == pytest.approx(4 / 6)
    assert m.confusion_matrix[2][5] == 1
    assert sum(map(sum, m.confusion_matrix)) == 4
    assert m.per_class_recall["Fear"] == 0.0 and m.per_class_recall["Happy"] == 1.0
    assert SplitMetrics.from_dict(m.to_dict()) == m


def test_macro_f1_averages_classes_present_in_the_truth():
    # class 0: p=1 r=1 f1=1; class 1: p=0.5 r=1 f1=2/3; class 2: p=0 r=0 f1=0
    m = split_metrics(np.array([0, 1, 2]), np.array([0, 1, 1]), FER2013_CLASSES)
    assert m.macro_f1 == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_metrics_follow_the_label_space_of_the_data():
    m = split_metrics(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2]), ("cat", "dog", "owl"))
    assert np.shape(m.confusion_matrix) == (3, 3) and m.per_class_recall == {"cat": 1.0, "dog": 0.0, "owl": 1.0}


def test_predictions_round_trip_through_their_string_form():
    y = np.array([0, 6, UNCOVERED, 3, 10, 35])
    assert encode_predictions(y) == "06-3az"
    np.testing.assert_array_equal(decode_predictions("06-3az"), y)


def test_a_class_without_images_has_no_recall_to_show():
    m = split_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), ("a", "b", "c"))
    assert m.recall_text() == "a 50.0%, b 100.0%, c n/a"
    assert m.recall_text(name_width=1, digits=0) == "a 50%, b 100%, c n/a"


def test_unlabelled_images_count_nowhere_but_in_n_unlabelled():
    """An image its label source leaves out is neither evaluated nor wrong, even where predicted."""
    m = split_metrics(np.array([0, UNLABELLED, 1, UNLABELLED]), np.array([0, 1, UNCOVERED, UNCOVERED]), ("a", "b"))
    assert (m.n_total, m.n_unlabelled, m.n_evaluated) == (4, 2, 1)
    assert (m.coverage, m.accuracy, m.accuracy_all) == (0.5, 1.0, 0.5)
    assert m.confusion_matrix == [[1, 0], [0, 0]]


def test_a_split_with_nothing_labelled_or_nothing_evaluated_scores_zero_not_nan():
    nothing_labelled = split_metrics(np.full(3, UNLABELLED), np.array([0, 1, UNCOVERED]), ("a", "b"))
    no_proba = np.full((2, 2), np.nan)
    nothing_evaluated = split_metrics(np.array([0, 1]), np.full(2, UNCOVERED), ("a", "b"), proba=no_proba)
    for m in (nothing_labelled, nothing_evaluated):
        assert (m.coverage, m.accuracy, m.accuracy_all, m.macro_f1) == (0.0, 0.0, 0.0, 0.0)
    assert nothing_evaluated.nll is None  # no probabilities to measure


def test_the_record_keeps_whole_counts_and_a_class_without_images_recalls_zero():
    """The confusion matrix holds ints (the record's JSON); an absent class's stored recall is 0, never NaN."""
    m = split_metrics(np.array([0, 0, 1]), np.array([0, 1, 1]), ("a", "b", "c"))
    assert all(type(n) is int for row in m.confusion_matrix for n in row)
    assert m.per_class_recall == {"a": 0.5, "b": 1.0, "c": 0.0}


def test_f1_of_a_class_with_recall_and_precision_one_half_is_one_half():
    m = split_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), ("a", "b"))
    assert m.macro_f1 == pytest.approx(0.5)


def test_calibration_is_measured_on_the_evaluated_images_only():
    """The uncovered image's NaN row and the unlabelled image's row are left out of the NLL and Brier score."""
    proba = np.array([[0.5, 0.5], [0.25, 0.75], [np.nan, np.nan], [0.0, 1.0]])
    m = split_metrics(np.array([0, 1, 1, UNLABELLED]), np.array([0, 1, UNCOVERED, 1]), ("a", "b"), proba=proba)
    assert m.nll == pytest.approx(-(np.log(0.5) + np.log(0.75)) / 2)
    assert m.brier == pytest.approx((0.5 + 0.125) / 2)
    assert split_metrics(np.array([0]), np.array([0]), ("a", "b")).nll is None  # no probabilities given


def test_a_row_with_nan_is_uncovered_and_the_others_predict_their_argmax():
    proba = np.array([[0.1, 0.9, 0.0], [np.nan, np.nan, np.nan], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    np.testing.assert_array_equal(predicted(proba), [1, UNCOVERED, 0, 2])
