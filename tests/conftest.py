"""Test configuration shared by the whole suite.

* The fake CPU devices and the plotting backend are set in the root ``conftest.py``.
* A deterministic hypothesis profile (fixed examples, no deadline: the first call of a jitted
  function compiles).
* A guard on the number of memory mappings of a test process (below).
"""

import gc
import os

import jax
import pytest
from hypothesis import settings

settings.register_profile("divjax", max_examples=40, deadline=None, derandomize=True,
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "divjax"))

#: Every executable that XLA:CPU compiles holds about a dozen memory mappings until JAX's caches
#: drop it, and Linux allows a process 65 530 (``vm.max_map_count``). A pytest-xdist worker that
#: runs a thousand tests — the fuzz module alone compiles thousands of programs, one per shape and
#: dtype it tries — passes that limit; LLVM's next ``mmap`` then fails and the worker aborts inside
#: ``backend_compile_and_load`` ("Fatal Python error: Aborted", seen twice in CI). Past this many
#: mappings the caches are cleared between tests, which frees them (tested in
#: tests/test_validate.py::test_clearing_jax_caches_frees_the_mappings_of_compiled_programs).
MAX_MAPPINGS = 30_000
_MAPS = "/proc/self/maps"


def mappings() -> int:
  """The number of memory mappings of this process (0 where ``/proc`` has no maps file)."""
  try:
    with open(_MAPS, "rb") as f:
      return f.read().count(b"\n")
  except OSError:
    return 0


@pytest.fixture(autouse=True)
def _bounded_mappings():
  yield
  if mappings() > MAX_MAPPINGS:
    jax.clear_caches()
    gc.collect()
