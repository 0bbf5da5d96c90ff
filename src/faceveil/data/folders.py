"""Identity folders: one sub-folder per person, any common image format inside.

Layout::

    ROOT/<identity>/<any name>.{jpg,jpeg,png,pgm,ppm,bmp,tif,tiff,webp}

8- and 16-bit, grey, RGB and RGBA files are all read by :func:`faceveil.data.images.load_rgb`.
"""

from __future__ import annotations

from pathlib import Path

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".pnm", ".bmp", ".tif", ".tiff", ".webp"})


def is_image_file(path: Path) -> bool:
    """True if ``path`` is a file with an image extension (case-insensitive)."""
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS


def read_identity_folders(root: str | Path, min_images: int = 1) -> list[tuple[Path, str]]:
    """List (path, identity) for every image under ``root/<identity>/``, sorted by identity then name.

    Args:
        root: folder with one sub-folder per identity.
        min_images: drop identities with fewer images than this.

    Raises:
        FileNotFoundError: ``root`` is missing or holds no images in identity sub-folders.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"identity folder root not found: {root}")
    if min_images < 1:
        raise ValueError(f"min_images must be >= 1, got {min_images}")
    items = []
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(f for f in person.iterdir() if is_image_file(f))
        if len(files) >= min_images:
            items.extend((f, person.name) for f in files)
    if not items:
        raise FileNotFoundError(
            f"no images found under {root}: expected ROOT/<identity>/<image> with extensions "
            f"{', '.join(sorted(IMAGE_EXTENSIONS))}" + (f" and >= {min_images} images per identity" if min_images > 1 else "")
        )
    return items


def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """Expand files and folders (searched recursively for images) into a sorted, de-duplicated list of files.

    Raises ``FileNotFoundError`` naming the first input that does not exist or a folder without images.
    """
    out: list[Path] = []
    for item in inputs:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if is_image_file(f))
            if not found:
                raise FileNotFoundError(f"no image files in folder {p}")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"input not found: {p}")
    return list(dict.fromkeys(out))


def output_names(inputs: list[str], out: Path) -> dict[Path, Path]:
    """Input image -> output PNG: a folder's images keep their path relative to it, files their name.

    Raises ``ValueError`` when two inputs would be written to the same output.
    """
    targets: dict[Path, Path] = {}
    for item in inputs:
        folder = Path(item).expanduser()
        for path in expand_inputs([item]):
            relative = path.relative_to(folder) if folder.is_dir() else Path(path.name)
            targets.setdefault(path, out / relative.with_suffix(".png"))
    seen: dict[Path, Path] = {}
    for path, target in targets.items():
        if target in seen:
            raise ValueError(f"{seen[target]} and {path} would both be written to {target}; "
                             "protect them in separate runs")
        seen[target] = path
    return targets
