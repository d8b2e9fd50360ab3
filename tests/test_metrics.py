"""Classification metrics: hand-checked values, absent classes, shapes."""
import json
import warnings

import numpy as np
import pytest

from cover_model import classification_metrics

Y_TRUE = np.array([0, 0, 0, 1, 1, 2])
Y_PRED = np.array([0, 0, 1, 1, 2, 2])


def test_accuracy_and_balanced_accuracy_by_hand():
    assert classification_metrics.accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)
    # recalls 2/3, 1/2, 1/1
    assert classification_metrics.balanced_accuracy(Y_TRUE, Y_PRED) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)


def test_macro_f1_by_hand():
    # per class: precision 1, 1/2, 1/2; recall 2/3, 1/2, 1
    f1 = [2 * 1 * (2 / 3) / (1 + 2 / 3), 0.5, 2 * 0.5 * 1 / 1.5]
    assert classification_metrics.macro_f1(Y_TRUE, Y_PRED) == pytest.approx(np.mean(f1))
    # over four classes, the absent fourth scores 0
    assert classification_metrics.macro_f1(Y_TRUE, Y_PRED, n_classes=4) == pytest.approx(np.sum(f1) / 4)


def test_confusion_matrix_keeps_absent_classes_in_place():
    counts = classification_metrics.confusion_matrix([0, 2], [2, 2], n_classes=4)
    assert counts.shape == (4, 4) and counts.dtype == np.int64
    assert counts[0, 2] == 1 and counts[2, 2] == 1 and counts.sum() == 2
    rows = classification_metrics.confusion_matrix([0, 0, 2], [0, 1, 2], n_classes=3, normalize="true")
    np.testing.assert_allclose(rows, [[0.5, 0.5, 0], [0, 0, 0], [0, 0, 1]])
    with pytest.raises(ValueError):
        classification_metrics.confusion_matrix([0, 1], [0, 1], n_classes=2, normalize="all")


def test_per_class_accuracy_is_recall_with_nan_for_absent_classes():
    values = classification_metrics.per_class_accuracy(Y_TRUE, Y_PRED, n_classes=4)
    np.testing.assert_allclose(values[:3], [2 / 3, 1 / 2, 1])
    assert np.isnan(values[3])


def test_top_k_accuracy():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.2, 0.3, 0.5]])
    y = np.array([2, 2, 0])
    assert classification_metrics.top_k_accuracy(y, scores, k=1) == 0.0
    assert classification_metrics.top_k_accuracy(y, scores, k=2) == pytest.approx(2 / 3)
    assert classification_metrics.top_k_accuracy(y, scores, k=3) == 1.0
    # decision values work as well as probabilities: only the order counts
    assert classification_metrics.top_k_accuracy(y, np.log(scores), k=2) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="shape"):
        classification_metrics.top_k_accuracy(y, scores[:2], k=1)


def test_top_1_equals_accuracy_of_the_argmax():
    rng = np.random.default_rng(0)
    scores = rng.random((200, 10))
    y = rng.integers(0, 10, 200)
    assert classification_metrics.top_k_accuracy(y, scores, k=1) == classification_metrics.accuracy(y, scores.argmax(1))


def test_summarize_is_json_ready():
    summary = classification_metrics.summarize(Y_TRUE, Y_PRED, n_classes=4, scores=np.eye(4)[Y_TRUE])
    text = json.dumps(summary)                       # no numpy types, no NaN
    assert "NaN" not in text
    assert summary["per_class_accuracy"][3] is None
    assert summary["top_k"] == 1.0 and summary["k"] == 3
    assert np.array(summary["confusion"]).shape == (4, 4)
    assert classification_metrics.summarize(Y_TRUE, Y_PRED, n_classes=3)["top_k"] is None


@pytest.mark.parametrize("seed", range(6))
def test_the_metrics_equal_sklearns_on_random_labels_with_absent_classes(seed):
    """numpy, not sklearn (a training process need not load scipy.stats); the definitions
    are sklearn's, absent, never-predicted and unexpected classes included."""
    from sklearn import metrics as skm
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 11))
    y_true = rng.choice(rng.permutation(n_classes)[:max(1, n_classes - 2)], size=int(rng.integers(1, 60)))
    y_pred = np.where(rng.random(len(y_true)) < 0.5, y_true, rng.integers(0, n_classes, len(y_true)))
    labels = np.arange(n_classes)
    assert classification_metrics.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # sklearn: "y_pred contains classes not in y_true"
        want = skm.balanced_accuracy_score(y_true, y_pred)
    assert classification_metrics.balanced_accuracy(y_true, y_pred) == pytest.approx(want)
    for n in (None, n_classes):
        want = skm.f1_score(y_true, y_pred, labels=None if n is None else labels, average="macro", zero_division=0)
        assert classification_metrics.macro_f1(y_true, y_pred, n_classes=n) == pytest.approx(want)
    np.testing.assert_array_equal(classification_metrics.confusion_matrix(y_true, y_pred, n_classes=n_classes),
                                  skm.confusion_matrix(y_true, y_pred, labels=labels))


def test_labels_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        classification_metrics.accuracy([0, 1], [0])
