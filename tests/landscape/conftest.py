import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """These tiny models are fastest on one thread (and the test machine is shared)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
