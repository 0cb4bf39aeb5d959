"""Root pytest configuration: applies to tests/ and to the doctests in divjax/.

Set before JAX is imported anywhere:

* four fake CPU devices, so sharded sweeps are exercised everywhere;
* in the test processes only, XLA's CPU compiler at its cheapest settings
  (``--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false``): the unit tests
  compile thousands of small programs and run each once or twice, so compile time is most of their
  time, and these settings compile a small ``grad`` program about 5x faster (0.19 s → 0.04 s
  here). The IEEE semantics are the same (XLA CPU uses no fast-math either way); the last bits can
  differ where fusion changes a reduction's order. The quick runs and the notebooks run in
  subprocesses with the default compiler (``DIVJAX_SUBPROCESS_XLA_FLAGS``), exactly as README
  command 1 runs them: they execute long sweeps, which these settings would slow down.
  ``DIVJAX_TEST_FULL_XLA_OPT=1`` runs the tests with the default compiler too; a caller's own
  ``XLA_FLAGS`` are used as given everywhere;
* the Agg matplotlib backend;
* one results root for the whole session (``DIVJAX_RESULTS``, unless the caller set it): the
  end-to-end tests and the notebooks then compute each quick run once and reuse it (the config hash
  decides), instead of once per test module and once per notebook.

The doctests (``Examples:`` blocks, run with ``--doctest-modules``) get ``jax``, ``jnp`` and ``np`` in
their namespace and always run in float32 (JAX's default), whatever a previous test did.
"""

import os

_DEVICES = "--xla_force_host_platform_device_count=4"
_CHEAP_COMPILE = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
if "XLA_FLAGS" not in os.environ:
  os.environ["DIVJAX_SUBPROCESS_XLA_FLAGS"] = _DEVICES
  cheap = os.environ.get("DIVJAX_TEST_FULL_XLA_OPT", "") in ("", "0")
  os.environ["XLA_FLAGS"] = f"{_DEVICES} {_CHEAP_COMPILE}" if cheap else _DEVICES
os.environ.setdefault("MPLBACKEND", "Agg")

import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

import pytest  # noqa: E402

# xdist workers take the controller's folder (pytest_configure below), not one of their own.
if not os.environ.get("DIVJAX_RESULTS") and not os.environ.get("PYTEST_XDIST_WORKER"):
  _session_results = tempfile.mkdtemp(prefix="divjax-test-results-")
  os.environ["DIVJAX_RESULTS"] = _session_results
  atexit.register(shutil.rmtree, _session_results, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
  """xdist controller: every worker gets the session's results folder."""
  node.workerinput["divjax_results"] = os.environ.get("DIVJAX_RESULTS", "")


def pytest_configure(config):
  shared = getattr(config, "workerinput", {}).get("divjax_results")
  if shared:
    os.environ["DIVJAX_RESULTS"] = shared
  elif not os.environ.get("DIVJAX_RESULTS"):  # a worker started without it: a folder of its own
    folder = tempfile.mkdtemp(prefix="divjax-test-results-")
    os.environ["DIVJAX_RESULTS"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def _doctest_namespace(request, doctest_namespace):
  if request.node.__class__.__name__ != "DoctestItem":
    yield
    return
  import jax
  import jax.numpy as jnp
  import numpy as np

  doctest_namespace.update(jax=jax, jnp=jnp, np=np)
  np.set_printoptions(precision=4, suppress=True)
  with jax.enable_x64(False):
    yield
