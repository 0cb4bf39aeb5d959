"""Tests for divjax.kde.theory.

Oracles: the spec's tables (§3.1, §3.2, computed there with scipy brentq in float64), scipy's brentq
on S(g) = α written out here, scipy.stats.ncx2, scipy.special.roots_genlaguerre and Gamma moments,
and the spec's structural identities (√2 ratio, continuity of L and L' at h_G, h* < h_G, limits).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import optimize, special, stats

from divjax.kde import theory as T


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


def s_numpy(g):
  return 0.5 * np.log1p(g) - g / (2 * (1 + g)**2)


def g_star_brentq(alpha):
  return optimize.brentq(lambda g: s_numpy(g) - alpha, 1e-12, 1e12, xtol=1e-15, rtol=1e-15)


# Spec §3.1 (σ = 1): α, g*, h_G, h_CLT, h*, u_min, KL*/d, KL(h_G)/d, KL(h_CLT)/d, h_var,
# KL(e^{−α})/d, μ(h*).
SPEC_TABLE = [
    (0.10, 0.5322, 1.3708, 1.9386, 1.0386, 1.0786, 0.13785, 0.20240, 0.38501, 1.6156, 0.15872, 0.5740),
    (0.20, 0.9146, 1.0457, 1.4788, 0.8917, 0.7951, 0.08536, 0.10824, 0.23640, 1.2286, 0.09308, 0.7272),
    (0.50, 2.3513, 0.6521, 0.9223, 0.6224, 0.3874, 0.02589, 0.02799, 0.07794, 0.7628, 0.02657, 0.9110),
]


@pytest.mark.parametrize("row", SPEC_TABLE, ids=lambda r: f"alpha={r[0]}")
def test_closed_forms_reproduce_the_spec_table(x64, row):
  a, g, hg, hclt, hs, um, kls, kl_hg, kl_hclt, hvar, kl_classic, mu_s = row
  got = [T.g_star(a), T.h_g(a), T.h_clt(a), T.h_star(a), T.u_min(a), T.kl_per_dim(T.h_star(a), a),
         T.kl_per_dim(T.h_g(a), a), T.kl_per_dim(T.h_clt(a), a), T.h_var(a),
         T.kl_per_dim(math.exp(-a), a), T.stable_index(T.h_star(a), a)]
  want = [g, hg, hclt, hs, um, kls, kl_hg, kl_hclt, hvar, kl_classic, mu_s]
  # Table values are rounded to 4 significant digits (5 for KL): half a unit of the last digit.
  np.testing.assert_allclose(np.array(got, float), want, rtol=0, atol=1e-4)


def test_acceptance_check_1_values_at_alpha_0_2_in_float32():
  a = jnp.float32(0.2)
  got = [T.g_star(a), T.h_g(a), T.h_clt(a), T.h_star(a), T.u_min(a), T.kl_per_dim(T.h_star(a), a)]
  assert all(np.asarray(v).dtype == np.float32 for v in got)
  np.testing.assert_allclose(np.array(got, float), [0.9146, 1.0457, 1.4788, 0.8917, 0.7951, 0.08536],
                             atol=1e-4)


def test_g_star_matches_brentq_over_many_alphas(x64):
  alphas = np.geomspace(1e-4, 6.0, 41)
  got = np.asarray(jax.jit(T.g_star)(alphas))
  want = np.array([g_star_brentq(a) for a in alphas])
  np.testing.assert_allclose(got, want, rtol=1e-11)


def test_g_star_limits(x64):
  for a in (1e-6, 1e-5):
    assert float(T.g_star(a)) == pytest.approx(math.sqrt(4 * a / 3), rel=5 * math.sqrt(a))
  assert float(T.g_star(6.0)) == pytest.approx(math.exp(12.0), rel=1e-4)


def test_g_star_gradient_is_the_implicit_derivative(x64):
  check_grads(T.g_star, (jnp.array([0.05, 0.2, 1.5]),), order=2, modes=("fwd", "rev"))
  g = g_star_brentq(0.3)
  want = 2 * (1 + g)**3 / (g * (g + 3))  # 1/S'(g*)
  assert float(jax.grad(T.g_star)(0.3)) == pytest.approx(want, rel=1e-9)


def test_thresholds_vmap_and_jit_agree_with_scalar_calls(x64):
  alphas = jnp.array([0.1, 0.2, 0.5])
  for fn in (T.h_g, T.h_clt, T.u_min, T.h_star, T.h_var):
    batched = jax.vmap(fn)(alphas)
    jitted = jax.jit(fn)(alphas)
    single = np.array([float(fn(float(a))) for a in alphas])
    np.testing.assert_allclose(batched, single, rtol=1e-12)
    np.testing.assert_allclose(jitted, single, rtol=1e-12)


def test_clt_threshold_is_sqrt2_times_h_g_and_mu_is_one_at_h_g(x64):
  alphas = np.geomspace(0.01, 3.0, 30)
  np.testing.assert_allclose(T.h_clt(alphas) / T.h_g(alphas), math.sqrt(2), rtol=1e-14)
  np.testing.assert_allclose(T.stable_index(T.h_g(alphas), alphas), 1.0, rtol=1e-13)
  np.testing.assert_allclose(T.stable_index(T.h_clt(alphas), alphas), 2.0, rtol=1e-13)


def test_log_likelihood_and_its_derivative_are_continuous_at_h_g(x64):
  for a in (0.05, 0.2, 0.5, 1.5):
    hg = float(T.h_g(a))
    g = g_star_brentq(a)
    # Both branches written out here, evaluated exactly at h_G.
    annealed = -0.5 * math.log(2 * math.pi * (1 + hg**2)) - 0.5 / (1 + hg**2)
    um = 1 / (1 + g) + 1 / (1 + g)**2
    condensed = -0.5 * math.log(2 * math.pi * hg**2) - a - um / (2 * hg**2)
    assert abs(annealed - condensed) < 1e-10
    d_annealed = -hg**3 / (1 + hg**2)**2
    d_condensed = -1 / hg + um / hg**3
    assert abs(d_annealed - d_condensed) < 1e-9
    # The library's piecewise function, on both sides.
    dL = jax.grad(T.log_likelihood)
    assert abs(float(dL(hg * (1 - 1e-9), a)) - d_annealed) < 1e-7
    assert abs(float(dL(hg * (1 + 1e-9), a)) - d_annealed) < 1e-7
    assert abs(float(T.log_likelihood(hg * (1 - 1e-12), a)) - annealed) < 1e-10
  assert float(jax.grad(T.log_likelihood)(float(T.h_g(0.2)), 0.2)) == pytest.approx(-0.26089, abs=1e-5)


def test_optimal_bandwidth_sits_below_h_g_and_maximises_L(x64):
  alphas = np.geomspace(0.01, 3.0, 60)
  hs, hg = np.asarray(T.h_star(alphas)), np.asarray(T.h_g(alphas))
  assert np.all(hs < hg)
  g = np.array([g_star_brentq(a) for a in alphas])
  np.testing.assert_allclose(hs / hg, np.sqrt(g * (2 + g)) / (1 + g), rtol=1e-10)
  np.testing.assert_allclose(T.kl_per_dim(hs, alphas), alphas + 0.5 * np.log(T.u_min(alphas)),
                             rtol=1e-12, atol=1e-14)
  for a in (0.1, 0.2, 0.5):
    grid = np.linspace(0.3, 2.5, 22001)
    best = grid[np.argmax(np.asarray(T.log_likelihood(grid, a)))]
    assert abs(best - float(T.h_star(a))) < 2e-4


def test_kl_at_optimum_tends_to_half_log_2_as_alpha_vanishes(x64):
  gaps = [abs(float(T.kl_per_dim(T.h_star(a), a)) - 0.5 * math.log(2)) for a in (1e-2, 1e-4, 1e-6)]
  assert gaps[0] > gaps[1] > gaps[2]
  assert gaps[2] < 1e-3
  assert float(T.h_star(1e-8)) == pytest.approx(math.sqrt(2), rel=1e-4)


def test_thresholds_scale_with_sigma(x64):
  alphas = np.array([0.1, 0.7])
  for sigma in (0.3, 2.5):
    np.testing.assert_allclose(T.h_g(alphas, sigma=sigma), sigma * T.h_g(alphas), rtol=1e-14)
    np.testing.assert_allclose(T.h_star(alphas, sigma=sigma), sigma * T.h_star(alphas), rtol=1e-14)
    np.testing.assert_allclose(T.kl_per_dim(0.8 * sigma, alphas, sigma=sigma),
                               T.kl_per_dim(0.8, alphas), rtol=1e-12)


def test_general_covariance_with_isotropic_spectrum_reproduces_isotropic(x64):
  for sigma in (1.0, 1.7):
    th = T.general_thresholds(0.2, jnp.full((12,), sigma**2))
    np.testing.assert_allclose(th.h_g, T.h_g(0.2, sigma=sigma), rtol=1e-12)
    np.testing.assert_allclose(th.h_clt, T.h_clt(0.2, sigma=sigma), rtol=1e-12)
    np.testing.assert_allclose(th.u_min, T.u_min(0.2, sigma=sigma), rtol=1e-12)
    np.testing.assert_allclose(th.h_star, T.h_star(0.2, sigma=sigma), rtol=1e-12)
    h = np.linspace(0.3, 3.0, 17) * sigma
    np.testing.assert_allclose(T.general_log_likelihood(h, 0.2, jnp.full((12,), sigma**2)),
                               T.log_likelihood(h, 0.2, sigma=sigma), rtol=1e-12)


def test_general_kl_is_minimised_at_general_h_star_and_matches_isotropic(x64):
  v = np.array([0.3, 0.8, 2.0, 5.0])
  th = T.general_thresholds(0.4, v)
  grid = np.linspace(0.3, 2.0, 17001)
  kl = np.asarray(T.general_kl_per_dim(grid, 0.4, v))
  assert abs(grid[np.argmin(kl)] - float(th.h_star)) < 2e-4
  np.testing.assert_allclose(T.general_kl_per_dim(grid[::100], 0.4, jnp.full((4,), 2.0)),
                             T.kl_per_dim(grid[::100], 0.4, sigma=math.sqrt(2.0)), rtol=1e-12)


def test_general_covariance_root_matches_brentq_and_L_is_continuous(x64):
  v = np.array([0.2, 0.5, 1.0, 1.0, 3.0, 6.0])
  a = 0.3
  c = optimize.brentq(lambda c: np.mean(s_numpy(c * v)) - a, 1e-9, 1e9, xtol=1e-15, rtol=1e-15)
  th = T.general_thresholds(a, v)
  assert float(th.c) == pytest.approx(c, rel=1e-11)
  um = np.mean(v * (1 / (1 + c * v) + 1 / (1 + c * v)**2))
  assert float(th.u_min) == pytest.approx(um, rel=1e-11)
  hg = float(th.h_g)
  left, right = T.general_log_likelihood(jnp.array([hg * (1 - 1e-10), hg * (1 + 1e-10)]), a, v)
  assert abs(float(left) - float(right)) < 1e-9
  assert float(th.h_star) < hg
  assert jnp.isfinite(jax.jit(lambda al: T.general_thresholds(al, v).h_g)(0.3))


def test_fluctuation_rate_matches_spec_formulas(x64):
  a = 0.2
  for h in (2.5, 2.0, 1.6, 1.3, 1.1):
    G = 1 / h**2
    lam = lambda lm: -0.5 * math.log1p(lm * G) - 0.5 * lm * G / (1 + lm * G)
    mu = (h / float(T.h_g(a)))**2
    want = a / 2 + lam(1) - lam(2) / 2 if mu >= 2 else a + lam(1) + float(T.u_min(a)) / (2 * h**2)
    assert float(T.fluctuation_rate(h, a)) == pytest.approx(want, rel=1e-12)
  assert float(T.fluctuation_rate(0.8, a)) == 0.0
  # κ vanishes at h_G (from the stable side) and is continuous at h_CLT.
  assert abs(float(T.fluctuation_rate(float(T.h_g(a)) * (1 + 1e-9), a))) < 1e-8
  hc = float(T.h_clt(a))
  assert abs(float(T.fluctuation_rate(hc * (1 + 1e-9), a) - T.fluctuation_rate(hc * (1 - 1e-9), a))) \
      < 1e-7


def test_gauss_laguerre_matches_scipy_and_gamma_moments():
  nodes, weights = T.gauss_laguerre(6, 3.5)
  x, w = special.roots_genlaguerre(6, 3.5)
  np.testing.assert_allclose(nodes, x, rtol=1e-12)
  np.testing.assert_allclose(weights, w / w.sum(), rtol=1e-10)
  # Exact for polynomials of degree ≤ 2K − 1 under Gamma(a + 1) even where Γ(a + 1) overflows.
  for a in (0.0, 14.0, 499.0):
    nodes, weights = T.gauss_laguerre(5, a)
    for k in range(1, 10):
      log_moment = special.gammaln(a + 1 + k) - special.gammaln(a + 1)
      assert np.log(np.sum(weights * nodes**k)) == pytest.approx(log_moment, abs=1e-9)


def test_ncx2_logpdf_matches_scipy(x64):
  D = np.linspace(2.0, 150.0, 60)
  for df, nc in ((30, 25.0), (40, 0.0), (60, 90.0)):
    got = np.asarray(T.ncx2_logpdf(D, df, nc))
    np.testing.assert_allclose(got, stats.ncx2.logpdf(D, df, nc) if nc > 0 else stats.chi2.logpdf(D, df),
                               rtol=1e-9, atol=1e-9)


def test_clt_relative_sd_matches_its_moment_definition(x64):
  # E w^k by quadrature over D ~ ncx2(d, r²) with w = exp(−D/(2h²)) (scipy), independent of the closed form.
  d, r2, n, h = 6, 7.0, 50, 1.3
  dist = stats.ncx2(d, r2)
  m1 = dist.expect(lambda D: np.exp(-D / (2 * h * h)))
  m2 = dist.expect(lambda D: np.exp(-D / (h * h)))
  want = math.sqrt((m2 - m1 * m1) / n) / m1
  assert float(T.clt_relative_sd(h, n=n, d=d, r2=r2)) == pytest.approx(want, rel=1e-7)


def test_finite_d_prediction_reproduces_spec_tables():
  h = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0])
  pred = T.finite_d_prediction(h, n=round(math.exp(6)), d=30)
  spec = [-2.2455, -1.8679, -1.6825, -1.5942, -1.5574, -1.5502, -1.5795, -1.6639, -1.8238]
  np.testing.assert_allclose(pred.log_likelihood, spec, atol=1e-3)  # the spec's stated accuracy
  assert pred.log_likelihood.shape == h.shape


def test_finite_d_participation_ratio_at_d_40_reproduces_spec():
  h = np.array([0.5, 0.7, 0.9, 1.0457, 1.2, 1.5])
  pred = T.finite_d_prediction(h, n=round(math.exp(8)), d=40)
  # Spec values used 4 midpoint |x|² nodes (bias ≲ 0.01): allow 0.012.
  np.testing.assert_allclose(pred.participation_ratio, [0.818, 0.647, 0.440, 0.289, 0.157, 0.031],
                             atol=0.012)
  np.testing.assert_allclose(pred.log_likelihood[3], -1.5462, atol=1e-3)  # h = h_G, spec §3.2
  # The finite-d gap to the asymptotic L at h_G is 0.019 (spec §6.4).
  gap = float(T.log_likelihood(1.0457, 0.2)) - pred.log_likelihood[3]
  assert gap == pytest.approx(0.019, abs=2e-3)


def test_finite_d_prediction_with_one_data_point_is_a_gaussian_expectation():
  # n = 1: E ln Z = −E|x−y|²/(2h²) = −2d/(2h²) and Y ≡ 1 exactly.
  d, h = 10, np.array([0.7, 1.5])
  pred = T.finite_d_prediction(h, n=1, d=d)
  np.testing.assert_allclose(pred.log_z, -2 * d / (2 * h * h), rtol=2e-6)
  np.testing.assert_allclose(pred.participation_ratio, 1.0, atol=2e-6)


def test_invalid_arguments_raise():
  with pytest.raises(ValueError, match="alpha must be positive"):
    T.g_star(-0.1)
  with pytest.raises(ValueError, match="alpha"):
    T.h_g(np.nan)
  with pytest.raises(ValueError, match="h must be positive"):
    T.log_likelihood(0.0, 0.2)
  with pytest.raises(ValueError, match="sigma"):
    T.h_g(0.2, sigma=-1.0)
  with pytest.raises(ValueError, match="variances"):
    T.general_thresholds(0.2, np.array([1.0, 0.0]))
  with pytest.raises(ValueError, match="d must be >= 1"):
    T.finite_d_prediction(1.0, n=10, d=0)
  with pytest.raises(TypeError, match="n must be an integer"):
    T.finite_d_prediction(1.0, n=10.5, d=3)
