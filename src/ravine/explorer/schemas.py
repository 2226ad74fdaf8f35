"""What the explorer accepts: the request models (pydantic) and :data:`LIMITS`.

Every request body is validated here before anything runs; unknown fields are refused and
types are strict (``true`` is not a number, ``1.5`` is not a count, ``"3"`` is not a step).
Hyperparameter *values* are only shaped here (booleans, bounded integers, finite floats,
short strings): the rules validate them (``ravine.rules.hyper``); the explorer's own resource
limits on them (a count such as ``window`` sizes memory) are in :data:`LIMITS` and checked by
the engine.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator

__all__ = ["LIMITS", "OptimizerSpec", "ProblemSpec", "RunSetup", "ExplainRequest", "EigenRequest", "MapRequest"]

LIMITS = {
    "max_steps": 10_000,
    "max_optimizers": 16,
    "max_work": 40_000,  # steps × optimizers per request
    "max_formula": 2000,
    "max_coordinate": 1e6,
    "max_body": 64 * 1024,  # bytes
    "contour_points": 121,
    # resources (the explorer's knowledge, not the rules'): every bound a request can reach
    "max_count": 100,  # any integer hyperparameter (a count: window); memory is count × steps
    "max_state_values": 2_000_000,  # Σ over optimizers of (steps + 1) × state numbers recorded
    "max_cost": 20_000_000,  # Σ over optimizers of steps × expression nodes evaluated per step
    "request_seconds": 10.0,  # per-request time limit: 504 after it
    "queue_seconds": 3.0,  # waiting for a compute slot: 503 after it
    "compute_slots": 2,  # requests computing at once (per worker process)
    "light_work": 4000,  # steps × optimizers above which a run is long: one long run at a time
    "formula_slots": 2,  # new formulas whose symbolic work runs at once (in child processes)
    "formula_seconds": 5.0,  # hard limit on a new formula's symbolic work (child process)
    "compile_queue": 4,  # background kernel compiles waiting or running
    "compiled_formulas": 16,  # distinct user formulas that get compiled kernels (then NumPy)
    # kernels one server process ever compiles (machine code is never given back): then NumPy
    "compiled_kernels": 64,
    # connections (ravine.explorer.server): a whole request within read_seconds of the server
    # starting to wait for it, an idle keep-alive connection closed after keep_alive_seconds,
    # beyond max_connections connections uvicorn answers 503 at once
    "read_seconds": 10,
    "keep_alive_seconds": 5,
    "max_connections": 512,
    # the hyperparameter map (POST /api/hypermap): one trajectory per cell
    "map_side": 64,  # cells per axis
    "max_map_work": 2_000_000,  # cells × steps on the compiled path (40 × 40 × 500 = 800 000)
    "max_map_work_numpy": 40_000,  # cells × steps on the NumPy path: a coarser grid, said so
}

Coordinate = Annotated[
    float, Field(strict=True, allow_inf_nan=False, ge=-LIMITS["max_coordinate"], le=LIMITS["max_coordinate"])
]
SmallInt = Annotated[int, Field(strict=True, ge=-(10**9), le=10**9)]
ShortStr = Annotated[str, Field(max_length=40)]
HyperValue = StrictBool | SmallInt | StrictFloat | ShortStr


class OptimizerSpec(BaseModel):
    """One optimizer: a rule name, a convention (its defaults) and hyperparameter overrides."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=40)]
    convention: Annotated[str, Field(min_length=1, max_length=20)] = "torch"
    hyper: Annotated[dict[ShortStr, HyperValue], Field(max_length=16)] = Field(default_factory=dict)


class ProblemSpec(BaseModel):
    """A catalog problem by name, or a user formula (which wins when given)."""

    model_config = ConfigDict(extra="forbid")
    problem: Annotated[str, Field(min_length=1, max_length=40)] = "rosenbrock"
    formula: Annotated[str, Field(max_length=LIMITS["max_formula"])] | None = None
    bounds: (
        Annotated[
            list[Annotated[list[Coordinate], Field(min_length=2, max_length=2)]], Field(min_length=2, max_length=2)
        ]
        | None
    ) = None

    @field_validator("bounds")
    @classmethod
    def _ordered(cls, v):
        if v is not None:
            for lo, hi in v:
                if not lo < hi:
                    raise ValueError(f"each bounds pair must have low < high, got ({lo:g}, {hi:g})")
        return v


class RunSetup(ProblemSpec):
    """Everything a run needs; the page's URL encodes exactly this."""

    start: Annotated[list[Coordinate], Field(min_length=2, max_length=2)]
    steps: Annotated[StrictInt, Field(ge=0, le=LIMITS["max_steps"])] = 500
    optimizers: Annotated[list[OptimizerSpec], Field(min_length=1, max_length=LIMITS["max_optimizers"])]
    tol: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1e6)] | None = None
    grad_noise: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1e3)] = 0.0
    seed: Annotated[StrictInt, Field(ge=0, le=2**32 - 1)] = 0


class ExplainRequest(BaseModel):
    """One step of one optimizer of a setup (``POST /api/explain``)."""

    model_config = ConfigDict(extra="forbid")
    setup: RunSetup
    index: Annotated[StrictInt, Field(ge=0, lt=LIMITS["max_optimizers"])] = 0
    step: Annotated[StrictInt, Field(ge=0, le=LIMITS["max_steps"])] = 0


Range = Annotated[
    list[Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=1e6)]], Field(min_length=2, max_length=2)
]


class EigenRequest(BaseModel):
    """The error of one optimizer along each eigenvector of the Hessian (``POST /api/eigen``)."""

    model_config = ConfigDict(extra="forbid")
    setup: RunSetup
    index: Annotated[StrictInt, Field(ge=0, lt=LIMITS["max_optimizers"])] = 0


class MapRequest(BaseModel):
    """Final loss or steps to tolerance over a grid of one optimizer's η and a second
    hyperparameter (``POST /api/hypermap``). ``y``: the second field (default: the rule's
    momentum / β₁, else ε, else none: a 1-D curve over η); ``""`` asks for the 1-D curve.
    Ranges are (low, high) of the values (for a β: of β itself), checked by the rule."""

    model_config = ConfigDict(extra="forbid")
    setup: RunSetup
    index: Annotated[StrictInt, Field(ge=0, lt=LIMITS["max_optimizers"])] = 0
    metric: Literal["loss", "steps"] = "loss"
    n: Annotated[StrictInt, Field(ge=2, le=LIMITS["map_side"])] = 40
    y: Annotated[str, Field(max_length=40)] | None = None
    x_range: Range | None = None
    y_range: Range | None = None

    @field_validator("x_range", "y_range")
    @classmethod
    def _low_high(cls, v):
        if v is not None and not v[0] < v[1]:
            raise ValueError(f"must be [low, high] with low < high, got [{v[0]:g}, {v[1]:g}]")
        return v
