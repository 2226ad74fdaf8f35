"""The user's cache (``ravine._cache``): where it is, that it is private, that a folder another
user could write is refused (library and command line), that the working directory is never
read, and that a generated kernel runs only when its file hashes to its name."""

import json
import os
import pickle
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ravine import _cache
from ravine._cache import UnsafeCacheError

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _env(**extra):
    """The environment of a child ``ravine``: this checkout's sources, no inductor folder of the
    user's own (so ravine chooses), and ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"}
    # no empty entry: an empty PYTHONPATH entry means the working directory
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


# ------------------------------------------------------------------ where the cache is


def test_root_is_ravine_cache_dir_else_the_platform_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("RAVINE_CACHE_DIR", str(tmp_path / "mine"))
    assert _cache.root() == tmp_path / "mine"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAVINE_CACHE_DIR", "rel")  # made absolute once, not re-read from each cwd
    assert _cache.root() == tmp_path / "rel"
    monkeypatch.delenv("RAVINE_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert _cache.root() == tmp_path / "xdg" / "ravine"
        monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ignored (XDG spec)
        assert _cache.root() == tmp_path / "home" / ".cache" / "ravine"
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert _cache.root() == tmp_path / "home" / ".cache" / "ravine"


def test_a_fresh_cache_folder_is_created_private(monkeypatch, tmp_path):
    monkeypatch.setenv("RAVINE_CACHE_DIR", str(tmp_path / "a" / "cache"))
    old = os.umask(0)  # even under a umask that would leave it open to all
    try:
        got = _cache.folder("kernels")
    finally:
        os.umask(old)
    assert got == tmp_path / "a" / "cache" / "kernels"
    assert _mode(tmp_path / "a" / "cache") == 0o700 and _mode(got) == 0o700
    assert _cache.folder("kernels") == got  # an existing private folder is accepted as it is
    with pytest.raises(ValueError, match=r"^cache folder: name must be one of kernels, inductor, data, got 'x'$"):
        _cache.folder("x")


def _foreign(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a folder owned by another user needs root")
    os.chown(path, 65534, 65534)  # nobody


def _open_to_all(path: Path) -> None:
    os.chmod(path, 0o777)


UNSAFE = {
    "owned by another user": (_foreign, r"is owned by another user \(uid 65534, you are uid \d+\)"),
    "writable by others": (_open_to_all, r"is writable by others \(mode 0777\)"),
}


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")
@pytest.mark.parametrize("which", ["root", "kernels"])
@pytest.mark.parametrize("what", list(UNSAFE))
def test_a_folder_someone_else_can_write_is_refused_in_one_line(monkeypatch, tmp_path, which, what):
    make_unsafe, says = UNSAFE[what]
    root = tmp_path / "cache"
    (root / "kernels").mkdir(parents=True, mode=0o700)
    os.chmod(root, 0o700)
    bad = root if which == "root" else root / "kernels"
    make_unsafe(bad)
    monkeypatch.setenv("RAVINE_CACHE_DIR", str(root))
    with pytest.raises(UnsafeCacheError) as e:
        _cache.folder("kernels")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"ravine cache folder {bad} ")
    assert re.search(says, msg) and "RAVINE_CACHE_DIR" in msg, msg


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")
@pytest.mark.parametrize("what", list(UNSAFE))
@pytest.mark.parametrize(
    "command",
    [
        ["run", "sgd", "--problem", "ellipse", "--steps", "5"],
        ["bench", "run", "{tmp}/s.db", "--backend", "batched", "--compile", "always", "--quiet"],
        ["serve", "--port", "0", "--no-open"],
    ],
    ids=["run", "bench-run-batched", "serve"],
)
def test_the_cli_refuses_it_with_one_line_and_exit_2(tmp_path, what, command):
    make_unsafe, says = UNSAFE[what]
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    make_unsafe(root)
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    r = subprocess.run(
        [sys.executable, "-m", "ravine", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(RAVINE_CACHE_DIR=str(root)),
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith(f"ravine: error: ravine cache folder {root} "), lines
    assert re.search(says, lines[0])
    assert not (tmp_path / "s.db").exists()  # refused before the store is made


# ------------------------------------------------------------------ the working directory is never read

#: the child: records every file it opens, lists or loads (dlopen) under its working directory,
#: then (argv[1] == "compile") compiles ravine.optim's step, and configures the batched
#: benchmark's inductor cache
_CHILD = r"""
import json, os, sys
cwd = os.path.realpath(os.getcwd())
seen = []
def hook(event, args):
    if event in ("open", "os.listdir", "os.scandir", "ctypes.dlopen") and args and args[0] is not None:
        p = args[0]
        if isinstance(p, (str, bytes, os.PathLike)):
            p = os.path.realpath(os.fsdecode(p))
            if p == cwd or p.startswith(cwd + os.sep):
                seen.append([event, p])
sys.addaudithook(hook)
import torch
import ravine.optim as ro
out = {}
if sys.argv[1] == "compile":
    p = torch.nn.Parameter(torch.ones(8, dtype=torch.float64))
    opt = ro.SGD([p], lr=0.1, momentum=0.9, impl="compiled")
    for _ in range(3):
        p.grad = torch.full_like(p, 0.5)
        opt.step()
    out = {"optim": os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None), "theta": p.tolist(),
           "compiled": ro.compile_stats()["compiled_variants"]}
from ravine.benchmark import batched
batched._cache_dir()
out.update(batched=os.environ.get("TORCHINDUCTOR_CACHE_DIR"), seen=seen)
print(json.dumps(out))
"""


class _Plant:
    """Loading this pickle creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("compile_", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["configure", "compile"])
def test_a_cache_planted_in_the_working_directory_is_never_read(tmp_path, compile_):
    """A fresh process whose working directory holds a planted ``.ravine-cache/inductor`` (where
    the batched benchmark used to point inductor), every entry a pickle whose loading would
    create a marker. Nothing under the working directory is opened, listed or loaded, and
    inductor's cache is ``$RAVINE_CACHE_DIR/inductor``. ``compile``: end to end, a real
    inductor compilation of ravine.optim's step (≈ 15 s of CPU cold), whose code lands in the
    private cache."""
    work, cache, marker = tmp_path / "work", tmp_path / "cache", tmp_path / "marker"
    planted = work / ".ravine-cache" / "inductor"
    for sub in ("fxgraph/ab/fabc/entry", "aotautograd/aabc/entry", "cd/ccd.py", "ef/cef.so"):
        f = planted / sub
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(pickle.dumps(_Plant(marker)))
    before = sorted((str(p), p.stat().st_mtime_ns) for p in work.rglob("*"))
    r = subprocess.run(
        [sys.executable, "-P", "-c", _CHILD, "compile" if compile_ else "configure"],
        capture_output=True,  # -P: no cwd on sys.path (Python's own rule, not ravine's)
        text=True,
        cwd=work,
        env=_env(RAVINE_CACHE_DIR=str(cache)),
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["batched"] == str(cache / "inductor")
    assert out["seen"] == []  # nothing under the working directory was opened, listed or loaded
    assert not marker.exists()
    assert sorted((str(p), p.stat().st_mtime_ns) for p in work.rglob("*")) == before
    assert _mode(cache) == _mode(cache / "inductor") == 0o700
    if not compile_:
        return
    assert out["optim"] == str(cache / "inductor")
    assert out["compiled"] == 1  # it really compiled (no fallback to eager)
    assert any((cache / "inductor").rglob("*.py")), "inductor wrote its code to the private cache"
    # SGD with momentum 0.9, lr 0.1, g = 0.5 for 3 steps (torch's convention: b₁ = g)
    b, theta = 0.0, 1.0
    for t in range(3):
        b = 0.5 if t == 0 else 0.9 * b + 0.5
        theta -= 0.1 * b
    assert np.allclose(out["theta"], theta, rtol=0, atol=1e-14)  # a few ulps: the same operations, maybe fused


def test_an_inductor_folder_the_user_chose_is_respected(monkeypatch, tmp_path):
    monkeypatch.setenv("RAVINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert _cache.use_for_inductor() == str(tmp_path / "mine")
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "mine")
    assert not (tmp_path / "cache").exists()
    # torch's own default in the shared temporary folder (which torch writes into the
    # environment itself once it has compiled) is not the user's choice: replaced
    import tempfile

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", os.path.join(tempfile.gettempdir(), "torchinductor_someone"))
    assert _cache.use_for_inductor() == str(tmp_path / "cache" / "inductor")
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "cache" / "inductor")


# ------------------------------------------------------------------ generated kernels


def test_a_tampered_kernel_file_is_not_run_and_is_replaced(monkeypatch, tmp_path):
    pytest.importorskip("numba")
    import ravine
    from ravine.runner import numba_backend as nb

    def fresh_process():  # as a new process: no kernel in memory
        monkeypatch.setattr(nb, "_KERNELS", {})
        monkeypatch.setattr(nb, "_BY_KEY", type(nb._BY_KEY)())

    monkeypatch.setenv("RAVINE_CACHE_DIR", str(tmp_path / "cache"))
    fresh_process()
    first = ravine.run("sgd", "ellipse", steps=20, backend="numba", record="final")
    (path,) = (tmp_path / "cache" / "kernels").glob("k_*.py")
    good = path.read_bytes()
    assert nb._digest(good.decode()) == path.stem[2:]  # the name is the hash of the content
    marker = tmp_path / "ran"
    # planted: the real kernel (so a run would still work) after a line that leaves a trace
    path.write_text(f"open({str(marker)!r}, 'w').close()\n" + good.decode())
    fresh_process()
    second = ravine.run("sgd", "ellipse", steps=20, backend="numba", record="final")
    assert not marker.exists()
    assert path.read_bytes() == good  # rewritten from the known source
    assert not list(path.parent.glob(".k_*.tmp"))  # atomically (no temporary left)
    np.testing.assert_array_equal(second.final_theta, first.final_theta)


# ------------------------------------------------------------------ every cache uses it


def _kernels():
    pytest.importorskip("numba")
    from ravine.runner.numba_backend import cache_dir

    return cache_dir()


def _data():
    from ravine.train.data import cache_dir

    return cache_dir()


def _inductor():
    return Path(_cache.use_for_inductor())


@pytest.mark.parametrize("where", [_kernels, _data, _inductor], ids=["kernels", "data", "inductor"])
def test_every_cache_is_a_private_folder_of_the_one_root(monkeypatch, tmp_path, where):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("RAVINE_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAVINE_CACHE_DIR", str(tmp_path / "cache"))
    got = where()
    assert got.parent == tmp_path / "cache" and _mode(got) == 0o700
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]  # nothing else in the working directory
    if hasattr(os, "getuid"):
        os.chmod(tmp_path / "cache", 0o777)
        with pytest.raises(UnsafeCacheError, match=rf"^ravine cache folder {tmp_path / 'cache'} is writable"):
            where()
