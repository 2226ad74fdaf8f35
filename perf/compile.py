"""One-time cost of ravine.optim's compiled step: cold (a new inductor cache) and warm.

    python perf/compile.py            # runs itself twice in new processes: cold, then warm

A model of 200 float32 tensors of mixed sizes; the first step of each rule (tracing,
compiling, or loading from the cache) and the second (the compiled step) are timed.
"""

import os
import subprocess
import sys
import tempfile
import time

CHILD = """
import time, torch
import ravine.optim as ro
torch.manual_seed(0)
ps = [torch.nn.Parameter(torch.randn((i % 7 + 1) * 1000)) for i in range(200)]
for name in ("Adam", "RMSprop", "NAdam"):
    opt = getattr(ro, name)(ps, impl="compiled")
    for p in ps:
        p.grad = torch.randn_like(p)
    t0 = time.perf_counter(); opt.step(); t1 = time.perf_counter(); opt.step(); t2 = time.perf_counter()
    print(f"  {name:8s} first step {t1 - t0:6.2f} s   second step {1000 * (t2 - t1):6.2f} ms")
"""


def main():
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache)
        for label in ("cold (empty inductor cache, new process)", "warm (same cache, new process)"):
            print(label)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", CHILD], env=env, check=True)
            print(f"  process total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
