"""RDP, Pixel-DP and DCT-DP (seed 004): features, weights, budgets, noise, Theorem 1, the CLI."""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from scipy.optimize import minimize

from faceveil.cli import main
from faceveil.data.chips import ChipSpec, load_face_chips
from faceveil.data.folders import read_identity_folders
from faceveil.data.images import load_rgb, to_grey, to_tensor
from faceveil.data.sample import sample_root
from faceveil.protect.dp.domains import make_domain
from faceveil.protect.dp.methods import DPConfig, protect_dp
from faceveil.protect.dp.budget import (feature_epsilons, image_cost, inclusion_probabilities, lmgd_scales,
                                        na_scales, uniform_scales)
from faceveil.protect.dp.features import coefficient_jacobian, eigenface_weights, rank_order
from faceveil.protect.dp.noise import NoiseSource, geometric_counts, laplace_noise, snapped_laplace
from faceveil.protect.dp.sensitivity import estimate_sensitivity, given_sensitivity
from faceveil.protect.dp.theory import sample_feature_noise, theorem1_ks
from faceveil.protect.dp.eigenfaces import Eigenfaces

SIZE = 24  # small crops keep every test fast; the maths does not depend on the size


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def sample():
    """The embedded sample as grey 24x24 centre crops (N, 1, 24, 24) and identity labels."""
    items = read_identity_folders(sample_root() / "lfw")
    photos = to_tensor([load_rgb(p) for p, _ in items])
    crops = F.interpolate(to_grey(photos)[:, :, 30:120, 30:120], size=(SIZE, SIZE), mode="area")
    return crops, [person for _, person in items]


@pytest.fixture(scope="module")
def basis(sample):
    crops, people = sample
    return Eigenfaces(12).fit(crops, people, "sample 24x24")


@pytest.fixture(scope="module")
def ranked(sample, basis):
    """Weights against the ranked Haar coefficients of the first crop, and the sensitivities."""
    domain = make_domain("haar", 3)
    weights = eigenface_weights(basis, domain)
    order = rank_order(domain.forward(sample[0][:1])[0])
    return weights[:, order], basis.sensitivity.head(12)


# ------------------------------------------------------------------------------------------------
# eigenfaces and sensitivity


def test_eigenfaces_are_the_principal_axes(sample, basis):
    crops, _ = sample
    data = crops.flatten(1).double()
    covariance = torch.cov(data.T)
    values, vectors = torch.linalg.eigh(covariance)
    top = vectors[:, -12:].flip(1)  # numpy/torch reference, largest eigenvalues first
    u = basis.components.double()
    assert torch.allclose(u @ u.T, torch.eye(12, dtype=torch.float64), atol=1e-5)
    assert torch.allclose((u @ top).abs(), torch.eye(12, dtype=torch.float64), atol=2e-3)
    assert torch.allclose(basis.singular_values**2 / (len(data) - 1), values[-12:].flip(0), rtol=1e-6)
    # deterministic sign: the largest entry of each eigenface is positive
    assert (u.gather(1, u.abs().argmax(1, keepdim=True)) > 0).all()
    expected = (data - data.mean(0)) @ u.T
    assert torch.allclose(basis.transform(crops).double(), expected, atol=1e-4)


def test_eigenfaces_save_load_round_trip(tmp_path, sample, basis):
    path = basis.save(tmp_path / "basis.npz")
    loaded = Eigenfaces.load(path)
    assert torch.equal(loaded.components, basis.components) and torch.equal(loaded.mean, basis.mean)
    assert loaded.image_shape == (1, SIZE, SIZE) and loaded.sensitivity == basis.sensitivity
    assert loaded.config() == basis.config()
    assert torch.allclose(loaded.transform(sample[0][:3], 5), basis.transform(sample[0][:3], 5), atol=1e-6)
    with pytest.raises(ValueError, match="exists"):
        basis.save(path)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not an eigenface basis"):
        Eigenfaces.load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError):
        Eigenfaces.load(tmp_path / "missing.npz")


def test_eigenfaces_reject_bad_sizes(sample, basis):
    crops, _ = sample
    with pytest.raises(ValueError, match="larger than the fitted basis"):
        basis.transform(crops, 13)
    with pytest.raises(ValueError, match="more than 50 crops"):
        Eigenfaces(50).fit(crops[:20])
    with pytest.raises(ValueError, match="same size"):
        Eigenfaces(2).fit([crops[0], crops[1], crops[2, :, :20, :20]])
    with pytest.raises(ValueError, match="fitted shape"):
        basis.transform(crops[:, :, :20, :20])


def test_sensitivity_is_the_max_over_pairs_of_different_people():
    g = torch.Generator().manual_seed(0)
    features = torch.randn(30, 5, generator=g)
    people = [i % 7 for i in range(30)]
    brute = torch.zeros(5, dtype=torch.float64)
    for a in range(30):
        for b in range(30):
            if people[a] != people[b]:
                brute = torch.maximum(brute, (features[a] - features[b]).abs().double())
    s = estimate_sensitivity(features, people, "random")
    assert torch.allclose(s.head(5), brute)
    counts = np.bincount(people)
    assert s.data == {"description": "random", "images": 30, "identities": 7,
                      "pairs": int((30**2 - (counts**2).sum()) // 2)}
    # one identity holding both extremes: the answer must pair it with another identity
    f = torch.tensor([[0.0], [10.0], [4.0], [6.0]])
    assert estimate_sensitivity(f, ["a", "a", "b", "c"]).values == (6.0,)
    with pytest.raises(ValueError, match="two identities"):
        estimate_sensitivity(f, ["a"] * 4)
    assert given_sensitivity(2.0, 3).values == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="> 0"):
        given_sensitivity([1.0, 0.0])
    with pytest.raises(ValueError, match="known for 3"):
        given_sensitivity(2.0, 3).head(4)


# ------------------------------------------------------------------------------------------------
# weights w_ik


@pytest.mark.parametrize("name", ["haar", "dct", "pixel"])
def test_autograd_weights_equal_the_closed_form_for_eigenfaces(sample, basis, name):
    domain = make_domain(name, 3)
    jacobian = coefficient_jacobian(sample[0][:2], basis, domain)
    closed = eigenface_weights(basis, domain)
    assert jacobian.shape == (2, 12, closed.shape[1])
    assert torch.allclose(jacobian, closed.expand_as(jacobian), atol=1e-5)


def test_autograd_weights_of_a_network_are_its_jacobian():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Tanh(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 11 * 11, 6)).double().eval()
    images = torch.rand(2, 3, 13, 13, dtype=torch.float64)  # odd size: Haar padding and crop inside
    domain = make_domain("haar", 2)
    w = coefficient_jacobian(images, net, domain)
    for n in range(2):
        c = domain.forward(images[n:n + 1])
        reference = torch.autograd.functional.jacobian(lambda v: net(domain.inverse(v, (3, 13, 13)))[0], c)[:, 0]
        assert torch.allclose(w[n], reference, atol=1e-12)
    # first-order Taylor expansion (Eq. 2): a small coefficient change moves F by w times the change
    c = domain.forward(images[:1])
    step = torch.zeros_like(c)
    step[0, 5] = 1e-5
    moved = net(domain.inverse(c + step, (3, 13, 13))) - net(images[:1])
    assert torch.allclose(moved[0], 1e-5 * w[0, :, 5], rtol=1e-4, atol=1e-12)


def test_ranking_by_magnitude_and_by_weight():
    c = torch.tensor([0.1, -3.0, 2.0, 0.0])
    w = torch.tensor([[1.0, 0.0, 2.0, 3.0]])
    assert rank_order(c).tolist() == [1, 2, 0, 3]
    assert rank_order(c, w.pow(2).sum(0)).tolist() == [3, 2, 0, 1]
    assert rank_order(c, horizon=2).tolist() == [1, 2]
    with pytest.raises(ValueError, match="weight key"):
        rank_order(c, w)


# ------------------------------------------------------------------------------------------------
# budgets and scale allocations


@pytest.mark.parametrize("epsilon0", [0.2, 1.0, 7.5])
def test_every_allocation_spends_exactly_epsilon0(ranked, epsilon0):
    weights, delta = ranked
    lmgd, report = lmgd_scales(weights, delta, 0.02, epsilon0)
    assert report.converged and report.error < 1e-3 and report.iterations > 1
    for scales in (uniform_scales(weights, delta, 0.02, epsilon0), na_scales(weights, delta, 0.02, epsilon0), lmgd):
        total = math.fsum(feature_epsilons(weights, scales, delta, 0.02).tolist())
        assert abs(total / epsilon0 - 1) < 1e-6


def test_allocations_have_the_shapes_of_the_paper(ranked):
    weights, delta = ranked
    uniform = uniform_scales(weights, delta, 0.02, 1.0)
    assert torch.allclose(uniform, uniform[0].expand_as(uniform))
    # NA: b_k proportional to sum_i Delta_i / |w_ik| (Sec. IV-C1), up to one rescaling
    na = na_scales(weights, delta, 0.02, 1.0)
    shape = (delta[:, None] / weights.double().abs()).sum(0)
    ratio = na / shape
    assert torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-9)
    # LMGD minimises the image cost f(b) (Eq. 4) at the same budget
    lmgd, _ = lmgd_scales(weights, delta, 0.02, 1.0)
    assert image_cost(lmgd, 0.02) < image_cost(uniform, 0.02)
    assert image_cost(lmgd, 0.02) < image_cost(na, 0.02)


def test_lmgd_reaches_the_optimum_found_by_scipy():
    g = torch.Generator().manual_seed(3)
    weights = torch.randn(3, 6, generator=g, dtype=torch.float64)
    delta = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    p, epsilon0 = 0.3, 0.5
    scales, report = lmgd_scales(weights, delta, p, epsilon0, tolerance=1e-7, max_iterations=20000)
    # reference: min sum_k u_k s.t. eps(u) <= eps_0, u = b^2 pi, by SLSQP
    a, d = weights.pow(2).numpy(), delta.numpy()
    constraint = {"type": "ineq", "fun": lambda u: epsilon0 - (d / np.sqrt(a @ u)).sum()}
    start = np.full(6, 20.0)
    best = minimize(np.sum, start, constraints=[constraint], bounds=[(1e-12, None)] * 6, method="SLSQP",
                    options={"ftol": 1e-12, "maxiter": 1000})
    assert best.success and report.converged
    assert image_cost(scales, p) == pytest.approx(best.fun, rel=1e-4)


def test_lmgd_rejects_a_step_outside_the_papers_range(ranked):
    with pytest.raises(ValueError, match="step"):
        lmgd_scales(*ranked, 0.02, 1.0, step=0.5)


def test_inclusion_probabilities_are_those_of_the_sampled_k():
    source = NoiseSource(seed=1)
    counts = geometric_counts(0.1, 30, 200000, source)
    assert counts.min() == 1 and counts.max() == 30
    empirical = torch.tensor([(counts >= k).mean() for k in range(1, 31)], dtype=torch.float64)
    assert torch.allclose(empirical, inclusion_probabilities(0.1, 30), atol=4e-3)
    assert counts.mean() == pytest.approx(1 / 0.1 * (1 - 0.9**30), rel=0.02)


# ------------------------------------------------------------------------------------------------
# noise


def test_laplace_noise_follows_the_laplace_law_and_is_reproducible():
    scales = torch.full((100000,), 2.5, dtype=torch.float64)
    x = laplace_noise(scales, NoiseSource(seed=4))
    assert stats.kstest(x.numpy(), "laplace", args=(0, 2.5)).pvalue > 1e-3
    assert torch.equal(x, laplace_noise(scales, NoiseSource(seed=4)))
    secure = laplace_noise(scales[:1000], NoiseSource(secure=True))
    assert not torch.equal(secure, laplace_noise(scales[:1000], NoiseSource(secure=True)))
    assert stats.kstest(secure.numpy(), "laplace", args=(0, 2.5)).pvalue > 1e-4
    with pytest.raises(ValueError, match="at most one"):
        NoiseSource(seed=1, secure=True)


def test_uniform_over_all_doubles_reaches_below_2_to_the_minus_53():
    u = NoiseSource(seed=5).uniform_all_doubles(200000)
    assert (u > 0).all() and (u < 1).all()
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # the textbook sampler only makes multiples of 2**-53; these have up to 52 bits below their binade
    small = u[u < 2**-10]
    assert small.size > 0 and np.any(np.mod(small * 2.0**53, 1.0) != 0)


def test_snapping_rounds_to_a_power_of_two_lattice_and_clamps():
    diffprivlib = pytest.importorskip("diffprivlib.mechanisms")
    values = torch.tensor([0.3, -0.2, 0.9, 0.0] * 500, dtype=torch.float64)
    scales = torch.tensor([0.01, 0.3, 0.05, 3.0] * 500, dtype=torch.float64)
    out = snapped_laplace(values, scales, 1.0, NoiseSource(seed=6))
    assert out.abs().max() <= 1.0
    for b in (0.01, 0.3, 0.05):
        lattice = diffprivlib.Snapping._get_nearest_power_of_2(b)  # reference: the smallest power of 2 >= b
        chosen = out[scales == b]
        assert torch.equal(chosen, torch.round(chosen / lattice) * lattice)
        assert len(chosen.unique()) > 3
    # a scale above the bound B = 1 snaps to multiples of 4, which the final clamp folds into {-1, 0, 1}
    assert set(out[scales == 3.0].tolist()) <= {-1.0, 0.0, 1.0}
    near = out[scales == 0.01]
    assert (near - 0.3).abs().mean() == pytest.approx(0.01, rel=0.2)  # still Laplace-sized noise


# ------------------------------------------------------------------------------------------------
# Theorem 1


def test_theorem1_holds_for_equal_weighted_scales_and_fails_otherwise():
    m = 3000
    equal = theorem1_ks(torch.full((1, m), 0.5), torch.full((m,), 2.0, dtype=torch.float64), 0.05, 20000, seed=1)
    assert equal.pvalues[0] > 1e-3 and equal.statistics[0] < 0.015
    assert equal.laplace_scales[0] == pytest.approx(1.0 / math.sqrt(0.05))  # geometric sum: b / sqrt(p)
    spike = torch.cat([torch.ones(1, 1), torch.full((1, m - 1), 0.1)], dim=1)
    unequal = theorem1_ks(spike, torch.ones(m, dtype=torch.float64), 0.05, 20000, seed=1)
    assert unequal.statistics[0] > 0.02 and unequal.pvalues[0] < 1e-6


def test_theorem1_ks_statistic_matches_scipy_and_variance_matches_the_account(ranked):
    weights, delta = ranked
    scales = na_scales(weights, delta, 0.02, 1.0)
    result = theorem1_ks(weights, scales, 0.02, 4000, seed=2)
    zeta = sample_feature_noise(weights, scales, 0.02, 4000, NoiseSource(seed=2))
    for i in (0, 5):
        reference = stats.kstest(zeta[:, i].numpy(), "laplace", args=(0, float(result.laplace_scales[i])))
        assert float(result.statistics[i]) == pytest.approx(reference.statistic, abs=1e-9)
    # the variance matching behind eps_i(b) is exact: Var zeta_i = 2 (Delta_i / eps_i)^2
    scales = na_scales(weights, delta, 0.1, 1.0)
    zeta = sample_feature_noise(weights, scales, 0.1, 30000, NoiseSource(seed=3))
    theory = 2 * (delta / feature_epsilons(weights, scales, delta, 0.1)).pow(2)
    assert torch.allclose(zeta.var(0), theory, rtol=0.1)


# ------------------------------------------------------------------------------------------------
# the mechanisms end to end


def test_protect_dp_noise_on_the_features_has_the_accounted_variance(sample, basis):
    # p = 0.3 makes the seed's inclusion probabilities ((1 - p)^k, not (1 - p)^(k - 1)) 30 % off: detectable
    image = sample[0][:1]
    copies = image.expand(1500, -1, -1, -1)
    result = protect_dp(copies, basis, basis.sensitivity, DPConfig("rdp", 1.0, 0.3), seed=0, clamp=False)
    noise = (basis.transform(result.images) - basis.transform(image)).double()
    account = result.accounts[0]
    delta = torch.tensor(account.sensitivity["values"], dtype=torch.float64)
    theory = 2 * (delta / torch.tensor(account.feature_epsilons, dtype=torch.float64)).pow(2)
    ratio = noise.var(0) / theory
    assert float(ratio.mean()) == pytest.approx(1.0, abs=0.1)
    assert 0.75 < float(ratio.min()) and float(ratio.max()) < 1.3
    assert np.mean([a.K for a in result.accounts]) == pytest.approx(1 / 0.3, rel=0.1)


@pytest.mark.parametrize("method", ["rdp", "rdp-na", "rdp-lmgd", "pixel", "dct"])
def test_every_method_returns_images_and_a_complete_account(sample, basis, method):
    images = sample[0][:2]
    result = protect_dp(images, basis, basis.sensitivity, DPConfig(method, 0.5, 0.05), n_features=8, seed=3)
    assert result.images.shape == images.shape and result.images.dtype == torch.float32
    assert 0 <= float(result.images.min()) and float(result.images.max()) <= 1
    for account in result.accounts:
        record = json.loads(account.to_json())
        assert record["config"]["epsilon0"] == 0.5 and record["config"]["p"] == 0.05
        assert len(record["scales"]) == len(record["coefficients"]) == record["K"] >= 1
        assert len(record["feature_epsilons"]) == 8
        assert abs(math.fsum(record["feature_epsilons"]) / 0.5 - 1) < 1e-6
        assert record["noise"]["source"].startswith("torch.Generator") and "seed" not in json.dumps(record["noise"])
        assert (record["solver"] is not None) == (method == "rdp-lmgd")
    again = protect_dp(images, basis, basis.sensitivity, DPConfig(method, 0.5, 0.05), n_features=8, seed=3)
    assert torch.equal(again.images, result.images)


def test_protect_dp_with_a_network_and_snapping(sample):
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 5, stride=2), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(3 * 10 * 10, 4)).eval()
    delta = given_sensitivity(0.01, 4)
    config = DPConfig("rdp-na", 2.0, 0.1, snap=True)
    result = protect_dp(sample[0][:2], net, delta, config, seed=0)
    assert max(max(a.scales) for a in result.accounts) < 8  # below the Haar bound B = 2**3: valid
    with pytest.raises(ValueError, match="snapping is valid only for Laplace scales below"):
        protect_dp(sample[0][:2], net, given_sensitivity(1.0, 4), config, seed=0)  # scales ~ 70 > B
    assert all(abs(a.total_epsilon / 2.0 - 1) < 1e-6 for a in result.accounts)
    assert result.accounts[0].noise["snapped"] is True
    other = protect_dp(sample[0][:2], net, delta, config, seed=1)
    assert not torch.equal(other.images, result.images)


def test_protect_dp_rejects_bad_input(sample, basis):
    images = sample[0][:2]
    sens = basis.sensitivity
    for epsilon0 in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="epsilon0"):
            DPConfig("rdp", epsilon0)
    for p in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="p must lie"):
            DPConfig("rdp", 1.0, p)
    with pytest.raises(ValueError, match="method"):
        DPConfig("gauss")
    with pytest.raises(ValueError, match="larger than the fitted basis"):
        protect_dp(images, basis, sens, DPConfig("rdp"), n_features=13, seed=0)
    with pytest.raises(ValueError, match="same size"):
        protect_dp([images[0], images[1, :, :20, :20]], basis, sens, DPConfig("rdp"), seed=0)
    bad = images.clone()
    bad[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        protect_dp(bad, basis, sens, DPConfig("rdp"), seed=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        protect_dp(images * 2, basis, sens, DPConfig("rdp"), seed=0)


# ------------------------------------------------------------------------------------------------
# the command line


@pytest.fixture(scope="module")
def small_basis(tmp_path_factory):
    """A 32x32 grey basis of 8 eigenfaces fitted on aligned crops of 24 sample photos."""
    items = read_identity_folders(sample_root() / "lfw")[:24]
    crops = load_face_chips(items, ChipSpec(size=32, channels=1), progress=False).images()
    path = tmp_path_factory.mktemp("basis") / "small.npz"
    return Eigenfaces(8).fit(crops, [person for _, person in items], "24 sample crops").save(path)


def _photo(folder, person, name="photo.jpg"):
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    target.write_bytes(next((sample_root() / "lfw" / person).glob("*.jpg")).read_bytes())
    return target


def test_cli_sidecars_say_only_what_a_recipient_may_know(tmp_path, small_basis, capsys):
    photos = tmp_path / "Bill_Gates"
    _photo(photos, "Bill_Gates", "Bill_Gates_0001.jpg")
    out = tmp_path / "out"
    argv = ["protect", "dp", "--method", "rdp-lmgd", "--epsilon", "0.5", "--p", "0.05", "--seed", "987654321",
            "--basis", str(small_basis), str(photos), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert "for experiments only" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["release-0001.json", "release-0001.png", "result.json"]
    sidecar = json.loads((out / "release-0001.json").read_text())
    assert set(sidecar) == {"mechanism", "version", "epsilon0", "p", "basis_id", "levels", "sensitivity", "release_id"}
    assert sidecar["basis_id"] == Eigenfaces.load(small_basis).digest() and sidecar["sensitivity"] == "range"
    everything = (out / "release-0001.json").read_text() + (out / "result.json").read_text()
    assert "987654321" not in everything and "Bill_Gates" not in everything  # no seed, no input name anywhere
    assert "--seed '<secret>'" in json.loads((out / "result.json").read_text())["provenance"]["command"]
    first = (out / "release-0001.png").read_bytes()
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err
    assert main(argv + ["--overwrite", "--full-account", "--keep-names"]) == 0
    sidecar = json.loads((out / "Bill_Gates_0001.json").read_text())
    account = sidecar["account"]
    assert account["config"]["method"] == "rdp-lmgd" and account["K"] == len(account["scales"])
    assert account["solver"]["converged"] and abs(math.fsum(account["feature_epsilons"]) / 0.5 - 1) < 1e-9
    assert (out / "Bill_Gates_0001.png").read_bytes() == first  # same seed, same noise
    assert json.loads((out / "result.json").read_text())["per_image"][0]["input"].endswith("Bill_Gates_0001.jpg")


def test_cli_options_must_be_spelled_out(tmp_path, capsys):
    photo = _photo(tmp_path / "p", "Bill_Gates")
    assert main(["protect", "dp", "--method", "pixel", "--epsilon", "1", "--see", "31337", str(photo),
                 "--out", str(tmp_path / "o")]) == 2
    assert "unrecognized arguments: --see" in capsys.readouterr().err
    assert main(["protect", "dp", "--method", "pixel", "--epsilon", "1", "--seed", str(2**63), str(photo),
                 "--out", str(tmp_path / "o")]) == 2
    assert "must be an integer in [0, 9223372036854775807]" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_never_writes_over_an_input_and_checks_every_input_first(tmp_path, capsys):
    folder = tmp_path / "ow"
    photo = _photo(folder, "Bill_Gates", "photo.png")
    before = photo.read_bytes()
    assert main(["protect", "dp", "--method", "dp-pix", "--epsilon", "1", str(photo), "--out", str(folder),
                 "--keep-names", "--overwrite", "--judge", "none", "--quiet"]) == 2
    assert "never writes over an input" in capsys.readouterr().err and photo.read_bytes() == before
    mixed = tmp_path / "mixed"
    _photo(mixed, "Bill_Gates", "a.jpg")
    (mixed / "b.jpg").write_bytes(b"not an image")
    assert main(["protect", "dp", "--method", "dp-pix", "--epsilon", "1", str(mixed), "--out", str(tmp_path / "o"),
                 "--judge", "none", "--quiet"]) == 2
    assert "cannot read image" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_cli_grey_stays_grey_and_non_faces_are_counted(tmp_path, small_basis, capsys):
    from PIL import Image

    grey = tmp_path / "in" / "grey.png"
    grey.parent.mkdir()
    Image.open(next((sample_root() / "lfw" / "Bill_Gates").glob("*.jpg"))).convert("L").save(grey)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)).save(tmp_path / "in" / "noise.png")
    for method in ("rdp-na", "dp-pix"):
        out = tmp_path / method
        assert main(["protect", "dp", "--method", method, "--epsilon", "1", "--basis", str(small_basis),
                     str(tmp_path / "in"), "--out", str(out), "--judge", "none", "--keep-names", "--quiet"]) == 0
        with Image.open(out / "grey.png") as released:
            assert released.mode == "L"
        result = json.loads((out / "result.json").read_text())
        assert result["no_face"] == 1 and "no face detected in" in capsys.readouterr().out


def test_cli_budget_composes_per_identity_and_caps(tmp_path, capsys):
    people = tmp_path / "people"
    for person in ("Bill_Gates", "Li_Peng"):
        for i in (1, 2):
            _photo(people / person, person, f"{i}.jpg")
    ledger = tmp_path / "ledger.json"
    base = ["protect", "dp", "--method", "dp-pix", "--epsilon", "0.75", str(people), "--judge", "none", "--quiet",
            "--ledger", str(ledger)]
    assert main(base + ["--out", str(tmp_path / "o1")]) == 0
    assert "the largest total spend is 1.5" in capsys.readouterr().out
    assert json.loads(ledger.read_text())["spent"] == {"Bill_Gates": 1.5, "Li_Peng": 1.5}
    assert main(base + ["--out", str(tmp_path / "o2"), "--budget", "2"]) == 2  # 1.5 + 1.5 > 2
    assert "past --budget 2" in capsys.readouterr().err and not (tmp_path / "o2").exists()
    mapping = tmp_path / "who.csv"
    mapping.write_text("".join(f"{p},same\n" for p in sorted(people.rglob("*.jpg"))))
    assert main(["protect", "dp", "--method", "dp-pix", "--epsilon", "0.75", str(people), "--judge", "none",
                 "--quiet", "--identity-map", str(mapping), "--out", str(tmp_path / "o3")]) == 0
    budget = json.loads((tmp_path / "o3" / "result.json").read_text())["budget"]
    assert budget["identities"] == 1 and budget["largest_total"] == 3.0


def test_cli_refuses_bad_input_and_writes_nothing(tmp_path, small_basis, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.png").write_bytes((sample_root() / "lfw" / "Li_Peng" / "Li_Peng_0002.jpg").read_bytes())
    base = ["protect", "dp", "--method", "rdp", "--basis", str(small_basis), str(photos), "--quiet"]
    cases = [
        ("inside the input folder", ["--epsilon", "1", "--out", str(photos / "out")]),
        ("argument --epsilon: must be a number in (0, inf)", ["--epsilon", "0", "--out", str(tmp_path / "o1")]),
        ("argument --epsilon: must be a number in (0, inf)", ["--epsilon", "inf", "--out", str(tmp_path / "o2")]),
        ("argument --p: must be a number in (0, 1)", ["--epsilon", "1", "--p", "1", "--out", str(tmp_path / "o3")]),
        ("larger than the fitted basis", ["--epsilon", "1", "--features", "9", "--out", str(tmp_path / "o4")]),
    ]
    for message, options in cases:
        capsys.readouterr()
        assert main(base + options) == 2
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]
    assert sorted(p.name for p in photos.iterdir()) == ["a.png"]


def test_cli_default_basis_is_fitted_on_the_sample_and_cached(tmp_path):
    from faceveil.paths import cache_dir
    from faceveil.protect.dp.photo_features import sample_eigenfaces

    image = sample_root() / "lfw" / "Tony_Blair" / "Tony_Blair_0001.jpg"
    assert main(["protect", "dp", "--method", "pixel", "--epsilon", "1", "--secure", "--features", "16",
                 "--sensitivity", "estimated", "--full-account", str(image), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0
    sidecar = json.loads((tmp_path / "o" / "release-0001.json").read_text())
    assert sidecar["account"]["noise"]["source"] == "os.urandom"
    assert sidecar["basis_id"] == sample_eigenfaces().digest() and sidecar["sensitivity"] == "estimated"
    assert sidecar["account"]["sensitivity"]["data"]["identities"] == 40
    assert list(cache_dir().glob("eigenfaces-lfw-sample-*.npz"))
