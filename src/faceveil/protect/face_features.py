"""Eigenface features of face *photos*: aligned crops to fit a basis, and F(photo) as a linear map.

Crops are dlib face chips (``get_face_chip``, 5 landmarks, padding 0.25, the alignment of the dlib
judge) of side ``size`` (112 by default), converted to grey with the ITU-R BT.601 luma weights.
:class:`PhotoFeatures` applies a basis to a photo through the differentiable chip extraction of
:func:`faceveil.faces.torch_align.face_chips` with the photo's own landmarks held fixed, so F is a
linear function of the photo's pixels and its weights w_ik come out of autograd exactly.

The default basis is fitted once on the embedded LFW sample (40 identities x 4 images) and cached in
:func:`faceveil.paths.cache_dir`, together with the sensitivity of its features on those crops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .._checks import check_images, check_int
from ..data.folders import read_identity_folders
from ..data.images import load_rgb, to_tensor
from ..data.sample import sample_root
from ..faces.align import FaceAligner
from ..faces.torch_align import face_chips
from ..paths import cache_dir
from ..recognition.base import AlignmentSpec
from .eigenfaces import Eigenfaces

CHIP_PADDING = 0.25
#: ITU-R BT.601 luma weights (R, G, B)
LUMA = (0.299, 0.587, 0.114)


def to_grey(images: torch.Tensor) -> torch.Tensor:
    """RGB (N, 3, H, W) -> luma (N, 1, H, W), a linear map; grey input is returned as is."""
    check_images(images)
    if images.shape[1] == 1:
        return images
    return (images * images.new_tensor(LUMA)[:, None, None]).sum(1, keepdim=True)


def chip_aligner(size: int = 112, detector: str = "hog") -> FaceAligner:
    """The aligner of the eigenface crops: dlib chips of ``size`` x ``size`` from 5 landmarks."""
    check_int(size, "size", 16)
    return FaceAligner(AlignmentSpec((size, size), "dlib-chip", CHIP_PADDING), detector, landmarks=5)


def face_crops(paths: list[str | Path], size: int = 112, grey: bool = True, detector: str = "hog",
               aligner: FaceAligner | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """Aligned crops (N, C, size, size) in [0, 1] (C = 1 if ``grey``) of photos, and whether a face was
    detected in each (False: dlib's fallback box was used)."""
    aligner = aligner or chip_aligner(size, detector)
    faces = [aligner.align(load_rgb(p)) for p in paths]
    crops = to_tensor([f.chip for f in faces])
    return (to_grey(crops) if grey else crops), np.array([f.detected for f in faces])


def sample_eigenfaces(n_components: int = 64, size: int = 112) -> Eigenfaces:
    """The default basis: ``n_components`` grey eigenfaces of the embedded LFW sample's crops, with the
    sensitivity of its features over the sample's pairs of different people. Fitted on first use
    (a few seconds), then read from the cache directory."""
    check_int(n_components, "n_components", 1)
    path = cache_dir() / f"eigenfaces-lfw-sample-chip{size}-grey-{n_components}.npz"
    if path.is_file():
        return Eigenfaces.load(path)
    items = read_identity_folders(sample_root() / "lfw")
    crops, detected = face_crops([p for p, _ in items], size)
    description = (f"embedded LFW sample ({len(items)} photos), dlib chips {size}x{size} padding {CHIP_PADDING}, "
                   f"grey; {int((~detected).sum())} fallback box(es)")
    basis = Eigenfaces(n_components).fit(crops, [person for _, person in items], description)
    basis.save(path, overwrite=True)
    return basis


class PhotoFeatures:
    """F(photo) = basis(crop(photo)): eigenface features of the face in a photo, linear in its pixels.

    Args:
        basis: fitted on dlib chips (padding 0.25) of its square size, grey (C = 1) or RGB (C = 3).
        landmarks: dlib's 5 landmarks (5, 2) of the face in the photo, fixed (every image of a batch
            is cut at the same place: the batch holds versions of one photo).
        n_features: M_F (default: the whole basis).
    """

    def __init__(self, basis: Eigenfaces, landmarks: np.ndarray, n_features: int | None = None) -> None:
        self.n_features = basis.check_n_features(n_features)
        channels, height, width = basis.image_shape
        if height != width:
            raise ValueError(f"the basis must be fitted on square chips, got {height}x{width}")
        self.basis, self.landmarks = basis, np.asarray(landmarks, dtype=np.float64)

    def __call__(self, photos: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) photos -> (N, M_F) features (differentiable)."""
        size = self.basis.image_shape[1]
        marks = np.broadcast_to(self.landmarks, (photos.shape[0], 5, 2))
        chips = face_chips(photos, marks, size, CHIP_PADDING, quantize=False)
        if self.basis.image_shape[0] == 1:
            chips = to_grey(chips)
        return self.basis.transform(chips, self.n_features)
