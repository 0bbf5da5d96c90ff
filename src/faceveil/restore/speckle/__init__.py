"""Faces through ground glass (Wang, Wang and Gu, Opto-Electron. Adv. 6, 220049 (2023), "seed 001"): a
wave-optics simulation of their set-up, since their speckle data are not public.

* :mod:`.optics`: band-limited angular-spectrum propagation, pupils, FFT sizes without wrap-around, the
  analytic defocus of a point source;
* :mod:`.diffuser`: the grit table, Gaussian-correlated phase screens calibrated to each grit's transmitted
  angular spread, ballistic fraction and height rms;
* :mod:`.simulator`: the set-up (SLM, relays, diffuser, defocus, camera) and the binarisation of faces.
"""

from pathlib import Path

from .diffuser import GRITS, Grit, calibrate_phase_rms, phase_screen
from .simulator import (DISTANCES_MM, SETTINGS, TARGETS, SpeckleConfig, SpeckleSimulator, binarize, grey_levels,
                        speckle_config)

#: the shipped CPU-trained SpT UNets (one per grit) and their card
WEIGHTS = Path(__file__).parent / "weights"


def shipped_model(grit: str) -> Path | None:
    """The shipped SpT UNet of ``grit`` (``weights/spt12-<grit>.pt``), or None if there is none."""
    path = WEIGHTS / f"spt12-{grit}.pt"
    return path if path.is_file() else None


__all__ = ["WEIGHTS", "shipped_model", "DISTANCES_MM", "GRITS", "SETTINGS", "TARGETS", "Grit", "SpeckleConfig",
           "SpeckleSimulator", "binarize", "grey_levels", "calibrate_phase_rms", "phase_screen", "speckle_config"]
