"""The sensitivity of facial features (seed 004, Definition 2), estimated on a data set or given.

Definition 2 reads ``Delta_i = max_{A,B} ||M(A) - M(B)||_1`` over *neighbouring* face images
(Definition 1: A shows the individual, B does not), for the i-th element of the feature vector, so
per feature ``Delta_i = max |F_i(A) - F_i(B)|`` over pairs of images of different people.

An estimate from a finite data set is a lower bound on that maximum over all faces: a face outside the
data set can move a feature further, and then the noise calibrated with the estimate is too small.
Every :class:`Sensitivity` therefore records where its values come from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from ..._checks import check_int


SOURCES = ("range", "estimated", "given")


@dataclass(frozen=True)
class Sensitivity:
    """Per-feature sensitivities Delta_i and their provenance (JSON-serialisable with :meth:`to_dict`).

    Attributes:
        values: Delta_1..Delta_D (> 0), one per feature, in feature order.
        source: ``"range"`` (the worst case over every image of the pixel range, a proven bound),
            ``"estimated"`` (max over different-identity pairs of a data set: a lower bound on the truth,
            too small for faces outside the data) or ``"given"``.
        data: what the estimate was measured on: ``description`` and the numbers of ``images``,
            ``identities`` and different-identity ``pairs`` (empty for given values).
    """

    values: tuple[float, ...]
    source: str
    data: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.values or not all(0 < v < float("inf") for v in self.values):
            raise ValueError(f"sensitivities must be a non-empty sequence of finite numbers > 0, got {self.values!r}")
        if self.source not in SOURCES:
            raise ValueError(f"sensitivity source must be one of {', '.join(SOURCES)}, got {self.source!r}")

    def head(self, n_features: int) -> torch.Tensor:
        """Delta_1..Delta_n as a float64 tensor (n,); ``ValueError`` if fewer than n are known."""
        check_int(n_features, "n_features", 1)
        if n_features > len(self.values):
            raise ValueError(f"n_features={n_features} but sensitivities are known for "
                             f"{len(self.values)} features only")
        return torch.tensor(self.values[:n_features], dtype=torch.float64)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Sensitivity:
        return cls(tuple(float(v) for v in d["values"]), d["source"], dict(d.get("data", {})))


def given_sensitivity(values, n_features: int | None = None) -> Sensitivity:
    """Sensitivities chosen by the user: one value per feature, or one value for ``n_features`` features."""
    vals = torch.as_tensor(values, dtype=torch.float64).flatten().tolist()
    if len(vals) == 1 and n_features is not None:
        vals = vals * check_int(n_features, "n_features", 1)
    return Sensitivity(tuple(vals), "given")


def estimate_sensitivity(features: torch.Tensor, identities, description: str = "") -> Sensitivity:
    """Delta_i = max |F_i(a) - F_i(b)| over all pairs (a, b) of rows with different identities.

    Exact and O(N D): for identities g != h the largest difference is ``max_g - min_h``, so each
    identity's maximum is paired with the smallest minimum among the *other* identities (the smallest
    of all, or the second smallest where identity g holds the smallest).

    Args:
        features: (N, D) feature vectors F(A) of N images.
        identities: N labels (any hashable), at least two distinct.
        description: what the data are (recorded in the result).
    """
    if not isinstance(features, torch.Tensor) or features.ndim != 2 or not torch.isfinite(features).all():
        raise ValueError(f"features must be a finite tensor (N, D), got {type(features).__name__} "
                         f"{tuple(getattr(features, 'shape', ()))}")
    labels = list(identities)
    if len(labels) != features.shape[0]:
        raise ValueError(f"got {len(labels)} identities for {features.shape[0]} feature vectors")
    names = sorted(set(labels), key=str)
    if len(names) < 2:
        raise ValueError("estimating a sensitivity needs images of at least two identities (Definition 1)")
    position = {name: i for i, name in enumerate(names)}
    group = torch.tensor([position[x] for x in labels])
    f = features.double()
    shape = (len(names), f.shape[1])
    index = group[:, None].expand_as(f)
    highest = torch.full(shape, -torch.inf, dtype=f.dtype).scatter_reduce(0, index, f, "amax")
    lowest = torch.full(shape, torch.inf, dtype=f.dtype).scatter_reduce(0, index, f, "amin")
    two = lowest.topk(2, dim=0, largest=False)
    holds_min = torch.arange(len(names))[:, None] == two.indices[0]
    lowest_other = torch.where(holds_min, two.values[1], two.values[0])
    delta = (highest - lowest_other).max(0).values
    counts = torch.bincount(group).double()
    pairs = int(round(float((counts.sum() ** 2 - (counts**2).sum()) / 2)))
    data = {"description": description, "images": len(labels), "identities": len(names), "pairs": pairs}
    return Sensitivity(tuple(delta.tolist()), "estimated", data)


def range_sensitivity(components: torch.Tensor, description: str = "") -> Sensitivity:
    """The exact worst case of Definition 2 for linear features F_i(x) = u_i . (x - mean) of images with
    pixels in [0, 1]: ``Delta_i = max_{A, B} |u_i . (A - B)| = ||u_i||_1`` (A = 1 where u_i > 0 and 0
    elsewhere, B the opposite). It holds for every pair of valid images, not only for seen faces.

    Args:
        components: (M_F, D) the rows u_i.
    """
    if not isinstance(components, torch.Tensor) or components.ndim != 2:
        raise ValueError(f"components must be a tensor (M_F, D), got {type(components).__name__}")
    values = components.double().abs().sum(1)
    data = {"description": description or "||u_i||_1: the largest change of F_i between any two images in [0, 1]"}
    return Sensitivity(tuple(values.tolist()), "range", data)
