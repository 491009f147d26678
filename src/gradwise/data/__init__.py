"""Data: IDX files, the MNIST-family data sets and their splits."""

from gradwise.data.datasets import (
    ChecksumError,
    Dataset,
    DatasetNotFound,
    Split,
    cache_dir,
    find_dataset,
    load_dataset,
    one_hot,
)
from gradwise.data.idx import IdxError, read_idx, read_idx_bytes, read_labeled_images, write_idx, write_images

__all__ = [
    "ChecksumError",
    "Dataset",
    "DatasetNotFound",
    "IdxError",
    "Split",
    "cache_dir",
    "find_dataset",
    "load_dataset",
    "one_hot",
    "read_idx",
    "read_idx_bytes",
    "read_labeled_images",
    "write_idx",
    "write_images",
]
