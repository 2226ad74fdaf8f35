from ._real import PRELOAD, real_data, real_model
from .base import Problem


class Mnist1dMLP(Problem):
    """MLP (one hidden layer of 128 ReLU units) on MNIST-1D (Greydanus 2020)."""

    name = "mnist1d_mlp"
    title = "MLP 40-128-10, MNIST-1D"
    source = "Greydanus 2020, MNIST-1D (mnist1d.data.make_dataset, offline) via ravine.train.data"
    batch_size = 64
    steps = 400
    weight_decay = 1e-4
    metric = "err"
    target = 0.45
    preload = PRELOAD

    def make_data(self):
        return real_data("mnist1d", self.torch_dtype())

    def model(self, seed):
        return real_model("mlp", 40, seed, self.torch_dtype(), width=128)
