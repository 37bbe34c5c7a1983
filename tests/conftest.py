"""Suite-wide settings: float64 (tolerances below 1e-7 need it) and a fixed PRNG key."""
import jax
import pytest
from hypothesis import settings

jax.config.update("jax_enable_x64", True)

# Property tests must fit the default test budget on 2 cores: few examples, no deadline
# (the first example of each test pays for jit compilation).
settings.register_profile("ntk", max_examples=25, deadline=None)
settings.load_profile("ntk")


EXTENDED = ("profile", "notebook", "cluster", "endtoend", "planted")  # CI's second step, not the quick command


def pytest_collection_modifyitems(items):
    for item in items:
        if any(item.get_closest_marker(name) for name in EXTENDED):
            item.add_marker(pytest.mark.extended)


@pytest.fixture
def neural_tangents():
    """The ``neural_tangents`` module; where it is not installed the test is skipped with the
    reason and the command that installs it (as the claims that need it are)."""
    from ntk_attack.kernels import NT_MISSING
    return pytest.importorskip("neural_tangents", reason=NT_MISSING)


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)


def assert_close(actual, expected, *, rtol=0.0, atol=0.0, why: str):
    """``numpy.testing.assert_allclose`` that demands a reason for its tolerance."""
    import numpy as np
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=why)
