"""What every update rule is made of, and the checks on its hyperparameters.

A rule is three static functions over plain NamedTuples (the style of optax):

``init_state(h, θ) -> State``
    the optimizer's memory (moments, accumulators …) for parameters θ.
``terms(h, t) -> Terms``
    per-step scalars that depend only on the hyperparameters and the step
    count t = 1, 2, … (bias corrections, decayed learning rates). They are
    computed once per step, not once per parameter.
``update(h, state, g, θ, k) -> Record``
    the equations of one step, written in the lecture's symbols. The Record
    holds every intermediate quantity of the step (what ``ravine explain``
    prints) including ``delta`` = Δθ, with θ_{t+1} = θ_t + Δθ, and the new
    value of every State field under the same name. A rule whose reference
    rounds θ more than once per step (torch's AdamW: θ(1 − ηλ), then the Adam
    step) also records ``theta``, θ_{t+1} computed in that order, and drivers
    take it (:func:`next_theta`); in exact arithmetic it equals θ_t + Δθ.

``h`` is the rule's hyperparameters as a NamedTuple (``rule.h``). The drivers
(the NumPy runner, the torch optimizers, the explain tables) call these
functions and nothing else; no equation is written anywhere but in
``ravine/rules/``.

The contract is :class:`Rule`, an abstract base class (the way optax states its
``GradientTransformation`` as typed ``init``/``update`` functions): ``init_state`` and
``update`` are abstract static methods with the signatures above, ``terms`` defaults to
no terms, and the class attributes (``Hyper``, ``State``, ``Record``, ``fields``,
``conventions`` …) are typed class variables. mypy checks every rule's functions
against it (``make lint``).

Non-finite gradients (three policies, one meaning wherever they are offered):
    ``nonfinite="raise"`` (the default of :meth:`Rule.apply` and the explain tables;
    ``ravine.optim``'s optimizers default to ``"ignore"``, as torch's do) raises
    :class:`NonFiniteGradientError` before anything is changed; ``"skip"`` leaves parameters and state untouched and
    counts the skipped step; ``"ignore"`` applies the step anyway (IEEE
    arithmetic then spreads the NaN/inf). ``apply`` and the runner's NumPy path
    also check what a finite gradient produced — the new θ and every new State
    field (:func:`nonfinite_parts`): a g whose square overflows (v = inf: the rule
    would silently stop moving) is raised or skipped like a non-finite g.
    The trajectory runner has its own default, ``"stop"``: a non-finite gradient is the
    divergence of that one trajectory (see ``ravine.run``).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, NamedTuple

from .. import _checks
from .._renamed import RENAMED, renamed_message
from . import hyper as hp
from .ops import Array, isfinite_all, where

__all__ = [
    "Rule",
    "OptState",
    "next_theta",
    "outcome",
    "masked",
    "masked_state",
    "NonFiniteGradientError",
    "NONFINITE_POLICIES",
    "nonfinite_parts",
    "DEFAULT",
    "check_lr",
    "check_bool",
    "check_choice",
]

NONFINITE_POLICIES = ("raise", "skip", "ignore")


class _Default:
    """Marks a keyword left to the chosen convention."""

    def __repr__(self) -> str:  # shows up in signatures
        return "<convention default>"


DEFAULT: Any = _Default()


class NonFiniteGradientError(FloatingPointError, ValueError):
    """A gradient held NaN or ±inf, or a finite one made the new θ or state non-finite (an
    overflow), and the policy was ``nonfinite="raise"``."""


def nonfinite_parts(theta: Any, state: Any) -> list[str]:
    """The parts of a step's result that hold NaN or ±inf: ``"theta"`` and State field names.

    What ``nonfinite="raise"``/``"skip"`` check after the update (the gradient is checked
    before it): one home for the check, read by :meth:`Rule.apply` and the runner."""
    bad = [] if isfinite_all(theta) else ["theta"]
    return bad + [f for f, v in zip(state._fields, state) if not isfinite_all(v)]


class OptState(NamedTuple):
    """A rule's state together with its step count (t = number of steps taken)."""

    t: int
    state: Any
    skipped: int = 0


# ---------------------------------------------------------------- validation
# The checks below are the kinds of ``hyper.py`` under the names other modules call.


def check_lr(owner: str, v: Any, name: str = "lr") -> float:
    """A learning rate: a finite number ≥ 0."""
    out: float = hp.LR_KIND.check(owner, name, v)
    return out


def check_bool(owner: str, name: str, v: Any) -> bool:
    out: bool = hp.BOOL_KIND.check(owner, name, v)
    return out


def check_choice(owner: str, name: str, v: Any, choices: Iterable[Any]) -> Any:
    return _checks.choice(owner, name, v, choices)


def refuse_keras_coupled_decay(rule: Rule, h: Any) -> None:
    """SGD, Adagrad, RMSprop, Adadelta: Keras decays decoupled, these rules coupled; a Keras
    preset that cannot be Keras's refuses (base_optimizer.py L952-959)."""
    if getattr(rule, "convention", None) == "keras" and h.weight_decay != 0:
        raise ValueError(
            f"{type(rule).__name__}: convention='keras' with weight_decay={h.weight_decay:g} is not reproduced: "
            "Keras decays the weights decoupled (theta <- theta - lr*weight_decay*theta before the step), "
            f"ravine's {type(rule).__name__} adds weight_decay*theta to the gradient (torch's L2); "
            "use convention='torch' for that, or AdamW for decoupled decay"
        )


# ---------------------------------------------------------------------- Rule


def next_theta(rec: Any, theta: Array) -> Array:
    """θ_{t+1} from a step's record: ``rec.theta`` where the rule gives it, else θ + Δθ."""
    return rec.theta if "theta" in type(rec)._fields else theta + rec.delta


# What every driver does after ``update``: read θ_{t+1} and the new State out of the record
# (:func:`outcome`), then keep θ and the state as they were where a step must not count
# (:func:`masked`, :func:`masked_state`: a non-finite gradient, a diverged trajectory, a dead
# configuration). Read by :meth:`Rule.apply`, the NumPy runner, ``ravine.optim``'s step and
# the batched benchmark's step; the compiled runner's generated kernel does the same per scalar.


def outcome(State: Any, rec: Any, theta: Array) -> tuple[Array, Any]:
    """``(θ_{t+1}, State_{t+1})`` from a step's record ``rec`` (:func:`next_theta`; each State
    field under its own name in the record)."""
    return next_theta(rec, theta), State(*(getattr(rec, f) for f in State._fields))


def masked(ok: Array, new: Array, old: Array) -> Array:
    """``new`` where ``ok`` holds, else ``old`` (NumPy or torch, by :func:`ops.where`; ``ok``
    broadcasts: a 0-d flag, or (N, 1) for N stacked rows, which also fits a (W, N, D) window).
    ``ok`` None, or a scalar placeholder field (a Python number or 0-d value on either side),
    gives ``new``."""
    if ok is None or getattr(old, "shape", ()) == () or getattr(new, "shape", ()) == ():
        return new
    return where(ok, new, old)


def masked_state(ok: Array, new: Any, old: Any) -> Any:
    """:func:`masked` on each field of a State: ``new``'s type, ``old`` any sequence of the same
    fields."""
    return type(new)(*(masked(ok, n, o) for n, o in zip(new, old)))


class Rule(ABC):
    """Base class: hyperparameters (validated) + ``init_state`` + ``terms`` + ``update``.

    Subclasses define ``Hyper``, ``State``, ``Record`` (NamedTuples), the three
    static functions and ``conventions`` (convention name → defaults and forms). Each
    ``Hyper`` field is declared once, with its spec (``Annotated[float, LR()]``: see
    ``hyper.py``); from it the class gets :attr:`fields` and its keyword signature
    (``Adam(lr=DEFAULT, betas=DEFAULT, …, *, eps_mode=DEFAULT, convention="torch")``), both
    made when the class is defined (:meth:`__init_subclass__`). Constraints between fields go
    in ``check(h)``. A class that leaves ``init_state`` or ``update`` undefined cannot be
    instantiated.
    """

    #: registry name, e.g. "adam"
    name: ClassVar[str] = ""
    #: human title
    title: ClassVar[str] = ""
    #: where the equations come from (lecture file names, papers)
    source: ClassVar[str] = ""
    #: the NamedTuple classes of the hyperparameters, the state and a step's record
    Hyper: ClassVar[type[Any]]
    State: ClassVar[type[Any]]
    Record: ClassVar[type[Any]]
    #: convention name → keyword defaults / forms; "torch" comes first and is the default
    conventions: ClassVar[Mapping[str, Mapping[str, Any]]] = {"torch": {}}
    #: the update works coordinate by coordinate (compiled kernels can run it on scalars)
    elementwise: ClassVar[bool] = True
    #: extra inputs: "hessian" (second-order rules), "lookahead" (gradient taken elsewhere)
    needs: ClassVar[tuple[str, ...]] = ()
    #: symbols for the step tables (field → notation); fields not listed print as named
    symbols: ClassVar[Mapping[str, str]] = {}

    #: the hyperparameters, one spec each, in the order of ``Hyper``: read from ``Hyper``'s
    #: annotations when the class is defined (``hyper.fields_of``)
    fields: ClassVar[tuple[hp.Field, ...]] = ()
    #: fields this rule holds at one value (AdamW: ``decoupled_weight_decay=True``)
    fixed: ClassVar[Mapping[str, Any]] = {}
    #: weight decay added to the gradient only (torch's L2): ``convention="keras"`` with
    #: ``weight_decay != 0`` is refused, Keras decays decoupled (:func:`refuse_keras_coupled_decay`)
    coupled_decay_only: ClassVar[bool] = False
    #: how θ moves with the rule's velocity-like state field: ``(field, "displacement")`` when
    #: θ ← θ + v (the arrow is v), ``(field, "gradient")`` when θ ← θ − η·m (the arrow is −m)
    moves: ClassVar[tuple[str, str] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give each rule class its :attr:`fields` (from the ``Hyper`` it declares) and, unless
        it writes its own ``__init__``, the keyword signature they make (:func:`_keyword_init`)."""
        super().__init_subclass__(**kwargs)
        if "Hyper" in cls.__dict__:
            cls.fields = hp.fields_of(cls.Hyper)
            cls._nullable = frozenset(f.name for f in cls.fields if f.nullable)
        if "__init__" not in cls.__dict__ and cls.fields:
            _keyword_init(cls)

    def movement(self) -> dict[str, str] | None:
        """:attr:`moves` for this instance (a rule whose form decides it overrides this)."""
        if self.moves is None:
            return None
        f, kind = self.moves
        return {"field": f, "kind": kind, "symbol": self.symbols.get(f, f)}

    def __init__(self, convention: str = "torch", **given: Any) -> None:
        owner = type(self).__name__
        if convention not in self.conventions:
            moved = renamed_message("convention", convention)
            if moved and RENAMED[convention] in self.conventions:
                raise ValueError(f"{owner}: {moved}")
            raise ValueError(
                f"{owner}: convention must be one of {', '.join(map(repr, self.conventions))}, got {convention!r}"
            )
        given = {k: v for k, v in given.items() if v is not DEFAULT and not (v is None and k in self._nullable)}
        given = hp.split_pairs(owner, self.fields, given)
        names = {f.name for f in self.fields}
        unknown = [k for k in given if k not in names]
        if unknown:
            raise ValueError(f"{owner}: unknown hyperparameter {unknown[0]!r}; it has {', '.join(self.keywords())}")
        self.convention = convention
        self.h = self._hyper({**self.resolved_defaults(convention), **given, **self.fixed})

    @classmethod
    def build(cls, convention: str = "torch", **hyper: Any) -> Rule:
        """The rule from any of its :meth:`keywords`: ``betas=(0.9, 0.99)`` or ``beta1=0.9`` alike.

        Unknown keywords and bad values raise one-line ``ValueError``s; this is what every
        face that reads keywords from users (the CLI, the explorer, ``get_rule``) calls.
        """
        rule = cls.__new__(cls)
        Rule.__init__(rule, convention, **hyper)
        return rule

    #: keywords whose ``None`` means "as the convention says" (the fields declared ``nullable``)
    _nullable: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def resolved_defaults(cls, convention: str = "torch") -> dict[str, Any]:
        """Every field's default under ``convention``: the convention's value, else the field's."""
        conv = hp.split_pairs(cls.__name__, cls.fields, cls.conventions[convention])
        out = {f.name: f.default for f in cls.fields if f.default is not hp.NO_DEFAULT}
        out.update(conv)
        return {k: v for k, v in out.items() if not isinstance(v, hp.Required)}

    @classmethod
    def default_of(cls, name: str, convention: str = "torch") -> Any:
        return cls.resolved_defaults(convention).get(name, hp.NO_DEFAULT)

    @classmethod
    def keywords(cls) -> list[str]:
        """The keywords a user may give: field names and pair names (``betas``)."""
        out = []
        for f in cls.settable():
            if f.pair and f.pair not in out:
                out.append(f.pair)
            out.append(f.name)
        return out

    @classmethod
    def settable(cls) -> tuple[hp.Field, ...]:
        """The fields a user sets (all but :attr:`fixed`)."""
        return tuple(f for f in cls.fields if f.name not in cls.fixed)

    def _hyper(self, p: Mapping[str, Any]) -> Any:
        """Validate the merged keywords against ``fields``; then the rule's own ``check``."""
        owner = type(self).__name__
        values = {}
        for f in self.fields:
            if f.name not in p:
                why = self.conventions.get(getattr(self, "convention", ""), {}).get(f.name)
                reason = f" under convention={self.convention!r}: {why.why}" if isinstance(why, hp.Required) else ""
                raise ValueError(f"{owner}: {f.name} must be given ({f.kind.range_text()}){reason}")
            values[f.name] = f.check(owner, p[f.name])
        h = self.Hyper(**values)
        self.check(h)
        if self.coupled_decay_only:
            refuse_keras_coupled_decay(self, h)
        return h

    @classmethod
    def check(cls, h: Any) -> None:
        """Constraints between fields (e.g. SGD's nesterov needs momentum); none by default."""
        return None

    # -- the three functions ------------------------------------------------
    @staticmethod
    @abstractmethod
    def init_state(h: Any, theta: Array, /) -> Any:
        """The rule's ``State`` (a NamedTuple) for parameters ``theta``.

        Args:
          h: the rule's ``Hyper``.
          theta: the parameters (a NumPy array, a torch tensor or a scalar); the state's arrays
            take its shape, dtype and device.
        """

    @staticmethod
    def terms(h: Any, t: int, /) -> Any:
        """Per-step scalars (a NamedTuple, or ``()``) that depend on ``h`` and the step count
        ``t = 1, 2, …`` only; none by default."""
        return ()

    @staticmethod
    @abstractmethod
    def update(h: Any, state: Any, g: Array, theta: Array, k: Any, /, *hessian: Array) -> Any:
        """One step: the rule's ``Record`` (a NamedTuple).

        Args:
          h: the rule's ``Hyper``.
          state: the ``State`` before the step.
          g: the gradient at θ (at the look-ahead point for ``needs=("lookahead",)``).
          theta: the parameters θ_t.
          k: :meth:`terms` of ``(h, t)``.
          hessian: the Hessian H at θ, passed (as one more positional argument) only to rules
            with ``"hessian"`` in :attr:`needs`.

        Returns:
          the Record: every intermediate quantity, ``delta`` = Δθ, the new value of every State
          field under its name, and ``theta`` where the rule rounds θ its own way (:func:`next_theta`).
        """

    # -- conveniences for NumPy users --------------------------------------
    def __getattr__(self, item: str) -> Any:
        h = self.__dict__.get("h")
        if h is not None and item in type(h)._fields:
            return getattr(h, item)
        raise AttributeError(f"{type(self).__name__!s} has no attribute {item!r}")

    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters as a plain dict (every default written out)."""
        out: dict[str, Any] = self.h._asdict()
        return out

    def with_hyper(self, **changes: Any) -> Rule:
        """A copy with some hyperparameters changed (validated again)."""
        bad = [k for k in changes if k not in self.h._fields]
        if bad:
            raise ValueError(
                f"{type(self).__name__}: unknown hyperparameter {bad[0]!r}; it has {', '.join(self.h._fields)}"
            )
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.h = new._hyper(self.h._replace(**changes)._asdict())
        return new

    def init(self, theta: Array) -> OptState:
        """State for parameters ``theta`` (step count 0)."""
        return OptState(0, self.init_state(self.h, theta), 0)

    def apply(
        self,
        theta: Array,
        g: Array,
        opt_state: OptState,
        *,
        nonfinite: str = "raise",
        lr: float | None = None,
        hessian: Array = None,
        grad_fn: Callable[[Array], Array] | None = None,
    ) -> tuple[Array, OptState, Any]:
        """One step on arrays: returns ``(θ_new, opt_state_new, record)``.

        ``nonfinite``: a non-finite ``g`` is refused before the update; under ``"raise"`` and
        ``"skip"`` so is a step whose new θ or state is not finite (:func:`nonfinite_parts`).
        Both leave ``theta`` and ``opt_state`` as they were (``apply`` never writes into them).

        ``lr`` overrides the learning rate for this step (schedules).
        ``hessian`` is required by second-order rules; ``grad_fn`` by look-ahead
        rules (the gradient is then taken at ``lookahead(h, state, θ)`` and
        ``g`` may be None).
        """
        check_choice(type(self).__name__, "nonfinite", nonfinite, NONFINITE_POLICIES)
        h = self.h if lr is None else self.h._replace(lr=check_lr(type(self).__name__, lr))
        state = opt_state.state
        if "lookahead" in self.needs:
            if grad_fn is None:
                raise ValueError(f"{type(self).__name__}: needs grad_fn (its gradient is taken at a look-ahead point)")
            g = grad_fn(self.lookahead(h, state, theta))
        if nonfinite != "ignore" and not isfinite_all(g):
            if nonfinite == "raise":
                raise NonFiniteGradientError(
                    f"{type(self).__name__}: gradient has non-finite values at step {opt_state.t + 1} "
                    "(nonfinite='raise'; use 'skip' to skip such steps)"
                )
            return theta, opt_state._replace(skipped=opt_state.skipped + 1), None
        t = opt_state.t + 1
        k = self.terms(h, t)
        if "hessian" in self.needs:
            if hessian is None:
                raise ValueError(f"{type(self).__name__}: needs the Hessian (pass hessian=...)")
            rec = self.update(h, state, g, theta, k, hessian)
        else:
            rec = self.update(h, state, g, theta, k)
        new_theta, new_state = outcome(self.State, rec, theta)
        if nonfinite != "ignore":
            bad = nonfinite_parts(new_theta, new_state)
            if bad and nonfinite == "raise":
                raise NonFiniteGradientError(
                    f"{type(self).__name__}: a finite gradient gave non-finite {', '.join(bad)} at step {t} "
                    "(an overflow; nonfinite='raise'; use 'skip' to skip such steps)"
                )
            if bad:
                return theta, opt_state._replace(skipped=opt_state.skipped + 1), None
        return new_theta, OptState(t, new_state, opt_state.skipped), rec

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.h._asdict().items())
        conv = "" if self.convention == "torch" else f", convention={self.convention!r}"
        return f"{type(self).__name__}({args}{conv})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.h == other.h

    def __hash__(self) -> int:
        return hash((type(self), self.h))


def _keyword_init(cls: type[Rule]) -> None:
    """``cls.__init__`` with the keywords of its settable fields, as :func:`hyper.parameters`
    lists them, then ``convention``: what ``help`` and ``inspect.signature`` show. A call
    binds to that signature (a wrong keyword or too many arguments is Python's TypeError,
    prefixed with the class) and goes on as :meth:`Rule.__init__`."""
    params = [
        *hp.parameters(cls.settable(), DEFAULT),
        inspect.Parameter("convention", inspect.Parameter.KEYWORD_ONLY, default="torch", annotation=str),
    ]
    sig = inspect.Signature(params)

    def __init__(self: Rule, *args: Any, **kwargs: Any) -> None:
        try:
            given = sig.bind(*args, **kwargs).arguments
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}(): {exc}") from None
        Rule.__init__(self, **given)

    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    __init__.__signature__ = sig.replace(parameters=[this, *params])  # type: ignore[attr-defined]  # read by inspect
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__doc__ = (
        f"{cls.__name__} with its hyperparameters (a pair as one keyword, ``betas``; ``build`` also takes "
        "``beta1``/``beta2``); each left out takes the convention's default. Made from ``Hyper``."
    )
    cls.__init__ = __init__  # type: ignore[method-assign]  # generated, once per class
