"""``faceveil train deconv``: the U-Net blind-deconvolution attack on an optical camera, trained resumably.

The attacker photographs N faces through the camera (a trained optical model: it holds the encrypted
image and the scene the camera saw, not the mask) and trains a U-Net from encrypted images back to the
scenes (Wu et al., Sec. 3.3: half of the N pairs train, the other half measure). Here the N faces come
from the training people of a protocol split (``data``), so the attack can then be measured on the
split's test people, whom it never saw: ``faceveil attack deconv --unet OUT/unet.pt``.

Outputs in ``out_dir``: ``checkpoint.pt`` (resume), ``unet.pt`` (:func:`~faceveil.attack.deconv.save_attack`,
with the provenance and the identities trained on), ``history.json``, ``train_config.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .._checks import check_int
from ..config import load_config
from ..data.chips import ChipSpec, load_face_chips
from ..data.protocols import DataConfig, Split
from ..provenance import provenance
from ..train import FitConfig, fit_on_split, resume_point
from .deconv import AttackConfig, AttackResult, UNetAttack, reconstruct, reconstruction_quality, save_attack, split_pairs

#: the configurations shipped with faceveil, by name (``--config smoke``)
CONFIGS = Path(__file__).parent / "configs"


@dataclass(frozen=True)
class DeconvTrainConfig:
    """A training run of the U-Net attack.

    Attributes:
        out_dir: where checkpoints and outputs go.
        camera: the attacked optical model (``model.pt`` of ``faceveil train optical``); None: the camera
            shipped with faceveil.
        data: the attacker's faces (the training people of a protocol split).
        attack: the U-Net and its training (``pairs``: N, half train and half measure).
        sensor_seed: the sensor noise of the attacker's photographs.
        device: torch device.
    """

    out_dir: str
    camera: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    attack: AttackConfig = field(default_factory=AttackConfig)
    sensor_seed: int = 1
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not self.out_dir:
            raise ValueError("out_dir must name the output folder of the run")
        check_int(self.sensor_seed, "sensor_seed", 0)


def load_train_config(path: str | Path, data: dict | None = None, **overrides) -> DeconvTrainConfig:
    """A :class:`DeconvTrainConfig` from a JSON file or a shipped configuration by name (``smoke``,
    ``paper``): :func:`faceveil.config.load_config`."""
    return load_config(DeconvTrainConfig, path, CONFIGS, data, **overrides)


@dataclass
class DeconvTrainResult:
    """The trained attack, its held-out PSNR/SSIM, the per-epoch history, the output files and whether
    every epoch ran (False: ``max_steps`` stopped it; run again with ``--resume``)."""

    attack: AttackResult
    quality: dict
    history: list[dict]
    checkpoint: Path
    model_file: Path
    finished: bool


def _camera(config: DeconvTrainConfig):
    from ..protect.optical import packaged_checkpoint
    from ..protect.optical.model import load_checkpoint

    path = Path(config.camera).expanduser() if config.camera else packaged_checkpoint()
    if path is None:
        raise ValueError("camera: no optical model given and this installation ships none; train one with "
                         "'faceveil train optical' and set camera to its model.pt")
    model, _ = load_checkpoint(path)
    return model, path


def train(config: DeconvTrainConfig, progress: bool = True, overwrite: bool = False, max_steps: int | None = None,
          split: Split | None = None) -> DeconvTrainResult:
    """Photograph the split's training faces through the camera and train the U-Net (or resume it).

    Raises:
        ValueError: ``out_dir`` holds a run of other settings, or the split has fewer faces than
            ``attack.pairs``.
    """
    out = Path(config.out_dir)
    model_file = out / "unet.pt"
    attack = config.attack
    settings = FitConfig(epochs=attack.epochs, batch_size=attack.batch_size, seed=attack.seed, device=config.device,
                         max_steps=max_steps)
    camera, camera_path = _camera(config)
    resume_point(out, config, settings, resumable=UNetAttack.resumable, overwrite=overwrite, outputs=(model_file.name,))
    split = split or config.data.protocol_split()
    spec = ChipSpec(size=camera.config.encoder.image_size, channels=camera.config.channels,
                    detector=config.data.detector)
    faces = load_face_chips(config.data.training_photos(split), spec, progress=progress, device=config.device)
    scenes = faces.images()
    encrypted = camera.encrypt(scenes, torch.Generator().manual_seed(config.sensor_seed))
    train_index, eval_index = split_pairs(len(scenes), attack.pairs, attack.seed)
    people = sorted({faces.identities[int(faces.labels[i])] for i in train_index.tolist()})
    result, protocol = fit_on_split(UNetAttack(encrypted, scenes, train_index, attack, config), settings, out, split,
                                    people, overwrite=overwrite, progress=progress, outputs=(model_file.name,))
    unet = result.models["unet"].cpu().eval()
    trained = AttackResult(unet, train_index, eval_index, [epoch["loss"]["total"] for epoch in result.history])
    quality = reconstruction_quality(reconstruct(unet, encrypted[eval_index]), scenes[eval_index])
    if result.main:
        save_attack(model_file, trained, attack, {"camera": str(camera_path.resolve()), "held_out": quality,
                                                  "provenance": provenance(protocol=protocol, seed=attack.seed)})
    return DeconvTrainResult(trained, quality, result.history, result.checkpoint, model_file, result.finished)
