from ._real import PRELOAD, real_data, real_model
from .base import Problem


class Mnist1dCNN(Problem):
    """The MNIST-1D paper's 1-D CNN (3 conv layers, stride 2; 16 channels here) on MNIST-1D."""

    name = "mnist1d_cnn"
    title = "1-D CNN (16 channels), MNIST-1D"
    source = "Greydanus 2020, MNIST-1D; ravine.train.make_model('cnn')"
    batch_size = 64
    steps = 300
    weight_decay = 1e-4
    metric = "err"
    target = 0.45
    preload = PRELOAD

    def make_data(self):
        return real_data("mnist1d", self.torch_dtype())

    def model(self, seed):
        return real_model("cnn", 40, seed, self.torch_dtype(), width=16)
