"""The privacy auditor, DP-Pix and its exact sampler, the budget ledger, the closed-form photo weights and
the accounting edge cases of issue 12."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats

from faceveil.attack.dp_targets import AUDITED_METHODS, audit_chips, m_pixel_neighbours
from faceveil.attack.privacy_audit import audit, clopper_pearson_upper, epsilon_bound
from faceveil.cli import main
from faceveil.data.chips import ChipSpec, load_face_chips
from faceveil.data.folders import read_identity_folders
from faceveil.data.images import load_rgb, to_tensor, to_uint8
from faceveil.data.sample import sample_root
from faceveil.protect.dp.domains import make_domain
from faceveil.protect.dp.eigenfaces import Eigenfaces
from faceveil.protect.dp.features import coefficient_jacobian
from faceveil.protect.dp.ledger import BudgetExceeded, Ledger
from faceveil.protect.dp.methods import DPConfig, protect_dp
from faceveil.protect.dp.noise import NoiseSource, bernoulli_exp, discrete_laplace
from faceveil.protect.dp.photo_features import PhotoFeatures
from faceveil.protect.dp.pixelization import PixelizationConfig, block_sums, dp_pixelize
from faceveil.protect.dp.wavelet import haar2d, window_positions

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def chips_and_basis():
    """Grey 32x32 chips of the sample (8-bit, (H, W, 1)) of two people, and 16 eigenfaces of 40 people."""
    items = read_identity_folders(sample_root() / "lfw")
    images = load_face_chips(items, ChipSpec(size=32, channels=1), progress=False).images()
    basis = Eigenfaces(16).fit(images, [person for _, person in items], "sample 32x32")
    people = [p for _, p in items]
    two = (to_uint8(images[:1])[0], to_uint8(images[people.index(people[-1]): people.index(people[-1]) + 1])[0])
    return two, basis


# -- the statistics of the auditor --------------------------------------------------------------------

def test_clopper_pearson_matches_the_exact_binomial_interval():
    assert clopper_pearson_upper(0, 1000, 0.025) == pytest.approx(1 - 0.025 ** (1 / 1000))
    for k, n in ((3, 50), (40, 100), (999, 1000)):
        two_sided = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        assert clopper_pearson_upper(k, n, 0.025) == pytest.approx(two_sided.high)
    assert clopper_pearson_upper(7, 7, 0.05) == 1.0


def test_epsilon_bound_inverts_the_hypothesis_testing_region():
    eps, delta = 0.7, 1e-5
    beta = 0.6
    alpha = (1 - delta - beta) / math.exp(eps)  # on the boundary of the (eps, delta) region
    assert epsilon_bound(alpha, beta, delta) == pytest.approx(eps)
    assert epsilon_bound(0.5, 0.5, 0.0) == 0.0 and epsilon_bound(0.0, 0.2, 0.0) == math.inf


def _laplace_release(epsilon, seed):
    """Releases x + Laplace(1 / eps) of a scalar with sensitivity 1: eps-DP for A = 0, B = 1."""
    rng = np.random.default_rng(seed)
    value = {"A": 0.0, "B": 1.0}

    def release(which, n):
        return {"features": (value[which] + rng.laplace(0, 1 / epsilon, n))[:, None]}
    return release, ({"features": np.array([[0.0]])}, {"features": np.array([[1.0]])})


@pytest.mark.parametrize("epsilon", [0.5, 2.0])
def test_the_audit_of_the_laplace_mechanism_stays_below_and_near_its_epsilon(epsilon):
    release, inputs = _laplace_release(epsilon, 0)
    result = audit(release, inputs, mechanism="laplace", claimed_epsilon=epsilon, neighbours="0 vs 1",
                   releases=20000, tests=("feature-projection",))
    assert not result.violated
    assert 0.5 * epsilon < result.epsilon_lower <= epsilon


def test_the_audit_refutes_a_mechanism_that_claims_too_much():
    release, inputs = _laplace_release(4.0, 1)
    result = audit(release, inputs, mechanism="laplace", claimed_epsilon=1.0, neighbours="0 vs 1", releases=5000,
                   tests=("feature-projection",))
    assert result.violated and result.epsilon_lower > 2


# -- the mechanisms of faceveil, audited (pinned: RDP's claim fails, DP-Pix's holds) ---------------------

@pytest.mark.parametrize("method", ["rdp", "rdp-lmgd"])
def test_rdp_is_refuted_by_the_auditor(chips_and_basis, method):
    chips, basis = chips_and_basis
    result = audit_chips(method, 1.0, chips, basis, basis.range_sensitivity(), releases=300, seed=0)
    assert result.violated and result.epsilon_lower > 2  # claimed 1.0; one release leaves most pixels intact
    assert result.to_dict()["best_test"] in ("pixel-match", "pixel-projection", "feature-projection", "feature-l1")


@pytest.mark.parametrize("epsilon", [0.5, 2.0])
def test_dp_pix_stays_under_its_claim(chips_and_basis, epsilon):
    chips, basis = chips_and_basis
    result = audit_chips("dp-pix", epsilon, chips, basis, basis.range_sensitivity(), releases=2000, seed=0,
                         block=8, m=4)
    assert not result.violated and result.epsilon_lower > 0.2 * epsilon  # tight enough to mean something


def test_m_pixel_neighbours_differ_in_m_pixels_by_the_full_range():
    chip = np.full((8, 8, 1), 100, np.uint8)
    a, b = m_pixel_neighbours(chip, 5)
    differ = (a != b).any(axis=2)
    assert differ.sum() == 5 and (np.abs(a.astype(int) - b.astype(int)).sum() == 5 * 255)
    assert set(AUDITED_METHODS) == {"rdp", "rdp-na", "rdp-lmgd", "pixel", "dct", "dp-pix"}


# -- DP-Pix and its exact sampler -------------------------------------------------------------------------

def test_discrete_laplace_has_the_geometric_law():
    t, s = 5, 2
    z = discrete_laplace(100000, t, s, NoiseSource(seed=0))
    q = math.exp(-s / t)
    values = np.arange(-6, 7)
    expected = (1 - q) / (1 + q) * q ** np.abs(values) * z.size
    observed = np.array([(z == v).sum() for v in values])
    tail = z.size - observed.sum()
    chi2 = stats.chisquare(np.append(observed, tail), np.append(expected, z.size - expected.sum()))
    assert chi2.pvalue > 1e-3
    assert z.var() == pytest.approx(2 * q / (1 - q) ** 2, rel=0.03)


def test_bernoulli_of_exp_is_exact_in_law():
    draws = bernoulli_exp(np.full(200000, 7), 3, NoiseSource(seed=1))
    assert draws.mean() == pytest.approx(math.exp(-7 / 3), abs=4 * math.sqrt(0.1 * 0.9 / 200000))


def test_dp_pix_pixelizes_and_its_account_does_not_depend_on_the_image():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 20, 28, 3), dtype=np.uint8)
    sums, counts = block_sums(image, 8)
    assert sums.shape == (1, 3, 4, 3) and counts.tolist() == [[64, 64, 64, 32]] * 2 + [[32, 32, 32, 16]]
    exact = dp_pixelize(image, PixelizationConfig(1e6, 8, 1), NoiseSource(seed=0))  # noise scale 765e-6: nil
    means = np.floor(sums / counts[None, :, :, None] + 0.5)
    assert np.array_equal(exact[0, ::8, ::8], means[0].astype(np.uint8))
    config = PixelizationConfig(0.3333333333, 16, 16)
    assert config.effective_epsilon <= 0.3333333333 and config.effective_epsilon == pytest.approx(1 / 3, abs=1e-6)
    assert config.account(1)["sensitivity_l1"] == 255 * 16 and "at most 16 pixels" in config.account(1)["neighbours"]
    with pytest.raises(ValueError, match="uint8"):
        dp_pixelize(image.astype(np.float32), config, NoiseSource(seed=0))
    with pytest.raises(ValueError, match="at least"):
        PixelizationConfig(1e-9)


# -- the ledger -------------------------------------------------------------------------------------------

def test_the_ledger_adds_releases_per_identity_and_refuses_past_the_cap(tmp_path):
    ledger = Ledger()
    assert ledger.check(["a", "a", "b"], 0.5, budget=1.0) == {"a": 1.0, "b": 0.5}
    ledger.spend(["a", "a", "b"], 0.5)
    path = ledger.save(tmp_path / "l.json")
    again = Ledger.load(path)
    assert again.spent == {"a": 1.0, "b": 0.5} and Ledger.load(tmp_path / "none.json").spent == {}
    with pytest.raises(BudgetExceeded, match="1 identity past --budget 1.2"):
        again.check(["a"], 0.5, budget=1.2)
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ValueError, match="not a faceveil budget ledger"):
        Ledger.load(tmp_path / "bad.json")


# -- the closed-form photo weights and the accounting edge cases -------------------------------------------

@pytest.mark.parametrize("levels", [1, 3])
def test_a_window_holds_the_haar_coefficients_of_its_pixels(levels):
    x = torch.rand(1, 1, 48, 40, dtype=torch.float64)
    top, left, h, w = 8, 16, 24, 16
    positions = window_positions(levels, top, left, (h, w), (48, 40))
    window = haar2d(x[..., top: top + h, left: left + w], levels).flatten()
    assert torch.equal(haar2d(x, levels).flatten()[positions], window)
    assert positions.unique().numel() == positions.numel()
    with pytest.raises(ValueError, match="aligned"):
        window_positions(3, 4, 0, (8, 8), (48, 40))


@pytest.fixture(scope="module")
def basis112():
    """8 eigenfaces of the sample's 112x112 grey chips: on a 150x150 photo the chip is one bilinear sampling."""
    items = read_identity_folders(sample_root() / "lfw")
    images = load_face_chips(items, ChipSpec(size=112, channels=1), progress=False).images()
    return Eigenfaces(8).fit(images, [person for _, person in items], "sample 112x112")


@pytest.mark.parametrize("size", [32, 112])
@pytest.mark.parametrize("name", ["haar", "pixel", "dct"])
def test_closed_form_photo_weights_equal_autograd_through_the_whole_photo(chips_and_basis, basis112, name, size):
    from faceveil.faces.torch_align import chip_sampling

    basis = chips_and_basis[1] if size == 32 else basis112
    photo = load_rgb(sorted((sample_root() / "lfw" / "Bill_Gates").glob("*.jpg"))[0])
    face = ChipSpec(size=size).aligner().align(photo)
    # 32: dlib's pyramid shrinks the face first (autograd path); 112: one bilinear sampling (the scatter path)
    assert (chip_sampling(face.landmarks, *photo.shape[:2], size, 0.25) is None) == (size == 32)
    features = PhotoFeatures(basis, face.landmarks, 6)
    domain = make_domain(name, 3)
    x = to_tensor([photo])
    reference = coefficient_jacobian(x, features, domain)[0].double()
    weights, index = features.coefficient_weights(domain, tuple(x.shape[1:]))
    full = torch.zeros_like(reference)
    if index is None:
        full = weights.double()
    else:
        full[:, index] = weights.double()
        assert int((full.abs().sum(0) > 0).sum()) < reference.shape[1] / 2  # the face's footprint, not the photo
        some = torch.unique(torch.randint(0, reference.shape[1], (3000,), generator=torch.Generator().manual_seed(0)))
        chosen, at = features.coefficient_weights(domain, tuple(x.shape[1:]), some)
        assert torch.allclose(chosen.double(), reference[:, at], atol=1e-6 * float(reference.abs().max()))
    assert torch.allclose(full, reference, atol=1e-6 * float(reference.abs().max()))


def test_lmgd_is_solved_once_and_rescaled_for_every_budget(chips_and_basis):
    chips, basis = chips_and_basis
    x = torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float() / 255
    sensitivity = basis.range_sensitivity()
    one = protect_dp(x, basis, sensitivity, DPConfig("rdp-lmgd", 1.0), seed=5).accounts
    fifth = protect_dp(x, basis, sensitivity, DPConfig("rdp-lmgd", 0.2), seed=5).accounts
    for a, b in zip(one, fifth):
        assert a.coefficients == b.coefficients
        assert np.allclose(np.array(b.scales), 5 * np.array(a.scales), rtol=1e-12)
        assert abs(b.total_epsilon / 0.2 - 1) < 1e-9 and b.solver["iterations"] == a.solver["iterations"]


def test_range_sensitivity_is_the_worst_case_and_above_the_estimate(chips_and_basis):
    _, basis = chips_and_basis
    bound = torch.tensor(basis.range_sensitivity().values, dtype=torch.float64)
    u = basis.components.double()
    worst_a, worst_b = (u > 0).double(), (u < 0).double()  # the two images of Definition 2's maximum
    assert torch.allclose((worst_a * u).sum(1) - (worst_b * u).sum(1), bound)
    assert (bound >= torch.tensor(basis.sensitivity.values, dtype=torch.float64)).all()


def test_accounting_edge_cases_are_refused_or_serialised(chips_and_basis):
    chips, basis = chips_and_basis
    x = torch.from_numpy(chips[0]).permute(2, 0, 1)[None].float() / 255
    with pytest.raises(ValueError, match="float64 arithmetic|overflow"):
        protect_dp(x, basis, basis.range_sensitivity(), DPConfig("rdp", 1e-300), seed=0)
    config = DPConfig("rdp-na", np.float32(0.5))
    account = protect_dp(x, basis, basis.range_sensitivity(), config, seed=0).accounts[0]
    assert json.loads(account.to_json())["config"]["epsilon0"] == 0.5
    with pytest.raises(ValueError, match="seed must be an integer in"):
        NoiseSource(seed=10**23)


def test_audit_command_writes_its_bound(tmp_path, capsys):
    photo = sorted((sample_root() / "lfw" / "Bill_Gates").glob("*.jpg"))[0]
    argv = ["audit", "dp", str(photo), "--method", "dp-pix", "--epsilon", "1", "--releases", "200", "--seed", "0",
            "--out", str(tmp_path / "a")]
    assert main(argv) == 0
    assert "no violation found" in capsys.readouterr().out
    result = json.loads((tmp_path / "a" / "result.json").read_text())
    assert result["claimed_epsilon"] == 1.0 and 0 <= result["epsilon_lower"] <= 1.0 and not result["violated"]
    assert main(argv[:2] + [str(photo), "--method", "rdp", "--epsilon", "1", "--out", str(tmp_path / "b")]) == 2
    assert "two different people" in capsys.readouterr().err


def test_the_packed_key_ranking_is_the_stable_ranking_by_magnitude():
    from faceveil.protect.dp.features import rank_order

    clean = torch.randn(4, 500, dtype=torch.float64).round(decimals=1)  # many ties
    stable = torch.sort(clean.abs().float(), dim=1, descending=True, stable=True).indices
    assert torch.equal(rank_order(clean), stable)
    top = rank_order(clean, horizon=20)
    assert torch.equal(clean.abs().gather(1, top), clean.abs().gather(1, stable[:, :20]))  # same magnitudes


def test_the_audit_table_keeps_the_largest_bound_and_counts_every_pair():
    from faceveil.bench.dp_privacy import audit_table

    rows = [{"method": "rdp", "epsilon": 1.0, "claimed_epsilon": 1.0, "epsilon_lower": e, "best_test": t,
             "violated": e > 1.0} for e, t in ((0.5, "a"), (5.0, "b"), (2.0, "c"))]
    (entry,) = audit_table(rows)
    assert entry == {"method": "rdp", "claimed": 1.0, "epsilon_lower": 5.0, "best_test": "b", "pairs": 3,
                     "refuted_pairs": 2}


@pytest.mark.parametrize("name, levels", [("haar", 1), ("haar", 3), ("pixel", 3), ("dct", 3)])
def test_a_sparse_coefficient_change_adds_exactly_its_basis_functions(name, levels):
    domain = make_domain(name, levels)
    x = torch.rand(2, 3, 13, 19, dtype=torch.float64)  # padded to 16 x 24 for Haar L = 3
    m_p = domain.forward(x).shape[1]
    cols = torch.arange(m_p).repeat(2)  # every coefficient, in both images
    rows = torch.arange(2).repeat_interleave(m_p)
    values = torch.randn(2 * m_p, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    dense = domain.forward(x).clone()  # the pixel domain returns a view of x
    dense[rows, cols] += values
    expected = domain.inverse(dense, tuple(x.shape[1:]))
    assert torch.allclose(domain.add_coefficients(x, rows, cols, values), expected, atol=1e-12)


def test_release_photo_keeps_grey_and_needs_a_basis_for_seed_004(chips_and_basis):
    from faceveil.protect.dp.photos import release_photo

    chips, basis = chips_and_basis
    grey = chips[0]  # (32, 32, 1) uint8
    released, account = release_photo(grey, PixelizationConfig(1.0, 8, 4), NoiseSource(seed=0))
    assert released.shape == grey.shape and released.dtype == np.uint8 and account is None
    with pytest.raises(ValueError, match="need a basis"):
        release_photo(grey, DPConfig("rdp", 1.0), NoiseSource(seed=0))
