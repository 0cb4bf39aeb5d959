"""kde_regimes: the quick config end to end, checked against the spec's numbers and independent oracles.

Oracles written here: scipy brentq for g*(α), the spec's §3.1/§3.2 tables, and the closed-form
moments E w^k = (1 + k/h²)^{−d/2} exp(−k r²/(2(h² + k))) for the CLT-regime spread.
"""

import json
import math

import numpy as np
import pytest
from scipy import optimize

from experiments import kde_regimes
from tests.experiments._quick import run_quick


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
  """`python -m experiments run kde_regimes --out <tmp>` (quick scale)."""
  return run_quick("kde_regimes", tmp_path_factory)


def _rows(results, table, **where):
  return [r for r in results["tables"][table] if all(r[k] == v for k, v in where.items())]


@pytest.mark.slow
def test_quick_run_passes_every_check(quick_results):
  _, results = quick_results
  assert results["checks"] and all(results["checks"].values()), results["checks"]
  assert results["gap"]["value"] < results["gap"]["tolerance"]
  assert results["metadata"]["status"] == "ok"


@pytest.mark.slow
def test_quick_run_writes_every_artifact(quick_results):
  folder, results = quick_results
  for name in ("results.json", "figure.png", "figure.pdf", "phase.csv", "curves.csv",
               "finite_d_optimum.csv", "monte_carlo.csv", "participation.csv", "fluctuations.csv"):
    assert (folder / name).stat().st_size > 0, name
  config = results["metadata"]["config"]
  assert config["n_sets"] >= 100 and config["n_test"] >= 400  # spec §4 F2
  assert 30 in config["mc_dims"]


@pytest.mark.slow
def test_phase_diagram_matches_brentq(quick_results):
  _, results = quick_results
  S = lambda g: 0.5 * np.log1p(g) - g / (2 * (1 + g)**2)
  for row in results["tables"]["phase"][::10]:
    g = optimize.brentq(lambda g: S(g) - row["alpha"], 1e-12, 1e12, xtol=1e-14)
    assert row["h_g"] == pytest.approx(1 / math.sqrt(g), rel=1e-9)
    assert row["h_clt"] == pytest.approx(math.sqrt(2 / g), rel=1e-9)
    assert row["h_star"] == pytest.approx(math.sqrt(1 / (1 + g) + 1 / (1 + g)**2), rel=1e-9)
  th = results["summary"]["thresholds"]
  assert (th["h_g"], th["h_star"], th["kl_star_per_dim"]) == pytest.approx((1.0457, 0.8917, 0.08536),
                                                                            abs=1e-4)


@pytest.mark.slow
def test_exact_and_monte_carlo_reproduce_the_spec_rows_at_d_30(quick_results):
  _, results = quick_results
  spec = dict(zip([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0],
                  [-2.2455, -1.8679, -1.6825, -1.5942, -1.5574, -1.5502, -1.5795, -1.6639, -1.8238]))
  brute = dict(zip(spec, [-2.2438, -1.8665, -1.6817, -1.5933, -1.5569, -1.5497, -1.5790, -1.6634,
                          -1.8237]))  # spec §3.3, numpy float64 brute force
  for row in _rows(results, "monte_carlo", d=30):
    assert row["L_exact"] == pytest.approx(spec[row["h"]], abs=1e-3)
    assert abs(row["L_mc"] - row["L_exact"]) < 3e-3  # spec §6.3
    assert abs(row["L_mc"] - brute[row["h"]]) < 4 * row["se"] + 2e-3
    assert row["se"] < 2.5e-3  # spec §3.3: up to 1.8e-3 at h = 0.5 with another seed


@pytest.mark.slow
def test_participation_ratio_and_finite_d_optimum(quick_results):
  _, results = quick_results
  for row in results["tables"]["participation"]:
    assert abs(row["pr_mc"] - row["pr_exact"]) < 4 * row["se"] + 3e-3
    if row["h_over_h_g"] < 1:
      assert row["pr_mc"] > row["pr_asymptotic"]  # finite-d E[Y] lies above 1 − (h/h_G)²
  (opt40,) = _rows(results, "finite_d_optimum", d=40)
  assert abs(opt40["h_opt"] - 0.97) <= 0.03 and opt40["h_opt"] < opt40["h_g"]  # spec §6.7
  assert opt40["kl_min_per_dim"] == pytest.approx(0.1220, abs=2e-3)


@pytest.mark.slow
def test_clt_fluctuations_match_closed_form_moments(quick_results):
  _, results = quick_results
  (row,) = [r for r in results["tables"]["fluctuations"] if r["regime"] == "CLT"]
  d, n, h = row["d"], row["n"], row["h"]
  log_m = lambda k: -0.5 * d * math.log1p(k / h**2) - k * d / (2 * (h**2 + k))
  sd = math.sqrt((math.exp(log_m(2) - 2 * log_m(1)) - 1) / n)
  assert row["iqr_clt_prediction"] == pytest.approx(1.349 * sd, rel=1e-9)
  assert row["iqr"] == pytest.approx(1.349 * sd, rel=0.05)
  stable = [r for r in results["tables"]["fluctuations"] if r["regime"] == "stable"]
  assert all(r["skewness"] > 0.5 for r in stable)


@pytest.mark.slow
def test_plot_draws_from_the_results_file(quick_results):
  _, results = quick_results
  fig = kde_regimes.plot(results)
  assert len(fig.axes) == 6
