"""Test configuration shared by the whole suite.

* The fake CPU devices and the plotting backend are set in the root ``conftest.py``.
* A deterministic hypothesis profile (fixed examples, no deadline: the first call of a jitted
  function compiles).
"""

import os

from hypothesis import settings

settings.register_profile("divjax", max_examples=40, deadline=None, derandomize=True,
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "divjax"))
