"""Seed 000's training objective (Eqs. 3-5), plus distillation towards the reference judge.

Reconstructed from the PDF extraction (the symbols were garbled):

* Eq. 3, dual cosine similarity: L_cos = max(<I_o, I_c> / (|I_o| |I_c|), <I_o, 1 - I_c> / (|I_o| |1 - I_c|)),
  I_o the scene, I_c the captured image, the inner product over all pixels ("matrix multiplication"
  in the text). The second term stops the optics from learning the complementary (negative) image,
  which hides nothing. Averaged over the batch.
* Eq. 4, weight gradient loss: L_grad = -sum_ij |grad k_ij| + lambda sum_ij k_ij^2, lambda = 0.6, k the
  mask's transmissions; |grad k| is the magnitude of the forward differences (taken where both exist,
  a (k-1) x (k-1) grid). The first term spreads the kernel (privacy), the second bounds it.
* Eq. 5: L = lambda_1 L_task + lambda_2 L_cos + lambda_3 L_grad with 1 : 20 : 0.02, L_task the identity
  cross-entropy.

faceveil adds, each off by default (weight 0 gives the paper's objective):

* mu L_distill, a cosine loss between a linear head on the embedding and the dlib judge's embedding of
  the clean face (small training sets need the extra signal);
* L_shift, privacy that a shift cannot fool: the largest |correlation| between scene and captured image
  over relative shifts (:func:`~faceveil.eval.quality.shift_correlation`). Eq. 3 scores a pure
  translation of the sharp face as private; this term scores it 1;
* L_wiener, an attacker who stole the mask: L_shift of the Wiener deconvolution of the captured image
  with the true response. It keeps the PSF's MTF from being trivially invertible (a mask that only
  shifts and blurs a little is undone by Wiener), and since the sensor's noise is in the loop, closing
  elements to darken the image is paid for in recognition.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..._checks import check_positive, check_same_shape
from ...attack.deconv import wiener_deconvolution
from ...eval.quality import shift_correlation
from .model import ModelOutput


def dual_cosine_loss(original: torch.Tensor, captured: torch.Tensor) -> torch.Tensor:
    """Eq. 3 averaged over the batch: 0-d tensor in [0, 1] (lower = less of the scene survives).

    Args:
        original, captured: (N, C, H, W) in [0, 1], same shape.
    """
    # the same cosine as faceveil.eval.quality.cosine_similarity_images, without its range checks, which
    # would synchronise and warn on every training step
    check_same_shape(original, captured, ("original", "captured"))
    o = original.flatten(1)
    direct = F.cosine_similarity(o, captured.flatten(1), dim=1)
    complementary = F.cosine_similarity(o, 1 - captured.flatten(1), dim=1)
    return torch.maximum(direct, complementary).mean()


def shifted_similarity_loss(original: torch.Tensor, captured: torch.Tensor) -> torch.Tensor:
    """L_shift: the batch mean of :func:`~faceveil.eval.quality.shift_correlation` (0-d, in [0, 1]; 1 for a
    shifted, rescaled or complementary copy of the scene)."""
    return shift_correlation(original, captured)[0].mean().to(captured.dtype)


def wiener_similarity_loss(original: torch.Tensor, captured: torch.Tensor, response: torch.Tensor,
                           nsr: float) -> torch.Tensor:
    """L_wiener: :func:`shifted_similarity_loss` of the Wiener deconvolution of ``captured`` with the true
    ``response`` (s, s) at noise-to-signal ratio ``nsr`` (differentiable in the response)."""
    return shifted_similarity_loss(original, wiener_deconvolution(captured, response, nsr))


def weight_gradient_loss(kernel: torch.Tensor, l2_weight: float = 0.6) -> torch.Tensor:
    """Eq. 4: ``-sum |grad k| + l2_weight * sum k^2`` for a (k, k) kernel, k >= 2; 0-d tensor."""
    if not isinstance(kernel, torch.Tensor) or kernel.ndim != 2 or min(kernel.shape) < 2:
        raise ValueError(f"kernel must be a 2-D tensor of side >= 2, got {getattr(kernel, 'shape', kernel)!r}")
    if not float(l2_weight) >= 0:
        raise ValueError(f"l2_weight must be >= 0, got {l2_weight!r}")
    dx = kernel[:-1, 1:] - kernel[:-1, :-1]
    dy = kernel[1:, :-1] - kernel[:-1, :-1]
    magnitude = torch.sqrt(dx**2 + dy**2 + 1e-12)  # the epsilon keeps the gradient finite on flat kernels
    return -magnitude.sum() + l2_weight * kernel.pow(2).sum()


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean of ``1 - cos(student_i, teacher_i)`` over rows of two (N, D) tensors; 0-d, in [0, 2]."""
    if student.ndim != 2 or student.shape != teacher.shape:
        raise ValueError(f"student and teacher must both be (N, D), got {tuple(student.shape)} and "
                         f"{tuple(teacher.shape)}")
    return (1 - F.cosine_similarity(student, teacher.to(student), dim=1)).mean()


@dataclass(frozen=True)
class LossWeights:
    """Weights of Eq. 5 (task : cosine : gradient = 1 : 20 : 0.02), Eq. 4's lambda, and faceveil's terms:
    distillation, L_shift (``shifted``) and L_wiener (``wiener``, at noise-to-signal ratio ``wiener_nsr``)."""

    task: float = 1.0
    cosine: float = 20.0
    gradient: float = 0.02
    l2: float = 0.6
    distill: float = 0.0
    shifted: float = 0.0
    wiener: float = 0.0
    wiener_nsr: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("task", "cosine", "gradient", "l2", "distill", "shifted", "wiener"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"loss weight {name} must be >= 0, got {getattr(self, name)!r}")
        check_positive(self.wiener_nsr, "wiener_nsr")
        check_positive(self.task + self.distill, "task + distill (something must teach recognition)")


def total_loss(output: ModelOutput, scenes: torch.Tensor, labels: torch.Tensor, kernel: torch.Tensor,
               weights: LossWeights, teacher: torch.Tensor | None = None,
               response: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Eq. 5 and its terms.

    Args:
        output: the model's output on ``scenes``.
        scenes: (N, C, H, W) in [0, 1], the originals of Eq. 3.
        labels: (N,) identity indices for the cross-entropy (used when ``weights.task`` > 0).
        kernel: the mask's relaxed transmissions (k, k) for Eq. 4.
        weights: the loss weights.
        teacher: (N, distill_dim) judge embeddings of the clean faces (used when ``weights.distill`` > 0).
        response: the encoder's linear response (s, s) (used when ``weights.wiener`` > 0).

    Returns:
        ``{"total", "identity", "distill", "cosine", "gradient", "shifted", "wiener"}`` 0-d tensors (unused
        terms are 0).
    """
    zero = scenes.new_zeros(())
    identity = distill = zero
    if weights.task > 0:
        if output.logits is None:
            raise ValueError("the task loss needs a classification head: build the model with n_classes > 0")
        identity = F.cross_entropy(output.logits, labels)
    if weights.distill > 0:
        if output.distilled is None or teacher is None:
            raise ValueError("the distillation loss needs a distill_dim head and the judge's embeddings (teacher)")
        distill = distillation_loss(output.distilled, teacher)
    cosine = dual_cosine_loss(scenes, output.captured) if weights.cosine > 0 else zero
    gradient = weight_gradient_loss(kernel, weights.l2) if weights.gradient > 0 else zero
    shifted = shifted_similarity_loss(scenes, output.captured) if weights.shifted > 0 else zero
    wiener = zero
    if weights.wiener > 0:
        if response is None:
            raise ValueError("the Wiener privacy term needs the encoder's response")
        wiener = wiener_similarity_loss(scenes, output.captured, response, weights.wiener_nsr)
    total = (weights.task * identity + weights.distill * distill + weights.cosine * cosine
             + weights.gradient * gradient + weights.shifted * shifted + weights.wiener * wiener)
    return {"total": total, "identity": identity, "distill": distill, "cosine": cosine, "gradient": gradient,
            "shifted": shifted, "wiener": wiener}
