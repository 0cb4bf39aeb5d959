"""Test configuration shared by the whole suite.

* Four fake CPU devices (set before JAX is imported), so sharded sweeps are exercised everywhere.
* A deterministic hypothesis profile (fixed examples, no deadline: the first call of a jitted
  function compiles).
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("MPLBACKEND", "Agg")

from hypothesis import settings  # noqa: E402

settings.register_profile("divjax", max_examples=40, deadline=None, derandomize=True,
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "divjax"))
