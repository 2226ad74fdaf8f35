"""Marker registration for the ravine.optim tests (helpers: optim_helpers.py)."""


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long tests (compiles, the float32 parity grid); -m 'not slow' skips")
