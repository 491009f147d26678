"""Crash-safe file writes (a reader sees the old file or the new one, never half of either), the tolerant reader
of the append-only ``.jsonl`` logs, and what reading a damaged archive can raise.

A write the disk refuses (full, read-only, no permission, a file where a folder belongs) raises ``WriteFailed``:
one line naming the file and what happened, with the earlier file (or the log's earlier lines) left intact."""

from __future__ import annotations

import contextlib
import errno
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

# What each refusal means, in words.
_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the disk is read-only",
    errno.EACCES: "no permission to write there",
    errno.EPERM: "no permission to write there",
    errno.ENOTDIR: "a file stands where a folder of the path belongs",
    errno.EISDIR: "a folder stands where the file belongs",
}


class WriteFailed(OSError):
    """The disk refused a write: ``path``, the ``reason`` in words, the bytes the write ``needed`` where known
    (0: unknown) and what is still ``intact``. The earlier file, or a log's earlier lines, are untouched."""

    def __init__(self, path: Path, error: OSError, needed: int = 0, intact: str = "") -> None:
        super().__init__(error.errno, error.strerror)
        self.path, self.needed, self.intact = Path(path), needed, intact
        self.reason = _REASONS.get(error.errno or 0, error.strerror or type(error).__name__)
        self.resume: Path | None = None  # the run folder to resume once writes succeed again, where there is one

    def __str__(self) -> str:
        then = f": free space, then resume the run in {self.resume}" if self.resume is not None else ""
        return self.what() + then

    def what(self) -> str:
        """The file, what happened, the space needed and what is intact, without what to do next."""
        needed = f" (the write needs about {_megabytes(self.needed)} free)" if self.needed and self.full else ""
        intact = f"; {self.intact}" if self.intact else ""
        return f"{self.path}: {self.reason}{needed}{intact}"

    @property
    def full(self) -> bool:
        return self.errno in (errno.ENOSPC, errno.EDQUOT)

    def saying(self, intact: str) -> WriteFailed:
        """The same failure, saying what is intact (and what to do) in the caller's words."""
        failed = WriteFailed(self.path, OSError(self.errno, self.strerror), self.needed, intact)
        failed.reason, failed.resume = self.reason, self.resume
        return failed


def check_room(folder: Path, needed: int, intact: str) -> None:
    """WriteFailed now, before any work, when ``folder``'s disk is read-only, refuses us, or has less than
    ``needed`` bytes free."""
    refusal = None
    try:
        stats = os.statvfs(folder)
    except OSError as error:
        raise WriteFailed(folder, error, needed, intact) from None
    if stats.f_flag & os.ST_RDONLY:
        refusal = errno.EROFS
    elif not os.access(folder, os.W_OK):
        refusal = errno.EACCES
    elif stats.f_bavail * stats.f_frsize < needed:
        refusal = errno.ENOSPC
    if refusal is not None:
        raise WriteFailed(folder, OSError(refusal, os.strerror(refusal)), needed, intact)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{max(size, 1) / 1e3:.0f} kB"


_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")  # the names atomic_open gives its temporaries


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing so readers see the old file or the whole new one, never a part.

    Writes a temporary file in the same folder, flushes and fsyncs it, then renames it over ``path``.
    """
    path = Path(path)
    # Cut long names so the temporary's stays within the usual 255-byte limit.
    temporary = path.with_name(f".{path.name[:200]}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        # 0o666 lets the umask set the permissions as open() would; mkstemp would force 0600.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise WriteFailed(path, error, _size(path), _previous(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)  # atomic on POSIX: the same folder means the same file system
    except OSError as error:
        needed = max(_size(temporary), _size(path))
        temporary.unlink(missing_ok=True)
        if isinstance(error, WriteFailed):
            raise
        raise WriteFailed(path, error, needed, _previous(path)) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _previous(path: Path) -> str:
    return f"the previous {path.name} is intact" if path.is_file() else "nothing was written"


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
    data = line.rstrip("\n").encode() + b"\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as error:
        raise WriteFailed(Path(path), error, len(data), "its earlier lines are intact") from None
    try:
        before = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
            if written != len(data):  # a short write: the disk filled up mid-line
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            if durable:
                os.fsync(fd)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, before)  # never leave a torn last line for the next reader
            raise WriteFailed(Path(path), error, len(data), "its earlier lines are intact") from None
    finally:
        os.close(fd)


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
