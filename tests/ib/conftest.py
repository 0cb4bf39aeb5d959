"""Fixtures for the divjax.ib tests."""

import jax
import pytest


@pytest.fixture
def x64():
  """Float64 inside the test (``jax.enable_x64`` context, never the global flag)."""
  with jax.enable_x64(True):
    yield
