"""Data sets: bundled MNIST, Fashion-MNIST lookup, checksums, the cache, splits, normalisation, one_hot."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gradwise.data import datasets
from gradwise.data.datasets import (
    ChecksumError,
    DatasetNotFound,
    cache_dir,
    find_dataset,
    load_dataset,
    one_hot,
)
from gradwise.data.idx import IdxError, read_idx, write_idx

STEMS = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
# SHA-256 of the image files older gradwise bundled: the canonical pixels under a 2-D header (N x 784).
OLD_BUNDLE_SHA256 = {
    "train-images-idx3-ubyte": "01acd913c5b3fdb3990d50820f9a100fc31bc19a71cfe4971bc2ecd95eaedd59",
    "t10k-images-idx3-ubyte": "c413eec8bcea1cc1ae153b5250db8233f555f75c9abf17b3d37857a03684b4ac",
}


# The real Fashion-MNIST: Debian's dataset-fashion-mnist package, which `make test` installs when missing.
DEBIAN_COPY = datasets.DEBIAN_FASHION_MNIST_DIR


@pytest.fixture
def fashion_dir() -> Path:
    """The folder of Debian's Fashion-MNIST."""
    if all(any((DEBIAN_COPY / f"{stem}{suffix}").is_file() for suffix in ("", ".gz")) for stem in STEMS):
        return DEBIAN_COPY
    raise AssertionError(
        f"Fashion-MNIST is not in {DEBIAN_COPY}: `make test` installs Debian's dataset-fashion-mnist "
        "(or run `apt-get install dataset-fashion-mnist`)"
    )


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Keep every test away from the user's cache and data folders; returns the test's cache folder."""
    monkeypatch.setenv("GRADWISE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GRADWISE_DATA", raising=False)
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian" / "fashion-mnist")
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def mnist_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding decoded MNIST, built once so each MNIST test takes a fraction of a second."""
    folder = tmp_path_factory.mktemp("mnist-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADWISE_CACHE", str(folder))
        load_dataset("mnist", validation=0)
    return folder


@pytest.fixture
def mnist_env(isolated_env: Path, mnist_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("GRADWISE_CACHE", str(mnist_cache))
    yield mnist_cache


def make_dataset(
    folder: Path,
    train: np.ndarray,
    train_labels: np.ndarray,
    test: np.ndarray,
    test_labels: np.ndarray,
    *,
    gz: bool = True,
    sums: bool = True,
) -> Path:
    """Write a data set folder of four IDX files (and their checksum list) for the arrays given."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    lines = []
    for stem, array in zip(STEMS, [train, train_labels, test, test_labels], strict=True):
        write_idx(folder / f"{stem}{suffix}", array)
        raw = folder / f"{stem}.raw-for-sum"
        write_idx(raw, array, compress=False)
        lines.append(f"{hashlib.sha256(raw.read_bytes()).hexdigest()}  {stem}\n")
        raw.unlink()
    if sums:
        (folder / "SHA256SUMS.uncompressed").write_text("".join(lines))
    return folder


def tiny(folder: Path, **kwargs: bool) -> Path:
    """6 training images of 2x2 pixels whose values are easy to add up, 2 test images, 3 classes."""
    train = np.repeat(np.array([0, 10, 250], np.uint8), [8, 8, 8]).reshape(6, 2, 2)
    test = np.array([[[100, 100], [100, 100]], [[0, 255], [255, 0]]], np.uint8)
    train_labels, test_labels = np.array([0, 1, 2, 0, 1, 2], np.uint8), np.array([2, 1], np.uint8)
    return make_dataset(folder, train, train_labels, test, test_labels, **kwargs)


def fake_fashion(folder: Path) -> Path:
    """Empty files with the right names: enough for the lookup, which only looks at names."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem in STEMS:
        (folder / f"{stem}.gz").touch()
    return folder


# --- bundled MNIST ---------------------------------------------------------------------------------------


def test_mnist_loads_with_the_default_split(mnist_env: Path) -> None:
    data = load_dataset("mnist")
    assert (data.name, data.num_classes, data.image_shape, data.num_features) == ("mnist", 10, (28, 28), 784)
    assert [len(data.train), len(data.val), len(data.test)] == [50000, 10000, 10000]
    assert data.train.x.shape[1] == data.val.x.shape[1] == data.test.x.shape[1] == 784
    for split in (data.train, data.val, data.test):
        assert split.x.dtype == np.float32 and split.y.dtype == np.int64 and split.x.flags.c_contiguous
        assert 0.0 <= split.x.min() and split.x.max() <= 1.0
    assert data.train.y[:5].tolist() == [5, 0, 4, 1, 9] and data.test.y[:5].tolist() == [7, 2, 1, 0, 4]
    # The validation split is the last 10,000 training images.
    all_train = read_idx(datasets.MNIST_DIR / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(data.val.y, all_train[50000:])
    assert repr(data.train) == "Split(x=float32[50000, 784], y=int64[50000])"


def test_mnist_without_validation_and_in_float64(mnist_env: Path) -> None:
    data = load_dataset("MNIST", validation=0, dtype=np.float64)
    assert data.train.x.shape == (60000, 784) and data.val.x.shape == (0, 784) and data.val.y.shape == (0,)
    assert data.train.x.dtype == np.float64 and len(data.val) == 0


def test_mnist_standard_uses_training_split_statistics(mnist_env: Path) -> None:
    data = load_dataset("mnist", normalize="standard")
    # Mean and std of all pixels of the first 50,000 training images, computed once in float64.
    assert data.shift == pytest.approx(33.39512885204082, rel=1e-12)
    assert data.scale == pytest.approx(78.6661972212755, rel=1e-12)
    assert abs(data.train.x.mean()) < 1e-4 and data.train.x.std() == pytest.approx(1.0, rel=1e-4)
    assert abs(data.val.x.mean()) > 1e-3  # val and test are scaled with training statistics, not their own


def test_the_cache_serves_mnist_after_the_first_load(
    mnist_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(list(mnist_env.glob("mnist-v1-*.npz"))) == 1

    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded the IDX files although a cache exists")

    monkeypatch.setattr(datasets, "read_idx_bytes", no_decoding)
    assert load_dataset("mnist").test.y[:3].tolist() == [7, 2, 1]


def test_the_older_bundle_with_2d_image_headers_loads_the_same(
    tmp_path: Path, mnist_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rebuild the files older gradwise bundled (raw, with their checksum list) from the canonical ones.
    old = tmp_path / "old-mnist"
    old.mkdir()
    lines = []
    for stem in STEMS:
        data = gzip.decompress((datasets.MNIST_DIR / f"{stem}.gz").read_bytes())
        if stem in OLD_BUNDLE_SHA256:
            assert data[:4] == bytes.fromhex("00000803")  # canonical: ubyte, 3 dimensions
            data = bytes.fromhex("00000802") + data[4:8] + (28 * 28).to_bytes(4, "big") + data[16:]
            assert hashlib.sha256(data).hexdigest() == OLD_BUNDLE_SHA256[stem]
        (old / stem).write_bytes(data)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {stem}\n")
    (old / "SHA256SUMS.uncompressed").write_text("".join(lines))
    before = load_dataset(str(old))
    monkeypatch.setenv("GRADWISE_CACHE", str(mnist_cache))
    now = load_dataset("mnist")
    assert before.image_shape == now.image_shape == (28, 28)
    for old_split, new_split in ((before.train, now.train), (before.val, now.val), (before.test, now.test)):
        assert old_split.x.shape == new_split.x.shape and old_split.x.shape[1] == 784
        np.testing.assert_array_equal(old_split.x, new_split.x)
        np.testing.assert_array_equal(old_split.y, new_split.y)


# --- checksums and the cache -----------------------------------------------------------------------------


def test_a_tampered_mnist_file_fails_its_checksum(tmp_path: Path) -> None:
    copy = Path(shutil.copytree(datasets.MNIST_DIR, tmp_path / "mnist-copy"))
    labels_path = copy / "train-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(labels_path.read_bytes()))
    content[8 + 123] = (content[8 + 123] + 1) % 10  # one label changed: still a valid IDX file
    labels_path.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(ChecksumError) as error:
        load_dataset(str(copy))
    actual = hashlib.sha256(content).hexdigest()
    assert str(error.value) == (
        f"{labels_path}: checksum mismatch: the decompressed data has SHA-256 {actual[:16]}... but "
        "SHA256SUMS.uncompressed lists 65a50cbbf4e906d7...; the file is damaged or from another data set: "
        "re-download it"
    )
    assert isinstance(error.value, IdxError)


def test_checksums_cover_the_decompressed_bytes(tmp_path: Path) -> None:
    folder = tiny(tmp_path / "tiny")
    # Recompressing changes the .gz bytes but not the content, so it still verifies.
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1, mtime=12345))
    assert load_dataset(str(folder), validation=1).test.x.shape == (2, 4)


def test_checksum_list_problems_are_one_line_errors(tmp_path: Path) -> None:
    folder = tiny(tmp_path / "tiny")
    sums = folder / "SHA256SUMS.uncompressed"
    sums.write_text("".join(line for line in sums.read_text().splitlines(True) if "t10k-labels" not in line))
    with pytest.raises(ChecksumError) as missing:
        load_dataset(str(folder), validation=1)
    assert str(missing.value) == (
        f"{sums}: lists no checksum for t10k-labels-idx1-ubyte; add its line or delete the file"
    )
    sums.write_text("not a checksum line\n")
    with pytest.raises(ChecksumError) as malformed:
        load_dataset(str(folder), validation=1)
    expected = f"{sums}:1: expected '<sha256 hex>  <file name>', not 'not a checksum line'"
    assert str(malformed.value) == expected


def test_the_cache_is_used_then_rebuilt_when_corrupt(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tiny(tmp_path / "tiny")
    first = load_dataset(str(folder), validation=1)
    (cache,) = isolated_env.glob("tiny-v1-*.npz")
    decode = datasets.read_idx_bytes

    def count_decodes(data: bytes, name: str) -> np.ndarray:
        calls.append(name)
        return decode(data, name)

    calls: list[str] = []
    monkeypatch.setattr(datasets, "read_idx_bytes", count_decodes)
    second = load_dataset(str(folder), validation=1)
    assert calls == []  # served from the cache
    np.testing.assert_array_equal(first.train.x, second.train.x)

    for damage in (b"garbage", cache.read_bytes()[:100], b""):
        cache.write_bytes(damage)
        np.testing.assert_array_equal(load_dataset(str(folder), validation=1).test.y, [2, 1])
        assert len(calls) == 4  # all four files decoded again
        calls.clear()
        with np.load(cache, allow_pickle=False) as npz:  # and the cache rewritten whole
            assert npz["train_images"].shape == (6, 2, 2)


def test_a_cache_with_wrong_shapes_is_rebuilt(tmp_path: Path, isolated_env: Path) -> None:
    folder = tiny(tmp_path / "tiny")
    load_dataset(str(folder), validation=1)
    (cache,) = isolated_env.glob("*.npz")
    with np.load(cache) as npz:
        arrays = dict(npz)
    arrays["test_labels"] = arrays["test_labels"][:1]  # one label for two images
    np.savez(cache, **arrays)
    assert load_dataset(str(folder), validation=1).test.y.tolist() == [2, 1]
    with np.load(cache) as npz:
        assert npz["test_labels"].shape == (2,)


def test_no_checksum_list_means_no_cache(tmp_path: Path, isolated_env: Path) -> None:
    load_dataset(str(tiny(tmp_path / "tiny", sums=False)), validation=1)
    assert not isolated_env.exists() or list(isolated_env.iterdir()) == []


def test_an_unwritable_cache_only_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("GRADWISE_CACHE", str(tmp_path / "a-file" / "cache"))
    warning = r"^cannot write the data cache .*; loads stay slow until \$GRADWISE_CACHE names a writable"
    with pytest.warns(UserWarning, match=warning):
        data = load_dataset(str(tiny(tmp_path / "tiny")), validation=1)
    assert len(data.train) == 5


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "cache"  # from isolated_env's $GRADWISE_CACHE
    monkeypatch.delenv("GRADWISE_CACHE")
    assert cache_dir() == tmp_path / "xdg" / "gradwise"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache_dir() == tmp_path / "home" / ".cache" / "gradwise"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == tmp_path / "home" / ".cache" / "gradwise"


# --- data sets given by path, splits and normalisation ---------------------------------------------------


def test_a_folder_of_raw_files_is_a_data_set(tmp_path: Path) -> None:
    data = load_dataset(tiny(tmp_path / "tiny", gz=False), validation=2)
    assert (data.name, data.num_classes, data.image_shape) == ("tiny", 3, (2, 2))
    assert [len(data.train), len(data.val), len(data.test)] == [4, 2, 2]
    assert data.val.y.tolist() == [1, 2]  # the last two training labels


def test_normalize_modes_worked_example(tmp_path: Path) -> None:
    folder = tiny(tmp_path / "tiny")
    none = load_dataset(str(folder), validation=2, normalize="none")
    assert none.train.x[:, 0].tolist() == [0, 0, 10, 10] and none.test.x[1].tolist() == [0, 255, 255, 0]
    unit = load_dataset(str(folder), validation=2, normalize="unit")
    np.testing.assert_allclose(unit.test.x[1], [0, 1, 1, 0])
    assert unit.train.x[2, 0] == np.float32(10 / 255)
    standard = load_dataset(str(folder), validation=2, normalize="standard", dtype=np.float64)
    # Training split only: pixels 0 (8 of them) and 10 (8 of them) -> mean 5, std 5; the 250s are in val.
    assert (standard.shift, standard.scale) == (5.0, 5.0)
    assert standard.train.x[:, 0].tolist() == [-1, -1, 1, 1]
    assert standard.val.x[0, 0] == 49.0 and standard.test.x[0, 0] == 19.0  # (250 - 5) / 5, (100 - 5) / 5


def test_constant_images_do_not_divide_by_zero(tmp_path: Path) -> None:
    folder = make_dataset(
        tmp_path / "flat", np.full((3, 2, 2), 7, np.uint8), np.zeros(3, np.uint8),
        np.full((1, 2, 2), 9, np.uint8), np.zeros(1, np.uint8),
    )  # fmt: skip
    data = load_dataset(str(folder), validation=0, normalize="standard")
    assert (data.shift, data.scale) == (7.0, 1.0) and data.test.x.tolist() == [[2, 2, 2, 2]]


def test_bad_arguments_are_one_line_value_errors(tmp_path: Path) -> None:
    folder = str(tiny(tmp_path / "tiny"))
    with pytest.raises(ValueError) as normalize:
        load_dataset(folder, normalize="zscore")
    assert str(normalize.value) == "unknown normalize='zscore'; use one of unit, standard, none"
    with pytest.raises(ValueError) as dtype:
        load_dataset(folder, dtype=np.int32)
    assert str(dtype.value) == "dtype must be a floating type such as float32, not int32"
    with pytest.raises(ValueError) as validation:
        load_dataset(folder, validation=6)
    assert str(validation.value) == "validation=6 is out of range: tiny has 6 training images; use 0 to 5"
    with pytest.raises(DatasetNotFound) as name:
        load_dataset("cifar10")
    assert str(name.value) == (
        "unknown data set 'cifar10'; use one of mnist, fashion-mnist, or the path of a folder holding "
        "the four IDX files"
    )


def test_bad_folders_name_the_problem(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFound) as error:
        load_dataset(str(missing))
    assert str(error.value) == (
        f"data set {missing} does not exist; pass a folder holding train-images-idx3-ubyte, "
        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each raw or .gz), or a table: a "
        "file ending in .csv, .tsv or .txt (save a spreadsheet as CSV)"
    )
    spreadsheet = tmp_path / "scores.xlsx"
    spreadsheet.write_bytes(b"PK")
    with pytest.raises(DatasetNotFound) as a_file:
        load_dataset(str(spreadsheet))
    assert str(a_file.value).startswith(f"data set {spreadsheet} is a file, not a folder; pass a folder holding")
    assert str(a_file.value).endswith("or a table: a file ending in .csv, .tsv or .txt (save a spreadsheet as CSV)")
    folder = tiny(tmp_path / "tiny")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFound) as lacking:
        load_dataset(str(folder))
    assert str(lacking.value) == (
        f"data set folder {folder} lacks t10k-labels-idx1-ubyte[.gz]; pass a folder holding all four"
    )


def test_train_and_test_images_must_share_a_size(tmp_path: Path) -> None:
    folder = make_dataset(
        tmp_path / "mixed", np.zeros((3, 2, 2), np.uint8), np.zeros(3, np.uint8),
        np.zeros((1, 3, 3), np.uint8), np.zeros(1, np.uint8), sums=False,
    )  # fmt: skip
    with pytest.raises(IdxError) as error:
        load_dataset(str(folder), validation=0)
    assert str(error.value) == (
        f"{folder / 't10k-images-idx3-ubyte.gz'}: images are 3x3 but those in "
        f"{folder / 'train-images-idx3-ubyte.gz'} are 2x2; both must come from one data set"
    )


def test_labels_out_of_range_name_the_file(tmp_path: Path) -> None:
    folder = make_dataset(
        tmp_path / "fashion-mnist", np.zeros((3, 2, 2), np.uint8), np.array([0, 12, 1], np.uint8),
        np.zeros((1, 2, 2), np.uint8), np.zeros(1, np.uint8), sums=False,
    )  # fmt: skip
    with pytest.raises(IdxError) as error:
        load_dataset("fashion-mnist", data_dir=folder)
    assert str(error.value) == (
        f"{folder / 'train-labels-idx1-ubyte.gz'}: label 12 at index 1 is outside [0, 10); "
        "the labels do not belong to a 10-class data set"
    )


# --- Fashion-MNIST lookup --------------------------------------------------------------------------------


def test_fashion_mnist_loads_from_the_debian_package(fashion_dir: Path) -> None:
    data = load_dataset("fashion_mnist", data_dir=fashion_dir)
    assert (data.name, data.num_classes, data.image_shape) == ("fashion-mnist", 10, (28, 28))
    assert [len(data.train), len(data.val), len(data.test)] == [50000, 10000, 10000]
    assert data.train.y[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # ankle boot, T-shirt, T-shirt, ...


def test_fashion_mnist_lookup_order(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = fake_fashion(tmp_path / "given")
    env = fake_fashion(tmp_path / "env")
    cached = fake_fashion(isolated_env / "fashion-mnist")
    debian = fake_fashion(tmp_path / "debian" / "fashion-mnist")
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", debian)
    monkeypatch.setenv("GRADWISE_DATA", str(env))

    assert find_dataset("fashion-mnist", data_dir=given) == given
    assert find_dataset("fashion-mnist") == env
    shutil.rmtree(env)
    fake_fashion(env / "fashion-mnist")  # $GRADWISE_DATA may also hold a fashion-mnist/ folder
    assert find_dataset("fashion-mnist") == env / "fashion-mnist"
    monkeypatch.delenv("GRADWISE_DATA")
    assert find_dataset("fashion-mnist") == cached
    shutil.rmtree(cached)
    assert find_dataset("fashion-mnist") == debian
    inner = fake_fashion(tmp_path / "parent" / "fashion-mnist")  # data_dir may hold a fashion-mnist/ folder
    assert find_dataset("fashion-mnist", data_dir=tmp_path / "parent") == inner


def test_fashion_mnist_found_through_env_and_debian(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fashion_dir = tiny(tmp_path / "data" / "fashion-mnist")  # the lookup goes by file names: a small set will do
    monkeypatch.setenv("GRADWISE_DATA", str(fashion_dir.parent))
    assert find_dataset("fashion-mnist") == fashion_dir
    monkeypatch.delenv("GRADWISE_DATA")
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", fashion_dir)
    assert find_dataset("fashion_mnist") == fashion_dir
    data = load_dataset("fashion-mnist", validation=2)
    assert (data.name, [len(data.train), len(data.val), len(data.test)]) == ("fashion-mnist", [4, 2, 2])


def test_missing_fashion_mnist_lists_every_place(tmp_path: Path, isolated_env: Path) -> None:
    given = tmp_path / "given"
    partial = fake_fashion(given / "fashion-mnist")
    (partial / "t10k-images-idx3-ubyte.gz").unlink()
    debian = datasets.DEBIAN_FASHION_MNIST_DIR
    with pytest.raises(DatasetNotFound) as error:
        load_dataset("fashion-mnist", data_dir=given)
    assert str(error.value) == (
        f"fashion-mnist not found; looked in {given}, {partial} (lacks t10k-images-idx3-ubyte[.gz]), "
        f"{isolated_env / 'fashion-mnist'}, {debian}, $GRADWISE_DATA (unset); get it with --data-dir DIR, "
        "by setting $GRADWISE_DATA=DIR (DIR holding the four IDX files or a fashion-mnist/ folder of them), "
        "or with `apt-get install dataset-fashion-mnist`"
    )
    assert isinstance(error.value, FileNotFoundError) and "\n" not in str(error.value)


# --- one_hot ---------------------------------------------------------------------------------------------


def test_one_hot() -> None:
    out = one_hot(np.array([2, 0, 1, 2]), 3)
    assert out.dtype == np.float32 and out.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert one_hot(np.array([], dtype=np.int64), 4, dtype=np.float64).shape == (0, 4)
    with pytest.raises(ValueError) as out_of_range:
        one_hot(np.array([0, 3]), 3)
    assert str(out_of_range.value) == "one_hot: label 3 at index 1 is outside [0, 3)"
    with pytest.raises(ValueError) as not_integer:
        one_hot(np.array([[0.5]]), 3)
    assert str(not_integer.value) == "one_hot needs integer labels (N,), not float64 of shape (1, 1)"
