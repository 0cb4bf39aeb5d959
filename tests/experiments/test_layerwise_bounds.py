"""layerwise_bounds: the experiment's own helpers against independent oracles, and the quick run end to end.

Oracles: the spec's numbers (§B.3 rank-3 instance, §B.4 dropout 0.75 and Gaussian 0.98665), scipy's
normal CDF for the TV of two Gaussians, and a brute-force Monte-Carlo run of the tanh + noise chain.
"""

import json
import math

import numpy as np
import pytest
from scipy import stats

from experiments import layerwise_bounds as lb
from tests.experiments._quick import run_quick


def test_enumerated_dropout_channel_is_stochastic_with_the_spec_coefficient():
  k = lb.dropout_channel(2, 0.5)
  np.testing.assert_allclose(k.sum(axis=1), 1.0, atol=1e-12)
  tv = max(0.5 * np.abs(k[i] - k[j]).sum() for i in range(4) for j in range(4))
  assert tv == pytest.approx(0.75, abs=1e-12)


def test_chain_tv_one_layer_is_the_gaussian_tv_formula():
  # After the first layer the two laws are N(±R, s²): TV = 2Φ(R/s) − 1.
  got = lb.chain_tv(1, bound=1.0, noise_scale=0.7, gain=2.0, grid=3001)
  assert got == pytest.approx(2 * stats.norm.cdf(1.0 / 0.7) - 1, abs=1e-5)  # Riemann sum, kink at 0


def test_chain_tv_two_layers_matches_brute_force_monte_carlo():
  # TV = E_P[(1 − q/p)_+] with p, q the exact layer-2 densities (1-D integrals by quadrature).
  r, s, g = 1.0, 1.0, 2.0
  got = lb.chain_tv(2, bound=r, noise_scale=s, gain=g, grid=3001)
  rng = np.random.default_rng(0)
  t1p = r + s * rng.standard_normal(4000)
  t1q = -r + s * rng.standard_normal(4000)
  x = r * np.tanh(g * t1p / r) + s * rng.standard_normal(4000)
  p = stats.norm.pdf(x[:, None], r * np.tanh(g * t1p[None, :] / r), s).mean(1)
  q = stats.norm.pdf(x[:, None], r * np.tanh(g * t1q[None, :] / r), s).mean(1)
  vals = np.maximum(1 - q / p, 0)
  assert abs(vals.mean() - got) < 4 * vals.std() / math.sqrt(len(vals)) + 0.01  # + KDE bias


def test_instance_has_the_requested_signal_and_rank():
  cfg = lb.Config.quick()
  weights, mu = lb.make_instance(cfg, 0)
  a = np.eye(cfg.dim)
  for w in weights:
    a = w @ a
  assert np.linalg.norm(a @ mu) == pytest.approx(cfg.signal)
  assert np.linalg.matrix_rank(a) == min(cfg.widths + (cfg.dim,))


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
  """`python -m experiments run layerwise_bounds --out <tmp>` (quick scale)."""
  return run_quick("layerwise_bounds", tmp_path_factory)


@pytest.mark.slow
def test_quick_run_passes_every_check(quick_results):
  _, results = quick_results
  assert results["checks"] and all(results["checks"].values()), results["checks"]
  assert results["gap"]["value"] < results["gap"]["tolerance"]
  assert results["metadata"]["status"] == "ok"


@pytest.mark.slow
def test_quick_run_writes_every_artifact(quick_results):
  folder, _ = quick_results
  for name in ("results.json", "figure.png", "figure.pdf", "kl_per_layer.csv",
               "bounds_per_layer.csv", "bounds_vs_n.csv", "contraction_width.csv",
               "contraction_depth.csv"):
    assert (folder / name).stat().st_size > 0, name


@pytest.mark.slow
def test_quick_run_reproduces_the_spec_numbers(quick_results):
  _, results = quick_results
  s = results["summary"]
  assert s["rank"] == 3 and s["n"] == 20
  assert s["kl_hidden"] == pytest.approx(-1.5 * math.log(1 - 1 / 20), abs=1e-12)
  assert s["dropout_eta_kl_width2"] == pytest.approx(0.75, abs=2e-3)
  assert 0 < s["kl_output_mc"] < s["kl_hidden"]
  # The gap is resolved (positive, many SE) and below every bound.
  gap = s["gap_abs_at_n"]
  assert gap["value"] > 5 * gap["se"]
  assert min(s["w1_bound_per_layer_at_n"]) > gap["value"] and s["kl_bound_at_n"] > gap["value"]
