import numpy as np
import pytest

from fer_bench.data import FER2013_CLASSES
from fer_bench.scoring.metrics import UNCOVERED, SplitMetrics, decode_predictions, encode_predictions, split_metrics


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
