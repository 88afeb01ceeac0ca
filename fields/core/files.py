"""Atomic files: a kill at any moment leaves the old complete file or the new complete file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fields.core.errors import FieldsInputError


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[str]:
    """Yield a temporary name beside ``path``; rename it over ``path`` only if the block succeeds."""
    folder = check_output_folder(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=folder)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a result is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_output_folder(path: Path) -> Path:
    """The folder an output goes to; it must exist."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FieldsInputError(
            f"output path = '{path}' is not allowed: folder '{folder}' does not exist"
        )
    return folder
