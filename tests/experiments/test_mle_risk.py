"""mle_risk: the experiment's helpers against independent oracles, and the quick config end to end.

Oracles written here, independent of divjax.expfam: scipy quadrature for the exact
exponential-model risk, a direct multinomial enumeration for the categorical
risk, scipy.stats moments for the misspecified normal fits, NumPy for Mardia's kurtosis, and the
numbers of the spec's §3.2 and §5 tables.
"""

import itertools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from divjax import divergences as dv
from divjax import expfam as ef
from experiments import mle_risk
from tests.experiments._quick import run_quick

# ---------------------------------------------------------------------------------------------------
# Helpers (fast).


@pytest.mark.parametrize("name, dist", [("normal_laplace", stats.laplace()),
                                        ("normal_uniform", stats.uniform()),
                                        ("normal_gamma4", stats.gamma(4))])
def test_moments_of_T_for_the_normal_fits_match_scipy(name, dist):
  raw = mle_risk.MC_CASES[name][1]
  m = mle_risk.polynomial_moments([[1], [2]], lambda a: raw(a[0]))
  mom = [dist.moment(k) for k in range(7)]  # scipy may integrate numerically: rtol 1e-7 below
  var = mom[2] - mom[1]**2
  np.testing.assert_allclose(m.mean, [mom[1], mom[2]], rtol=1e-7, atol=1e-9)
  np.testing.assert_allclose(m.covariance[0, 0], var, rtol=1e-7)
  np.testing.assert_allclose(m.covariance[1, 1], mom[4] - mom[2]**2, rtol=1e-7)
  # κ of x² = E[(x² − E x²)³] by the binomial expansion.
  third = sum(math.comb(3, j) * mom[2 * j] * (-mom[2])**(3 - j) for j in range(4))
  np.testing.assert_allclose(m.third_cumulant[1, 1, 1], third, rtol=1e-7)
  # R₁ = p_eff/2 with p_eff = 1 + (β₂ − 1)/2 for the normal model (β₂ = kurtosis of g).
  beta2 = dist.stats(moments="k") + 3.0
  with jax.enable_x64(True):
    fam = ef.normal()
    proj = mle_risk._projection(fam, jnp.asarray(m.mean, jnp.float64))
    nat, _ = mle_risk._expansions(fam, proj.theta, jnp.asarray(m.covariance),
                                  jnp.asarray(m.third_cumulant))
  np.testing.assert_allclose(float(nat.p_eff), 1 + (beta2 - 1) / 2, rtol=1e-7)


def test_student_t_moments_match_scipy():
  t = stats.t(10)
  assert mle_risk.student_t_moment((4, 0, 0), 10) == pytest.approx(t.moment(4), rel=1e-8)
  assert mle_risk.student_t_moment((6, 0, 0), 10) == pytest.approx(t.moment(6), rel=1e-8)
  assert mle_risk.student_t_moment((2, 2, 0), 10) == pytest.approx(100 / 48, rel=1e-12)
  assert mle_risk.student_t_moment((2, 1, 1), 10) == 0.0
  # β₂ = E[(zᵀz)²] of the standardised t (covariance ν/(ν−2) I) = d(d+2)(ν−2)/(ν−4).
  d, nu = 3, 10
  e4 = sum(mle_risk.student_t_moment(tuple(2 * np.eye(d, dtype=int)[i] + 2 * np.eye(d, dtype=int)[j]),
                                     nu) for i in range(d) for j in range(d))
  assert e4 / (nu / (nu - 2))**2 == pytest.approx(d * (d + 2) * (nu - 2) / (nu - 4), rel=1e-12)


def test_mardia_from_moments_matches_numpy_and_library():
  rng = np.random.default_rng(3)
  x = rng.standard_t(7, size=(300, 3)) @ np.array([[1.0, 0.3, 0.0], [0.0, 2.0, 0.5], [0.0, 0.0, 0.7]])
  c = x - x.mean(0)
  S = c.T @ c / len(x)
  want = np.mean(np.einsum("ni,ij,nj->n", c, np.linalg.inv(S), c)**2)
  with jax.enable_x64(True):
    fam = ef.multivariate_normal(3)
    t = jax.vmap(fam.sufficient_statistic)(jnp.asarray(x))
    got = mle_risk.mardia_from_moments(*mle_risk.mvn_raw_moments(t.mean(0), t.T @ t / len(x), 3))
    lib = ef.mardia_kurtosis(x)
  np.testing.assert_allclose(float(got), want, rtol=1e-10)
  np.testing.assert_allclose(float(lib), want, rtol=1e-10)
  from divjax.expfam import criterion
  np.testing.assert_allclose(criterion._mardia_kurtosis_host(x), want, rtol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_small_inverse_matches_numpy(d):
  rng = np.random.default_rng(5)
  A = rng.normal(size=(6, d, d))
  A = A @ np.swapaxes(A, -1, -2) + 0.5 * np.eye(d)
  with jax.enable_x64(True):
    inv = mle_risk.small_inverse(jnp.asarray(A))
  np.testing.assert_allclose(inv, np.linalg.inv(A), rtol=1e-10, atol=1e-12)


def test_cofactor_family_and_gaussian_kl_agree_with_the_library():
  d = 3
  rng = np.random.default_rng(6)
  with jax.enable_x64(True):
    fam, twin = ef.multivariate_normal(d), mle_risk._mvn_cofactor(d)
    x1, x2 = rng.normal(size=(50, d)) * [1, 2, 0.5], rng.normal(size=(40, d)) + 0.3
    th1, th2 = ef.mle(fam, x1).theta, ef.mle(fam, x2).theta
    for th in (th1, th2):
      np.testing.assert_allclose(twin.log_partition(th), fam.log_partition(th), rtol=1e-13)
      np.testing.assert_allclose(jax.grad(twin.log_partition)(th), ef.mean_parameters(fam, th),
                                 rtol=1e-11, atol=1e-12)
    mu1, mu2 = x1.mean(0), x2.mean(0)
    s1, s2 = np.cov(x1.T, bias=True), np.cov(x2.T, bias=True)
    # The KL the Monte Carlo uses, in (μ, Σ), against the Bregman form in θ.
    got = dv.gaussian_kl_divergence(jnp.asarray(mu1), jnp.asarray(s1), jnp.asarray(mu2), jnp.asarray(s2))
    want = ef.bregman_kl_divergence(fam, th1, th2)
  np.testing.assert_allclose(float(got), float(want), rtol=1e-10)


# ---------------------------------------------------------------------------------------------------
# The quick config through the command line.


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
  """`python -m experiments run mle_risk --out <tmp>` (quick scale)."""
  return run_quick("mle_risk", tmp_path_factory)


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
  for name in ("results.json", "figure.png", "figure.pdf", "risk_curves.csv", "errors.csv",
               "coefficients.csv", "criterion.csv", "student_t.csv", "datasets.csv",
               "compression_path.csv"):
    assert (folder / name).stat().st_size > 0, name
  meta = results["metadata"]
  assert meta["device"]["device_count"] >= 1 and meta["timings"]["compile_s"] > 0
  assert meta["config"]["mc_replications"] >= 20_000


@pytest.mark.slow
@pytest.mark.parametrize("case, n, want", [("exponential_gamma", 20, 0.0602786),
                                           ("exponential_gamma", 50, 0.0215334),
                                           ("normal_normal", 20, 0.0652235),
                                           ("normal_normal", 50, 0.0221784),
                                           ("normal_normal", 200, 0.0051292),
                                           ("categorical", 100, 0.0103100)])
def test_exact_risks_reproduce_the_spec_table(quick_results, case, n, want):
  _, results = quick_results
  (row,) = _rows(results, "risk_curves", case=case, n=n)
  np.testing.assert_allclose(row["risk"], want, rtol=0, atol=5.1e-8)  # the table's last digit


@pytest.mark.slow
def test_exponential_risk_against_scipy_quadrature(quick_results):
  # KL(Exp(λ*) ‖ Exp(λ̂)) = log(λ*/λ̂) + λ̂/λ* − 1 with λ̂ = 1/x̄, x̄ ~ Gamma(nk, scale 1/n), λ* = 1/k.
  _, results = quick_results
  k = results["metadata"]["config"]["gamma_shape"]
  for row in _rows(results, "risk_curves", case="exponential_gamma"):
    n = row["n"]
    dist = stats.gamma(n * k, scale=1.0 / n)
    kl = lambda m: (np.log(m / k) + k / m - 1.0) * dist.pdf(m)
    want = integrate.quad(kl, 0, np.inf, limit=500, epsabs=1e-14, epsrel=1e-12)[0]
    np.testing.assert_allclose(row["risk"], want, rtol=1e-8)


@pytest.mark.slow
def test_categorical_risk_against_direct_enumeration(quick_results):
  _, results = quick_results
  p = np.array(results["metadata"]["config"]["categorical_probs"])
  for row in _rows(results, "risk_curves", case="categorical"):
    n = row["n"]
    if n > 100:
      continue
    risk = boundary = 0.0
    for a, b in itertools.product(range(n + 1), repeat=2):
      c = np.array([a, b, n - a - b])
      if c[2] < 0:
        continue
      w = stats.multinomial.pmf(c, n, p)
      if np.all(c > 0):
        risk += w * np.sum(p * np.log(p * n / c))
      else:
        boundary += w
    np.testing.assert_allclose(row["risk"], risk, rtol=1e-9)
    np.testing.assert_allclose(row["boundary_prob"], boundary, rtol=1e-6, atol=1e-300)


@pytest.mark.slow
def test_expansion_coefficients_and_error_slopes(quick_results):
  _, results = quick_results
  coef = {c["case"]: c for c in results["tables"]["coefficients"]}
  np.testing.assert_allclose(coef["normal_normal"]["R2"], 61 / 12, rtol=1e-10)
  np.testing.assert_allclose(coef["categorical"]["R2"], 26 / 9, rtol=1e-10)
  np.testing.assert_allclose(coef["exponential_gamma"]["R2"], 11 / 3, rtol=1e-10)
  # Poisson model on NB(mean λ, size r): K = λ + λ²/r, so R₁ = K/(2λ); one-parameter R₂ of spec §2.2
  # with ψ₃ = ψ₄ = G = λ and κ₃ = λ + 3λ²/r + 2λ³/r².
  lam, r = 3.0, 2.0
  K, k3 = lam + lam**2 / r, lam + 3 * lam**2 / r + 2 * lam**3 / r**2
  np.testing.assert_allclose(coef["poisson_negbin"]["R1"], K / (2 * lam), rtol=1e-12)
  R2 = -lam * k3 / (3 * lam**3) - 3 * lam * K**2 / (8 * lam**4) + 9 * lam**2 * K**2 / (8 * lam**5)
  np.testing.assert_allclose(coef["poisson_negbin"]["R2"], R2, rtol=1e-10)
  for case, slope in results["summary"]["second_order_error_slopes_n_ge_50"].items():
    assert abs(slope + 2) < 0.3, (case, slope)
  for case, slope in results["summary"]["first_order_error_slopes_n_ge_50"].items():
    assert abs(slope + 1) < 0.15, (case, slope)


@pytest.mark.slow
def test_monte_carlo_and_bayes_error(quick_results):
  _, results = quick_results
  for row in _rows(results, "risk_curves", method="monte_carlo"):
    assert row["be_mean"] >= row["be_lower_bound"]
    if row["n"] >= 200:
      assert abs(row["z_second_order"]) < 4, row
  # Spec §3.2: normal fit to Laplace data, n = 20: E[BE] = 0.434 against the bound 0.381.
  (row,) = _rows(results, "risk_curves", case="normal_laplace", n=20)
  assert abs(row["be_mean"] - 0.434) < 0.002
  assert abs(row["be_lower_bound"] - 0.381) < 0.003


@pytest.mark.slow
def test_criterion_table(quick_results):
  _, results = quick_results
  for row in _rows(results, "criterion", curve="spec §3.2 table"):
    eps = row["eps"]
    want = 1.0 / (2.0 * max(8 * eps**2, -math.log(1 - 4 * eps**2)))
    np.testing.assert_allclose(row["library_first_order"], want, rtol=1e-12)
  (row,) = _rows(results, "criterion", curve="spec §3.2 table", eps=0.05)
  assert row["library_first_order"] == pytest.approx(25.0)
  # The second-order n_min tracks the n at which the exact risk equals D*.
  for row in results["summary"]["criterion_n_min"]:
    if row["eps"] <= 0.05:
      assert abs(row["n_min_second_order"] / row["n_min_exact"] - 1) < 0.01, row


@pytest.mark.slow
def test_student_t_validation(quick_results):
  _, results = quick_results
  st = results["summary"]["student_t"]
  d, nu = st["d"], st["df"]
  assert st["p_eff_formula"] == pytest.approx(d + (d * (d + 2) * (nu - 2) / (nu - 4) - d) / 2)
  assert st["p_eff_rel_gap"] < 0.02
  assert abs(st["p_eff_from_risk"] - st["p_eff_formula"]) < 4 * st["p_eff_from_risk_se"] + 1e-3


@pytest.mark.slow
def test_datasets_against_numpy(quick_results):
  from sklearn import datasets
  _, results = quick_results
  eps = results["metadata"]["config"]["dataset_eps"]
  d_star = max(8 * eps**2, -math.log(1 - 4 * eps**2))
  x = datasets.load_wine().data
  n, d = x.shape
  c = x - x.mean(0)
  b2 = np.mean(np.einsum("ni,ij,nj->n", c, np.linalg.inv(c.T @ c / n), c)**2)
  (row,) = _rows(results, "datasets", dataset="wine", stage="full")
  assert (row["n"], row["d"], row["p"]) == (178, 13, 104)
  np.testing.assert_allclose(row["p_eff"], d + (b2 - d) / 2, rtol=1e-9)
  np.testing.assert_allclose(row["n_min"], row["p_eff"] / (2 * d_star), rtol=1e-9)
  for row in _rows(results, "datasets", stage="full"):
    assert not row["accepted"] and row["p_eff"] > row["p"]  # heavy tails: p̂_eff > p
  for row in _rows(results, "datasets", stage="compressed"):
    assert row["accepted"] and row["n"] >= row["n_min"]
  (diab,) = _rows(results, "datasets", dataset="diabetes", stage="full")
  assert diab["d"] == 9 and "sex" not in diab["variables"].split(";")
