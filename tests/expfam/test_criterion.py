"""The p–n criterion against independent oracles (float64): the §3.2 table, the Bayes-error bound
checked by Monte Carlo with 1-D quadrature of min(f₁, f₂), Mardia's kurtosis by the textbook formula,
and the effective dimension of the normal model from the known moments of a multivariate Student t
(spec §3, §7.5, §7.6)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from divjax import expfam as ef


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


# ---------------------------------------------------------------------------------------------------
# D*(ε) and the Bayes-error bound.

TABLE = [  # ε, D*(ε), n/p_eff ≥ 1/(2D*) as printed in spec §3.2
    (0.01, 0.0008, 625),
    (0.02, 0.0032, 156.25),
    (0.05, 0.02, 25),
    (0.10, 0.08, 6.25),
    (0.15, 0.18, 2.78),
    (0.20, 0.32, 1.56),
]


@pytest.mark.parametrize("eps, d_star, ratio", TABLE)
def test_critical_risk_reproduces_the_table(x64, eps, d_star, ratio):
  got = float(ef.critical_risk(eps))
  np.testing.assert_allclose(got, d_star, rtol=1e-12)
  np.testing.assert_allclose(1 / (2 * got), ratio, rtol=0, atol=0.005)


@pytest.mark.parametrize("eps, d_star, ratio", TABLE)
def test_first_order_n_min_per_effective_dimension_matches_the_table(x64, eps, d_star, ratio):
  p_eff = 7.0
  res = ef.pn_criterion(p_eff / 2, 0.0, eps)
  np.testing.assert_allclose(res.n_min_first_order / p_eff, ratio, rtol=0, atol=0.005)
  np.testing.assert_allclose(res.n_min, res.n_min_first_order, rtol=1e-12)


def test_critical_risk_uses_bretagnolle_huber_for_large_eps(x64):
  # −log(1 − 4ε²) exceeds 8ε² once 4ε² > 0.797, i.e. ε > 0.446.
  np.testing.assert_allclose(ef.critical_risk(0.44), 8 * 0.44**2, rtol=1e-13)
  for eps in (0.45, 0.47, 0.49):
    np.testing.assert_allclose(ef.critical_risk(eps), -math.log(1 - 4 * eps**2), rtol=1e-13)


@pytest.mark.parametrize("eps", [0.01, 0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.49])
def test_bound_at_the_critical_risk_is_exactly_half_minus_eps(x64, eps):
  np.testing.assert_allclose(ef.bayes_error_lower_bound(ef.critical_risk(eps)), 0.5 - eps, rtol=1e-12)


def test_bayes_error_lower_bound_is_max_of_pinsker_and_bretagnolle_huber(x64):
  r = np.array([0.0, 1e-4, 0.02, 0.5, 2.0, 10.0])
  want = np.maximum(0.5 - np.sqrt(r / 8), 0.5 * (1 - np.sqrt(1 - np.exp(-r))))
  np.testing.assert_allclose(jax.vmap(ef.bayes_error_lower_bound)(jnp.array(r)), want, rtol=1e-13)


def normal_pdf(x, mu, var):
  return np.exp(-0.5 * (x - mu)**2 / var) / np.sqrt(2 * np.pi * var)


def test_bayes_error_bound_holds_for_normal_fit_to_laplace_data(x64):
  # Spec §3.2/§7.5: n = 20, Laplace(0, 1) data, θ* = N(0, 2). 4000 replications (seed 0); BE by the
  # trapezoid rule on [−40, 40] (step 0.01) of min of the two normal densities. The reference numbers
  # 0.434 (E BE) and 0.381 (bound), from 2×10⁴ replications, are checked within 4 standard errors.
  n, reps = 20, 4000
  x = np.random.default_rng(0).laplace(size=(reps, n))
  mu_hat, var_hat = x.mean(1), x.var(1)
  kl = 0.5 * (np.log(var_hat / 2) + (2 + mu_hat**2) / var_hat - 1)
  grid = np.linspace(-40, 40, 8001)
  f_star = normal_pdf(grid, 0.0, 2.0)
  be = np.concatenate([
      0.5 * np.trapezoid(np.minimum(f_star, normal_pdf(grid, m[:, None], v[:, None])), grid, axis=1)
      for m, v in zip(np.split(mu_hat, 8), np.split(var_hat, 8))])
  risk, risk_se = kl.mean(), kl.std(ddof=1) / math.sqrt(reps)
  be_mean, be_se = be.mean(), be.std(ddof=1) / math.sqrt(reps)
  bound = float(ef.bayes_error_lower_bound(risk))
  assert be_mean >= bound
  # Per replication: BE ≥ max(½ − √(KL/8), ½(1 − √(1 − e^{−KL}))) (Pinsker, Bretagnolle–Huber).
  assert np.all(be >= np.asarray(ef.bayes_error_lower_bound(jnp.array(kl))) - 1e-9)
  assert abs(be_mean - 0.434) < 4 * be_se + 5e-4
  slope = 1 / (2 * math.sqrt(8 * risk))   # |d bound / dR| on the Pinsker branch
  assert abs(bound - 0.381) < 4 * slope * risk_se + 5e-4


# ---------------------------------------------------------------------------------------------------
# The p–n criterion.


@pytest.mark.parametrize("R1, R2, eps", [(2.5, 30.0, 0.05), (1.0, 61 / 12, 0.1), (4.2, 0.5, 0.02),
                                         (1.0, -0.5, 0.05)])
def test_n_min_solves_the_second_order_equation(x64, R1, R2, eps):
  res = ef.pn_criterion(R1, R2, eps)
  d_star = float(ef.critical_risk(eps))
  n = float(res.n_min)
  np.testing.assert_allclose(R1 / n + R2 / n**2, d_star, rtol=1e-12)
  np.testing.assert_allclose(res.d_star, d_star, rtol=0)
  np.testing.assert_allclose(res.n_min_first_order, R1 / d_star, rtol=1e-14)
  assert res.accepted is None and res.risk_at_n is None


@pytest.mark.parametrize("R1, R2, eps", [(2.5, 30.0, 0.05), (1.0, 61 / 12, 0.1), (4.2, 0.5, 0.02),
                                         (1.0, -0.5, 0.05)])
def test_verdict_flips_at_n_min(x64, R1, R2, eps):
  n_min = float(ef.pn_criterion(R1, R2, eps).n_min)
  below, above = math.floor(n_min), math.ceil(n_min)
  assert below < n_min < above
  rejected, accepted = ef.pn_criterion(R1, R2, eps, n=below), ef.pn_criterion(R1, R2, eps, n=above)
  assert not bool(rejected.accepted) and bool(accepted.accepted)
  np.testing.assert_allclose(accepted.risk_at_n, R1 / above + R2 / above**2, rtol=1e-14)


def test_correct_normal_model_needs_25_samples_per_parameter_to_first_order(x64):
  # p = 2, R₁ = 1, ε = 0.05: n ≥ p/(2D*) = 50; the n⁻² term (R₂ = 61/12) raises it.
  res = ef.pn_criterion(1.0, 61 / 12, 0.05)
  np.testing.assert_allclose(res.n_min_first_order, 50.0, rtol=1e-12)
  assert float(res.n_min) > 50.0


def test_critical_risk_under_jit_and_vmap(x64):
  eps = jnp.array([0.01, 0.05, 0.45])
  want = np.maximum(8 * eps**2, -np.log(1 - 4 * eps**2))
  np.testing.assert_allclose(jax.jit(jax.vmap(ef.critical_risk))(eps), want, rtol=1e-13)


def test_bound_and_critical_risk_gradients(x64):
  # dD*/dε = 16ε on the Pinsker branch.
  np.testing.assert_allclose(jax.grad(ef.critical_risk)(0.1), 1.6, rtol=1e-13)
  assert np.isfinite(jax.grad(ef.bayes_error_lower_bound)(0.3))
  check_grads(jax.jit(ef.bayes_error_lower_bound), (jnp.array(0.3),), order=1, modes=["rev"])


# ---------------------------------------------------------------------------------------------------
# Mardia's kurtosis and the effective dimension of the multivariate normal model.


def mardia_oracle(x):
  c = x - x.mean(0)
  S_inv = np.linalg.inv(c.T @ c / len(x))
  return np.mean(np.einsum("ni,ij,nj->n", c, S_inv, c)**2)


def test_mardia_kurtosis_matches_textbook_formula(x64):
  x = np.random.default_rng(1).standard_t(7, size=(2000, 4)) @ np.triu(np.ones((4, 4)))
  np.testing.assert_allclose(ef.mardia_kurtosis(x), mardia_oracle(x), rtol=1e-11)


def test_mardia_kurtosis_of_normal_data_tends_to_d_times_d_plus_two(x64):
  # d = 3, n = 2×10⁴ (seed 2): b₂ → 15; tolerance 4 naive standard errors of the mean of (zᵀz)².
  d, n = 3, 20_000
  x = np.random.default_rng(2).standard_normal((n, d)) @ np.array([[2, 0, 0], [1, 1, 0], [0, 3, 1.0]])
  q = np.einsum("ni,ij,nj->n", x - x.mean(0), np.linalg.inv(np.cov(x.T, bias=True)), x - x.mean(0))
  assert abs(float(ef.mardia_kurtosis(x)) - d * (d + 2)) < 4 * np.std(q**2) / math.sqrt(n)


def student_t_p_eff(d, nu):
  """tr(G⁻¹K) for the d-variate normal model fitted to t_ν(0, I): G from Isserlis' theorem at the
  projection N(0, Σ), Σ = ν/(ν−2) I; K from the t moments E[x_i x_j x_k x_l] = ν²/((ν−2)(ν−4))·(δδ + δδ
  + δδ). Odd moments vanish, so the mean and second-moment blocks decouple."""
  s = nu / (nu - 2)
  c4 = nu**2 / ((nu - 2) * (nu - 4))
  rows, cols = np.tril_indices(d)
  eye = np.eye(d)
  pairs = list(zip(rows, cols))
  G2 = np.array([[s * s * (eye[i, k] * eye[j, l] + eye[i, l] * eye[j, k]) for k, l in pairs]
                 for i, j in pairs])
  K2 = np.array([[c4 * (eye[i, j] * eye[k, l] + eye[i, k] * eye[j, l] + eye[i, l] * eye[j, k]) -
                  s * s * eye[i, j] * eye[k, l] for k, l in pairs] for i, j in pairs])
  return d + np.trace(np.linalg.solve(G2, K2))


@pytest.mark.parametrize("d, nu", [(1, 7.0), (2, 10.0), (3, 12.0)])
def test_p_eff_formula_matches_trace_from_student_t_moments(d, nu):
  beta2 = d * (d + 2) * (nu - 2) / (nu - 4)   # Mardia kurtosis of the standardised t
  np.testing.assert_allclose(student_t_p_eff(d, nu), d + (beta2 - d) / 2, rtol=1e-12)


def multivariate_t(rng, n, d, nu):
  return rng.standard_normal((n, d)) / np.sqrt(rng.chisquare(nu, (n, 1)) / nu)


def test_normal_model_p_eff_on_a_large_student_t_sample(x64):
  # d = 3, ν = 12 (8th moments exist), n = 2×10⁵ (seed 3); p_eff = 10.875 > p = 9. Tolerance 4 naive
  # standard errors of ½·mean((zᵀz)²).
  d, nu, n = 3, 12.0, 200_000
  A = np.array([[1, 0, 0], [0.5, 2, 0], [0, 0, 3.0]])
  x = multivariate_t(np.random.default_rng(3), n, d, nu) @ A
  c = x - x.mean(0)
  q = np.einsum("ni,ij,nj->n", c, np.linalg.inv(c.T @ c / n), c)
  se = 0.5 * np.std(q**2) / math.sqrt(n)
  assert abs(float(ef.normal_model_p_eff(x)) - student_t_p_eff(d, nu)) < 4 * se


def test_p_eff_predicts_the_monte_carlo_risk_of_a_normal_fit_to_t_data(x64):
  # d = 2, ν = 10, n = 500, 2×10⁴ replications (seed 4): 2n·E KL(p_θ*‖p_θ̂) ≈ p_eff = 6 (not p = 5);
  # 5% tolerance covers the unknown n⁻² term and 4 standard errors.
  d, nu, n, reps = 2, 10.0, 500, 20_000
  rng = np.random.default_rng(4)
  s = nu / (nu - 2)
  total = []
  for _ in range(4):
    x = multivariate_t(rng, reps // 4 * n, d, nu).reshape(reps // 4, n, d)
    mu = x.mean(1)
    c = x - mu[:, None]
    S = np.einsum("rni,rnj->rij", c, c) / n
    S_inv = np.linalg.inv(S)
    # KL(N(0, sI)‖N(μ̂, Ŝ)) = ½[tr(Ŝ⁻¹ s) + μ̂ᵀŜ⁻¹μ̂ − d + log det Ŝ − d log s]
    kl = 0.5 * (s * np.trace(S_inv, axis1=1, axis2=2) + np.einsum("ri,rij,rj->r", mu, S_inv, mu) - d +
                np.linalg.slogdet(S)[1] - d * math.log(s))
    total.append(2 * n * kl)
  total = np.concatenate(total)
  p_eff, se = student_t_p_eff(d, nu), total.std(ddof=1) / math.sqrt(reps)
  assert abs(total.mean() - p_eff) < 0.05 * p_eff
  assert abs(total.mean() - 5.0) > 10 * se


# ---------------------------------------------------------------------------------------------------
# Model compression.


def compression_data(n=2000):
  # Column 0 is Student t₅ (kurtosis 9), columns 1–3 are correlated normals (seed 5).
  rng = np.random.default_rng(5)
  heavy = rng.standard_t(5, size=(n, 1))
  normal = rng.standard_normal((n, 3)) @ np.array([[1, 0.3, 0], [0, 1, 0.5], [0, 0, 1.0]])
  return np.concatenate([heavy, normal], 1)


def test_compression_path_ends_in_an_accepted_model_with_decreasing_p(x64):
  x, eps = compression_data(), 0.02
  path = ef.compress_normal_model(x, eps)
  assert path[0].variables == (0, 1, 2, 3) and not path[0].accepted
  assert path[-1].accepted or len(path[-1].variables) == 1
  assert all(not step.accepted for step in path[:-1])
  ps = [step.p for step in path]
  assert all(a > b for a, b in zip(ps, ps[1:]))
  d_star = float(ef.critical_risk(eps))
  for step in path:
    k = len(step.variables)
    assert step.p == k + k * (k + 1) // 2
    np.testing.assert_allclose(step.p_eff, ef.normal_model_p_eff(x[:, list(step.variables)]),
                               rtol=1e-12)
    np.testing.assert_allclose(step.n_min, step.p_eff / (2 * d_star), rtol=1e-12)
    assert step.accepted == (len(x) >= step.n_min)


def test_compression_drops_the_heavy_tailed_variable_first(x64):
  path = ef.compress_normal_model(compression_data(), 0.02)
  assert path[1].variables == (1, 2, 3)


def test_compression_stops_at_a_single_variable_when_nothing_is_accepted(x64):
  x = compression_data()
  path = ef.compress_normal_model(x, 0.005)   # needs n ≥ 2500 p_eff > 2000 rows for every model
  assert len(path[-1].variables) == 1 and not path[-1].accepted
  assert len(path) == 4


def test_compression_of_an_accepted_model_is_a_single_step(x64):
  path = ef.compress_normal_model(compression_data()[:, 1:], 0.2)
  assert len(path) == 1 and path[0].accepted


# ---------------------------------------------------------------------------------------------------
# Errors.


_OUTSIDE = r"eps must lie in \(0, 0\.5\), got"


@pytest.mark.parametrize("eps, match", [(0.0, _OUTSIDE), (-0.1, _OUTSIDE), (0.5, _OUTSIDE),
                                        (0.7, _OUTSIDE), (np.array([0.1, 0.6]), _OUTSIDE),
                                        (np.nan, "eps contains NaN")])
def test_critical_risk_rejects_eps_outside_the_open_interval(x64, eps, match):
  with pytest.raises(ValueError, match=match):
    ef.critical_risk(eps)


@pytest.mark.parametrize("n, error, match", [(2.5, TypeError, "n must be an integer"),
                                             (0, ValueError, "n must be >= 1")])
def test_pn_criterion_validates_n(x64, n, error, match):
  with pytest.raises(error, match=match):
    ef.pn_criterion(1.0, 1.0, 0.05, n=n)


def test_pn_criterion_validates_eps(x64):
  with pytest.raises(ValueError, match=r"eps must lie in \(0, 0\.5\), got"):
    ef.pn_criterion(1.0, 1.0, 0.5)


@pytest.mark.parametrize("fn", [ef.mardia_kurtosis, ef.normal_model_p_eff])
def test_mardia_needs_more_rows_than_columns(x64, fn):
  with pytest.raises(ValueError, match=r"needs more rows than columns \(n > d\)"):
    fn(np.random.default_rng(0).normal(size=(3, 3)))


@pytest.mark.parametrize("fn", [ef.mardia_kurtosis, ef.normal_model_p_eff, ef.compress_normal_model])
def test_data_must_be_a_matrix(x64, fn):
  args = (0.1,) if fn is ef.compress_normal_model else ()
  with pytest.raises(ValueError, match=r"x must have 2 dimension\(s\)"):
    fn(np.ones(10), *args)


def test_mardia_rejects_non_finite_data(x64):
  x = np.random.default_rng(0).normal(size=(10, 2))
  x[3, 1] = np.inf
  with pytest.raises(ValueError, match="x must be finite"):
    ef.mardia_kurtosis(x)


def test_compression_rejects_bad_eps(x64):
  with pytest.raises(ValueError, match=r"eps must lie in \(0, 0\.5\), got"):
    ef.compress_normal_model(compression_data(n=50), 0.0)


# ---------------------------------------------------------------------------------------------------
# The exact Bayes error between two normals.


def scipy_bayes_error(m1, v1, m2, v2):
  """½ ∫ min(f₁, f₂) by adaptive quadrature of the two scipy densities."""
  from scipy import integrate, stats
  f = lambda x: min(stats.norm.pdf(x, m1, math.sqrt(v1)), stats.norm.pdf(x, m2, math.sqrt(v2)))
  lo = min(m1 - 12 * math.sqrt(v1), m2 - 12 * math.sqrt(v2))
  hi = max(m1 + 12 * math.sqrt(v1), m2 + 12 * math.sqrt(v2))
  return 0.5 * integrate.quad(f, lo, hi, limit=500, epsabs=1e-13, points=[m1, m2])[0]


@pytest.mark.parametrize("m1, v1, m2, v2", [(0.0, 1.0, 0.3, 1.0), (0.3, 1.0, 0.0, 1.0),
                                            (0.0, 1.0, 0.0, 2.5), (1.0, 0.5, -0.4, 3.0),
                                            (0.0, 2.0, 0.05, 2.1), (0.0, 1.0, 0.0, 1.0 + 1e-9),
                                            (2.0, 3.0, -1.0, 0.2)])
def test_normal_bayes_error_matches_quadrature(m1, v1, m2, v2, x64):
  got = float(jax.jit(ef.normal_bayes_error)(m1, v1, m2, v2))
  np.testing.assert_allclose(got, scipy_bayes_error(m1, v1, m2, v2), atol=1e-9)  # quad's accuracy


def test_identical_normals_have_bayes_error_one_half_and_zero_gradient(x64):
  assert float(ef.normal_bayes_error(0.3, 2.0, 0.3, 2.0)) == 0.5
  grads = jax.grad(ef.normal_bayes_error, argnums=(0, 1, 2, 3))(0.3, 2.0, 0.3, 2.0)
  assert all(float(g) == 0.0 for g in grads)


def test_normal_bayes_error_gradient_is_the_closed_form_for_equal_variances(x64):
  # Equal variances σ²: BE = Φ(−|Δ|/(2σ)), so ∂BE/∂m₂ = −φ(Δ/(2σ))/(2σ) for Δ = m₂ − m₁ > 0.
  from scipy import stats
  m1, m2, v = 0.2, 1.1, 0.7
  s = math.sqrt(v)
  got = jax.grad(ef.normal_bayes_error, argnums=(0, 2))(m1, v, m2, v)
  want = -stats.norm.pdf((m2 - m1) / (2 * s)) / (2 * s)
  np.testing.assert_allclose([float(got[1]), -float(got[0])], [want, want], rtol=1e-10)
  check_grads(lambda a, b: ef.normal_bayes_error(a, 1.0, 0.4, b), (0.1, 2.0), order=1,
              modes=("fwd", "rev"))


def test_normal_bayes_error_broadcasts_and_vmaps(x64):
  m2 = jnp.array([0.0, 0.5, 1.0, 3.0])
  v2 = jnp.array([1.0, 2.0, 0.5, 1.0])
  batched = ef.normal_bayes_error(0.0, 1.0, m2, v2)
  mapped = jax.vmap(lambda a, b: ef.normal_bayes_error(0.0, 1.0, a, b))(m2, v2)
  want = [scipy_bayes_error(0.0, 1.0, float(a), float(b)) for a, b in zip(m2, v2)]
  np.testing.assert_allclose(np.asarray(batched), want, atol=1e-9)
  np.testing.assert_allclose(np.asarray(mapped), np.asarray(batched), rtol=1e-14)


def test_normal_bayes_error_in_float32_is_accurate_to_single_precision():
  got = float(ef.normal_bayes_error(1.0, 0.5, -0.4, 3.0))
  np.testing.assert_allclose(got, scipy_bayes_error(1.0, 0.5, -0.4, 3.0), rtol=1e-5)


@pytest.mark.parametrize("kwargs, name", [({"var1": 0.0}, "var1"), ({"var2": -1.0}, "var2"),
                                          ({"mean1": float("nan")}, "mean1"),
                                          ({"mean2": float("inf")}, "mean2"),
                                          ({"mean2": np.zeros(3), "var2": np.ones(2)}, "var2")])
def test_normal_bayes_error_rejects_invalid_arguments_by_name(kwargs, name):
  args = {"mean1": 0.0, "var1": 1.0, "mean2": 0.5, "var2": 2.0, **kwargs}
  with pytest.raises(ValueError, match=name):
    ef.normal_bayes_error(**args)
