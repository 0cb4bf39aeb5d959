"""fdiv_modes: the objective against scipy quadrature, and the quick config end to end (README command)."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from experiments import fdiv_modes
from tests.experiments._quick import run_quick


def scipy_log_target(x, a):
  return np.logaddexp(stats.norm.logpdf(x, -a, 1), stats.norm.logpdf(x, a, 1)) - np.log(2)


def scipy_kl(log_p, log_q, lo=-60, hi=60):
  """KL(p‖q) = ∫ p log(p/q) by adaptive quadrature in float64 (independent of divjax)."""
  f = lambda x: np.exp(log_p(x)) * (log_p(x) - log_q(x))
  return integrate.quad(f, lo, hi, limit=400, epsabs=1e-12, epsrel=1e-10)[0]


@pytest.mark.parametrize("forward", [True, False])
@pytest.mark.parametrize("a, mu, sigma", [(1.0, 0.3, 1.5), (3.0, 2.5, 0.8), (4.0, 0.0, 3.0)])
def test_objective_matches_adaptive_quadrature(forward, a, mu, sigma):
  config = fdiv_modes.Config.quick()
  x, log_w = fdiv_modes._grid(config)
  theta = jnp.array([mu, np.log(sigma)])
  got = fdiv_modes.objective(fdiv_modes.FAMILIES["KL"], theta, a, forward, x, log_w)
  lt = lambda s: scipy_log_target(s, a)
  lm = lambda s: stats.norm.logpdf(s, mu, sigma)
  want = scipy_kl(lt, lm) if forward else scipy_kl(lm, lt)
  np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)  # float32 sums over 801 nodes


def test_distinct_minima_merges_symmetric_fits():
  rows = [{"mu": 2.0, "sigma": 1.0, "loss": 0.5}, {"mu": -2.001, "sigma": 1.0, "loss": 0.5},
          {"mu": 0.0, "sigma": 3.0, "loss": 0.9}]
  minima = fdiv_modes.distinct_minima(rows, merge_tol=1e-2)
  assert [(m["count"], m["is_global"]) for m in minima] == [(2, True), (1, False)]


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
  """README command 1 for this experiment: `python -m experiments run fdiv_modes` (quick scale)."""
  return run_quick("fdiv_modes", tmp_path_factory, timeout=600)


@pytest.mark.slow
def test_quick_run_reproduces_forward_kl_moment_matching(quick_results):
  _, results = quick_results
  assert all(results["checks"].values()), results["checks"]
  assert results["gap"]["value"] < results["gap"]["tolerance"]
  fwd = [m for m in results["tables"]["minima"]
         if m["divergence"] == "KL" and m["direction"] == "target‖model"]
  for m in fwd:
    np.testing.assert_allclose(m["sigma"], np.sqrt(1 + m["a"]**2), rtol=1e-4)


@pytest.mark.slow
def test_quick_run_writes_every_artifact(quick_results):
  folder, results = quick_results
  for name in ("results.json", "fits.csv", "minima.csv", "theory.csv", "figure.png", "figure.pdf"):
    assert (folder / name).stat().st_size > 0, name
  assert results["metadata"]["device"]["device_count"] >= 1
  assert results["metadata"]["timings"]["compile_s"] > 0


@pytest.mark.slow
def test_every_reported_local_minimum_is_a_minimum_of_the_exact_objective(quick_results):
  # Independent confirmation (float64 adaptive quadrature, finite differences) of the reverse-KL
  # minima at the largest a, including the wide one centred at μ = 0.
  _, results = quick_results
  a = max(m["a"] for m in results["tables"]["minima"])
  rev = [m for m in results["tables"]["minima"]
         if m["divergence"] == "KL" and m["direction"] == "model‖target" and m["a"] == a]
  assert len(rev) >= 1
  lt = lambda s: scipy_log_target(s, a)

  def loss(theta):
    mu, log_sigma = theta
    return scipy_kl(lambda s: stats.norm.logpdf(s, mu, np.exp(log_sigma)), lt)

  h = 1e-3
  for m in rev:
    theta = np.array([m["abs_mu"], np.log(m["sigma"])])
    np.testing.assert_allclose(loss(theta), m["loss"], rtol=1e-4)
    grad = [(loss(theta + h * e) - loss(theta - h * e)) / (2 * h) for e in np.eye(2)]
    assert np.max(np.abs(grad)) < 1e-3, (m, grad)
    hess = np.array([[(loss(theta + h * (ei + ej)) - loss(theta + h * (ei - ej)) -
                       loss(theta - h * (ei - ej)) + loss(theta - h * (ei + ej))) / (4 * h * h)
                      for ej in np.eye(2)] for ei in np.eye(2)])
    assert np.linalg.eigvalsh(hess).min() > 0, (m, hess)


# ---------------------------------------------------------------------------------------------------
# Optimal-transport fits.


def quantile_w2_sigma(a, n=4000):
  """σ* = ∫₀¹ F⁻¹(u) Φ⁻¹(u) du by the midpoint rule on quantiles found with brentq (independent form)."""
  from scipy import optimize
  u = (np.arange(n) + 0.5) / n
  F = lambda x, ui: 0.5 * (stats.norm.cdf(x, -a, 1) + stats.norm.cdf(x, a, 1)) - ui
  q = np.array([optimize.brentq(F, -a - 15, a + 15, args=(ui,), xtol=1e-12) for ui in u])
  return float(np.mean(q * stats.norm.ppf(u)))


@pytest.mark.parametrize("a", [3.0, 4.0])
def test_w2_sigma_star_matches_quantile_integral(a):
  # The midpoint rule's error at n = 4000 is about 1e-4 (the integrand's log-singular tails).
  np.testing.assert_allclose(fdiv_modes.w2_sigma_star(a), quantile_w2_sigma(a), atol=5e-4)


@pytest.mark.slow
def test_w2_fit_exact_minimises_the_exact_w2_to_a_gaussian():
  # Brute force: W₂² between the empirical measure and N(μ, σ²) by quadrature over u, minimised by scipy.
  from scipy import optimize
  x = np.sort(np.random.default_rng(0).normal(size=10) * 2 + 0.3)
  n = len(x)

  def w2sq(theta):
    mu, sigma = theta
    total = 0.0
    for i in range(n):
      f = lambda u: (x[i] - mu - sigma * stats.norm.ppf(u))**2
      total += integrate.quad(f, i / n, (i + 1) / n, limit=100)[0]
    return total

  want = optimize.minimize(w2sq, [0.0, 1.0], method="Nelder-Mead",
                           options={"xatol": 1e-7, "fatol": 1e-12}).x
  mu, sigma = fdiv_modes.w2_fit_exact(jnp.asarray(x))
  np.testing.assert_allclose([float(mu), float(sigma)], want, atol=1e-4)


@pytest.mark.slow
def test_quick_run_ot_fits_are_centred_and_narrower_than_forward_kl(quick_results):
  _, results = quick_results
  for p in results["tables"]["ot_per_eps"]:
    assert p["max_abs_mu_minus_sample_mean"] < 2e-3
    assert p["sigma"] < np.sqrt(1 + p["a"]**2)
  for r in results["tables"]["ot_population"]:
    np.testing.assert_allclose(r["sigma_w2_population_fit"], quantile_w2_sigma(r["a"]), atol=1e-3)
