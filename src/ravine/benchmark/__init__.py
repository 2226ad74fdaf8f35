"""``ravine bench``: benchmark optimizers over problems × optimizers × seeds × tuning budget.

A tool (it imports the core rules, the adapters ``ravine.optim`` and the train tool;
nothing lower imports it). Pieces, each small:

``space``     search spaces (names from the rules, ranges here), Sobol points, protocols
``problems``  one class per file: data, model, loss, batch size, budget, weight decay, target
``trial``     one trial, unbatched (the reference every backend equals)
``batched``   many configurations of one (problem, optimizer) as one vectorized model
``store``     SQLite (WAL): the plan, every trial planned before it runs, results
``plan``      suites, planning (tune, then final), execution backends (local, batched, ray)
``metrics``   steps to target, expected best of k, performance profiles
``report``    Markdown + PNGs

Nothing here imports torch at import time; Ray only with ``--backend ray``.
"""
