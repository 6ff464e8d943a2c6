"""Writing a run's files so that a failed write names the file it was writing.

``write()`` on a full disk raises ``OSError(28, 'No space left on device')`` with no file name;
the user then cannot tell whether a checkpoint, the metrics or TensorBoard failed, nor where.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


class RunFileError(OSError):
    """A file of a run could not be written; the message names the file and the reason."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Re-raise an ``OSError`` raised inside the block as a :class:`RunFileError` naming ``path``."""
    try:
        yield
    except RunFileError:
        raise
    except OSError as err:
        reason = err.strerror or str(err)
        raise RunFileError(err.errno, f"could not write {path}: {reason}") from err
