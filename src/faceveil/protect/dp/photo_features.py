"""Facial feature vectors F of face *photos* (seed 004, Sec. IV-B): eigenfaces of aligned crops, or the
embedding of a differentiable face recogniser, and their sensitivities.

Crops are dlib face chips (``get_face_chip``, 5 landmarks, padding 0.25, the alignment of the dlib
judge) of side ``size`` (112 by default), grey (ITU-R BT.601 luma) or RGB, loaded through the one
face-chip dataset (:func:`faceveil.data.chips.load_face_chips`, cached).
:class:`PhotoFeatures` applies a basis to a photo through the differentiable chip extraction of
:func:`faceveil.faces.torch_align.face_chips` with the photo's own landmarks held fixed, so F is a
linear function of the photo's pixels and its weights w_ik come out of autograd exactly.
:class:`EmbedderFeatures` does the same with a network's raw embedding (nonlinear: the weights are the
first-order Taylor expansion of Eq. 2). :class:`TaylorFeatures` freezes that expansion at one photo, so
that the backward pass through F runs once per photo however many mechanisms are applied to it.

Bases are fitted once and cached in :func:`faceveil.paths.cache_dir`, together with the sensitivity of
their features on the fitting crops: :func:`sample_eigenfaces` on the embedded LFW sample (the default
of ``faceveil protect dp``), :func:`lfw_eigenfaces` on LFW View 1 people (DevTrain by default, disjoint
from the DevTest people).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ..._checks import check_images, check_int
from ...data.chips import CHIP_PADDING, ChipSpec, load_face_chips
from ...data.folders import read_identity_folders
from ...data.images import LUMA, to_grey
from ...data.lfw import LFW
from ...data.sample import sample_root
from ...faces.align import FaceAligner
from ...faces.torch_align import chip_footprint, chip_sampling, face_chips, first_pyramid_level
from ...paths import cache_dir
from ...recognition.base import Embedder
from ...recognition.pipeline import embed_files
from .domains import Domain, HaarDomain, PixelDomain
from .wavelet import haar2d_unchecked
from .features import FeatureFn, coefficient_jacobian
from .sensitivity import Sensitivity, estimate_sensitivity
from .eigenfaces import Eigenfaces


def lfw_people_photos(root: str | Path, split: str = "dev-train", per_person: int = 1,
                      max_people: int | None = None) -> list[tuple[Path, str]]:
    """(path, person) of the first ``per_person`` photos of each person of an LFW View 1 split
    (``"dev-train"`` or ``"dev-test"``: disjoint sets of people), in the people file's order, the first
    ``max_people`` people only if given; photos missing from the copy are left out."""
    check_int(per_person, "per_person", 1)
    if split not in ("dev-train", "dev-test"):
        raise ValueError(f"split must be 'dev-train' or 'dev-test' (LFW View 1), got {split!r}")
    lfw = LFW(root)
    (people,) = lfw.people(split)
    chosen = [(name, min(count, per_person)) for name, count in people[:max_people]]
    return [(path, name) for path, name in lfw.images_of(chosen) if path.is_file()]


def photo_list_digest(items: list[tuple[Path, str]]) -> str:
    """Short digest of a photo list (person and file names, not the folder): part of cache keys."""
    names = "\n".join(f"{person}/{Path(path).name}" for path, person in items)
    return hashlib.sha1(names.encode()).hexdigest()[:10]


def cached_eigenfaces(items: list[tuple[Path, str]], what: str, key: str, n_components: int = 64,
                      size: int = 112, grey: bool = True) -> Eigenfaces:
    """``n_components`` eigenfaces of the dlib chips (``size`` x ``size``, grey or RGB) of the photos
    ``items`` (path, person), with the sensitivity of their features over all pairs of different people.

    Fitted on first use, then read from ``cache_dir()/eigenfaces-<key>-chip<size>-<grey|rgb>-<n>.npz``:
    ``key`` must identify ``items`` (the file names hold no digest of the pixels). ``what`` describes the
    photos in the basis' description.
    """
    check_int(n_components, "n_components", 1)
    path = cache_dir() / f"eigenfaces-{key}-chip{size}-{'grey' if grey else 'rgb'}-{n_components}.npz"
    if path.is_file():
        return Eigenfaces.load(path)
    faces = load_face_chips(items, ChipSpec(size=size, channels=1 if grey else 3))
    people = len({person for _, person in items})
    description = (f"{what} ({len(items)} photos of {people} people), dlib chips {size}x{size} padding "
                   f"{CHIP_PADDING}, {'grey' if grey else 'RGB'}; {faces.fallbacks} fallback box(es)")
    basis = Eigenfaces(n_components).fit(faces.images(), [person for _, person in items], description)
    basis.save(path, overwrite=True)
    return basis


def sample_eigenfaces(n_components: int = 64, size: int = 112, grey: bool = True) -> Eigenfaces:
    """The default basis: ``n_components`` eigenfaces of the embedded LFW sample's crops (40 people x 4
    photos; a few seconds on first use, then cached)."""
    items = read_identity_folders(sample_root() / "lfw")
    return cached_eigenfaces(items, "embedded LFW sample", "lfw-sample", n_components, size, grey)


def dev_train_photos(root: str | Path, per_person: int = 1,
                     max_people: int | None = None) -> tuple[list[tuple[Path, str]], str, str]:
    """The LFW View 1 DevTrain photos a basis or a sensitivity is fitted on (:func:`lfw_people_photos`):
    (path, person) items, their description and their cache key (settings and a digest of the list)."""
    items = lfw_people_photos(root, "dev-train", per_person, max_people)
    people = "every person" if max_people is None else f"the first {max_people} people"
    what = f"LFW View 1 DevTrain, first {per_person} photo(s) of {people}"
    return items, what, f"lfw-dev-train-{photo_list_digest(items)}"


def lfw_eigenfaces(root: str | Path, n_components: int = 64, size: int = 112, grey: bool = True,
                   per_person: int = 1, max_people: int | None = None) -> Eigenfaces:
    """Eigenfaces of LFW View 1 DevTrain people (:func:`dev_train_photos`), cached. With all 4,038 people
    and one photo each: about 2 minutes of alignment and 3 minutes of SVD on one thread, once."""
    return cached_eigenfaces(*dev_train_photos(root, per_person, max_people), n_components, size, grey)


def embedding_sensitivity(embedder: Embedder, items: list[tuple[Path, str]], what: str, key: str,
                          batch_size: int = 256) -> Sensitivity:
    """Delta_i (Definition 2) of an embedder's raw embedding (D,) over all pairs of photos of different
    people among ``items`` (path, person), on the chips of the embedder's own alignment.

    Cached as JSON in :func:`faceveil.paths.cache_dir` under the embedder's cache key and ``key`` (which
    must identify ``items``).
    """
    digest = hashlib.sha1(f"{embedder.cache_key()}|{key}".encode()).hexdigest()[:16]
    path = cache_dir() / f"sensitivity-{embedder.name}-{key}-{digest}.json"
    if path.is_file():
        return Sensitivity.from_dict(json.loads(path.read_text()))
    embedded = embed_files([p for p, _ in items], embedder, FaceAligner(embedder.alignment), batch_size=batch_size)
    description = f"{embedder.name} raw embeddings of {what} ({len(items)} photos)"
    sensitivity = estimate_sensitivity(torch.from_numpy(embedded.embeddings), [person for _, person in items],
                                       description)
    path.write_text(json.dumps(sensitivity.to_dict()))
    return sensitivity


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

    def coefficient_weights(self, domain: Domain, photo_shape: tuple[int, int, int],
                            select: torch.Tensor | None = None,
                            chunk_bytes: int = 2**27) -> tuple[torch.Tensor, torch.Tensor]:
        """w = dF/dC (M_F, M) of a photo of ``photo_shape`` (C, H, W) in a local ``domain`` (Haar, pixels),
        without differentiating through the whole photo.

        F is linear and reads only the chip's footprint (:func:`chip_footprint`): every coefficient whose
        basis function lies outside the footprint's aligned window has weight 0 exactly. The Jacobian is
        taken on the window only, on one grey channel (grey(chip(P)) = chip(grey(P)): both are linear and
        the chip treats channels alike; RGB weights are the luma coefficients times the grey ones), ``chunk``
        features at a time, and only the coefficients listed in ``select`` (sorted natural indices; None:
        all of the window) are kept.

        Returns:
            weights (M_F, M) float32 and their sorted natural indices (M,) int64.
        """
        channels, height, width = photo_shape
        if domain.block is None:  # a global transform (DCT): every coefficient has a weight
            return coefficient_jacobian(torch.zeros(1, *photo_shape), self, domain)[0].float(), None
        size = self.basis.image_shape[1]
        pyramid = first_pyramid_level(self.landmarks, height, width, size, CHIP_PADDING)
        if pyramid is not None and isinstance(domain, HaarDomain):
            return self._haar_through_pyramid(domain, photo_shape, select, pyramid, chunk_bytes)
        footprint = chip_footprint(self.landmarks, height, width, size, CHIP_PADDING)
        if footprint is None:
            raise ValueError("the face chip lies entirely outside the photo")
        left, top, right, bottom = footprint
        _, ph, pw = domain.coefficient_shape(tuple(photo_shape))
        block = domain.block
        top0, left0 = top // block * block, left // block * block
        window = (-(-(bottom + 1) // block) * block - top0, -(-(right + 1) // block) * block - left0)
        plane = ph * pw
        one = domain.window_positions((1, height, width), top0, left0, window)  # one channel's positions
        keeps = []  # per photo channel: which window coefficients are kept, and their natural indices
        for ch in range(channels):
            inside_channel = None if select is None else (select >= ch * plane) & (select < (ch + 1) * plane)
            wanted = None if select is None else select[inside_channel] - ch * plane
            keep = torch.ones(one.shape, dtype=torch.bool) if wanted is None else torch.isin(one, wanted)
            keeps.append((keep, one[keep] + ch * plane))
        rgb_basis = self.basis.image_shape[0] == 3
        inside = (min(window[0], height - top0), min(window[1], width - left0))
        marks = (self.landmarks - [left0, top0])[None]
        basis_channels = 3 if rgb_basis else 1
        chunk = max(1, min(self.n_features, chunk_bytes // (4 * basis_channels * window[0] * window[1])))
        sampling = chip_sampling(marks[0], *inside, size, CHIP_PADDING)
        rows = []
        for start in range(0, self.n_features, chunk):
            stop = min(start + chunk, self.n_features)
            grad = self._window_gradient(marks, inside, basis_channels, sampling, start, stop)
            pixels = torch.zeros(stop - start, basis_channels, *window, dtype=torch.float32)
            pixels[..., : inside[0], : inside[1]] = grad
            del grad
            coefficients = domain.pullback(pixels).reshape(stop - start, basis_channels, -1)
            del pixels
            # a grey basis: the three channels' weights are the luma coefficients times the grey ones
            rows.append(torch.cat([coefficients[:, ch if rgb_basis else 0, keep] * (1.0 if rgb_basis or channels == 1
                                                                                    else LUMA[ch])
                                   for ch, (keep, _) in enumerate(keeps)], dim=1))
            del coefficients
        weights, index = torch.cat(rows), torch.cat([indices for _, indices in keeps])
        order = torch.argsort(index)
        return weights[:, order], index[order]

    def _haar_through_pyramid(self, domain: HaarDomain, photo_shape: tuple[int, int, int],
                              select: torch.Tensor | None, pyramid,
                              chunk_bytes: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Haar weights of a face that dlib shrinks through its pyramid, without the photo-sized Jacobian.

        With G = dF/dS1, S1 the crop's first ``pyramid_down`` level (a quarter of the pixels),
        dF/dP = S1^T G is the 5x5 binomial filter (k/16 per axis) transposed at stride 2, and a level-1 Haar
        band of it at block (p, q) is ``1/2 sum_ij G[i, j] a_r[p - i] a_c[q - j]`` with the 1-D kernels
        ``a_s[m] = sum_dy s(dy) k[2m + dy - top] / 16`` (s = (1, 1) for sums, (1, -1) for differences; the crop's
        corner (left, top) in the photo): small separable filters at stride 1 on G's grid. The level-1
        approximation is filtered densely and the coarser levels are its Haar transform; the level-1 details
        are computed only where ``select``-ed (at most 4 x 4 taps of G each).
        """
        (left, top, _, _), level_shape, to_chip = pyramid
        channels, _, _ = photo_shape
        _, ph, pw = domain.coefficient_shape(tuple(photo_shape))
        plane, hh, hw = ph * pw, ph // 2, pw // 2
        rgb_basis = self.basis.image_shape[0] == 3
        basis_channels = 3 if rgb_basis else 1
        binomial = [1.0, 4.0, 6.0, 4.0, 1.0]

        def kernel(offset: int, signs: tuple[float, float]) -> dict[int, float]:
            taps = {}
            for m in range((offset - 1) // 2 - 1, (offset + 4) // 2 + 2):
                value = sum(sign * binomial[2 * m + dy - offset] / 16 for dy, sign in enumerate(signs)
                            if 0 <= 2 * m + dy - offset <= 4)
                if value:
                    taps[m] = value
            return taps

        def filtered(g: torch.Tensor, taps: dict[int, float], axis: int, length: int) -> torch.Tensor:
            shape = list(g.shape)
            shape[axis] = length
            out = g.new_zeros(shape)
            for m, value in taps.items():
                lo, hi = max(0, m), min(length, g.shape[axis] + m)
                if lo < hi:
                    out.narrow(axis, lo, hi - lo).add_(g.narrow(axis, lo - m, hi - lo), alpha=value)
            return out

        plus, minus = (1.0, 1.0), (1.0, -1.0)
        rows = {s: kernel(top, s) for s in (plus, minus)}
        cols = {s: kernel(left, s) for s in (plus, minus)}
        wanted = []  # per photo channel: the selected positions inside the channel's plane
        for ch in range(channels):
            if select is None:
                wanted.append(torch.arange(plane))
            else:
                wanted.append(select[(select >= ch * plane) & (select < (ch + 1) * plane)] - ch * plane)
        chunk = max(1, min(self.n_features, chunk_bytes // (4 * 3 * basis_channels * hh * hw)))
        level = torch.zeros(basis_channels, *level_shape, requires_grad=True)
        out = self.basis.transform(to_chip(level)[None], self.n_features)  # one graph for every chunk
        parts = []
        for start in range(0, self.n_features, chunk):
            stop = min(start + chunk, self.n_features)
            eye = torch.zeros(stop - start, 1, self.n_features, dtype=out.dtype)
            eye[torch.arange(stop - start), 0, torch.arange(start, stop)] = 1
            (g,) = torch.autograd.grad(out, level, grad_outputs=eye, is_grads_batched=True,
                                       retain_graph=stop < self.n_features)  # (m, C', h1, w1)
            # the level-1 approximation densely (the coarser levels are its Haar transform) ...
            coarse = filtered(filtered(g, rows[plus], 2, hh), cols[plus], 3, hw) / 2
            if domain.levels > 1:
                coarse = haar2d_unchecked(coarse, domain.levels - 1)
            columns = []
            for ch, positions in enumerate(wanted):
                i, j = positions // pw, positions % pw
                low_i, low_j = i >= hh, j >= hw
                source = ch if rgb_basis else 0
                values = torch.zeros(stop - start, positions.numel())
                top_left = ~low_i & ~low_j
                values[:, top_left] = coarse[:, source, i[top_left], j[top_left]]
                # ... and the level-1 details only where selected: at most 4 x 4 taps of G each
                for detail, (sr, sc) in ((~low_i & low_j, (plus, minus)), (low_i & ~low_j, (minus, plus)),
                                         (low_i & low_j, (minus, minus))):
                    p, q = i[detail] - hh * low_i[detail], j[detail] - hw * low_j[detail]
                    total = torch.zeros(stop - start, p.numel())
                    for m, row_tap in rows[sr].items():
                        for n, col_tap in cols[sc].items():
                            gi, gj = p - m, q - n
                            valid = (gi >= 0) & (gi < g.shape[2]) & (gj >= 0) & (gj < g.shape[3])
                            taps = g[:, source, gi.clamp(0, g.shape[2] - 1), gj.clamp(0, g.shape[3] - 1)]
                            total += taps * (valid * (row_tap * col_tap / 2))
                    values[:, detail] = total
                factor = 1.0 if rgb_basis or channels == 1 else LUMA[ch]
                columns.append(values * factor)
            parts.append(torch.cat(columns, dim=1))
            del g, coarse
        index = torch.cat([positions + ch * plane for ch, positions in enumerate(wanted)])
        weights = torch.cat(parts)
        order = torch.argsort(index)
        return weights[:, order], index[order]

    def _window_gradient(self, marks: np.ndarray, inside: tuple[int, int], channels: int, sampling, start: int,
                         stop: int) -> torch.Tensor:
        """dF_i/dP (stop - start, C, h, w) on the window's photo pixels for features start..stop-1: the
        adjoint of the chip's bilinear sampling applied to the eigenfaces (a scatter of 4 taps per chip
        pixel) where the chip is one bilinear sampling, else autograd through :func:`face_chips`."""
        components = self.basis.components[start:stop].double()  # (m, C * S * S), F = U (chip - mean)
        m = stop - start
        if sampling is not None:
            index, weight = sampling
            per_channel = components.reshape(m, channels, -1)
            grad = torch.zeros(m, channels, inside[0] * inside[1], dtype=torch.float64)
            for tap in range(4):
                grad.index_add_(2, index[tap], per_channel * weight[tap])
            return grad.reshape(m, channels, *inside).float()
        x = torch.zeros(1, channels, *inside, requires_grad=True)
        chips = face_chips(x, marks, self.basis.image_shape[1], CHIP_PADDING, quantize=False)
        out = self.basis.transform(chips, self.n_features)[:, start:stop]
        eye = torch.eye(m, dtype=out.dtype)[:, None, :]
        (grad,) = torch.autograd.grad(out, x, grad_outputs=eye, is_grads_batched=True)
        return grad[:, 0]

    def __call__(self, photos: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) photos -> (N, M_F) features (differentiable)."""
        size = self.basis.image_shape[1]
        marks = np.broadcast_to(self.landmarks, (photos.shape[0], 5, 2))
        chips = face_chips(photos, marks, size, CHIP_PADDING, quantize=False)
        if self.basis.image_shape[0] == 1:
            chips = to_grey(chips)
        return self.basis.transform(chips, self.n_features)


class EmbedderFeatures:
    """F(photo) = the raw embedding (N, D) of a differentiable face recogniser (an embedder with
    ``embed_faces(photos, landmarks, quantize)``, e.g. :class:`~faceveil.recognition.dlib_resnet.DlibTorchEmbedder`)
    of the face cut at fixed landmarks (5, 2), with exact bilinear chips (``quantize=False``)."""

    def __init__(self, embedder, landmarks: np.ndarray) -> None:
        self.embedder, self.landmarks = embedder, np.asarray(landmarks, dtype=np.float64)

    def __call__(self, photos: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) photos in [0, 1] -> (N, D) raw embeddings (differentiable)."""
        marks = np.broadcast_to(self.landmarks, (photos.shape[0], 5, 2))
        return self.embedder.embed_faces(photos, marks, quantize=False)


class TaylorFeatures:
    """F linearised at one photo P0, seed 004's Eq. (2): F(P) = F(P0) + J (P - P0), J = dF/dP at P0.

    J (M_F, C*H*W) is computed once, by autograd (:func:`coefficient_jacobian` in the pixel domain).
    Every coefficient domain's weights at P0, dF/dC = J dP/dC, are then exactly F's (chain rule), so
    :func:`~faceveil.protect.dp.methods.protect_dp` on P0 gives the same result with this callable as with F,
    while the backward pass through F runs once per photo instead of once per (method, eps_0). For a
    linear F (:class:`PhotoFeatures`) it equals F everywhere.

    Args:
        features: differentiable (N, C, H, W) -> (N, M_F), treating images independently.
        photo: P0, (1, C, H, W) in [0, 1].
    """

    def __init__(self, features: FeatureFn, photo: torch.Tensor) -> None:
        check_images(photo, "photo")
        if photo.shape[0] != 1:
            raise ValueError(f"TaylorFeatures linearises F at one photo (1, C, H, W), got {tuple(photo.shape)}")
        self.point = photo.detach()
        self.jacobian = coefficient_jacobian(self.point, features, PixelDomain())[0]
        with torch.no_grad():
            self.value = features(self.point).detach()

    def __call__(self, photos: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, M_F), affine in the photos."""
        return self.value + (photos - self.point).flatten(1) @ self.jacobian.T
