"""ROC and histogram plots, and the reader of ROC curves published by LFW participants."""

import numpy as np
import pytest
from PIL import Image

from faceveil.eval.verification import auc, roc_curve
from faceveil.report.plots import plot_roc, plot_score_histogram
from faceveil.report.published_roc import list_published_rocs, read_published_roc


@pytest.fixture
def roc_dir(lfw_root):
    """The published curves beside the full LFW copy (skipped when absent)."""
    folder = lfw_root / "roc-files"
    if not folder.is_dir():
        pytest.skip(f"published LFW ROC files not found at {folder}")
    return folder


def scores_and_labels(seed=0, n=200):
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(1, 1, n), rng.normal(-1, 1, n)], np.r_[np.ones(n, int), np.zeros(n, int)]


def png_pixels(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("L"))


# ---------------------------------------------------------------------------------------------- plots


@pytest.mark.parametrize("log_fpr", [True, False])
def test_plot_roc_writes_a_png_with_content(tmp_path, log_fpr):
    fpr, tpr, _ = roc_curve(*scores_and_labels())
    out = plot_roc({"ours": (fpr, tpr), "chance": ([0, 1], [0, 1])}, tmp_path / "roc.png", log_fpr=log_fpr)
    assert out == tmp_path / "roc.png"
    pixels = png_pixels(out)
    assert pixels.shape[0] > 300 and pixels.std() > 10  # a drawn figure, not a blank canvas


def test_plot_roc_refuses_to_overwrite_unless_asked(tmp_path):
    curves = {"ours": ([0, 0.5, 1], [0, 0.9, 1])}
    path = plot_roc(curves, tmp_path / "roc.png")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        plot_roc(curves, path)
    plot_roc({"other": ([0, 0.5, 1], [0, 0.2, 1])}, path, overwrite=True)
    assert path.read_bytes() != before


def test_plot_roc_rejects_bad_arguments(tmp_path):
    good = {"ours": ([0, 1], [0, 1])}
    with pytest.raises(ValueError, match=r"\.png"):
        plot_roc(good, tmp_path / "roc.jpg")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plot_roc(good, tmp_path / "missing" / "roc.png")
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_roc({}, tmp_path / "roc.png")
    with pytest.raises(ValueError, match="equal length"):
        plot_roc({"bad": ([0, 1], [0, 0.5, 1])}, tmp_path / "roc.png")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        plot_roc({"bad": ([0, 2], [0, 1])}, tmp_path / "roc.png")
    assert not (tmp_path / "roc.png").exists()


def test_plot_score_histogram_with_threshold(tmp_path):
    scores, labels = scores_and_labels(1)
    out = plot_score_histogram(scores, labels, tmp_path / "hist.png", threshold=0.0, bins=20)
    assert png_pixels(out).std() > 10
    with pytest.raises(ValueError, match="genuine"):
        plot_score_histogram(scores, np.ones_like(labels), tmp_path / "one_class.png")
    with pytest.raises(ValueError, match="threshold"):
        plot_score_histogram(scores, labels, tmp_path / "nan.png", threshold=float("nan"))


# ---------------------------------------------------------------------------------------------- published ROC files


def test_reads_both_column_orders_headers_and_separators(tmp_path):
    tpr = np.array([0.0, 0.6, 0.9, 1.0])
    fpr = np.array([0.0, 0.0, 0.1, 1.0])
    (tmp_path / "tpr_fpr.txt").write_text("TP\tFP\r\n" + "".join(f"{t}\t{f}\r\n" for t, f in zip(tpr, fpr)))
    (tmp_path / "fpr_tpr.txt").write_text(
        "% false positive rate; true positive rate\n" + "".join(f"{f}, {t}\n" for f, t in zip(fpr[::-1], tpr[::-1]))
    )
    for name in ("tpr_fpr.txt", "fpr_tpr.txt"):
        got_fpr, got_tpr = read_published_roc(tmp_path / name)
        np.testing.assert_array_equal(got_fpr, fpr)
        np.testing.assert_array_equal(got_tpr, tpr)


def test_extra_columns_nan_rows_and_duplicates(tmp_path):
    path = tmp_path / "octave.txt"
    path.write_text("# name: out\n# rows: 5\n1 1 0.5 9\n1 1 0.5 9\n0.8 NaN 0.1 2\n0.7 0.2 0.7 1\n0 0 1 0\n\n")
    fpr, tpr = read_published_roc(path)
    np.testing.assert_array_equal(fpr, [0.0, 0.2, 1.0])
    np.testing.assert_array_equal(tpr, [0.0, 0.7, 1.0])


@pytest.mark.parametrize(
    "content, message",
    [
        ("false\n0.1\n0.2\n", "one column"),
        ("0.1 0.2\n0.3 0.4 0.5\n", "3 columns"),
        ("0.1 0.2\nend of data\n", "non-numeric line"),
        ("header only\n", "no numeric rows"),
        ("0 0\n50 70\n100 100\n", r"outside \[0, 1\]"),
        ("0 0\n0.9 0.1\n1 1\n0 0\n0.5 0.2\n1 1\n", "not a single ROC curve"),  # two curves in a row
        ("0.5 NaN\n0.6 0.1\n", "fewer than 2 points"),
    ],
)
def test_unreadable_files_raise_with_the_file_name(tmp_path, content, message):
    path = tmp_path / "broken_roc.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        read_published_roc(path)
    assert "broken_roc.txt" in str(err.value)


def test_binary_and_missing_files(tmp_path):
    (tmp_path / "upload.txt").write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(ValueError, match="upload.txt: a binary file"):
        read_published_roc(tmp_path / "upload.txt")
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_published_roc(tmp_path / "nope.txt")


def test_list_published_rocs_skips_backups_and_other_files(tmp_path):
    for name in ("b.txt", "a.TPFP", "a.txt~", "plot.p", "lfw.gif", ".hidden.txt"):
        (tmp_path / name).write_text("0 0\n1 1\n")
    assert [p.name for p in list_published_rocs(tmp_path)] == ["a.TPFP", "b.txt"]
    with pytest.raises(FileNotFoundError):
        list_published_rocs(tmp_path / "absent")


def test_dlib_curve_gives_dlibs_published_accuracy(roc_dir):
    fpr, tpr = read_published_roc(roc_dir / "dlib_LFW_roc_curve.txt")  # TPR first, 6000 points
    assert fpr.size == 6000 and (np.diff(fpr) >= 0).all() and (np.diff(tpr) >= 0).all()
    # dlib reports 99.38 % on LFW; the best point of its curve, with balanced classes, says the same
    assert np.max((tpr + 1 - fpr) / 2) == pytest.approx(0.9938, abs=5e-4)
    assert auc(fpr, tpr) > 0.998


@pytest.mark.parametrize(
    "name",
    [
        "sub-sml_iccv2013_combined_restricted.txt",  # FPR first
        "LFW_ROC_SFRD+PMML.txt",  # header says "false positive rate; true positive rate", data is TPR first
        "LFW_ROC_SFRD+PMML_old.txt",  # the same curve, really FPR first
        "Haejong_Milanfar_LARK_unsupervised.txt",  # "TP FP" header
        "POP-PEP.txt",  # Octave matrix with 6 columns
        "ITL_FaceIT2_roc.txt",  # comma separated
        "eigenfaces-original-roc.txt",  # NaN rows
        "BaiduIDLFinal.TPFP",
    ],
)
def test_real_files_of_several_formats_read_as_curves_above_chance(roc_dir, name):
    fpr, tpr = read_published_roc(roc_dir / name)
    assert (np.diff(fpr) >= 0).all() and (np.diff(tpr) >= 0).all()
    assert 0.6 < auc(fpr, tpr) <= 1.0


def test_both_sfrd_files_give_the_same_curve(roc_dir):
    new = read_published_roc(roc_dir / "LFW_ROC_SFRD+PMML.txt")
    old = read_published_roc(roc_dir / "LFW_ROC_SFRD+PMML_old.txt")
    np.testing.assert_allclose(new[0], old[0])
    np.testing.assert_allclose(new[1], old[1])


@pytest.mark.parametrize("name, message", [("VL_LFW_ROC.txt", "binary"), ("a.txt", "one column")])
def test_real_files_that_are_not_curves(roc_dir, name, message):
    with pytest.raises(ValueError, match=f"{name}: .*{message}"):
        read_published_roc(roc_dir / name)
