"""Fuzzing every public function with bad and edge-case inputs (hypothesis, fixed seed, few examples).

Each probe (``tests/fuzz/probes.py``) is a valid call of one public function; every array or scalar
argument is then corrupted in each way that applies to its kind (a NaN or inf entry, negative or
unnormalised probabilities, an empty array, a bool dtype, a mismatched length, a non-PSD covariance,
a non-positive scale, a zero or negative count, …), one argument at a time; hypothesis draws where the
bad entry goes and how large the edge magnitudes are. The outcome classes and what each kind of input
must give are defined in ``tests/fuzz/framework.py``: a named ``ValueError``/``TypeError`` for an
invalid input, a value (never a silent NaN) for an edge input, and under ``jax.jit`` NaN or a named
error where the eager call raised, with checked mode naming the argument.

``python -m tests.test_fuzz`` prints the table of probes × outcome classes and every failure.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz import framework
from tests.fuzz.probes import EXEMPT, all_probes

PROBES = all_probes()

#: The modules whose ``__all__`` make up the public API (as in docs/conf.py's coverage check).
PUBLIC_MODULES = ["divjax.divergences", "divjax.expfam", "divjax.kde", "divjax.kde.theory",
                  "divjax.games", "divjax.games.nash_mp", "divjax.games.egpo", "divjax.games.mmd",
                  "divjax.games.nash_md", "divjax.games.approximate", "divjax.alignment",
                  "divjax.ib", "divjax.ot", "divjax.checks"]

#: The hypothesis draw: where the bad entry goes, how large the edge magnitudes are.
fuzz_draws = given(where=st.integers(0, 63), magnitude=st.sampled_from([1e30, 1e15, 1e8]))


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
@settings(max_examples=2)
@fuzz_draws
def test_bad_inputs_give_a_named_error_and_edge_inputs_a_value(probe, where, magnitude):
  framework.assert_rows(framework.run_probe(probe, where, magnitude))


@pytest.mark.parametrize("probe", [p for p in PROBES if p.jit],
                         ids=[p.name for p in PROBES if p.jit])
def test_under_jit_bad_inputs_give_nan_or_a_named_error_and_checked_mode_names_them(probe):
  framework.assert_rows(framework.run_probe_traced(probe, 3, 1e30))


def _functions_of(module_name: str):
  module = importlib.import_module(module_name)
  for name in module.__all__:
    obj = getattr(module, name)
    if inspect.isfunction(obj):
      yield f"{module_name}.{name}", obj


def test_every_public_function_is_probed_or_exempt_with_a_reason():
  covered = {id(fn) for probe in PROBES for fn in probe.covers()}
  # divjax.checks transforms functions: tests/test_checks.py covers it; the traced probes use it.
  exempt = set(EXEMPT) | {"divjax.checks.checkify", "divjax.checks.checked"}
  missing = sorted(
      name for module_name in PUBLIC_MODULES for name, fn in _functions_of(module_name)
      if id(fn) not in covered and name not in exempt
      and not any(name.startswith(prefix + ".") for prefix in exempt))
  assert not missing, "public functions without a fuzz probe (add one to tests/fuzz/probes.py):\n" + (
      "\n".join(missing))


if __name__ == "__main__":  # python -m tests.test_fuzz [PREFIX ...]: the outcome table, failures
  import sys

  prefixes = tuple(sys.argv[1:]) or ("",)
  all_rows = [r for p in PROBES if p.name.startswith(prefixes)
              for r in [*framework.run_probe(p, 3, 1e30), *framework.run_probe_traced(p, 3, 1e30)]]
  print(framework.table(all_rows))
  print()
  for r in all_rows:
    if not r["ok"]:
      print(f"FAIL {r['probe']} {r['arg']}={r['mutation']} ({r['class']}): {r['outcome']} "
            f"{r['message'][:200]}")
