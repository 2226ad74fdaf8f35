from ._real import PRELOAD, real_data, real_model
from .base import Problem


class DigitsLogreg(Problem):
    """Multinomial logistic regression on sklearn's 8×8 digits (convex)."""

    name = "digits_logreg"
    title = "logistic regression, sklearn digits"
    source = "sklearn.datasets.load_digits via ravine.train.data"
    batch_size = 32
    steps = 200
    weight_decay = 1e-4
    metric = "err"
    target = 0.06
    preload = PRELOAD
    smoke_steps = 60

    def make_data(self):
        return real_data("digits", self.torch_dtype())

    def model(self, seed):
        return real_model("logreg", 64, seed, self.torch_dtype())
