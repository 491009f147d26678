"""Photos and drawings of digits turned into MNIST-like 28x28 images.

MNIST digits are white on black, fitted into a 20x20 box with their aspect ratio kept, and
centred by their centre of mass in a 28x28 field (LeCun et al.). Any picture goes through
the same steps: grey levels, inversion if the background is light, crop to the ink, resize,
centre.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# A digit needs a few thousand pixels; a larger picture only costs memory (8 bytes a pixel as float64). Below
# Pillow's own warning threshold (89 million), so a huge picture is refused here, never half-decoded.
MAX_PIXELS = 64_000_000
_SHRINK = "shrink it or crop it to the digit"


class ImageError(ValueError):
    """A picture that cannot be read or holds no digit: one line naming the file."""


def read_image(path: str | Path) -> np.ndarray:
    """Grey levels (H, W) in 0..255 (float64) from any image file Pillow reads (PNG, JPEG, ...)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(
                    f"{path}: too large ({width}x{height}, over {MAX_PIXELS // 1_000_000} million pixels); {_SHRINK}"
                )
            if image.mode in ("RGBA", "LA", "P"):
                # A transparent background counts as white: drawings saved with alpha stay readable.
                image = image.convert("RGBA")
                canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(canvas, image)
            return np.asarray(image.convert("L"), dtype=np.float64)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: does not exist") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image file") from None
    except Image.DecompressionBombError:  # Pillow's own, larger limit: not an OSError
        raise ImageError(f"{path}: too large (over {MAX_PIXELS // 1_000_000} million pixels); {_SHRINK}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise ImageError(f"{path}: not a readable image ({type(error).__name__}); give a PNG or JPEG file") from None


def to_mnist(grey: np.ndarray, name: str = "image") -> np.ndarray:
    """An MNIST-style (28, 28) image in 0..255, white digit on black, from grey levels (H, W)."""
    from PIL import Image

    if grey.ndim != 2 or grey.size == 0:
        raise ImageError(f"{name}: expected a 2-D picture, got shape {grey.shape}")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ink = 255.0 - grey if np.median(border) > 127 else grey.copy()  # MNIST is light ink on dark
    ink -= np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]]))  # background to 0
    ink = np.clip(ink, 0, None)
    if ink.max() <= 0:
        raise ImageError(f"{name}: the picture is blank; it holds no digit")
    rows = np.flatnonzero(ink.max(axis=1) > 0.1 * ink.max())
    cols = np.flatnonzero(ink.max(axis=0) > 0.1 * ink.max())
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20.0 / max(crop.shape)
    height, width = (max(1, round(s * scale)) for s in crop.shape)
    small = np.asarray(
        Image.fromarray((crop / crop.max() * 255).astype(np.uint8)).resize((width, height), Image.Resampling.LANCZOS),
        dtype=np.float64,
    )
    field = np.zeros((28, 28))
    top, left = (28 - height) // 2, (28 - width) // 2
    field[top : top + height, left : left + width] = small
    return _centre_by_mass(field)


def _centre_by_mass(field: np.ndarray) -> np.ndarray:
    total = field.sum()
    if total <= 0:
        return field
    ys, xs = np.indices(field.shape)
    dy = round(13.5 - (ys * field).sum() / total)
    dx = round(13.5 - (xs * field).sum() / total)
    # Shift within the field; the 20x20 box leaves 4 pixels of margin, enough for the usual offsets.
    shifted = np.zeros_like(field)
    src_y = slice(max(0, -dy), min(28, 28 - dy))
    dst_y = slice(max(0, dy), min(28, 28 + dy))
    src_x = slice(max(0, -dx), min(28, 28 - dx))
    dst_x = slice(max(0, dx), min(28, 28 + dx))
    shifted[dst_y, dst_x] = field[src_y, src_x]
    return shifted
