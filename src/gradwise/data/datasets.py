"""Find, verify, cache and split the MNIST-family data sets into train / validation / test arrays.

A data set is a folder holding the four IDX files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
`t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or with `.gz`. When a `SHA256SUMS.uncompressed`
lies beside them, the decompressed bytes are checked against it and the decoded arrays are cached as an `.npz`
in the user cache folder, so later loads skip decompression. MNIST ships inside the package and works offline:
its files decompress to the canonical MNIST bytes (images with the 3-D header N x 28 x 28). Images stored
flat (N x 784), as in the copy older gradwise bundled, load to the same arrays.
"""

from __future__ import annotations

import hashlib
import operator
import os
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from gradwise.data.idx import (
    IdxError,
    check_labeled_images,
    image_stack,
    read_decompressed,
    read_idx_bytes,
)
from gradwise.files import atomic_open

MNIST_DIR = Path(__file__).parent / "mnist"
# Where Debian's `dataset-fashion-mnist` package puts the files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
SUMS_NAME = "SHA256SUMS.uncompressed"
NORMALIZE_MODES = ("unit", "standard", "none")
NAMES = ("mnist", "fashion-mnist")

# npz key -> IDX file name without `.gz`.
FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_CACHE_VERSION = 1  # bump when the cache layout changes, so old caches are ignored rather than misread
_SUM_LINE = re.compile(r"([0-9a-fA-F]{64})\s+\*?(\S.*)")
_HOW_TO_GET = (
    "get it with --data-dir DIR, by setting $GRADWISE_DATA=DIR (DIR holding the four IDX files or a "
    "fashion-mnist/ folder of them), or with `apt-get install dataset-fashion-mnist`"
)


class DatasetNotFound(FileNotFoundError):
    """No folder holds the data set; the one-line message lists every place searched and how to get it."""


class ChecksumError(IdxError):
    """A data file decoded fine but its bytes are not the ones its SHA256SUMS.uncompressed lists."""


@dataclass(frozen=True, eq=False, repr=False)
class Split:
    """One split: x (N, features) floats, one sample per row; y (N,) int64 class labels."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"Split(x={self.x.dtype}{list(self.x.shape)}, y={self.y.dtype}{list(self.y.shape)})"


@dataclass(frozen=True)
class SplitRecipe:
    """How a table's rows were split: enough to cut the same rows again (``dataclasses.asdict`` is JSON-ready)."""

    seed: int
    val_fraction: float
    test_fraction: float  # 0 when the test rows come from test_path
    test_path: str | None = None  # the separate test file, as given


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded data set; raw values became features as x = (raw - shift) / scale, all splits alike.

    Images: ``shift`` and ``scale`` are floats and ``image_shape`` is (rows, cols). A table (``load_table``):
    they are float64 arrays (F,), one per column, ``image_shape`` is None, and ``classes``, ``features``,
    ``label`` and ``split`` say what the columns and classes are called and how the rows were split.
    """

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    image_shape: tuple[int, int] | None
    normalize: str
    shift: float | np.ndarray
    scale: float | np.ndarray
    classes: tuple[str, ...] | None = None  # class i is called classes[i]; None: its number is its name
    features: tuple[str, ...] | None = None  # a table's column names
    label: str | None = None  # a table's label column
    split: SplitRecipe | None = None  # a table's split; None: the data set came split

    @property
    def num_features(self) -> int:
        """The width of x: pixels per image, or a table's feature columns."""
        return int(self.train.x.shape[1])


def load_dataset(
    name_or_path: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None = None,
    *,
    validation: int = 10_000,
    normalize: str = "unit",
    dtype: DTypeLike = np.float32,
) -> Dataset:
    """Load `mnist`, `fashion-mnist` (or `fashion_mnist`) or a folder of the four IDX files -> Dataset.

    The validation split is the last `validation` training images (0: `val` is empty). `normalize` is "unit"
    (pixels / 255), "standard" (minus the training split's mean pixel, divided by its standard deviation: one
    scalar each, from the training split only) or "none" (raw 0..255 as floats). x has shape (N, rows * cols)
    in `dtype`; y has shape (N,), int64. A path is any existing folder, or a name containing a separator;
    write `./mnist` to mean a folder called mnist. `data_dir` is searched for Fashion-MNIST only: MNIST
    always comes from the copy inside the package.
    """
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f"unknown normalize={normalize!r}; use one of {', '.join(NORMALIZE_MODES)}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type such as float32, not {dtype}")
    name, folder, num_classes = _resolve(name_or_path, data_dir)
    arrays = _load_arrays(folder, name, num_classes)
    if num_classes is None:  # a folder of unknown origin: the labels tell how many classes it has
        largest = max(arrays["train_labels"].max(initial=0), arrays["test_labels"].max(initial=0))
        num_classes = int(largest) + 1
    return _split(arrays, name, num_classes, validation, normalize, dtype)


def one_hot(labels: np.ndarray, num_classes: int, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Integer labels (N,) -> one-hot rows (N, num_classes) in `dtype`."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(f"one_hot needs integer labels (N,), not {labels.dtype} of shape {labels.shape}")
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"one_hot: label {labels[i]} at index {i} is outside [0, {num_classes})")
    out = np.zeros((len(labels), num_classes), dtype=dtype)
    out[np.arange(len(labels)), labels.astype(np.intp)] = 1
    return out


def find_dataset(
    name_or_path: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None
) -> Path:
    """The folder a data set would be loaded from; DatasetNotFound if none, ValueError for an unknown name."""
    return _resolve(name_or_path, data_dir)[1]


def cache_dir() -> Path:
    """$GRADWISE_CACHE if set, else $XDG_CACHE_HOME/gradwise, else ~/.cache/gradwise."""
    if os.environ.get("GRADWISE_CACHE"):
        return Path(os.environ["GRADWISE_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore a relative value
        return Path(xdg) / "gradwise"
    return Path.home() / ".cache" / "gradwise"


def _resolve(
    name_or_path: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None
) -> tuple[str, Path, int | None]:
    """Name or path -> (data set name, folder holding its files, number of classes if known)."""
    text = os.fspath(name_or_path)
    key = text.lower().replace("_", "-")
    if key == "mnist":
        missing = _missing_files(MNIST_DIR)
        if missing:
            raise DatasetNotFound(f"bundled MNIST is broken: {MNIST_DIR} lacks {missing}; reinstall gradwise")
        return "mnist", MNIST_DIR, 10
    if key == "fashion-mnist":
        return "fashion-mnist", _search_fashion_mnist(data_dir), 10
    path = Path(text).expanduser()
    looks_like_path = path.exists() or os.sep in text or "/" in text or text.startswith(("~", "."))
    if not looks_like_path:
        raise DatasetNotFound(
            f"unknown data set {text!r}; use one of {', '.join(NAMES)}, or the path of a folder holding "
            "the four IDX files"
        )
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise DatasetNotFound(
            f"data set {text} {what}; pass a folder holding {_file_list()} (each raw or .gz), or a table: a file "
            "ending in .csv, .tsv or .txt (save a spreadsheet as CSV)"
        )
    for stem in FILES.values():
        for candidate in (path / stem, path / f"{stem}.gz"):
            if candidate.exists() and not candidate.is_file() and _file_path(path, stem) is None:
                raise IdxError(
                    f"{candidate}: is a folder, not an IDX file; put the file {stem} (raw or .gz) in its place"
                )
    missing = _missing_files(path)
    if missing:
        raise DatasetNotFound(f"data set folder {text} lacks {missing}; pass a folder holding all four")
    return path.resolve().name, path, None


def _search_fashion_mnist(data_dir: str | os.PathLike[str] | None) -> Path:
    """The first folder holding Fashion-MNIST: data_dir, $GRADWISE_DATA, the cache folder, Debian's folder."""
    places: list[Path] = []
    notes: list[str] = []
    for base in (data_dir, os.environ.get("GRADWISE_DATA") or None):
        if base is not None:
            places += [Path(base).expanduser(), Path(base).expanduser() / "fashion-mnist"]
    if not os.environ.get("GRADWISE_DATA"):
        notes.append("$GRADWISE_DATA (unset)")
    places += [cache_dir() / "fashion-mnist", DEBIAN_FASHION_MNIST_DIR]
    looked: list[str] = []
    for place in places:
        if not place.is_dir():
            looked.append(str(place))
            continue
        missing = _missing_files(place)
        if not missing:
            return place
        present = [stem for stem in FILES.values() if _file_path(place, stem) is not None]
        looked.append(f"{place} (lacks {missing})" if present else str(place))
    raise DatasetNotFound(f"fashion-mnist not found; looked in {', '.join(looked + notes)}; {_HOW_TO_GET}")


def _missing_files(folder: Path) -> str:
    """Comma-separated names of the IDX files that `folder` lacks in both raw and .gz form; '' if none."""
    return ", ".join(f"{stem}[.gz]" for stem in FILES.values() if _file_path(folder, stem) is None)


def _file_path(folder: Path, stem: str) -> Path | None:
    """The raw file if present, else the .gz one, else None."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _file_list() -> str:
    return ", ".join(FILES.values())


def _load_arrays(folder: Path, name: str, num_classes: int | None) -> dict[str, np.ndarray]:
    """The four arrays of a data set folder: from the cache when it is sane, else decoded and checked."""
    sums_path = folder / SUMS_NAME
    sums = _read_sums(sums_path) if sums_path.is_file() else None
    cache = None
    if sums is not None:
        # Keyed by the checksum file's content: different data can never be served from a stale cache.
        digest = hashlib.sha256(sums_path.read_bytes()).hexdigest()[:16]
        cache = cache_dir() / f"{name}-v{_CACHE_VERSION}-{digest}.npz"
        arrays = _read_cache(cache, num_classes)
        if arrays is not None:
            return arrays
    fix = "reinstall gradwise" if folder == MNIST_DIR else "re-download it"
    paths = {key: _file_path(folder, stem) for key, stem in FILES.items()}
    arrays = {}
    for key, stem in FILES.items():
        path = paths[key]
        assert path is not None  # _resolve checked that all four files exist
        data = read_decompressed(path)
        if sums is not None:
            _verify(path, data, sums, stem, sums_path, fix)
        arrays[key] = read_idx_bytes(data, str(path))
        if key.endswith("images"):
            arrays[key] = image_stack(arrays[key], str(path))
    _check_arrays(arrays, {key: str(path) for key, path in paths.items()}, num_classes)
    if cache is not None:
        _write_cache(cache, arrays)
    return arrays


def _read_sums(path: Path) -> dict[str, str]:
    """Parse `sha256sum` output: one `<64 hex digits>  <file name>` per line -> {file name: digest}."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ChecksumError(f"{path}: cannot read the checksum list ({e}); re-download it") from e
    sums = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SUM_LINE.fullmatch(line.strip())
        if match is None:
            raise ChecksumError(f"{path}:{number}: expected '<sha256 hex>  <file name>', not {line[:80]!r}")
        sums[match[2].strip()] = match[1].lower()
    return sums


def _verify(path: Path, data: bytes, sums: dict[str, str], stem: str, sums_path: Path, fix: str) -> None:
    """Raise ChecksumError unless the decompressed `data` of `path` has the digest `sums` lists for `stem`."""
    expected = sums.get(stem)
    if expected is None:
        raise ChecksumError(f"{sums_path}: lists no checksum for {stem}; add its line or delete the file")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ChecksumError(
            f"{path}: checksum mismatch: the decompressed data has SHA-256 {actual[:16]}... but {SUMS_NAME} "
            f"lists {expected[:16]}...; the file is damaged or from another data set: {fix}"
        )


def _check_arrays(arrays: dict[str, np.ndarray], names: dict[str, str], num_classes: int | None) -> None:
    """Raise IdxError unless both image/label pairs fit, pixels are uint8 and all images are one size."""
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        images_name, labels_name = names[f"{split}_images"], names[f"{split}_labels"]
        check_labeled_images(images, labels, images_name, labels_name, num_classes)
        if images.dtype != np.uint8:
            raise IdxError(f"{images_name}: expected 8-bit pixels (type code 0x08), not {images.dtype}")
        if len(images) == 0:
            word = "training" if split == "train" else "test"
            raise IdxError(f"{images_name}: holds no images; a data set needs at least one {word} image")
    train_size, test_size = arrays["train_images"].shape[1:], arrays["test_images"].shape[1:]
    if train_size != test_size:
        raise IdxError(
            f"{names['test_images']}: images are {test_size[0]}x{test_size[1]} but those in "
            f"{names['train_images']} are {train_size[0]}x{train_size[1]}; both must come from one data set"
        )


def _read_cache(path: Path, num_classes: int | None) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the cache is absent or unreadable (the caller then rebuilds it)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in FILES}
        _check_arrays(arrays, {key: f"{path}[{key}]" for key in FILES}, num_classes)
    # Whatever is wrong with it, the cache can be rebuilt (IdxError is a ValueError).
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error):
        return None
    return arrays


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save the arrays for the next load; a cache that cannot be written only costs speed, so it warns."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path) as f:
            # Uncompressed: loading it is a plain read, well under a second for MNIST. (The stubs cannot
            # tell these keys from savez's own allow_pickle flag.)
            np.savez(f, **arrays)  # type: ignore[arg-type]
    except OSError as e:
        warnings.warn(
            f"cannot write the data cache {path} ({e.strerror or e}); loads stay slow until $GRADWISE_CACHE "
            "names a writable folder",
            stacklevel=4,
        )


def _split(
    arrays: dict[str, np.ndarray],
    name: str,
    num_classes: int,
    validation: int,
    normalize: str,
    dtype: np.dtype,
) -> Dataset:
    """Cut the validation split off the end of the training images and turn pixels into features."""
    train_images, test_images = arrays["train_images"], arrays["test_images"]
    total = len(train_images)
    validation = operator.index(validation)
    if not 0 <= validation < total:
        raise ValueError(
            f"validation={validation} is out of range: {name} has {total} training images; "
            f"use 0 to {total - 1}"
        )
    cut = total - validation
    if normalize == "unit":
        shift, scale = 0.0, 255.0
    elif normalize == "standard":
        shift, scale = _pixel_mean_std(train_images[:cut])
    else:
        shift, scale = 0.0, 1.0
    train_x = _features(train_images, shift, scale, dtype)
    labels = arrays["train_labels"].astype(np.int64)
    return Dataset(
        name=name,
        train=Split(train_x[:cut], labels[:cut]),
        val=Split(train_x[cut:], labels[cut:]),
        test=Split(_features(test_images, shift, scale, dtype), arrays["test_labels"].astype(np.int64)),
        num_classes=num_classes,
        image_shape=(int(train_images.shape[1]), int(train_images.shape[2])),
        normalize=normalize,
        shift=shift,
        scale=scale,
    )


def _features(images: np.ndarray, shift: float, scale: float, dtype: np.dtype) -> np.ndarray:
    """uint8 images (N, rows, cols) -> C-contiguous features (N, rows * cols): (pixel - shift) / scale."""
    x = images.reshape(len(images), -1).astype(dtype)
    # In place: a second 200 MB temporary for MNIST would double the peak memory for nothing.
    if shift:
        x -= shift
    if scale != 1.0:
        x /= scale
    return x


def _pixel_mean_std(images: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of all pixels of uint8 images; 1.0 stands in for a zero deviation."""
    n = images.size
    if n == 0:
        return 0.0, 1.0
    # Exact integer sums (255**2 fits uint16) avoid a 300 MB float64 temporary for MNIST.
    total = int(images.sum(dtype=np.uint64))
    squares = int(np.square(images, dtype=np.uint16).sum(dtype=np.uint64))
    mean = total / n
    std = float(np.sqrt((squares * n - total * total) / (n * n)))
    return mean, std or 1.0
