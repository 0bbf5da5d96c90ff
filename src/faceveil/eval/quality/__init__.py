"""Full-reference image-quality metrics: how close a protected, degraded or restored image is to the original.

Every metric compares two batches ``x`` and ``y`` of shape (N, C, H, W) (C = 1 grey or 3 RGB), float
values in ``[0, data_range]`` (the library's images: ``data_range = 1``), and returns one value per
image pair, shape (N,), with ``reduction="none"``, or their mean, a 0-d tensor, with ``reduction="mean"``.
:func:`fid` and :func:`fid_from_features` are the exception: distances between two *sets* of images.

- :func:`psnr` (dB; +inf for identical images): seed 002's PSNR equation.
- :func:`ssim`, :func:`ms_ssim` (1 for identical images): Wang et al. 2004 and 2003 (seed 002, Eq. 1).
- :func:`fsim`, :func:`fsimc` (1 for identical images): Zhang et al. 2011 (seed 002, Eqs. 2-8).
- :func:`pcc`, :func:`jaccard` (1 for identical images): seed 001.
- :func:`cosine_similarity_images` (1 for identical images): seed 000, Eq. 3.
- :func:`shift_correlation` (1 for a shifted copy), :func:`aligned_quality`: a shift cannot fool them.
- :func:`lpips` (0 for identical images): Zhang et al. 2018 (seed 002, Eq. 9), AlexNet variant.
- :func:`fid` (0 for identical sets): Heusel et al. 2017 (seed 002, Eq. 10).

LPIPS and FID need pretrained networks that faceveil does not ship: they take an explicit weights path.
docs/quality.md says how each metric was validated.

The metrics live in private modules, one job each (import them from this package):
``_common`` (input checks, reductions, weights-file checks), ``_psnr``, ``_ssim`` (SSIM, MS-SSIM),
``_fsim`` (phase congruency, FSIM, FSIMc), ``_similarity`` (PCC, Jaccard, cosine similarity),
``_lpips``, ``_fid`` and ``_alignment`` (best shift and gain).
"""

from ._alignment import MIN_OVERLAP, aligned_quality, shift_correlation
from ._common import REDUCTIONS
from ._fid import fid, fid_from_features, inception_features, load_inception
from ._fsim import FSIM_LAMBDA, FSIM_MIN_SIZE, FSIM_T1, FSIM_T2, FSIM_T3, FSIM_T4, fsim, fsimc
from ._lpips import LPIPS_MIN_SIZE, LPIPSAlex, load_lpips_alex, lpips
from ._psnr import psnr
from ._similarity import cosine_similarity_images, jaccard, pcc
from ._ssim import MS_SSIM_WEIGHTS, SSIM_K1, SSIM_K2, MSSSIMScales, ms_ssim, ms_ssim_scales, ssim

__all__ = [
    "psnr",
    "aligned_quality",
    "shift_correlation",
    "MIN_OVERLAP",
    "ssim",
    "ms_ssim",
    "ms_ssim_scales",
    "MSSSIMScales",
    "MS_SSIM_WEIGHTS",
    "fsim",
    "fsimc",
    "pcc",
    "jaccard",
    "cosine_similarity_images",
    "LPIPSAlex",
    "load_lpips_alex",
    "lpips",
    "load_inception",
    "inception_features",
    "fid",
    "fid_from_features",
]
