"""DistributedDataParallel on 2 CPU processes (gloo) with a ravine optimizer matches
single-process training on the combined batch.

Each rank gets half of every batch and takes the mean loss of its half; DDP averages the
gradients over the ranks, which for equal halves is the gradient of the mean loss over the
whole batch. So after every step both ranks hold the parameters of one process training on
the whole batch (float64, within 1e-6 after 20 steps).
"""

from __future__ import annotations

import os
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

STEPS = 20
BATCH = 64  # 32 per rank
WORLD = 2


def _has_ravine(name: str) -> bool:
    try:
        import ravine.optim as ro
    except Exception:
        return False
    return isinstance(getattr(ro, name, None), type)


def _setup():
    """Model and the data stream; identical in every process (seeded)."""
    from ravine.train import data as rdata
    from ravine.train import make_model

    ds = rdata.load("digits")
    x = torch.as_tensor(ds.x_train, dtype=torch.float64)
    y = torch.as_tensor(ds.y_train)
    torch.manual_seed(0)
    model = make_model("mlp", ds.n_features, ds.n_classes, width=32).double()
    g = torch.Generator().manual_seed(1)
    batches = [torch.randperm(len(y), generator=g)[:BATCH] for _ in range(STEPS)]
    return model, x, y, batches


def _opt(name, params, lr):
    from ravine.train import make_optimizer

    return make_optimizer(name, params, lr)


def _worker(rank: int, world: int, init_file: str, out_dir: str, optimizer: str, lr: float):
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        model, x, y, batches = _setup()
        ddp = DDP(model)
        opt = _opt(optimizer, ddp.parameters(), lr)
        for idx in batches:
            mine = idx.chunk(world)[rank]  # half of the batch
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(ddp(x[mine]), y[mine]).backward()  # DDP all-reduces (averages) grads
            opt.step()
        torch.save([p.detach().clone() for p in model.parameters()], os.path.join(out_dir, f"rank{rank}.pt"))
        del ddp
        # both ranks reach here before either tears gloo down: a rank that destroys the group
        # while the other still talks to it aborts ("terminate called without an active exception")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _single(optimizer: str, lr: float):
    import torch.nn.functional as F

    model, x, y, batches = _setup()
    opt = _opt(optimizer, model.parameters(), lr)
    for idx in batches:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()], model


def _run(tmp_path, optimizer: str, lr: float):
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with the gloo backend is not available")
    init_file = str(tmp_path / "store")
    mp.spawn(_worker, args=(WORLD, init_file, str(tmp_path), optimizer, lr), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    single, model = _single(optimizer, lr)
    # the run moved the parameters (this is not a comparison of two initialisations)
    torch.manual_seed(0)
    from ravine.train import make_model

    init = [p.detach() for p in make_model("mlp", 64, 10, width=32).double().parameters()]
    assert max((a - b).abs().max().item() for a, b in zip(single, init)) > 1e-2
    for r in range(WORLD):
        for a, b in zip(ranks[r], single):
            assert a.dtype == torch.float64
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    for a, b in zip(ranks[0], ranks[1]):
        assert torch.equal(a, b)


@pytest.mark.skipif(sys.platform == "win32", reason="file:// store and spawn on POSIX only")
@pytest.mark.skipif(not _has_ravine("Adam"), reason="ravine.optim.Adam is not available (ravine.optim missing)")
def test_ddp_ravine_adam_matches_single_process(tmp_path):
    _run(tmp_path, "adam", 0.01)


@pytest.mark.skipif(sys.platform == "win32", reason="file:// store and spawn on POSIX only")
def test_ddp_torch_adam_matches_single_process(tmp_path):
    """The same check with torch.optim.Adam: the DDP harness itself, whatever ravine.optim's state."""
    _run(tmp_path, "torch.adam", 0.01)
