"""Optical privacy encoders of seed 000: MEM-FR (mask-encoded microlens array) and LOEN (lensless mask).

A binary amplitude mask convolves the scene optically before it reaches the sensor, so no sharp face
image is ever recorded; an electronic network trained end to end with the mask recognises faces from
the blurred sensor images (docs/optical.md).

Modules, one job each:

* :mod:`.physics`: the physical set-ups and Table 1's derived numbers (resolution, light throughput);
* :mod:`.optics`: mask, the PSF derived from the optics (element footprints), straight-through
  binarisation, g = f * h;
* :mod:`.sensor`: shot and read noise, full well, 8-bit quantisation (the n of g = f * h + n);
* :mod:`.encoder`: optics + sensor as one module (the back-ends live in :mod:`faceveil.recognition.backbones`);
* :mod:`.model`: encoder + back-end, checkpoints; :mod:`.losses`: Eqs. 3-5 and distillation;
* :mod:`.train`: the resumable training loop (its faces: :mod:`faceveil.data.chips`, chosen by a
  person-disjoint protocol of :mod:`faceveil.data.protocols`);
* :mod:`.export`: mask PNG and CSV. The attacks on these encoders live in :mod:`faceveil.attack.deconv`.
"""

from pathlib import Path

from .encoder import EncoderConfig, OpticalEncoder
from .export import export_mask, physical_mask
from .losses import LossWeights, distillation_loss, dual_cosine_loss, total_loss, weight_gradient_loss
from .model import ModelConfig, OpticalFaceModel, load_checkpoint, save_checkpoint
from .optics import AmplitudeMask, binarize_ste, element_footprints, optical_convolution, point_spread_function, tap_profile
from .physics import (LOEN, MEM_FR, PAPER_TABLE_1, REFERENCE_SOLID_ANGLE_SR, SYSTEMS, OpticalSetup, centre_irradiance,
                      optical_setup, table_1)
from .sensor import SensorConfig, capture, shot_and_read_noise
from .train import TrainConfig, TrainResult, load_train_config, train

#: the MEM-FR camera shipped with faceveil (trained by the LFW benchmark; its card: ``mem-fr.json`` beside it)
PACKAGED_CHECKPOINT = Path(__file__).parent / "weights" / "mem-fr.pt"


def packaged_checkpoint() -> Path | None:
    """The checkpoint shipped with faceveil, or None in an installation without it (then train one:
    ``faceveil train optical``)."""
    return PACKAGED_CHECKPOINT if PACKAGED_CHECKPOINT.is_file() else None


__all__ = [
    "AmplitudeMask", "EncoderConfig",
    "LOEN", "LossWeights", "MEM_FR", "ModelConfig", "OpticalEncoder", "OpticalFaceModel",
    "OpticalSetup", "PACKAGED_CHECKPOINT", "PAPER_TABLE_1", "REFERENCE_SOLID_ANGLE_SR", "SYSTEMS", "SensorConfig", "TrainConfig",
    "TrainResult", "binarize_ste", "capture", "centre_irradiance", "distillation_loss",
    "dual_cosine_loss", "element_footprints", "export_mask", "load_checkpoint",
    "load_train_config", "optical_convolution", "optical_setup", "packaged_checkpoint",
    "physical_mask", "point_spread_function", "save_checkpoint",
    "shot_and_read_noise", "table_1", "tap_profile", "total_loss", "train", "weight_gradient_loss",
]
