"""The orthonormal Haar transform (against PyWavelets) and the orthonormal DCT (against SciPy)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import torch

from faceveil.protect.dp.dct import dct2d, inverse_dct2d
from faceveil.protect.dp.domains import make_domain
from faceveil.protect.dp.wavelet import haar2d, inverse_haar2d, padded_size

pywt = pytest.importorskip("pywt")


def _images(n, c, h, w, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("size,levels", [((16, 16), 1), ((32, 24), 3), ((64, 48), 4), ((8, 8), 3)])
def test_haar_matches_pywavelets_periodization(size, levels):
    x = _images(2, 3, *size)
    ours = haar2d(x, levels).numpy()
    for n in range(2):
        for c in range(3):
            coeffs = pywt.wavedec2(x[n, c].numpy(), "haar", mode="periodization", level=levels)
            reference, _ = pywt.coeffs_to_array(coeffs)
            np.testing.assert_allclose(ours[n, c], reference, atol=1e-12)


def test_haar_preserves_energy_and_reconstructs_float32():
    x = _images(3, 1, 112, 112).float()
    c = haar2d(x, 4)
    assert torch.allclose(c.pow(2).sum((1, 2, 3)), x.pow(2).sum((1, 2, 3)), rtol=1e-5)
    assert (inverse_haar2d(c, 4, (112, 112)) - x).abs().max() < 1e-5


@pytest.mark.parametrize("size", [(15, 15), (31, 20), (250, 250), (17, 64)])
def test_odd_sizes_pad_and_round_trip(size):
    x = _images(2, 3, *size)
    c = haar2d(x, 3)
    assert tuple(c.shape[-2:]) == padded_size(*size, 3)
    assert all(s % 8 == 0 for s in c.shape[-2:])
    assert torch.allclose(inverse_haar2d(c, 3, size), x, atol=1e-12)


def test_edge_padding_is_the_transform_of_the_replicated_image():
    x = _images(1, 1, 13, 10)
    padded = torch.nn.functional.pad(x, (0, 6, 0, 3), mode="replicate")
    assert torch.equal(haar2d(x, 3), haar2d(padded, 3))


def test_haar_inverse_is_the_transpose():
    # <T x, y> = <x, T^T y> for the orthonormal transform: the adjoint used by Domain.pullback
    x, y = _images(1, 1, 32, 32, 1), _images(1, 1, 32, 32, 2)
    assert torch.allclose((haar2d(x, 3) * y).sum(), (x * inverse_haar2d(y, 3)).sum(), rtol=1e-12)


def test_haar_rejects_bad_arguments():
    with pytest.raises(ValueError, match="levels"):
        haar2d(_images(1, 1, 8, 8), 4)
    with pytest.raises(ValueError, match="levels"):
        haar2d(_images(1, 1, 8, 8), 0)
    with pytest.raises(ValueError, match="non-finite"):
        haar2d(torch.full((1, 1, 8, 8), float("nan")), 1)
    with pytest.raises(ValueError, match="multiples"):
        inverse_haar2d(_images(1, 1, 12, 12), 3)
    with pytest.raises(ValueError, match="does not pad"):
        inverse_haar2d(_images(1, 1, 16, 16), 3, (7, 16))


def test_dct_matches_scipy_and_is_orthonormal():
    x = _images(2, 3, 20, 13)
    reference = scipy.fft.dctn(x.numpy(), type=2, norm="ortho", axes=(-2, -1))
    np.testing.assert_allclose(dct2d(x).numpy(), reference, atol=1e-12)
    assert torch.allclose(inverse_dct2d(dct2d(x)), x, atol=1e-12)


@pytest.mark.parametrize("name", ["haar", "pixel", "dct"])
def test_domain_pullback_is_the_adjoint_of_the_inverse(name):
    # <pullback(g), c> = <g, inverse(c)> for every c: what makes the closed-form weights exact
    domain = make_domain(name, 2)
    g = _images(4, 3, 13, 10, 3)
    m = domain.forward(_images(1, 3, 13, 10)).shape[1]
    c = torch.randn(1, m, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    lhs = domain.pullback(g) @ c[0]
    rhs = (g * domain.inverse(c, (3, 13, 10))).sum((1, 2, 3))
    assert torch.allclose(lhs, rhs, rtol=1e-10)
    assert torch.allclose(domain.inverse(domain.forward(g), (3, 13, 10)), g, atol=1e-12)
