"""Train small models on real data with any ravine or torch optimizer: ``ravine train``.

Python API (this package re-exports it; the ``ravine train`` command is
:mod:`ravine.cli.train`)::

    from ravine.train import TrainConfig, train
    res = train(TrainConfig(problem="digits", model="mlp", optimizer="adam", seed=0))
    res.test_acc, res.metric("val_acc"), res.to_dict()
    res.save("out/train")            # <hash>.json and <hash>.csv

:func:`train` is a pure function of its config: no global state is read or left changed
(torch's global RNG is forked around model initialisation, shuffling uses its own
``torch.Generator``), so the same config gives the same numbers on the same machine and many
runs can be made in one process. A :class:`Result` is plain data (``to_dict`` / ``from_dict``)
keyed by :attr:`Result.config_hash`, the SHA-256 of the resolved config.

Names
-----
``optimizer``: ``"adam"`` (or ``"ravine.adam"``, ``"ravine:Adam"``) is ``ravine.optim.Adam``;
``"torch.adam"`` (or ``"torch:Adam"``, ``"torch.optim.Adam"``) is ``torch.optim.Adam``. Names
are case-insensitive; ``_`` and ``-`` are ignored (``rmsprop_nesterov`` → ``RMSpropNesterov``).

``schedule`` (learning rate): a ravine schedule (``ravine.schedules``), written
``"name"`` or ``"name:key=value,..."`` (values as on the command line: numbers, true/false,
pairs, names), e.g. ``"cosine"``,
``"step:step_size=10,gamma=0.5"``, ``"warmup_cosine:warmup_steps=100"``; ``init`` defaults to the
learning rate and lengths (``total_steps``, ``steps``) to the whole run. It sets
``group["lr"] = sched(t)`` before update ``t`` (``schedule_interval="step"``) or before each
epoch (``"epoch"``). ``"torch.cosine"`` / ``"torch:CosineAnnealingLR"`` use torch's
``lr_scheduler`` classes (short names: cosine, step, multistep, exponential, linear,
constant, polynomial, onecycle, plateau), stepped at the same interval. A
:class:`ravine.schedules.Schedule` object may also be passed in the Python API.

Modules
-------
``config`` (:class:`TrainConfig`, :func:`validate`, the config hash), ``data`` (the data sets
and their splits), ``models`` (:func:`make_model`), ``factories`` (optimizer and schedule
names → objects), ``loop`` (:func:`train`) and ``record`` (:class:`Result`, JSON/CSV). None of
them imports click.
"""

from __future__ import annotations

from . import data
from .config import DEFAULTS, PROBLEMS, TrainConfig, validate
from .factories import make_optimizer, make_schedule, parse_kwargs, resolve_optimizer
from .loop import train
from .models import MODELS, make_model
from .record import SCHEMA, History, Result, versions

__all__ = [
    "TrainConfig",
    "Result",
    "History",
    "train",
    "validate",
    "make_optimizer",
    "resolve_optimizer",
    "make_model",
    "make_schedule",
    "parse_kwargs",
    "versions",
    "PROBLEMS",
    "MODELS",
    "DEFAULTS",
    "SCHEMA",
    "data",
]
