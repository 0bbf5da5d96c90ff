"""The trained binary mask as fabrication files: a PNG at its physical scale and a CSV of its elements.

Orientation: the optics invert the image (a point source at +x in the scene lights the sensor at -x,
through each mask opening or lenslet, Eq. 2's similar triangles), and the simulation works with the
re-inverted, upright sensor image. The PSF kernel k therefore equals the physical mask rotated by 180
degrees. Both files show the *physical* mask, k rotated by 180 degrees, as seen from the sensor looking
at the scene; for MEM-FR each element sits in front of one lenslet of the array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..._checks import check_int
from .encoder import OpticalEncoder


def physical_mask(encoder: OpticalEncoder) -> np.ndarray:
    """The binary mask (k, k) uint8, 1 = open, in physical orientation (the kernel rotated by 180 degrees)."""
    kernel = encoder.mask.binary().detach().cpu().numpy()
    return np.rot90(kernel, 2).astype(np.uint8)


def export_mask(encoder: OpticalEncoder, out_dir: str | Path, overwrite: bool = False,
                pixels_per_feature: int = 20) -> tuple[Path, Path]:
    """Write ``mask.png`` and ``mask.csv`` to ``out_dir``.

    ``mask.png``: 8-bit grey, white = open (chrome removed), black = chrome; each element
    ``pixels_per_feature`` pixels wide, with the DPI set so that the printed size is the physical size.
    ``mask.csv``: ``#`` comment lines with the set-up, then one row per element: ``row, col, open,
    x_um, y_um, size_um`` (element centre relative to the mask centre, x to the right, y down).

    Raises ``ValueError`` if a file exists and ``overwrite`` is False.
    """
    check_int(pixels_per_feature, "pixels_per_feature", 1)
    out = Path(out_dir)
    png, csv = out / "mask.png", out / "mask.csv"
    clash = [p for p in (png, csv) if p.exists()]
    if clash and not overwrite:
        raise ValueError(f"{clash[0]} exists; pass overwrite=True (--overwrite) to replace it")
    out.mkdir(parents=True, exist_ok=True)
    mask = physical_mask(encoder)
    setup, config = encoder.setup, encoder.config
    feature_um = setup.mask_feature_m * 1e6
    image = np.kron(mask * 255, np.ones((pixels_per_feature, pixels_per_feature), dtype=np.uint8))
    dpi = pixels_per_feature / (setup.mask_feature_m / 0.0254)
    Image.fromarray(image.astype(np.uint8)).save(png, dpi=(dpi, dpi))
    k = mask.shape[0]
    lines = [
        f"# faceveil optical mask, system {setup.name}, {k}x{k} elements of {feature_um:g} um "
        f"({k * feature_um:g} um square), open elements {int(mask.sum())}",
        f"# seen from the sensor looking at the scene (the PSF kernel rotated by 180 degrees); "
        f"simulated element pitch {encoder.dilation:.2f} px at {config.image_size} px, l2 = {setup.mask_to_sensor_m * 1e3:g} mm"
        + (f", lenslet focal length {setup.lenslet_focal_m * 1e3:g} mm" if setup.lenslet_focal_m else ""),
        "row,col,open,x_um,y_um,size_um",
    ]
    for row in range(k):
        for col in range(k):
            x, y = (col - (k - 1) / 2) * feature_um, (row - (k - 1) / 2) * feature_um
            lines.append(f"{row},{col},{int(mask[row, col])},{x:g},{y:g},{feature_um:g}")
    csv.write_text("\n".join(lines) + "\n")
    return png, csv
