"""The user's cache: one root, private folders, and a refusal of folders someone else can write.

Everything ravine keeps between processes — the runner's compiled kernels, torch-inductor's
compiled steps, the generated data sets — lives in a named folder under one root:

* ``$RAVINE_CACHE_DIR`` when set (made absolute), else
* the platform's user cache + ``ravine``: ``$XDG_CACHE_HOME/ravine`` (only an absolute
  ``XDG_CACHE_HOME`` counts, as the XDG spec says) or ``~/.cache/ravine`` on Linux and other
  Unixes, ``~/Library/Caches/ravine`` on macOS, ``%LOCALAPPDATA%\\ravine`` on Windows.

Never the working directory: a cache holds code (Numba's index files and inductor's entries
are pickles, the kernels are Python modules), so a cache shipped inside a cloned repository or
a shared folder would run as soon as it was read.

:func:`folder` creates a missing folder (the root, then the subfolder) with mode 0700, and
refuses — :class:`UnsafeCacheError`, one line naming the folder, what is wrong and how to fix
it — an existing root or subfolder that is not a folder, is owned by another user or is
writable by its group or by others. (On Windows, where POSIX modes and owners do not apply,
only the first check is made.) The ``ravine`` command prints the refusal as
``ravine: error: …`` and exits with status 2.

:func:`use_for_inductor` points ``TORCHINDUCTOR_CACHE_DIR`` at ``folder("inductor")`` unless
the user set it: a value the user chose is respected as it is (not checked); torch's own
default (``torchinductor_<user>`` in the shared temporary folder), which torch writes into the
environment once it has compiled anything, does not count as the user's choice and is replaced.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

__all__ = ["UnsafeCacheError", "NAMES", "root", "folder", "use_for_inductor"]

#: the named subfolders of the cache root, and what each holds
NAMES = {
    "kernels": "the runner's generated kernel modules and Numba's cache of them",
    "inductor": "torch-inductor's compiled code (ravine.optim's compiled step, the batched benchmark)",
    "data": "generated data sets of ravine train (.npz)",
}


class UnsafeCacheError(ValueError):
    """A cache folder that another user could write (or that is not a folder): refused.

    A ``ValueError`` with a one-line message, so the command line reports it as bad input."""


def root() -> Path:
    """The cache root (see the module docstring); not created here."""
    env = os.environ.get("RAVINE_CACHE_DIR")
    if env:
        return Path(os.path.abspath(os.path.expanduser(env)))
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        base = Path(base) if base and os.path.isabs(base) else home / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = home / "Library" / "Caches"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".cache"
    return base / "ravine"


def _private(path: Path) -> None:
    """Create ``path`` (mode 0700) if missing, then refuse it unless it is a folder of this
    user's that its group and others cannot write."""
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    else:
        os.chmod(path, 0o700)  # exactly 0700 whatever the umask
    st = os.stat(path)
    fix = "or set RAVINE_CACHE_DIR to a folder of your own"
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeCacheError(f"ravine cache folder {path} is not a folder; remove it {fix}")
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: no POSIX owner or mode bits
        return
    if st.st_uid != getuid():
        raise UnsafeCacheError(
            f"ravine cache folder {path} is owned by another user (uid {st.st_uid}, you are uid {getuid()}): "
            f"code cached there would run as you; remove it {fix}"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeCacheError(
            f"ravine cache folder {path} is writable by others (mode {stat.S_IMODE(st.st_mode):04o}): "
            f"code cached there would run as you; run chmod 700 {path} {fix}"
        )


def folder(name: str) -> Path:
    """The private cache folder ``name`` (one of :data:`NAMES`) under :func:`root`, created with
    mode 0700 if missing; the root and the folder are both checked (:class:`UnsafeCacheError`).
    A folder that cannot be created raises ``OSError``."""
    if name not in NAMES:
        raise ValueError(f"cache folder: name must be one of {', '.join(NAMES)}, got {name!r}")
    top = root()
    _private(top)
    sub = top / name
    _private(sub)
    return sub


def _torch_default(path: str) -> bool:
    """Whether ``path`` is torch-inductor's own default (``torchinductor_<user>`` in the shared
    temporary folder), which torch puts into the environment itself."""
    p = os.path.abspath(path)
    return os.path.dirname(p) == os.path.abspath(tempfile.gettempdir()) and os.path.basename(p).startswith(
        "torchinductor_"
    )


def use_for_inductor() -> str:
    """Point ``TORCHINDUCTOR_CACHE_DIR`` at the private ``folder("inductor")`` unless the user set
    it (see the module docstring); return the folder inductor will use. Call it before the first
    ``torch.compile`` of a process compiles anything."""
    given = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if given and not _torch_default(given) and Path(os.path.abspath(given)) != root() / "inductor":
        return given  # the user's choice (ravine's own, inherited from a parent, is checked again)
    path = str(folder("inductor"))
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = path
    return path
