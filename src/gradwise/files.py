"""Crash-safe file writes (a reader sees the old file or the new one, never half of either), the tolerant reader
of the append-only ``.jsonl`` logs, and what reading a damaged archive can raise."""

from __future__ import annotations

import contextlib
import json
import lzma
import os
import re
import struct
import tokenize
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

# Everything zipfile, zlib, bz2, lzma and numpy's .npy header parser raise on damaged input (RuntimeError covers an
# encrypted member, NotImplementedError an unknown compression method, RecursionError a deeply nested header,
# TokenError a header numpy retries as Python 2 text).
DAMAGED_ARCHIVE_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    TypeError,
    LookupError,
    ArithmeticError,
    MemoryError,
    RuntimeError,
    SyntaxError,
    struct.error,
    zlib.error,
    lzma.LZMAError,
    zipfile.BadZipFile,
    tokenize.TokenError,
)

_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")  # the names atomic_open gives its temporaries


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing so readers see the old file or the whole new one, never a part.

    Writes a temporary file in the same folder, flushes and fsyncs it, then renames it over ``path``.
    """
    path = Path(path)
    # Cut long names so the temporary's stays within the usual 255-byte limit.
    temporary = path.with_name(f".{path.name[:200]}.{uuid.uuid4().hex[:12]}.tmp")
    # 0o666 lets the umask set the permissions as open() would; mkstemp would force 0600.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)  # atomic on POSIX: the same folder means the same file system
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def remove_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporaries ``atomic_open`` left in ``folder`` when a process died mid-write; return them.

    Call it only where no other process is writing, e.g. when a run starts or resumes in its own folder.
    """
    removed = []
    for candidate in Path(folder).glob(".*.tmp"):
        if _TEMPORARY.fullmatch(candidate.name) and candidate.is_file():
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path) as f:
        f.write(text.encode())


def append_line(path: str | os.PathLike[str], line: str, *, durable: bool = True) -> None:
    """Append one line: an append-only log loses at most its torn last line in a crash.

    The write reaches the kernel before this returns, so it survives the process being killed (kill -9).
    ``durable`` also fsyncs (~1 ms here), so it survives a power cut; frequent, expendable lines skip that.
    """
    with open(path, "ab") as f:
        f.write(line.rstrip("\n").encode() + b"\n")
        f.flush()
        if durable:
            os.fsync(f.fileno())


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of the log at ``path`` that holds a JSON object; a line that does not parse (a crash's torn last
    line) is skipped, and a missing file reads as empty."""
    if not path.is_file():
        return []
    objects = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(value, dict):
            objects.append(value)
    return objects
