"""Image-quality metrics: agreement with reference libraries (scikit-image, pytorch-msssim, numpy,
piq for FSIM), closed forms, invariants and failure modes."""

from collections import OrderedDict

import numpy as np
import pytest
import pytorch_msssim
import scipy.ndimage as ndi
import scipy.signal
import torch
import torch.nn.functional as F
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from faceveil.eval.quality import _fsim as q  # FSIM's private helpers, tested directly
from faceveil.eval.quality import (
    MS_SSIM_WEIGHTS,
    LPIPSAlex,
    cosine_similarity_images,
    fid,
    fid_from_features,
    fsim,
    fsimc,
    jaccard,
    load_lpips_alex,
    lpips,
    ms_ssim,
    ms_ssim_scales,
    pcc,
    psnr,
    ssim,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def noisy_pair(shape, sigma=0.1, seed=0, dtype=torch.float32):
    """A smooth random image batch and a noisy copy, both clamped to [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = F.avg_pool2d(torch.rand(shape, generator=g, dtype=torch.float64), 5, 1, 2)
    y = (x + sigma * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return x.to(dtype), y.to(dtype)


# ----------------------------------------------------------------------------------------------
# PSNR


def test_psnr_matches_skimage_per_image_and_data_range():
    x, y = noisy_pair((3, 3, 20, 24), dtype=torch.float64)
    expected = [peak_signal_noise_ratio(a.numpy(), b.numpy(), data_range=1.0) for a, b in zip(x, y)]
    np.testing.assert_allclose(psnr(x, y).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(psnr(255 * x, 255 * y, data_range=255).numpy(), expected, rtol=1e-12)
    assert psnr(x, y, reduction="mean").ndim == 0
    assert psnr(x, y, reduction="mean").item() == pytest.approx(np.mean(expected))


def test_psnr_known_value_and_identical_images_give_inf():
    x = torch.zeros(1, 1, 8, 8)
    assert psnr(x, x + 0.1).item() == pytest.approx(20.0, abs=1e-5)  # MSE 0.01 -> 10 log10(1 / 0.01)
    assert psnr(x, x).item() == float("inf")


# ----------------------------------------------------------------------------------------------
# SSIM


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_skimage_valid_region(channels):
    # skimage pads (reflect) then crops (win_size - 1) / 2 border pixels before averaging:
    # exactly the 'valid' region faceveil filters, so the values agree to rounding
    x, y = noisy_pair((2, channels, 40, 52), dtype=torch.float64)
    expected = [
        structural_similarity(a.numpy(), b.numpy(), channel_axis=0, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False, data_range=1.0)
        for a, b in zip(x, y)
    ]  # fmt: skip
    np.testing.assert_allclose(ssim(x, y).numpy(), expected, atol=1e-10)


def test_ssim_matches_pytorch_msssim_with_data_range():
    x, y = noisy_pair((3, 3, 33, 47))
    expected = pytorch_msssim.ssim(255 * x, 255 * y, data_range=255, size_average=False)
    torch.testing.assert_close(ssim(255 * x, 255 * y, data_range=255), expected, atol=1e-5, rtol=0)


def test_ssim_identical_is_one_and_symmetric():
    x, y = noisy_pair((2, 3, 16, 16), dtype=torch.float64)
    torch.testing.assert_close(ssim(x, x), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(ssim(x, y), ssim(y, x))


def test_ssim_rejects_small_images_and_bad_windows():
    x = torch.rand(1, 1, 10, 30)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(x, x)
    with pytest.raises(ValueError, match="win_size must be odd"):
        ssim(x, x, win_size=4)
    with pytest.raises(ValueError, match="win_size must be an integer >= 3"):
        ssim(x, x, win_size=1)
    with pytest.raises(ValueError, match="sigma"):
        ssim(x, x, win_size=7, sigma=0)


# ----------------------------------------------------------------------------------------------
# MS-SSIM


def test_ms_ssim_matches_pytorch_msssim_on_large_images():
    x, y = noisy_pair((2, 3, 176, 193), sigma=0.2)
    expected = pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False)
    torch.testing.assert_close(ms_ssim(x, y), expected, atol=1e-5, rtol=0)
    assert not ms_ssim_scales(176, 193).truncated


def test_ms_ssim_scales_boundary_is_pytorch_msssims_160_pixels():
    # pytorch-msssim accepts a short side > 160 for 5 scales; the 5th scale is then >= 11 pixels
    five = ms_ssim_scales(161, 300)
    assert five.sizes == ((161, 300), (81, 150), (41, 75), (21, 38), (11, 19))
    assert five.weights == MS_SSIM_WEIGHTS and not five.truncated
    four = ms_ssim_scales(160, 300)
    assert [s[0] for s in four.sizes] == [160, 80, 40, 20] and four.truncated


def test_ms_ssim_scales_of_a_112_face_crop():
    scales = ms_ssim_scales(112, 112)
    assert scales.sizes == ((112, 112), (56, 56), (28, 28), (14, 14))
    np.testing.assert_allclose(scales.weights, np.array(MS_SSIM_WEIGHTS[:4]) / 0.8668, rtol=1e-12)
    assert sum(scales.weights) == pytest.approx(1.0)
    assert ms_ssim_scales(11, 11).sizes == ((11, 11),) and ms_ssim_scales(11, 11).weights == (1.0,)


def test_ms_ssim_on_112_crops_equals_manual_truncated_computation():
    x, y = noisy_pair((2, 3, 112, 112), sigma=0.15)
    weights = torch.tensor(MS_SSIM_WEIGHTS[:4]) / sum(MS_SSIM_WEIGHTS[:4])
    win = _fspecial_gauss_1d(11, 1.5).repeat(3, 1, 1, 1)
    a, b, factors = x, y, []
    for level in range(4):  # pytorch-msssim's own building blocks, 4 scales instead of 5
        s, cs = _ssim(a, b, data_range=1.0, win=win, size_average=False)
        factors.append(torch.relu(s if level == 3 else cs))
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)  # 112 -> 56 -> 28 -> 14: no odd sizes
    expected = torch.prod(torch.stack(factors) ** weights.view(-1, 1, 1), dim=0).mean(1)
    torch.testing.assert_close(ms_ssim(x, y), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(ms_ssim(x, x), torch.ones(2), atol=1e-6, rtol=0)


def test_ms_ssim_decreases_with_noise_and_rejects_bad_input():
    x, _ = noisy_pair((1, 1, 112, 112), seed=3)
    scores = [ms_ssim(x, noisy_pair((1, 1, 112, 112), sigma=s, seed=3)[1]).item() for s in (0.02, 0.1, 0.3)]
    assert scores[0] > scores[1] > scores[2]
    with pytest.raises(ValueError, match="at least 11x11"):
        ms_ssim(torch.rand(1, 1, 10, 64), torch.rand(1, 1, 10, 64))
    with pytest.raises(ValueError, match="weights"):
        ms_ssim(x, x, weights=[0.5, -0.5])
    with pytest.raises(ValueError, match="height"):
        ms_ssim_scales(0, 10)


# ----------------------------------------------------------------------------------------------
# FSIM / FSIMc


def _camera_blur():
    cam = data.camera().astype(np.float64) / 255
    return cam, ndi.gaussian_filter(cam, 1.5)


def _as_batch(a):
    t = torch.from_numpy(np.ascontiguousarray(a))
    return t.permute(2, 0, 1)[None] if t.ndim == 3 else t[None, None]


def test_fsim_matches_piq_reference_values():
    # Reference values from piq 0.8.0 (piq.fsim, float64 inputs, data_range=1), computed once during
    # development; piq ports the same FeatureSIM.m. faceveil agrees to < 1e-5 (piq takes the lower
    # median, eps 2e-16 instead of 1e-4 and rounded YIQ coefficients); 1e-4 leaves room for rounding.
    cam, cam_blur = _camera_blur()
    big = np.s_[64:448, 64:448]  # 384x384: downsampled by F = 2
    assert fsim(_as_batch(cam[big]), _as_batch(cam_blur[big])).item() == pytest.approx(0.937903, abs=1e-4)
    crop = np.s_[100:251, 200:337]  # 151x137: odd sizes, no downsampling
    assert fsim(_as_batch(cam[crop]), _as_batch(cam_blur[crop])).item() == pytest.approx(0.852813, abs=1e-4)
    ast = data.astronaut()[:384, 64:448].astype(np.float64) / 255
    tinted = ndi.gaussian_filter(ast, (1.5, 1.5, 0)) * np.array([0.85, 1.0, 1.0])
    x, y = _as_batch(ast), _as_batch(tinted)
    assert fsim(x, y).item() == pytest.approx(0.944345, abs=1e-4)
    assert fsimc(x, y).item() == pytest.approx(0.925052, abs=1e-4)


def test_fsim_identical_images_give_exactly_one():
    x, _ = noisy_pair((2, 3, 40, 37), dtype=torch.float64)
    assert fsim(x, x).tolist() == [1.0, 1.0]
    assert fsimc(x, x).tolist() == [1.0, 1.0]
    assert fsim(x[:, :1], x[:, :1]).dtype == torch.float64


def test_fsim_decreases_with_noise():
    scores = [fsim(*noisy_pair((1, 1, 64, 64), sigma=s, seed=5)).item() for s in (0.01, 0.05, 0.1, 0.2)]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4
    colour = [fsimc(*noisy_pair((1, 3, 64, 64), sigma=s, seed=5)).item() for s in (0.02, 0.2)]
    assert colour[0] > colour[1]


@pytest.mark.parametrize(("size", "factor"), [((385, 400), 2), ((640, 650), 3), ((383, 383), 1)])
def test_fsim_downsampling_is_matlab_conv2_same_then_every_fth_pixel(size, factor):
    img = np.random.default_rng(0).random(size)
    kernel = np.ones((factor, factor)) / factor**2
    full = scipy.signal.convolve2d(img, kernel, mode="full")
    # MATLAB's 'same' keeps the central part starting at floor(m / 2) (0-based) of the full result
    same = full[factor // 2 : factor // 2 + size[0], factor // 2 : factor // 2 + size[1]]
    expected = same[::factor, ::factor]
    got = q._fsim_downsample(_as_batch(img))[0, 0].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_fsim_noise_estimate_uses_matlabs_median():
    # even counts average the two middle values (torch.median would return the lower one)
    assert q._matlab_median(torch.tensor([[4.0, 1.0, 3.0, 2.0], [5.0, 1.0, 9.0, 0.0]])).tolist() == [2.5, 3.0]
    assert q._matlab_median(torch.tensor([3.0, 1.0, 2.0])).item() == 2.0


def test_fsim_constant_images():
    flat = torch.full((1, 1, 32, 32), 0.4)
    structured, _ = noisy_pair((1, 1, 32, 32), sigma=0.0)
    assert 0 < fsim(flat, structured).item() < 0.5  # no feature in the flat image: low similarity
    assert torch.isnan(fsim(flat, flat)).item()  # no feature in either: undefined


def test_fsimc_needs_rgb_and_fsim_needs_six_pixels():
    grey = torch.rand(1, 1, 16, 16)
    with pytest.raises(ValueError, match="fsimc needs RGB"):
        fsimc(grey, grey)
    with pytest.raises(ValueError, match="at least 6x6"):
        fsim(torch.rand(1, 1, 5, 16), torch.rand(1, 1, 5, 16))


# ----------------------------------------------------------------------------------------------
# PCC, Jaccard, cosine similarity


def test_pcc_matches_numpy_corrcoef_and_handles_constant_images():
    x, y = noisy_pair((3, 3, 9, 11), sigma=0.3, dtype=torch.float64)
    expected = [np.corrcoef(a.numpy().ravel(), b.numpy().ravel())[0, 1] for a, b in zip(x, y)]
    np.testing.assert_allclose(pcc(x, y).numpy(), expected, rtol=1e-12)
    torch.testing.assert_close(pcc(x, 0.5 * x + 0.2), torch.ones(3, dtype=torch.float64))
    assert torch.isnan(pcc(torch.full((1, 1, 4, 4), 0.3), x[:1, :1, :4, :4])).item()


def test_jaccard_hand_computed_and_empty_images():
    x = torch.tensor([[0.9, 0.8], [0.1, 0.7]]).view(1, 1, 2, 2)
    y = torch.tensor([[0.9, 0.2], [0.6, 0.7]]).view(1, 1, 2, 2)
    # foreground (> 0.5): x = {00, 01, 11}, y = {00, 10, 11}: intersection 2, union 4
    assert jaccard(x, y).item() == pytest.approx(0.5)
    assert jaccard(x, y, threshold=0.75).item() == pytest.approx(1 / 2)  # {00, 01} vs {00}
    empty = torch.zeros(1, 1, 2, 2)
    assert jaccard(empty, empty).item() == 1.0
    assert jaccard(empty, x).item() == 0.0
    with pytest.raises(ValueError, match="threshold"):
        jaccard(x, y, threshold=1.0)


def test_cosine_similarity_matches_numpy_eq3():
    x, y = noisy_pair((2, 3, 6, 5), sigma=0.4, dtype=torch.float64)
    a, b = x.flatten(1).numpy(), y.flatten(1).numpy()
    expected = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(cosine_similarity_images(x, y).numpy(), expected, rtol=1e-12)
    assert cosine_similarity_images(x, 3 * x / 4).tolist() == pytest.approx([1.0, 1.0])
    assert torch.isnan(cosine_similarity_images(torch.zeros(1, 1, 3, 3), x[:1, :1, :3, :3])).item()


# ----------------------------------------------------------------------------------------------
# input validation shared by all metrics

PAIR_METRICS = [psnr, ssim, ms_ssim, fsim, pcc, jaccard, cosine_similarity_images]


@pytest.mark.parametrize("metric", PAIR_METRICS)
def test_metrics_validate_inputs(metric):
    x = torch.rand(2, 1, 16, 16)
    with pytest.raises(ValueError, match="same shape"):
        metric(x, torch.rand(2, 1, 16, 17))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        metric(x[0], x[0])
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        metric(x, bad)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metric(x, x * 255)
    with pytest.raises(ValueError, match="reduction"):
        metric(x, x, reduction="sum")


@pytest.mark.parametrize("metric", [psnr, ssim, ms_ssim, fsim, fsimc])
def test_metrics_validate_data_range(metric):
    x = torch.rand(1, 3, 16, 16)
    for bad in (0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="data_range"):
            metric(x, x, data_range=bad)


# ----------------------------------------------------------------------------------------------
# FID


def whitened(n, d, seed):
    """n samples of dimension d whose sample mean is exactly 0 and sample covariance exactly I."""
    z = np.random.default_rng(seed).standard_normal((n, d))
    z -= z.mean(0)
    return z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T


def test_fid_from_features_closed_form_for_diagonal_gaussians():
    m1, m2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    f1 = m1 + whitened(200, 3, 0) * np.sqrt(v1)
    f2 = m2 + whitened(300, 3, 1) * np.sqrt(v2)
    # ||m1 - m2||^2 + sum (sqrt(v1) - sqrt(v2))^2 = (1 + 0 + 6.25) + (4 + 1 + 0)
    assert fid_from_features(f1, f2) == pytest.approx(12.25, abs=1e-9)
    assert fid_from_features(torch.from_numpy(f1), f1) == pytest.approx(0.0, abs=1e-9)


def test_fid_from_features_validates():
    f = np.zeros((4, 3))
    with pytest.raises(ValueError, match="same dimension"):
        fid_from_features(f, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        fid_from_features(f[:1], f)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        fid_from_features(np.zeros(3), f)


class _ScriptedStats(torch.nn.Module):
    """Stand-in for the TorchScript Inception: same call signature, features = (mean, max) per image."""

    def forward(self, img: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return torch.stack([img.mean(dim=(1, 2, 3)), img.amax(dim=(1, 2, 3))], dim=1)


def test_fid_runs_a_torchscript_extractor_on_0_255_images(tmp_path):
    path = tmp_path / "stats.pt"
    torch.jit.script(_ScriptedStats()).save(str(path))
    x, y = noisy_pair((5, 1, 12, 12), sigma=0.2)
    expected = fid_from_features(
        torch.stack([255 * x.mean((1, 2, 3)), 255 * x.amax((1, 2, 3))], 1),
        torch.stack([255 * y.mean((1, 2, 3)), 255 * y.amax((1, 2, 3))], 1),
    )
    assert fid(x, y, path, batch_size=2) == pytest.approx(expected, rel=1e-6)
    assert fid(x, x, path) == pytest.approx(0.0, abs=1e-6)


def test_fid_explains_missing_weights(tmp_path):
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="inception-2015-12-05.pt"):
        fid(x, x, None)
    with pytest.raises(FileNotFoundError, match="inception-2015-12-05.pt"):
        fid(x, x, tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="TorchScript"):
        fid(x, x, tmp_path / "junk.pt")


# ----------------------------------------------------------------------------------------------
# LPIPS


@pytest.fixture(scope="module")
def lpips_weights(tmp_path_factory):
    """A random LPIPS-AlexNet state dict (non-negative lin weights, as trained LPIPS has) on disk."""
    torch.manual_seed(0)
    model = LPIPSAlex()
    for i in range(5):
        getattr(model, f"lin{i}").model[1].weight.data.abs_()
    path = tmp_path_factory.mktemp("lpips") / "lpips_alex.pth"
    torch.save(model.state_dict(), path)
    return path


def _reference_lpips(state, x, y):
    """LPIPS-AlexNet written from the lpips package's definition with plain functional calls."""
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def conv_relu(h, name, **kwargs):
        return F.relu(F.conv2d(h, state[f"net.{name}.weight"], state[f"net.{name}.bias"], **kwargs))

    def features(img):
        h = (2 * img - 1 - shift) / scale
        h1 = conv_relu(h, "slice1.0", stride=4, padding=2)
        h2 = conv_relu(F.max_pool2d(h1, 3, 2), "slice2.3", padding=2)
        h3 = conv_relu(F.max_pool2d(h2, 3, 2), "slice3.6", padding=1)
        h4 = conv_relu(h3, "slice4.8", padding=1)
        h5 = conv_relu(h4, "slice5.10", padding=1)
        return [h / (h.norm(dim=1, keepdim=True) + 1e-10) for h in (h1, h2, h3, h4, h5)]

    return sum(
        F.conv2d((a - b) ** 2, state[f"lin{i}.model.1.weight"]).mean(dim=(1, 2, 3))
        for i, (a, b) in enumerate(zip(features(x), features(y)))
    )


def test_lpips_matches_a_functional_implementation(lpips_weights):
    x, y = noisy_pair((2, 3, 64, 72), sigma=0.2)
    state = torch.load(lpips_weights, weights_only=True)
    with torch.no_grad():
        torch.testing.assert_close(lpips(x, y, lpips_weights), _reference_lpips(state, x, y), atol=1e-6, rtol=1e-5)


def test_lpips_mechanics(lpips_weights):
    model = load_lpips_alex(lpips_weights)
    x, y = noisy_pair((3, 3, 48, 48), sigma=0.2)
    with torch.no_grad():
        torch.testing.assert_close(lpips(x, x, model), torch.zeros(3))
        torch.testing.assert_close(lpips(x, y, model), lpips(y, x, model))
        assert (lpips(x, y, model) > 0).all()
        grey_x, grey_y = x[:, :1], y[:, :1]
        as_rgb = lpips(grey_x.expand(-1, 3, -1, -1), grey_y.expand(-1, 3, -1, -1), model)
        torch.testing.assert_close(lpips(grey_x, grey_y, model), as_rgb)
        assert lpips(x, y, model, reduction="mean").ndim == 0
    with pytest.raises(ValueError, match="at least 31x31"):
        lpips(x[..., :30, :30], y[..., :30, :30], model)


def test_lpips_accepts_the_lpips_package_state_dict_layout(lpips_weights, tmp_path):
    state = torch.load(lpips_weights, weights_only=True)
    state["scaling_layer.shift"] = torch.zeros(1, 3, 1, 1)
    state["scaling_layer.scale"] = torch.ones(1, 3, 1, 1)
    state.update({f"lins.{i}.model.1.weight": state[f"lin{i}.model.1.weight"] for i in range(5)})
    path = tmp_path / "lpips_package_layout.pth"
    torch.save(OrderedDict(state), path)
    x, y = noisy_pair((1, 3, 32, 32), sigma=0.2)
    with torch.no_grad():
        torch.testing.assert_close(lpips(x, y, path), lpips(x, y, lpips_weights))


def test_lpips_explains_missing_or_wrong_weights(lpips_weights, tmp_path):
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match=r"no weights path.*alex\.pth"):
        lpips(x, x, None)
    with pytest.raises(FileNotFoundError, match=r"not found.*torchvision"):
        lpips(x, x, tmp_path / "missing.pth")
    state = torch.load(lpips_weights, weights_only=True)
    del state["lin4.model.1.weight"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match=r"missing keys \['lin4.model.1.weight'\]"):
        lpips(x, x, tmp_path / "partial.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot read"):
        lpips(x, x, tmp_path / "junk.pth")


# ------------------------------------------------------------------------------------------------
# shift-invariant similarity (faceveil.eval.quality._alignment)


def _smooth(n: int, size: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(n, 3, 8, 8, generator=g), size=(size, size), mode="bicubic",
                         align_corners=False).clamp(0, 1)


def test_shift_correlation_equals_a_brute_force_pearson_over_overlaps():
    from faceveil.eval.quality import shift_correlation

    x, y = _smooth(1, 12, 0), _smooth(1, 12, 1)
    best, best_shift = 0.0, None
    for dy in range(-11, 12):
        for dx in range(-11, 12):
            a = x[0, :, max(-dy, 0): 12 - max(dy, 0), max(-dx, 0): 12 - max(dx, 0)].flatten().double()
            b = y[0, :, max(dy, 0): 12 + min(dy, 0), max(dx, 0): 12 + min(dx, 0)].flatten().double()
            if a.numel() < 0.5 * 3 * 144:
                continue
            r = abs(float(torch.corrcoef(torch.stack([a, b]))[0, 1]))
            if r > best:
                best, best_shift = r, [dy, dx]
    value, shift = shift_correlation(x, y)
    assert float(value[0]) == pytest.approx(best, abs=1e-7) and shift[0].tolist() == best_shift


def test_a_shifted_rescaled_or_complementary_face_is_not_private_under_the_aligned_metrics():
    from faceveil.eval.quality import aligned_quality, shift_correlation

    x = _smooth(3, 48, 2)
    moved = 0.4 * torch.roll(x, (6, -4), (2, 3)) + 0.1  # a pure translation, darker: nothing of the face lost
    moved[..., :6, :] = 0.1
    moved[..., -4:] = 0.1
    value, shift = shift_correlation(x, moved)
    assert torch.allclose(value, torch.ones(3, dtype=torch.float64), atol=1e-6)
    assert shift.tolist() == [[6, -4]] * 3
    aligned = aligned_quality(moved, x)
    assert (aligned["ssim"] > 0.999).all() and (aligned["psnr"] > 60).all()
    assert float(ssim(moved, x).max()) < 0.5 and float(psnr(moved, x).max()) < 15  # pixel-aligned metrics are fooled
    assert torch.allclose(shift_correlation(x, 1 - x)[0], torch.ones(3, dtype=torch.float64), atol=1e-6)
    assert float(aligned_quality(1 - x, x)["ssim"].min()) > 0.999  # the complement, undone by a negative gain
    assert float(shift_correlation(x, torch.full_like(x, 0.3))[0].max()) == 0.0  # a constant shows nothing
    unrelated = shift_correlation(x, torch.rand(3, 3, 48, 48, generator=torch.Generator().manual_seed(3)))[0]
    assert float(unrelated.max()) < 0.2


def test_shift_correlation_is_differentiable_and_checks_its_inputs():
    from faceveil.eval.quality import shift_correlation

    x, y = _smooth(2, 16, 4), _smooth(2, 16, 5).requires_grad_()
    shift_correlation(x, y)[0].sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="min_overlap"):
        shift_correlation(x, y.detach(), min_overlap=0)
    with pytest.raises(ValueError, match="same shape"):
        shift_correlation(x, x[..., :8])
