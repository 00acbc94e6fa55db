"""Reading a file a user named, only when it is a regular file of a bounded size.

A FIFO no one writes to blocks `open()` forever, and a device (`/dev/zero`) has no
size to check first and never ends. So a file is opened without blocking, checked
with `fstat`, and read no further than its limit: a read that would go past it raises
TooLarge (a file that grew while read is too large too), whoever reads (a CSV line by
line, openpyxl, a hash). Manifests, contacts files and saved plans are all read so;
each caller words what went wrong its own way.
"""

from __future__ import annotations

import io
import os
import stat
from typing import Any, BinaryIO

__all__ = ["SpecialFile", "TooLarge", "open_regular", "read_regular"]


class SpecialFile(OSError):
    """Not a regular file: a directory (`directory`), or a FIFO, a socket or a device."""

    def __init__(self, directory: bool) -> None:
        super().__init__("a directory" if directory else "not a regular file")
        self.directory = directory


class TooLarge(OSError):
    """Over the limit: `size` as `fstat` gave it, or None when it grew while read."""

    def __init__(self, size: int | None) -> None:
        super().__init__("too large")
        self.size = size


def open_regular(path: str | os.PathLike[str], max_bytes: int) -> BinaryIO:
    """The file opened for reading; SpecialFile, TooLarge, or the OSError of `open`
    (FileNotFoundError; ENXIO for a socket, which cannot be opened at all)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SpecialFile(stat.S_ISDIR(info.st_mode))
        if info.st_size > max_bytes:
            raise TooLarge(info.st_size)
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(_Bounded(io.FileIO(fd, "rb"), max_bytes))


class _Bounded(io.RawIOBase):
    """A file that gives no byte past `limit` from its start: its size was checked at
    open only, and a regular file may grow while it is read (appended to faster than
    read, it would never end)."""

    def __init__(self, raw: io.FileIO, limit: int) -> None:
        super().__init__()
        self._raw = raw
        self._limit = limit

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def fileno(self) -> int:
        return self._raw.fileno()

    def readinto(self, buffer: Any) -> int | None:
        n = self._raw.readinto(buffer)
        if n and self._raw.tell() > self._limit:
            raise TooLarge(None)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def read_regular(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The whole file, as `open_regular` allows it, at most `max_bytes`."""
    with open_regular(path, max_bytes) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(None)
    return data
