"""Verification metrics: hand-computed examples, invariants, the 10-fold protocol and failure modes."""

import json

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, norm

from faceveil.eval.verification import (
    accuracy_at,
    auc,
    best_threshold,
    eer,
    fixed_threshold_rates,
    format_report_table,
    kfold_accuracy,
    pair_scores,
    roc_curve,
    score_distributions,
    tar_at_far,
    verification_report,
)

# 3 genuine (0.9, 0.8, 0.4) and 3 impostor (0.7, 0.3, 0.2) pairs; descending: G G I G I I
SCORES = np.array([0.9, 0.8, 0.4, 0.7, 0.3, 0.2])
LABELS = np.array([1, 1, 1, 0, 0, 0])


def gaussian_pairs(n_per_class, rng, separation=2.0):
    """Genuine ~ N(+s/2, 1), impostor ~ N(-s/2, 1): Bayes accuracy Phi(s/2), EER Phi(-s/2)."""
    scores = np.r_[rng.normal(separation / 2, 1, n_per_class), rng.normal(-separation / 2, 1, n_per_class)]
    return scores, np.r_[np.ones(n_per_class, int), np.zeros(n_per_class, int)]


# ---------------------------------------------------------------------------------------------- scores


def test_pair_scores_cosine_and_negated_euclidean_by_hand():
    a = np.array([[3.0, 4.0], [1.0, 0.0]])
    b = np.array([[6.0, 8.0], [0.0, 2.0]])
    np.testing.assert_allclose(pair_scores(a, b, "cosine"), [1.0, 0.0])
    np.testing.assert_allclose(pair_scores(a, b, "euclidean"), [-5.0, -np.sqrt(5.0)])


def test_pair_scores_rejects_bad_input():
    a = np.ones((2, 3))
    with pytest.raises(ValueError, match="same shape"):
        pair_scores(a, np.ones((3, 3)))
    with pytest.raises(ValueError, match="metric"):
        pair_scores(a, a, "manhattan")
    with pytest.raises(ValueError, match="all-zero row"):
        pair_scores(a, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        pair_scores(a, np.full((2, 3), np.nan))


# ---------------------------------------------------------------------------------------------- ROC, AUC, EER


def test_roc_curve_by_hand():
    fpr, tpr, thresholds = roc_curve(SCORES, LABELS)
    np.testing.assert_allclose(fpr, [0, 0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 2 / 3, 2 / 3, 1, 1, 1])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.8, 0.7, 0.4, 0.3, 0.2])


def test_tied_genuine_and_impostor_scores_move_together():
    # genuine 0.5, 0.5; impostor 0.5, 0.1: the three tied pairs enter at one threshold
    fpr, tpr, thresholds = roc_curve([0.5, 0.5, 0.5, 0.1], [1, 1, 0, 0])
    np.testing.assert_allclose(fpr, [0, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 1, 1])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.5, 0.1])
    assert auc(fpr, tpr) == pytest.approx(0.75)  # a tie counts one half, as in Mann-Whitney


def test_auc_by_hand_and_extremes():
    assert auc(*roc_curve(SCORES, LABELS)[:2]) == pytest.approx(8 / 9)
    separated = np.array([0.9, 0.8, 0.1, 0.2])
    assert auc(*roc_curve(separated, [1, 1, 0, 0])[:2]) == 1.0
    assert auc(*roc_curve(separated, [0, 0, 1, 1])[:2]) == 0.0


def test_auc_equals_mann_whitney_u():
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=400), 1)  # coarse rounding makes many ties
    labels = (rng.random(400) < 0.4).astype(int)
    scores[labels == 1] += 0.7
    u = mannwhitneyu(scores[labels == 1], scores[labels == 0]).statistic
    expected = u / (labels.sum() * (labels == 0).sum())
    assert auc(*roc_curve(scores, labels)[:2]) == pytest.approx(expected, abs=1e-12)


def test_auc_rejects_unsorted_or_mismatched_curves():
    with pytest.raises(ValueError, match="non-decreasing"):
        auc([0, 1, 0.5], [0, 1, 1])
    with pytest.raises(ValueError, match="same length"):
        auc([0, 1], [0, 0.5, 1])


def test_eer_exactly_on_a_roc_point():
    assert eer(SCORES, LABELS) == pytest.approx((1 / 3, 0.7))


def test_eer_interpolates_between_roc_points():
    # genuine 0.9 0.8 0.3, impostor 0.5 0.4: FPR - FNR goes -1/3 (t=0.8) -> +1/6 (t=0.5), crossing 2/3 of the way
    rate, threshold = eer([0.9, 0.8, 0.3, 0.5, 0.4], [1, 1, 1, 0, 0])
    assert rate == pytest.approx(1 / 3)
    assert threshold == pytest.approx(0.8 + 2 / 3 * (0.5 - 0.8))


def test_eer_of_gaussian_scores_is_near_theory():
    scores, labels = gaussian_pairs(20000, np.random.default_rng(0))
    assert eer(scores, labels)[0] == pytest.approx(norm.cdf(-1.0), abs=0.01)


def test_tar_at_far_takes_largest_tpr_within_far():
    tars = tar_at_far(SCORES, LABELS, fars=(0.1, 1 / 3, 0.5))
    assert list(tars) == [0.1, 1 / 3, 0.5]
    assert tars[0.1] == pytest.approx(2 / 3)  # only FPR = 0 points qualify
    assert tars[1 / 3] == 1.0 and tars[0.5] == 1.0


def test_tar_at_far_rejects_out_of_range_far():
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        tar_at_far(SCORES, LABELS, fars=(0.0,))


# ---------------------------------------------------------------------------------------------- thresholds


def test_best_threshold_takes_lowest_of_tied_gaps_at_midpoint():
    # accuracy 5/6 in the gaps (0.3, 0.4) and (0.7, 0.8): the lower midpoint wins
    assert best_threshold(SCORES, LABELS) == pytest.approx(0.35)
    assert accuracy_at(SCORES, LABELS, 0.35) == pytest.approx(5 / 6)
    assert accuracy_at(SCORES, LABELS, 0.75) == pytest.approx(5 / 6)


def test_best_threshold_separates_separable_scores():
    scores, labels = [0.8, 0.9, 0.1, 0.2], [1, 1, 0, 0]
    assert best_threshold(scores, labels) == pytest.approx(0.5)
    assert accuracy_at(scores, labels, 0.5) == 1.0


def test_best_threshold_is_optimal_on_random_scores():
    rng = np.random.default_rng(5)
    scores, labels = np.round(rng.normal(size=300), 1), rng.integers(0, 2, 300)
    best = accuracy_at(scores, labels, best_threshold(scores, labels))
    brute = max(accuracy_at(scores, labels, t) for t in np.r_[np.unique(scores), scores.max() + 1])
    assert best == pytest.approx(brute)


def test_fixed_threshold_rates_by_hand():
    rates = fixed_threshold_rates(SCORES, LABELS, 0.5)  # accepts 0.9, 0.8 (G) and 0.7 (I)
    assert rates == pytest.approx({"threshold": 0.5, "acc": 4 / 6, "tpr": 2 / 3, "fpr": 1 / 3})


# ---------------------------------------------------------------------------------------------- k-fold protocol


def test_kfold_accuracy_on_gaussian_scores_is_near_bayes_rate():
    scores, labels = gaussian_pairs(10000, np.random.default_rng(1))
    folds = np.tile(np.repeat(np.arange(10), 1000), 2)
    result = kfold_accuracy(scores, labels, folds)
    np.testing.assert_array_equal(result.folds, np.arange(10))
    assert result.mean == pytest.approx(norm.cdf(1.0), abs=0.01)
    assert result.std == pytest.approx(np.std(result.accuracies, ddof=1))
    assert result.standard_error == pytest.approx(result.std / np.sqrt(10))
    np.testing.assert_allclose(result.thresholds, 0.0, atol=0.15)  # the Bayes threshold is 0


def test_kfold_threshold_never_sees_the_test_fold():
    scores, labels = gaussian_pairs(500, np.random.default_rng(2))
    folds = np.tile(np.repeat(np.arange(5), 100), 2)
    before = kfold_accuracy(scores, labels, folds)
    flipped = scores.copy()
    flipped[folds == 0] *= -1  # ruin fold 0 only: its own threshold must not move
    after = kfold_accuracy(flipped, labels, folds)
    assert after.thresholds[0] == before.thresholds[0]
    assert after.thresholds[0] == best_threshold(scores[folds != 0], labels[folds != 0])
    assert after.accuracies[0] < 0.5 < before.accuracies[0]
    assert not np.allclose(after.thresholds[1:], before.thresholds[1:])  # the others do see fold 0


def test_kfold_failure_modes():
    with pytest.raises(ValueError, match="at least 2 folds"):
        kfold_accuracy(SCORES, LABELS, np.zeros(6, int))
    with pytest.raises(ValueError, match="same length"):
        kfold_accuracy(SCORES, LABELS, np.zeros(5, int))
    with pytest.raises(ValueError, match="integer"):
        kfold_accuracy(SCORES, LABELS, np.zeros(6))
    with pytest.raises(ValueError, match="only one class"):
        kfold_accuracy(SCORES, LABELS, [0, 0, 0, 1, 1, 1])


# ---------------------------------------------------------------------------------------------- distributions


def test_score_distributions_by_hand():
    dist = score_distributions([1.0, 3.0, -1.0, -3.0], [1, 1, 0, 0], bins=[-4, 0, 4])
    np.testing.assert_allclose(dist.genuine, [0.0, 0.25])  # density: 2 of 2 in a bin of width 4
    np.testing.assert_allclose(dist.impostor, [0.25, 0.0])
    assert (dist.genuine_mean, dist.impostor_mean) == (2.0, -2.0)
    assert dist.genuine_std == 1.0 and dist.impostor_std == 1.0
    assert dist.d_prime == pytest.approx(4.0)


def test_score_distributions_densities_integrate_to_one():
    scores, labels = gaussian_pairs(1000, np.random.default_rng(4))
    dist = score_distributions(scores, labels, bins=30)
    assert dist.edges.shape == (31,)
    widths = np.diff(dist.edges)
    assert np.sum(dist.genuine * widths) == pytest.approx(1.0)
    assert np.sum(dist.impostor * widths) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="bins"):
        score_distributions(scores, labels, bins=0)
    with pytest.raises(ValueError, match="no genuine score lies within"):
        score_distributions([5.0, -1.0], [1, 0], bins=[-2, 0, 2])


# ---------------------------------------------------------------------------------------------- report


def test_verification_report_is_json_and_consistent():
    scores, labels = gaussian_pairs(300, np.random.default_rng(6))
    folds = np.tile(np.repeat(np.arange(10), 30), 2)
    report = json.loads(json.dumps(verification_report(scores, labels, folds, threshold=0.0)))
    assert report["n_genuine"] == report["n_impostor"] == 300
    assert len(report["fold_accuracies"]) == 10
    assert report["accuracy_sem"] == pytest.approx(report["accuracy_std"] / np.sqrt(10))
    assert list(report["tar_at_far"]) == ["1e-03", "1e-02", "1e-01"]
    assert report["auc"] == pytest.approx(auc(*roc_curve(scores, labels)[:2]))
    assert report["fixed_threshold"]["threshold"] == 0.0
    table = format_report_table(report)
    assert "10-fold" in table and "at most 30 of 300" in table
    assert "TAR@FAR=1e-03" in table and "below one of 300 impostor pairs" in table


def test_verification_report_without_folds_says_it_is_optimistic():
    report = verification_report(SCORES, LABELS)
    assert report["accuracy_mean"] == pytest.approx(5 / 6)
    assert report["accuracy_std"] is None and report["best_threshold"] == pytest.approx(0.35)
    assert "optimistic" in format_report_table(report)
    with pytest.raises(ValueError, match="lacks key"):
        format_report_table({"auc": 1.0})


@pytest.mark.parametrize(
    "scores, labels, message",
    [
        ([0.1, 0.2], [1, 0, 1], "same length"),
        ([0.1, 0.2], [1, 2], "0 \\(impostor\\) or 1"),
        ([0.1, 0.2], ["a", "b"], "0 \\(impostor\\) or 1"),
        ([0.1, np.nan], [1, 0], "non-finite"),
        ([], [], "non-empty"),
        ([0.1, 0.2], [1, 1], "at least one genuine"),
    ],
)
def test_metrics_reject_bad_scores_and_labels(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        roc_curve(scores, labels)
