"""Eigenfaces: the facial feature vector F of seed 004 (Sec. IV-B, after Turk and Pentland 1991).

``F(P) = U^T (vec(P) - mean)``: the projection of a face crop on the leading principal axes ``U``
(the "eigenfaces") of a set of aligned crops, found by SVD of the centred data. Fit/transform like
scikit-learn's PCA; saved to one ``.npz`` file with its configuration and, when the fit was given
identity labels, the sensitivity of its features (Definition 2) measured on the fitting set.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ... import __version__
from ..._checks import check_images, check_int, stack_images
from .sensitivity import Sensitivity, estimate_sensitivity, range_sensitivity

FORMAT = "faceveil-eigenfaces-v1"


class Eigenfaces:
    """PCA of face crops (N, C, H, W) in [0, 1], grey (C = 1) or RGB (C = 3).

    Args:
        n_components: number of eigenfaces kept, at most N - 1 for N fitting images.

    Attributes (after :meth:`fit` or :meth:`load`):
        mean: (C*H*W,) float32 mean crop; components: (n_components, C*H*W) float32 orthonormal rows,
        sorted by decreasing singular value; singular_values: (n_components,) float64;
        image_shape: (C, H, W); sensitivity: per-feature Delta_i on the fitting set, or None;
        description: what the crops were.
    """

    def __init__(self, n_components: int = 64) -> None:
        self.n_components = check_int(n_components, "n_components", 1)
        self.mean: torch.Tensor | None = None
        self.components: torch.Tensor | None = None
        self.singular_values: torch.Tensor | None = None
        self.image_shape: tuple[int, int, int] | None = None
        self.sensitivity: Sensitivity | None = None
        self.description = ""

    def fit(self, images, identities=None, description: str = "") -> Eigenfaces:
        """Fit on crops (a batch (N, C, H, W) or a list of (C, H, W), all of one size).

        Args:
            identities: optional N identity labels; when given, the sensitivity of every feature is
                estimated on these crops (max over pairs of different identities, Definition 2).
            description: what the crops are (kept with the basis).

        Components get a deterministic sign: the entry of largest magnitude of each is positive.
        """
        x = stack_images(images)
        if x.shape[0] - 1 < self.n_components or x[0].numel() < self.n_components:
            raise ValueError(f"n_components={self.n_components} needs more than {self.n_components} crops of more "
                             f"than {self.n_components} values each, got {x.shape[0]} crops of {x[0].numel()}")
        data = x.flatten(1).double()
        mean = data.mean(0)
        _, s, vh = torch.linalg.svd(data - mean, full_matrices=False)
        vh = vh[: self.n_components]
        signs = torch.sign(vh.gather(1, vh.abs().argmax(1, keepdim=True)))
        self.mean, self.components = mean.float(), (vh * signs).float()
        self.singular_values = s[: self.n_components]
        self.image_shape = tuple(x.shape[1:])
        self.description = description
        self.sensitivity = (None if identities is None
                            else estimate_sensitivity(self.transform(x), identities, description))
        return self

    def _check_fitted(self) -> None:
        if self.components is None:
            raise ValueError("this Eigenfaces basis is not fitted: call fit() or Eigenfaces.load()")

    def check_n_features(self, n_features: int | None) -> int:
        """``n_features`` (M_F) validated against the basis size; None means all components."""
        self._check_fitted()
        if n_features is None:
            return self.n_components
        check_int(n_features, "n_features", 1)
        if n_features > self.n_components:
            raise ValueError(f"n_features (M_F) = {n_features} is larger than the fitted basis "
                             f"({self.n_components} eigenfaces)")
        return n_features

    def transform(self, images: torch.Tensor, n_features: int | None = None) -> torch.Tensor:
        """Features (N, M_F) of crops (N, C, H, W) of the fitted shape: projections on the first M_F eigenfaces.

        Differentiable with respect to ``images`` (a linear map), computed in the images' dtype.
        """
        m = self.check_n_features(n_features)
        check_images(images)
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"images must have the fitted shape (C, H, W) = {self.image_shape}, "
                             f"got {tuple(images.shape[1:])}")
        basis = self.components[:m].to(images.dtype)
        return (images.flatten(1) - self.mean.to(images.dtype)) @ basis.T

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """:meth:`transform` with all components: an image -> feature callable (N, C, H, W) -> (N, M)."""
        return self.transform(images)

    def pixel_weights(self, n_features: int | None = None) -> torch.Tensor:
        """dF_i/dP: the first M_F eigenfaces as images (M_F, C, H, W); F is linear, so they do not
        depend on the image."""
        m = self.check_n_features(n_features)
        return self.components[:m].reshape(m, *self.image_shape)

    def range_sensitivity(self) -> Sensitivity:
        """The proven sensitivity of the features over every image in [0, 1] (:func:`range_sensitivity`);
        crops and photo chips are convex combinations of pixels, so it holds for photos too."""
        self._check_fitted()
        return range_sensitivity(self.components)

    def digest(self) -> str:
        """A short identifier of the basis' arrays (the "basis id" that a protected image may name)."""
        self._check_fitted()
        h = hashlib.sha256()
        for array in (self.mean, self.components):
            h.update(array.numpy().tobytes())
        return h.hexdigest()[:16]

    def config(self) -> dict:
        """Everything that defines the basis except its arrays (saved with them)."""
        self._check_fitted()
        return {"format": FORMAT, "version": __version__, "n_components": self.n_components,
                "image_shape": list(self.image_shape), "description": self.description,
                "sensitivity": None if self.sensitivity is None else self.sensitivity.to_dict()}

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the basis to ``path`` (.npz); refuses to replace an existing file unless ``overwrite``."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"an eigenface basis file must end with .npz, got {path}")
        if path.exists() and not overwrite:
            raise ValueError(f"{path} exists; pass overwrite=True to replace it")
        config = json.dumps(self.config())
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, mean=self.mean.numpy(), components=self.components.numpy(),
                 singular_values=self.singular_values.numpy(), config=np.array(config))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Eigenfaces:
        """Read a basis written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"eigenface basis not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                config = json.loads(str(data["config"]))
                arrays = {k: torch.from_numpy(data[k].copy()) for k in ("mean", "components", "singular_values")}
        except (KeyError, ValueError, OSError) as err:
            raise ValueError(f"{path} is not an eigenface basis written by faceveil: {err}") from err
        if config.get("format") != FORMAT:
            raise ValueError(f"{path} has format {config.get('format')!r}, expected {FORMAT!r}")
        basis = cls(config["n_components"])
        basis.mean, basis.components = arrays["mean"], arrays["components"]
        basis.singular_values = arrays["singular_values"]
        basis.image_shape = tuple(config["image_shape"])
        basis.description = config["description"]
        basis.sensitivity = None if config["sensitivity"] is None else Sensitivity.from_dict(config["sensitivity"])
        return basis
