"""Reconstruction attacks on optically encrypted faces (seed 000, Sec. 3.3 and Fig. 6).

* Blind deconvolution with a U-Net (Ronneberger et al. 2015): the attacker holds N (encrypted,
  original) pairs but not the PSF; as in the paper, half of the N pairs train the network and the other
  half measure it (PSNR, SSIM). The paper reports 19.26 dB / 0.55 with N = 200 and 21.84 dB / 0.65 with
  N = 600.
* Wiener deconvolution with the true PSF: the attacker who knows the mask (a stolen design file), the
  non-blind bound. The FFT assumes a circular convolution while the optics convolve linearly, so the
  sensor image is first extended by half the PSF's width, replicating its border (this lessens the
  ringing at the edges: 3-4 dB on the sample's faces); the two models agree exactly when the scene's outer band
  of half the PSF's width is black.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .._checks import check_images, check_int, check_positive, check_same_shape
from ..eval.quality import psnr, ssim
from ..config import from_dict, to_dict
from ..nn.unet import UNet
from ..train import FitConfig, OptimizerConfig, OptimizerSpec, Task, fit


ATTACK_FORMAT = "faceveil-deconv-unet"
ATTACK_FORMAT_VERSION = 1


@dataclass(frozen=True)
class AttackConfig:
    """The blind-deconvolution attack.

    Attributes:
        pairs: N, the (encrypted, original) pairs the attacker holds (N // 2 train, the rest evaluate).
        epochs, batch_size, learning_rate: Adam training of the U-Net on the mean squared error.
        base_channels, depth: the U-Net's size.
        seed: pair selection, initialisation and batch order.
    """

    pairs: int = 200
    epochs: int = 100
    batch_size: int = 8
    learning_rate: float = 1e-3
    base_channels: int = 32
    depth: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        check_int(self.pairs, "pairs", 4)  # at least two training pairs: batch norm needs two samples
        check_int(self.epochs, "epochs", 1)
        check_int(self.batch_size, "batch_size", 1)
        check_positive(self.learning_rate, "learning_rate")
        check_int(self.base_channels, "base_channels", 1)
        check_int(self.depth, "depth", 1)
        check_int(self.seed, "seed", 0)


def split_pairs(available: int, pairs: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose ``pairs`` of ``available`` pairs at random and split them: (train, evaluation) indices, the
    first ``pairs // 2`` for training. Raises ``ValueError`` if fewer pairs are available."""
    check_int(pairs, "pairs", 2)
    if available < pairs:
        raise ValueError(f"the attack asks for {pairs} pairs, only {available} are available")
    chosen = torch.randperm(available, generator=torch.Generator().manual_seed(seed))[:pairs]
    return chosen[: pairs // 2], chosen[pairs // 2 :]


@dataclass
class AttackResult:
    """The trained U-Net, the pair indices it trained on and was evaluated on, and its loss per epoch."""

    model: UNet
    train_index: torch.Tensor
    eval_index: torch.Tensor
    losses: list[float]


class UNetAttack(Task):
    """The U-Net of ``config`` trained with Adam on the mean squared error of the pairs ``train_index``.

    ``run_config``: the configuration of the whole run, when there is one (``faceveil train deconv``:
    camera, data and attack), so that a resumed run checks all of it; by default ``config`` alone.
    """

    min_batch = 2  # batch norm needs two samples
    resumable = ("out_dir", "device", "attack.epochs")

    def __init__(self, encrypted: torch.Tensor, originals: torch.Tensor, train_index: torch.Tensor,
                 config: AttackConfig, run_config=None) -> None:
        self.encrypted, self.originals, self.train_index, self._config = encrypted, originals, train_index, config
        self._run_config = run_config if run_config is not None else config
        self.name = f"U-Net attack ({len(train_index)} training pairs)"

    @property
    def config(self):
        return self._run_config

    def __len__(self) -> int:
        return len(self.train_index)

    def build(self) -> dict[str, UNet]:
        return {"unet": UNet(self.encrypted.shape[1], self.originals.shape[1], self._config.base_channels,
                             self._config.depth)}

    def optimizers(self, models) -> dict[str, OptimizerSpec]:
        adam = OptimizerConfig("adam", self._config.learning_rate)
        return {"unet": OptimizerSpec(adam, [{"params": list(models["unet"].parameters())}])}

    def batch(self, index, generator, device) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = self.train_index[index]
        return self.encrypted[pairs].to(device), self.originals[pairs].to(device)

    def losses(self, models, batch, optimizer, generator) -> dict[str, torch.Tensor]:
        encrypted, originals = batch
        return {"total": F.mse_loss(models["unet"](encrypted), originals)}


def train_unet_attack(encrypted: torch.Tensor, originals: torch.Tensor, config: AttackConfig,
                      progress: bool = True, device: str = "cpu") -> AttackResult:
    """Train a U-Net to map encrypted images (N, C, H, W) back to their originals (N, C', H, W), both in [0, 1].

    Uses :func:`split_pairs` (``config.pairs`` of the N pairs); evaluate with :func:`reconstruct` on
    ``result.eval_index``.
    """
    check_images(encrypted, "encrypted")
    check_images(originals, "originals")
    if encrypted.shape[0] != originals.shape[0] or encrypted.shape[-2:] != originals.shape[-2:]:
        raise ValueError(f"encrypted and originals must be pairs of the same size, got {tuple(encrypted.shape)} "
                         f"and {tuple(originals.shape)}")
    train_index, eval_index = split_pairs(len(encrypted), config.pairs, config.seed)
    task = UNetAttack(encrypted, originals, train_index, config)
    result = fit(task, FitConfig(config.epochs, config.batch_size, config.seed, device), None, progress=progress)
    return AttackResult(result.models["unet"].eval(), train_index, eval_index,
                        [epoch["loss"]["total"] for epoch in result.history])


@torch.no_grad()
def reconstruct(model: UNet, encrypted: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """The attacker's reconstructions (N, C', H, W) in [0, 1] of encrypted images (N, C, H, W)."""
    check_images(encrypted, "encrypted")
    check_int(batch_size, "batch_size", 1)
    device = next(model.parameters()).device
    model.eval()
    return torch.cat([model(batch.to(device)).cpu() for batch in encrypted.split(batch_size)])


def wiener_deconvolution(captured: torch.Tensor, psf: torch.Tensor, nsr: float = 1e-2) -> torch.Tensor:
    """Non-blind Wiener deconvolution: X = conj(H) G / (|H|^2 + nsr) on the border-extended image, cropped
    back and clamped to [0, 1].

    Args:
        captured: (N, C, H, W) sensor images in [0, 1].
        psf: (s, s) the true linear response, s odd and <= min(H, W)
            (:meth:`~faceveil.protect.optical.encoder.OpticalEncoder.response` for a sensor image).
        nsr: noise-to-signal power ratio (> 0); small for clean images, larger for noisy ones.
    """
    check_images(captured, "captured")
    check_positive(nsr, "nsr")
    h, w = captured.shape[-2:]
    if psf.ndim != 2 or psf.shape[0] % 2 == 0 or psf.shape[1] % 2 == 0 or psf.shape[0] > h or psf.shape[1] > w:
        raise ValueError(f"psf must be 2-D with odd sides no larger than the image {h}x{w}, got {tuple(psf.shape)}")
    ry, rx = psf.shape[0] // 2, psf.shape[1] // 2
    extended = F.pad(captured, (rx, rx, ry, ry), mode="replicate")
    size = extended.shape[-2:]
    kernel = torch.zeros(size, dtype=captured.dtype)
    kernel[: psf.shape[0], : psf.shape[1]] = psf.to(captured)
    transfer = torch.fft.rfft2(kernel.roll((-ry, -rx), (0, 1)))  # PSF centre at the origin
    restored = torch.fft.irfft2(transfer.conj() * torch.fft.rfft2(extended) / (transfer.abs() ** 2 + nsr), s=size)
    return restored[..., ry : ry + h, rx : rx + w].clamp(0, 1)


def reconstruction_quality(reconstructed: torch.Tensor, originals: torch.Tensor) -> dict[str, float]:
    """Mean and standard deviation of PSNR (dB) and SSIM over image pairs, and their count."""
    check_same_shape(reconstructed, originals, ("reconstructed", "originals"))
    p, s = psnr(reconstructed, originals), ssim(reconstructed, originals)
    return {"n": len(p), "psnr_mean": float(p.mean()), "psnr_std": float(p.std()) if len(p) > 1 else 0.0,
            "ssim_mean": float(s.mean()), "ssim_std": float(s.std()) if len(s) > 1 else 0.0}


def save_attack(path: str | Path, result: AttackResult, config: AttackConfig, extra: dict | None = None) -> None:
    """Save the U-Net with its configuration, channel counts and ``extra`` entries (e.g. the provenance),
    atomically (``torch.load``-able, weights only)."""
    from ..train.checkpoint import save_atomic

    model = result.model
    save_atomic({"format": ATTACK_FORMAT, "format_version": ATTACK_FORMAT_VERSION, "config": to_dict(config),
                 "in_channels": model.down[0][0].in_channels, "out_channels": model.head.out_channels,
                 "train_index": result.train_index, "eval_index": result.eval_index,
                 "state_dict": model.state_dict(), **(extra or {})}, path)


def load_attack(path: str | Path) -> tuple[UNet, AttackConfig, dict]:
    """The U-Net, configuration and whole payload (provenance, held-out quality...) written by
    :func:`save_attack`."""
    from ..train.checkpoint import read_payload

    payload = read_payload(path, ATTACK_FORMAT, ATTACK_FORMAT_VERSION, "U-Net attack model")
    config = from_dict(AttackConfig, payload["config"], str(path))
    model = UNet(payload["in_channels"], payload["out_channels"], config.base_channels, config.depth)
    model.load_state_dict(payload["state_dict"])
    return model.eval(), config, payload
