"""Identification protocol of seed 003 (Sec. 4.4): splits, rank-k rates, CMC, ties and failure modes."""

import numpy as np
import pytest

from faceveil.eval.identification import identification_protocol, identify

# subjects 0..3 with 5, 4, 4, 2 images: subject 3 is below min_images=4
LABELS = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3])


def separated_embeddings(labels, dim=8, noise=0.05, seed=0):
    """Each subject near its own orthogonal axis: every probe is closest to its own subject."""
    rng = np.random.default_rng(seed)
    return np.eye(dim)[labels] + noise * rng.normal(size=(labels.size, dim))


def test_protocol_keeps_subjects_with_enough_images_one_gallery_image_each():
    splits = identification_protocol(LABELS, min_images=4, runs=5, seed=0)
    assert len(splits) == 5
    for gallery, probe in splits:
        assert sorted(LABELS[gallery]) == [0, 1, 2]  # one image per kept subject, subject 3 left out
        assert np.intersect1d(gallery, probe).size == 0
        np.testing.assert_array_equal(np.sort(np.r_[gallery, probe]), np.arange(13))
        assert gallery.dtype == probe.dtype == np.int64


def test_protocol_is_deterministic_under_a_seed_and_varies_across_seeds_and_runs():
    labels = np.repeat(np.arange(20), 6)
    first = identification_protocol(labels, runs=3, seed=7)
    again = identification_protocol(labels, runs=3, seed=7)
    other = identification_protocol(labels, runs=3, seed=8)
    for (g1, p1), (g2, p2) in zip(first, again):
        np.testing.assert_array_equal(g1, g2)
        np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(first[0][0], other[0][0])
    assert not np.array_equal(first[0][0], first[1][0])


def test_min_images_is_configurable():
    gallery, probe = identification_protocol(LABELS, min_images=2, runs=1)[0]
    assert sorted(LABELS[gallery]) == [0, 1, 2, 3] and probe.size == 15 - 4


def test_protocol_failure_modes():
    with pytest.raises(ValueError, match="at least 2 subjects with >= 4 images, found 1"):
        identification_protocol([0, 0, 0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match="min_images"):
        identification_protocol(LABELS, min_images=1)
    with pytest.raises(ValueError, match="runs"):
        identification_protocol(LABELS, runs=0)
    with pytest.raises(ValueError, match="1-D"):
        identification_protocol(np.zeros((3, 2)))


def test_rank1_is_one_for_separated_embeddings_with_string_labels():
    names = np.array(["ann", "bob", "cid", "dee"])[LABELS]
    splits = identification_protocol(names, runs=4, seed=1)
    result = identify(separated_embeddings(LABELS), names, splits, ranks=(1, 2, 3))
    assert result["ranks"][1] == {"mean": 1.0, "std": 0.0, "per_run": [1.0] * 4}
    np.testing.assert_array_equal(result["cmc_mean"], [1.0, 1.0, 1.0])
    assert result["n_runs"] == 4 and result["n_gallery"] == 3 and result["n_probes"] == [10] * 4


def test_ranks_and_cmc_by_hand():
    # gallery: subject 0 at (1, 0), subject 1 at (0, 1), subject 2 at (-1, 0)
    emb = np.array([[1, 0], [0, 1], [-1, 0], [0.6, 0.8], [0.8, -0.6], [0.6, 0.8]], dtype=float)
    labels = np.array([0, 1, 2, 0, 1, 2])
    # probe 3 (subject 0) is nearer subject 1: rank 2; probe 4 (subject 1): sims 0.8, -0.6, -0.8 -> rank 2;
    # probe 5 (subject 2): sims 0.6, 0.8, -0.6 -> rank 3
    result = identify(emb, labels, [(np.array([0, 1, 2]), np.array([3, 4, 5]))], ranks=(1, 2, 3))
    np.testing.assert_allclose(result["cmc_mean"], [0.0, 2 / 3, 1.0])
    assert result["ranks"][2]["mean"] == pytest.approx(2 / 3)
    assert np.isnan(result["ranks"][1]["std"])  # one run: no spread


def test_mean_and_sample_std_over_runs_by_hand():
    emb = np.array([[1, 0], [0, 1], [1, 0], [1, 0]], dtype=float)
    labels = np.array([0, 1, 0, 1])
    # run A, gallery 0 and 1: probe 2 (subject 0) matches exactly, probe 3 (subject 1) looks like
    #   subject 0 -> rank-1 rate 0.5
    # run B, gallery 2 and 3 (both (1, 0)): probe 0 ties 1 = 1, probe 1 ties 0 = 0 -> both misses, rate 0
    splits = [(np.array([0, 1]), np.array([2, 3])), (np.array([2, 3]), np.array([0, 1]))]
    result = identify(emb, labels, splits, ranks=(1,))
    assert result["ranks"][1]["per_run"] == [0.5, 0.0]
    assert result["ranks"][1]["mean"] == pytest.approx(0.25)
    assert result["ranks"][1]["std"] == pytest.approx(np.sqrt(0.125))  # ddof=1: sqrt(2 * 0.25^2 / 1)


def test_a_tie_never_favours_the_true_subject():
    emb = np.array([[1, 0], [1, 0], [1, 0]], dtype=float)  # both gallery images equal the probe
    result = identify(emb, [0, 1, 0], [(np.array([0, 1]), np.array([2]))], ranks=(1, 2))
    assert result["ranks"][1]["mean"] == 0.0 and result["ranks"][2]["mean"] == 1.0


def test_probe_embeddings_replace_only_the_probes():
    labels = np.repeat(np.arange(4), 4)
    emb = separated_embeddings(labels)
    splits = identification_protocol(labels, runs=3, seed=2)
    swapped = emb[(np.arange(labels.size) + 4) % labels.size]  # every image looks like the next subject
    result = identify(emb, labels, splits, ranks=(1,), probe_embeddings=swapped)
    assert result["ranks"][1]["mean"] == 0.0
    # the gallery still comes from `embeddings`: using swapped for both is again perfect
    assert identify(swapped, labels, splits, ranks=(1,))["ranks"][1]["mean"] == 1.0


def test_identify_failure_modes():
    emb = separated_embeddings(LABELS)
    splits = identification_protocol(LABELS, runs=2)
    with pytest.raises(ValueError, match="rank"):
        identify(emb, LABELS, splits, ranks=(1, 4))  # gallery of 3
    with pytest.raises(ValueError, match="one entry per embedding"):
        identify(emb, LABELS[:-1], splits)
    with pytest.raises(ValueError, match="probe_embeddings must have the shape"):
        identify(emb, LABELS, splits, ranks=(1,), probe_embeddings=emb[:, :4])
    with pytest.raises(ValueError, match="no gallery image"):
        identify(emb, LABELS, [(np.array([0, 5]), np.array([9]))], ranks=(1,))
    with pytest.raises(ValueError, match="one image per subject"):
        identify(emb, LABELS, [(np.array([0, 1]), np.array([2]))], ranks=(1,))
    with pytest.raises(ValueError, match=r"indices must be in \[0, 15\)"):
        identify(emb, LABELS, [(np.array([0, 99]), np.array([2]))], ranks=(1,))
    with pytest.raises(ValueError, match="splits is empty"):
        identify(emb, LABELS, [])
