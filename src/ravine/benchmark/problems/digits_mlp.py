from ._real import PRELOAD, real_data, real_model
from .base import Problem


class DigitsMLP(Problem):
    """One-hidden-layer ReLU MLP (64 units) on sklearn's digits."""

    name = "digits_mlp"
    title = "MLP 64-64-10, sklearn digits"
    source = "sklearn.datasets.load_digits via ravine.train.data; ravine.train.make_model('mlp')"
    batch_size = 32
    steps = 200
    weight_decay = 1e-4
    metric = "err"
    target = 0.05
    preload = PRELOAD

    def make_data(self):
        return real_data("digits", self.torch_dtype())

    def model(self, seed):
        return real_model("mlp", 64, seed, self.torch_dtype(), width=64)
