"""Hyperparameter validation for every rule in ``ravine.rules.RULES``.

Every bad value must raise ValueError with a ONE-line message that names the class,
the parameter and the bad value (the rules' messages read "<Class>: <param> … , got <value>").
"""

import inspect
import math
import re

import numpy as np
import pytest

from ravine.rules import RULES, get_rule
from ravine.rules import hyper as hp

# every hyperparameter field of every rule, by kind (test_every_field_is_classified
# fails when a rule grows a field this file does not know how to break)
UNIT = {"momentum", "dampening", "alpha", "rho", "beta1", "beta2"}
LR = {"lr", "fallback_lr"}
POSITIVE = {"eps"}
NONNEG = {
    "weight_decay",
    "lr_decay",
    "initial_accumulator_value",
    "damping",
    "momentum_decay",
    "initial_first_moment",
    "lambd",
}
REAL = {"t0"}  # any finite number (torch leaves ASGD's t0 unchecked)
#: pairs set as one keyword (Rprop's etas, step_sizes): their ranges are checked in tests/rules/test_rprop.py
PAIRED = {"etaminus", "etaplus", "step_size_min", "step_size_max"}
BOOL = {
    "nesterov",
    "centered",
    "eps_inside",
    "lookahead",
    "amsgrad",
    "decoupled_weight_decay",
    "bias_correction",
    "lr_in_buffer",
}
INT = {"window"}
CHOICE = {"first_buffer", "form", "eps_mode", "amsgrad_max"}
KINDS = UNIT | LR | POSITIVE | NONNEG | REAL | PAIRED | BOOL | INT | CHOICE

CLASSES = list(RULES.values())


def _ctor_params(cls):
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def settable_fields(cls, kinds):
    """(field, accepted names in the message) for the fields the constructor accepts."""
    params = _ctor_params(cls)
    out = []
    for field in cls.Hyper._fields:
        if field not in kinds:
            continue
        if field in ("beta1", "beta2"):
            if "betas" in params:
                out.append(field)
        elif field in params:
            out.append(field)
    return out


def build(cls, field, value):
    if field == "beta1":
        return cls(betas=(value, 0.999))
    if field == "beta2":
        return cls(betas=(0.9, value))
    return cls(**{field: value})


def names_for(field):
    return ("betas", field) if field in ("beta1", "beta2") else (field,)


def reprs(value):
    if isinstance(value, float):
        return {repr(value), f"{value:g}", str(value)}
    return {repr(value)}


def assert_good_message(excinfo, cls, field, value):
    msg = str(excinfo.value)
    assert "\n" not in msg, f"message is not one line: {msg!r}"
    assert cls.__name__ in msg, f"class not named: {msg!r}"
    assert any(n in msg for n in names_for(field)), f"parameter {field!r} not named: {msg!r}"
    pattern = r"(got|=)\s*(" + "|".join(re.escape(r) for r in reprs(value)) + r")(?![\w.])"
    assert re.search(pattern, msg), f"bad value {value!r} not named: {msg!r}"


#: (rule, field) → the values torch accepts that the kind's default range would refuse: the
#: rules shared with torch.optim take torch's ranges (reject only what torch rejects)
TORCH_WIDER = {
    ("SGD", "momentum"): [1.0, 1.5],  # torch: momentum >= 0
    ("SGD", "dampening"): [-0.1, 1.0, 1.5],  # torch: unchecked
    ("RMSprop", "alpha"): [1.0, 1.5],  # torch: alpha >= 0
    ("RMSprop", "momentum"): [1.0, 1.5],  # torch: momentum >= 0
    ("Adadelta", "rho"): [1.0],  # torch: 0 <= rho <= 1
    # torch: eps >= 0
    **{(c, "eps"): [0.0] for c in ("Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "RAdam", "Adamax")},
    ("ASGD", "alpha"): [-0.1, 1.0, 1.5],  # torch: unchecked (the power of η's decay)
}


def cases(kinds, bad_values):
    out = []
    for cls in CLASSES:
        for field in settable_fields(cls, kinds):
            for v in bad_values:
                if v in TORCH_WIDER.get((cls.__name__, field), ()):
                    continue
                out.append(pytest.param(cls, field, v, id=f"{cls.__name__}-{field}={v!r}"))
    return out


@pytest.mark.parametrize("key", sorted(TORCH_WIDER), ids=lambda k: f"{k[0]}-{k[1]}")
def test_torch_ranges_are_accepted(key):
    name, field = key
    cls = next(c for c in CLASSES if c.__name__ == name)
    for v in TORCH_WIDER[key]:
        build(cls, field, v)  # no error


@pytest.mark.parametrize(
    "name,field,value",
    [
        ("SGD", "momentum", -0.1),
        ("SGD", "dampening", math.nan),
        ("SGD", "dampening", math.inf),
        ("RMSprop", "alpha", -0.1),
        ("RMSprop", "momentum", -0.1),
        ("Adadelta", "rho", 1.5),
        ("Adadelta", "rho", -0.1),
        ("Adam", "eps", -1e-8),
        ("Adagrad", "eps", -1e-8),
    ],
)
def test_what_torch_rejects_is_rejected(name, field, value):
    cls = next(c for c in CLASSES if c.__name__ == name)
    with pytest.raises(ValueError) as e:
        build(cls, field, value)
    assert_good_message(e, cls, field, value)


def test_every_field_is_classified():
    for cls in CLASSES:
        unknown = set(cls.Hyper._fields) - KINDS
        assert not unknown, f"{cls.__name__}: unclassified hyperparameters {unknown}"


@pytest.mark.parametrize("cls,field,value", cases(LR, [-1e-3, -1.0]))
def test_negative_learning_rate(cls, field, value):
    with pytest.raises(ValueError) as e:
        build(cls, field, value)
    assert_good_message(e, cls, field, value)


@pytest.mark.parametrize("cls,field,value", cases(UNIT, [-0.1, 1.0, 1.5]))
def test_decay_factor_outside_unit_interval(cls, field, value):
    with pytest.raises(ValueError) as e:
        build(cls, field, value)
    assert_good_message(e, cls, field, value)


@pytest.mark.parametrize("cls,field,value", cases(POSITIVE, [0.0, -1e-8]))
def test_eps_not_positive(cls, field, value):
    with pytest.raises(ValueError) as e:
        build(cls, field, value)
    assert_good_message(e, cls, field, value)


@pytest.mark.parametrize("cls,field,value", cases(NONNEG, [-0.1, -1e-12]))
def test_negative_nonnegative_parameters(cls, field, value):
    with pytest.raises(ValueError) as e:
        build(cls, field, value)
    assert_good_message(e, cls, field, value)


@pytest.mark.parametrize("cls,field,value", cases(INT, [0, -3, 2.5, True, "3"]))
def test_window_below_one_or_not_an_integer(cls, field, value):
    with pytest.raises(ValueError) as e:
        build(cls, field, value)
    assert_good_message(e, cls, field, value)


# (None is not in the list: Adam's decoupled_weight_decay=None means "the class default")
@pytest.mark.parametrize("cls,field,value", cases(BOOL, ["True", "false", "yes", 1, 0.0]))
def test_bool_flags_given_as_other_types(cls, field, value):
    with pytest.raises(ValueError) as e:
        build(cls, field, value)
    assert_good_message(e, cls, field, value)


@pytest.mark.parametrize("cls,field,value", cases(CHOICE, ["bogus", "", None]))
def test_unknown_form_choice(cls, field, value):
    with pytest.raises(ValueError) as e:
        build(cls, field, value)
    assert_good_message(e, cls, field, value)


@pytest.mark.parametrize("cls", CLASSES, ids=[c.__name__ for c in CLASSES])
@pytest.mark.parametrize("conv", ["pytorch", "Torch", ""])
def test_unknown_convention(cls, conv):
    with pytest.raises(ValueError) as e:
        cls(convention=conv)
    assert_good_message(e, cls, "convention", conv)
    for known in cls.conventions:  # and it lists the choices
        assert repr(known) in str(e.value)


NUMERIC = UNIT | LR | POSITIVE | NONNEG | REAL | INT


@pytest.mark.parametrize("cls,field,value", cases(NUMERIC, [math.nan, math.inf, -math.inf]))
def test_nan_and_inf_hyperparameters(cls, field, value):
    with pytest.raises(ValueError) as e:
        build(cls, field, value)
    assert_good_message(e, cls, field, value)


@pytest.mark.parametrize("cls,field,value", cases(NUMERIC - INT, [True, "0.1", None, [0.1]]))
def test_numbers_of_the_wrong_type(cls, field, value):
    with pytest.raises(ValueError) as e:
        build(cls, field, value)
    assert_good_message(e, cls, field, value)


@pytest.mark.parametrize("cls", [c for c in CLASSES if "betas" in _ctor_params(c)], ids=lambda c: c.__name__)
@pytest.mark.parametrize("betas", [0.9, (0.9,), (0.9, 0.99, 0.999), "ab"])
def test_betas_must_be_a_pair(cls, betas):
    with pytest.raises(ValueError) as e:
        cls(betas=betas)
    msg = str(e.value)
    assert "\n" not in msg and cls.__name__ in msg and "beta" in msg


def test_sgd_nesterov_needs_momentum_and_no_dampening():
    for kw in (dict(momentum=0.0, nesterov=True), dict(momentum=0.9, dampening=0.1, nesterov=True)):
        with pytest.raises(ValueError) as e:
            RULES["sgd"](**kw)
        msg = str(e.value)
        assert "\n" not in msg and "SGD" in msg and "nesterov" in msg


def test_valid_numbers_are_accepted():
    """ints for floats, NumPy scalars, and the boundary values 0."""
    rule = RULES["sgd"](lr=1, momentum=np.float64(0.5), dampening=0)
    assert rule.h.lr == 1.0 and isinstance(rule.h.lr, float)
    assert RULES["windowed_rmsprop"](window=np.int64(4)).h.window == 4
    assert RULES["adam"](lr=0.0, betas=(0.0, 0.0)).h.beta2 == 0.0


# ------------------------------------------------------ conventions, registry

CONV_CASES = [pytest.param(cls, conv, id=f"{cls.__name__}-{conv}") for cls in CLASSES for conv in cls.conventions]


@pytest.mark.parametrize("cls,conv", CONV_CASES)
def test_defaults_of_every_convention_construct(cls, conv):
    required = {k: v for k, v in cls.conventions[conv].items() if isinstance(v, hp.Required)}
    for key, why in required.items():  # a default the framework has and ravine cannot reproduce
        with pytest.raises(ValueError) as e:
            cls(convention=conv)
        assert f"{key} must be given" in str(e.value) and why.why in str(e.value) and "\n" not in str(e.value)
    given = {k: 0.5 for k in required}
    rule = cls(convention=conv, **given)
    assert rule.convention == conv
    for key, value in {**cls.conventions[conv], **given}.items():
        pairs = hp.pair_names(cls.fields)
        if key in pairs:  # betas, etas, step_sizes
            assert tuple(getattr(rule.h, p) for p in pairs[key]) == tuple(value)
        else:
            assert getattr(rule.h, key) == value, (key, getattr(rule.h, key), value)
    assert rule == cls(convention=conv, **given)
    assert cls.__name__ in repr(rule)
    theta = np.zeros((2, 3)) if "hessian" in cls.needs else np.zeros(3)
    rule.init(theta)  # and its state builds


def test_torch_is_the_first_convention():
    for cls in CLASSES:
        assert next(iter(cls.conventions)) == "torch", cls.__name__
        assert cls() == cls(convention="torch")


def test_unknown_optimizer_name():
    with pytest.raises(ValueError) as e:
        get_rule("adamm")
    msg = str(e.value)
    assert "\n" not in msg
    assert "optimizer" in msg and "'adamm'" in msg
    for name in RULES:
        assert name in msg


def test_get_rule_accepts_names_and_aliases_and_validates():
    assert type(get_rule("Adam")) is RULES["adam"]
    assert type(get_rule("heavy-ball")) is RULES["momentum"]
    assert get_rule("adam", lr=0.1).h.lr == 0.1
    with pytest.raises(ValueError, match="Adam: lr"):
        get_rule("adam", lr=-0.1)
    with pytest.raises(ValueError, match="optimizer"):
        get_rule(3)


def test_with_hyper_validates_again():
    rule = RULES["adam"](lr=0.1)
    with pytest.raises(ValueError) as e:
        rule.with_hyper(lr=-1.0)
    assert_good_message(e, RULES["adam"], "lr", -1.0)
    with pytest.raises(ValueError) as e:
        rule.with_hyper(learning_rate=0.1)
    assert "learning_rate" in str(e.value) and "Adam" in str(e.value)
    assert rule.h.lr == 0.1  # the original is untouched


def test_apply_validates_policy_and_lr_override():
    rule = RULES["sgd"](lr=0.1)
    theta = np.zeros(3)
    st = rule.init(theta)
    with pytest.raises(ValueError) as e:
        rule.apply(theta, np.ones(3), st, nonfinite="drop")
    msg = str(e.value)
    assert "\n" not in msg and "SGD" in msg and "nonfinite" in msg and "'drop'" in msg
    with pytest.raises(ValueError) as e:
        rule.apply(theta, np.ones(3), st, lr=-0.5)
    assert_good_message(e, RULES["sgd"], "lr", -0.5)
    with pytest.raises(ValueError) as e:
        rule.apply(theta, np.ones(3), st, lr=math.nan)
    assert_good_message(e, RULES["sgd"], "lr", math.nan)
