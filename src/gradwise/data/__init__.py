"""Data: IDX files, the MNIST-family data sets, CSV/TSV tables, and their splits."""

from gradwise.data.csv import CSVError, Table, load_csv, load_features
from gradwise.data.datasets import (
    ChecksumError,
    Dataset,
    DatasetNotFound,
    Split,
    SplitRecipe,
    cache_dir,
    find_dataset,
    load_dataset,
    one_hot,
)
from gradwise.data.idx import IdxError, read_idx, read_idx_bytes, read_labeled_images, write_idx, write_images
from gradwise.data.tables import TABLE_SUFFIXES, is_table, load_table, scale_columns, split_summary

__all__ = [
    "TABLE_SUFFIXES",
    "CSVError",
    "ChecksumError",
    "Dataset",
    "DatasetNotFound",
    "IdxError",
    "Split",
    "SplitRecipe",
    "Table",
    "cache_dir",
    "find_dataset",
    "is_table",
    "load_csv",
    "load_dataset",
    "load_features",
    "load_table",
    "one_hot",
    "read_idx",
    "read_idx_bytes",
    "read_labeled_images",
    "scale_columns",
    "split_summary",
    "write_idx",
    "write_images",
]
