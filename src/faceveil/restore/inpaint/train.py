"""``faceveil train inpaint``: seed 002's GAN that reconstructs damaged faces, trained resumably.

Every batch damages clean chips on the fly (:mod:`.damage`: Algorithm 1 by default, or irregular masks)
and trains, in the shared loop, first the discriminator on the clean faces against the generator's
reconstructions (binary cross-entropy, Adam 2.5e-4, beta1 0.5), then the generator on
BCE(D(G(x)), 1 smoothed by 0.25) + 100 MSE(G(x), clean) (Adam 1e-4, beta1 0.5; seed 002 Sec. 4.1). The
label smoothing is Keras's: a target y becomes y (1 - 0.25) + 0.125. The generator sees only the damaged
image (the seed's point against LaMa) unless ``mask_input`` gives it the mask as a fourth channel.

The chips are dlib's (padding 0.25, the geometry of both judges) at ``chip_size`` (128 by default: a
multiple of the V-Net's 16 and of the autoencoders' 16; the seed trains at 256). They come from one
alignment of every photo of the data root, of which the training people of the protocol split are kept.

Outputs in ``out_dir``: ``checkpoint.pt`` (resume), ``model.pt`` (the generator, float16, with the people
trained on), ``history.json``, ``train_config.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._checks import check_choice, check_int, check_positive
from ...config import load_config
from ...data.chips import CHIP_PADDING, ChipSpec, FaceChips
from ...data.protocols import DataConfig, Split
from ...train import FaceTask, OptimizerConfig, OptimizerSpec
from ..training import RestorerTrainResult, train_restorer
from .damage import HOLE_BINS, NOISES, algorithm1_mask, erase, irregular_mask, occlude
from .model import ARCHITECTURES, Discriminator, build_generator, save_model

#: the configurations shipped with faceveil, by name (``--config smoke``)
CONFIGS = Path(__file__).parent / "configs"
#: settings that may change between a run and its resumption
RESUMABLE_CHANGES = ("epochs", "out_dir", "device")
#: damages drawn in training: Algorithm 1 (paper or public-code variant), irregular masks, or either
DAMAGES = ("algorithm1", "algorithm1-code", "irregular", "mixed")


@dataclass(frozen=True)
class GeneratorConfig:
    """The generator (:mod:`.model`).

    Attributes:
        architecture: ``"vnet"``, ``"unet"`` or ``"autoencoder"``.
        widths: filters per level (V-Net: any number of levels, the paper's 64-128-256-512-512;
            autoencoder: 4 encoder blocks).
        max_stack: the V-Net's deepest residual stack.
        base_channels, depth: the U-Net's.
        latent, dense, strided, skips: the autoencoder's bridge width and its three modifications (Table 1).
    """

    architecture: str = "vnet"
    widths: tuple[int, ...] = (16, 32, 64, 128, 128)
    max_stack: int = 3
    base_channels: int = 16
    depth: int = 4
    latent: int = 512
    dense: bool = True
    strided: bool = False
    skips: bool = False

    def __post_init__(self) -> None:
        check_choice(self.architecture, "architecture", ARCHITECTURES)
        object.__setattr__(self, "widths", tuple(self.widths))

    def settings(self, chip_size: int, in_channels: int) -> dict:
        """The generator's settings (:func:`~.model.build_generator`) for chips of ``chip_size``."""
        if self.architecture == "vnet":
            return {"architecture": "vnet", "widths": list(self.widths), "in_channels": in_channels,
                    "max_stack": self.max_stack}
        if self.architecture == "unet":
            return {"architecture": "unet", "base_channels": self.base_channels, "depth": self.depth,
                    "in_channels": in_channels}
        return {"architecture": "autoencoder", "widths": list(self.widths), "size": chip_size, "latent": self.latent,
                "dense": self.dense, "strided": self.strided, "skips": self.skips, "in_channels": in_channels}


@dataclass(frozen=True)
class InpaintTrainConfig:
    """A training run (``faceveil train inpaint --config FILE`` reads it from JSON).

    Attributes:
        out_dir: where checkpoints and outputs go.
        model: the generator; discriminator_widths: the discriminator's stride-2 stages (the paper's
            64-128-256-512).
        data: the training faces (the training people of a protocol split, every photo of each).
        chip_size: side of the dlib chips (padding 0.25).
        damage: ``"algorithm1"`` (the paper's), ``"algorithm1-code"`` (the public code's), ``"irregular"``
            (free-form masks, a hole-ratio bin drawn per image) or ``"mixed"`` (either, with probability 0.5).
        noise: Algorithm 1's fill, ``"add"`` (the paper) or ``"replace"`` (the public code); irregular holes
            are white.
        mask_input: give the generator the mask as a fourth channel (the seed's generator has none).
        mse_weight: the MSE's weight (100); label_smoothing: of the generator's adversarial target (0.25).
        generator_lr, discriminator_lr, beta1: the two Adams (1e-4, 2.5e-4, 0.5).
        epochs, batch_size: the run (the paper: 20 epochs of batch 32 at 256 px).
        flip: random horizontal flips; seed: initialisation, order, damage and flips; device: torch device.
    """

    out_dir: str
    model: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator_widths: tuple[int, ...] = (16, 32, 64, 128)
    data: DataConfig = field(default_factory=lambda: DataConfig(min_images=1))
    chip_size: int = 128
    damage: str = "algorithm1"
    noise: str = "add"
    mask_input: bool = False
    mse_weight: float = 100.0
    label_smoothing: float = 0.25
    generator_lr: float = 1e-4
    discriminator_lr: float = 2.5e-4
    beta1: float = 0.5
    epochs: int = 6
    batch_size: int = 16
    flip: bool = True
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not self.out_dir:
            raise ValueError("out_dir must name the output folder of the run")
        check_int(self.chip_size, "chip_size", 16)
        object.__setattr__(self, "discriminator_widths", tuple(self.discriminator_widths))
        check_choice(self.damage, "damage", DAMAGES)
        check_choice(self.noise, "noise", NOISES)
        if not float(self.mse_weight) >= 0:
            raise ValueError(f"mse_weight must be >= 0, got {self.mse_weight!r}")
        if not 0 <= float(self.label_smoothing) < 1:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing!r}")
        check_positive(self.generator_lr, "generator_lr")
        check_positive(self.discriminator_lr, "discriminator_lr")
        if not 0 <= float(self.beta1) < 1:
            raise ValueError(f"beta1 must lie in [0, 1), got {self.beta1!r}")
        check_int(self.epochs, "epochs", 1)
        check_int(self.batch_size, "batch_size", 1)
        check_int(self.seed, "seed", 0)
        try:  # a generator that cannot take these chips fails here, with its reason, not mid-training
            build_generator(self.generator_settings()).forward(torch.zeros(1, self.in_channels, self.chip_size,
                                                                            self.chip_size))
            Discriminator(self.discriminator_widths, self.chip_size)
        except (ValueError, TypeError, RuntimeError) as err:
            raise ValueError(f"model: {err}") from None

    @property
    def in_channels(self) -> int:
        return 4 if self.mask_input else 3

    def generator_settings(self) -> dict:
        return self.model.settings(self.chip_size, self.in_channels)

    def chip(self) -> ChipSpec:
        """The chips: dlib's, padding 0.25, RGB, ``chip_size`` square."""
        return ChipSpec("dlib-chip", self.chip_size, CHIP_PADDING, 3, detector=self.data.detector)


def load_train_config(path: str | Path, data: dict | None = None, **overrides) -> InpaintTrainConfig:
    """An :class:`InpaintTrainConfig` from a JSON file or a shipped configuration by name (``smoke``,
    ``cpu``, ``paper``): :func:`faceveil.config.load_config`."""
    return load_config(InpaintTrainConfig, path, CONFIGS, data, **overrides)


def draw_masks(damage: str, count: int, size: int, rng: np.random.Generator) -> torch.Tensor:
    """``count`` training masks (count, 1, size, size) of ``damage`` (see :data:`DAMAGES`), and which are
    Algorithm 1 masks (count,) bool."""
    masks, kinds = [], []
    for _ in range(count):
        kind = damage if damage != "mixed" else ("algorithm1" if rng.random() < 0.5 else "irregular")
        if kind == "irregular":
            masks.append(irregular_mask(size, rng, HOLE_BINS[rng.integers(len(HOLE_BINS))]))
        else:
            masks.append(algorithm1_mask(size, rng, "code" if kind == "algorithm1-code" else "paper"))
        kinds.append(kind != "irregular")
    return torch.from_numpy(np.stack(masks)[:, None]), torch.tensor(kinds)


def damage_images(clean: torch.Tensor, masks: torch.Tensor, occluded: torch.Tensor, noise: str,
                  generator: torch.Generator | None) -> torch.Tensor:
    """The damaged images: Algorithm 1's noise where ``occluded`` (N,) bool, white holes elsewhere."""
    noisy = occlude(clean, masks, generator, noise)
    return torch.where(occluded[:, None, None, None], noisy, erase(clean, masks))


def generator_input(damaged: torch.Tensor, masks: torch.Tensor, mask_input: bool) -> torch.Tensor:
    """What the generator sees: the damaged image (N, 3, H, W), with the mask as a fourth channel if asked."""
    return torch.cat([damaged, masks], 1) if mask_input else damaged


def smoothed(target: float, smoothing: float) -> float:
    """Keras's label smoothing of a binary target: y (1 - s) + s / 2."""
    return target * (1 - smoothing) + 0.5 * smoothing


class InpaintTask(FaceTask):
    """The GAN (``"discriminator"``, ``"generator"``) on the faces ``data`` for :func:`~faceveil.train.fit`."""

    resumable = RESUMABLE_CHANGES
    min_batch = 2  # batch norm in the discriminator

    def __init__(self, config: InpaintTrainConfig, data: FaceChips) -> None:
        super().__init__(config, data)
        self.name = f"train inpaint {config.model.architecture}"

    def build(self) -> dict[str, nn.Module]:
        c = self._config
        return {"generator": build_generator(c.generator_settings()),
                "discriminator": Discriminator(c.discriminator_widths, c.chip_size)}

    def optimizers(self, models) -> dict[str, OptimizerSpec]:
        c = self._config
        betas = (c.beta1, 0.999)
        return {"discriminator": OptimizerSpec(OptimizerConfig("adam", c.discriminator_lr, betas=betas),
                                               [{"params": list(models["discriminator"].parameters())}]),
                "generator": OptimizerSpec(OptimizerConfig("adam", c.generator_lr, betas=betas),
                                           [{"params": list(models["generator"].parameters())}])}

    def batch(self, index, generator, device) -> dict:
        """``{"clean", "damaged", "mask"}`` on ``device``: clean (n, 3, S, S) in [0, 1], flipped at random,
        damaged by masks drawn from ``generator``."""
        c = self._config
        clean = self.data.images(index)
        if c.flip:
            flipped = torch.rand(len(index), generator=generator) < 0.5
            clean[flipped] = clean[flipped].flip(-1)
        rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator)))
        masks, occluded = draw_masks(c.damage, len(index), c.chip_size, rng)
        damaged = damage_images(clean, masks, occluded, c.noise, generator)
        return {"clean": clean.to(device), "damaged": damaged.to(device), "mask": masks.to(device)}

    def losses(self, models, batch, optimizer, generator) -> dict[str, torch.Tensor]:
        c = self._config
        if optimizer == "discriminator":
            # the generator's output is kept, with its graph, for the generator's step that follows
            batch["fake"] = models["generator"](generator_input(batch["damaged"], batch["mask"], c.mask_input))
            real, fake = models["discriminator"](batch["clean"]), models["discriminator"](batch["fake"].detach())
            loss = 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                          + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
            return {"total": loss, "accuracy": 0.5 * ((real > 0).float().mean() + (fake < 0).float().mean())}
        fake = batch["fake"]
        judged = models["discriminator"](fake)
        adversarial = F.binary_cross_entropy_with_logits(
            judged, torch.full_like(judged, smoothed(1.0, c.label_smoothing)))
        mse = F.mse_loss(fake, batch["clean"])
        return {"adversarial": adversarial, "mse": mse, "total": adversarial + c.mse_weight * mse,
                "psnr": -10 * torch.log10(mse.detach().clamp_min(1e-10))}


def train(config: InpaintTrainConfig, data: FaceChips | None = None, progress: bool = True, overwrite: bool = False,
          max_steps: int | None = None, split: Split | None = None) -> RestorerTrainResult:
    """Train (or resume, or finish) the run of ``config``: :func:`~faceveil.restore.training.train_restorer`
    (its arguments and errors)."""
    extra = {"mask_input": config.mask_input, "damage": config.damage, "noise": config.noise}
    return train_restorer(config, InpaintTask, "generator", save_model, extra, data, progress, overwrite, max_steps,
                          split)
