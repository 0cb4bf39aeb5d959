"""nash_mp: the experiment's helpers against independent oracles, and the quick config end to end."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from divjax import games
from experiments import nash_mp
from tests.experiments._quick import run_quick


def test_query_budget_follows_the_spec():
  assert nash_mp.query_budget(0.01) == math.ceil(150 / math.log(1.02))
  assert nash_mp.query_budget(1e-4) == 60000


def test_late_phase_factor_of_a_geometric_sequence():
  q = 2 * np.arange(101)
  kl = 0.3 * 0.8**np.arange(101)
  lp = nash_mp.late_phase(kl, q, stop=1e-26)
  assert lp["m"] == 100 and lp["i"] == 50 and not lp["reached"]
  np.testing.assert_allclose(lp["per_iter"], 0.8, rtol=1e-12)
  np.testing.assert_allclose(lp["per_query"], math.sqrt(0.8), rtol=1e-12)


def test_late_phase_stops_at_the_threshold_and_flags_divergence():
  kl = 0.5**np.arange(200.0)
  lp = nash_mp.late_phase(kl, np.arange(200), stop=1e-20)
  assert lp["reached"] and kl[lp["m"]] < 1e-20 <= kl[lp["m"] - 1]
  assert nash_mp.late_phase(np.array([1.0, 5.0, 20.0]), np.arange(3), stop=1e-26)["per_query"] == math.inf
  assert nash_mp.late_phase(np.array([1.0, np.nan, 0.1]), np.arange(3), stop=1e-26)["per_query"] == math.inf


def test_late_phase_respects_the_query_budget():
  kl = 0.9**np.arange(100.0)
  lp = nash_mp.late_phase(kl, 2 * np.arange(100), stop=1e-30, budget=40)
  assert lp["m"] == 20


def test_jacobian_rate_matches_autodiff():
  with jax.enable_x64(True):
    g = games.cyclic(jax.random.PRNGKey(0), 7, beta=0.2)
    eq = games.solve_equilibrium(g).log_pi

    def f(l):
      s = games.SolverState(jax.nn.log_softmax(l), jnp.int32(0), jnp.int32(0))
      return games.nash_mp.solver(step_size=0.4).update(g, s).log_pi

    J = np.asarray(jax.jacfwd(f)(eq))
  rho = np.max(np.abs(np.linalg.eigvals(J)))
  np.testing.assert_allclose(nash_mp.jacobian_rate(np.asarray(g.preference), 0.2, np.asarray(eq)),
                             rho**2 * 1.4**2, rtol=1e-10)


# ---------------------------------------------------------------------------------------------------
# The quick config through the command line.


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
  """`python -m experiments run nash_mp --out <tmp>` (quick scale)."""
  return run_quick("nash_mp", tmp_path_factory)


@pytest.mark.slow
def test_quick_run_passes_every_check(quick_results):
  _, results = quick_results
  assert results["checks"] and all(results["checks"].values()), results["checks"]
  assert results["gap"]["value"] < results["gap"]["tolerance"]
  assert results["metadata"]["status"] == "ok"


@pytest.mark.slow
def test_quick_run_writes_every_artifact(quick_results):
  folder, results = quick_results
  for name in ("results.json", "figure.png", "figure.pdf", "rates.csv", "curves.csv", "comparison.csv",
               "step_sweep.csv", "approximate.csv"):
    assert (folder / name).stat().st_size > 0, name
  assert results["metadata"]["device"]["device_count"] >= 1


@pytest.mark.slow
def test_quick_run_records_the_rate_next_to_both_theories(quick_results):
  _, results = quick_results
  for row in results["tables"]["rates"]:
    b = row["beta"]
    np.testing.assert_allclose(row["theory_per_iter_linearised"], (1 + 2 * b)**-2, rtol=1e-12)
    np.testing.assert_allclose(row["theory_per_iter_theorem"], (1 + 2 * b)**-1, rtol=1e-12)
    assert row["max_bound_ratio"] <= 1.0
    if row["start"] == "ref" and b <= 0.3:
      assert abs(row["per_iter"] / row["theory_per_iter_linearised"] - 1) <= 0.02


@pytest.mark.slow
def test_quick_run_nash_mp_beats_mmd_on_the_cyclic_tournament(quick_results):
  _, results = quick_results
  rows = [r for r in results["tables"]["comparison"] if r["family"] == "cyclic" and r["beta"] == 0.01]
  by = {r["method"]: float(r["per_query"]) for r in rows}
  assert by["nash_mp_theory"] < by["mmd_best"] and by["nash_mp_theory"] < by["nash_md_best"]
  # Same iterates up to round-off (checked to 1e-10 elsewhere); near KL = 1e-26 a 1e-15 difference in
  # the logits changes KL by ~1 %, i.e. the per-query factor over ~1500 queries by ~1e-5.
  np.testing.assert_allclose(by["egpo_theory"], by["nash_mp_theory"], rtol=1e-4)
