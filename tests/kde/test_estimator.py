"""Tests for divjax.kde.estimator.

Oracles: a float64 NumPy brute force written here (full distance matrix + scipy logsumexp),
scipy.stats.gaussian_kde and scipy.stats.multivariate_normal, closed-form Gaussian KL, and scipy's
Scott/Silverman factors.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import stats
from scipy.special import logsumexp

from divjax import kde
from divjax.kde import theory


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


def brute_log_kernel(x, y, cov):
  """[m, n] log N(x_j; y_i, cov) in float64 with scipy."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  return np.stack([stats.multivariate_normal(mean=yi, cov=cov).logpdf(x).reshape(-1) for yi in y],
                  axis=1)


def brute_log_density_iso(x, y, h, weights=None):
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  d = x.shape[1]
  sq = ((x[:, None, :] - y[None, :, :])**2).sum(-1)
  n = y.shape[0]
  with np.errstate(divide="ignore"):  # zero weights → −inf
    lw = np.full(n, -np.log(n)) if weights is None else np.log(weights / weights.sum())
  return logsumexp(lw[None] - sq / (2 * h * h), axis=1) - 0.5 * d * np.log(2 * np.pi * h * h)


def _data(seed, m, n, d, scale=1.0):
  rng = np.random.default_rng(seed)
  return rng.standard_normal((m, d)) * scale, rng.standard_normal((n, d)) * scale


@pytest.mark.parametrize("d", [2, 16, 64])
def test_float32_log_density_matches_float64_brute_force_to_1e_4_nats(d):
  x, y = _data(d, 300, 2000, d)
  h = 0.8
  got = jax.jit(kde.log_density)(x.astype(np.float32), y.astype(np.float32), np.float32(h))
  assert got.dtype == jnp.float32
  np.testing.assert_allclose(np.asarray(got, np.float64), brute_log_density_iso(x, y, h), atol=1e-4,
                             rtol=0)


def test_float32_log_density_at_d_512_is_accurate_to_1e_6_relative():
  x, y = _data(5, 100, 1000, 512)
  h = 1.1
  got = np.asarray(kde.log_density(x.astype(np.float32), y.astype(np.float32), h), np.float64)
  want = brute_log_density_iso(x, y, h)
  assert np.max(np.abs(got - want) / np.abs(want)) < 1e-6


def test_float64_under_x64_matches_brute_force_tightly(x64):
  x, y = _data(1, 200, 700, 30)
  got = kde.log_density(x, y, 0.6)
  assert got.dtype == jnp.float64
  np.testing.assert_allclose(got, brute_log_density_iso(x, y, 0.6), rtol=1e-12)


@pytest.mark.parametrize("d", [1, 3, 8])
def test_full_covariance_matches_scipy_gaussian_kde(x64, d):
  x, y = _data(10 + d, 150, 400, d)
  y = y @ np.tril(np.ones((d, d))) / d + 0.3  # correlated data
  ref = stats.gaussian_kde(y.T)
  got = kde.log_density(x, y, ref.covariance)
  np.testing.assert_allclose(got, ref.logpdf(x.T), rtol=1e-10, atol=1e-10)


def test_full_covariance_matches_multivariate_normal_brute_force(x64):
  x, y = _data(3, 40, 60, 4)
  a = np.random.default_rng(3).standard_normal((4, 4))
  cov = a @ a.T / 4 + 0.2 * np.eye(4)
  want = logsumexp(brute_log_kernel(x, y, cov), axis=1) - np.log(60)
  np.testing.assert_allclose(kde.log_density(x, y, cov), want, rtol=1e-11)


def test_full_covariance_equals_whitened_isotropic_kde(x64):
  x, y = _data(4, 50, 80, 5)
  a = np.random.default_rng(4).standard_normal((5, 5))
  cov = a @ a.T + 0.5 * np.eye(5)
  chol = np.linalg.cholesky(cov)
  white = lambda z: np.linalg.solve(chol, z.T).T
  want = kde.log_density(white(x), white(y), 1.0) - np.sum(np.log(np.diag(chol)))
  np.testing.assert_allclose(kde.log_density(x, y, cov), want, rtol=1e-11)


def test_per_dimension_bandwidth_equals_diagonal_covariance(x64):
  x, y = _data(6, 30, 90, 3)
  h = np.array([0.3, 1.0, 2.2])
  want = logsumexp(brute_log_kernel(x, y, np.diag(h**2)), axis=1) - np.log(90)
  np.testing.assert_allclose(kde.log_density(x, y, h), want, rtol=1e-11)
  np.testing.assert_allclose(kde.log_density(x, y, np.diag(h**2)), want, rtol=1e-11)


def test_weights_match_weighted_brute_force_and_zero_weights_drop_points(x64):
  x, y = _data(7, 40, 50, 6)
  w = np.random.default_rng(7).uniform(0.0, 2.0, 50)
  w[:10] = 0.0
  got = kde.log_density(x, y, 0.9, weights=w)
  np.testing.assert_allclose(got, brute_log_density_iso(x, y, 0.9, w), rtol=1e-12)
  np.testing.assert_allclose(got, kde.log_density(x, y[10:], 0.9, weights=w[10:]), rtol=1e-12)


@pytest.mark.parametrize("chunk_size, block_size", [(1, 1), (7, 13), (64, 1000), (None, 333)])
def test_chunked_equals_unchunked(x64, chunk_size, block_size):
  x, y = _data(8, 101, 997, 12)
  full = kde.log_density(x, y, 0.7, chunk_size=101, block_size=997)
  got = kde.log_density(x, y, 0.7, chunk_size=chunk_size, block_size=block_size)
  np.testing.assert_allclose(got, full, rtol=1e-13)
  pr_full = kde.participation_ratio(x, y, 0.7, chunk_size=101, block_size=997)
  pr = kde.participation_ratio(x, y, 0.7, chunk_size=chunk_size, block_size=block_size)
  np.testing.assert_allclose(pr, pr_full, rtol=1e-11)


def test_far_queries_stay_finite():
  # Every kernel value underflows in float32 (distance² / 2h² ~ 5e3): log-space keeps it finite.
  x = np.full((3, 4), 50.0, np.float32)
  y = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)
  got = np.asarray(kde.log_density(x, y, 0.5), np.float64)
  np.testing.assert_allclose(got, brute_log_density_iso(x, y, 0.5), rtol=1e-5)


def test_vmap_over_bandwidths_and_datasets_matches_loops(x64):
  rng = np.random.default_rng(9)
  ys = rng.standard_normal((3, 60, 5))
  x = rng.standard_normal((25, 5))
  hs = np.array([0.4, 0.9, 1.7])
  by_h = jax.jit(jax.vmap(lambda h: kde.log_density(x, ys[0], h)))(hs)
  by_data = jax.vmap(lambda y: kde.log_density(x, y, 0.9))(ys)
  for i, h in enumerate(hs):
    np.testing.assert_allclose(by_h[i], brute_log_density_iso(x, ys[0], h), rtol=1e-12)
    np.testing.assert_allclose(by_data[i], brute_log_density_iso(x, ys[i], 0.9), rtol=1e-12)
  loo = jax.vmap(lambda h: kde.loo_log_likelihood(ys[1], h))(hs)
  np.testing.assert_allclose(loo[1], kde.loo_log_likelihood(ys[1], hs[1]), rtol=1e-12)
  pr = jax.jit(jax.vmap(lambda y: kde.participation_ratio(x, y, 0.5)))(ys)
  np.testing.assert_allclose(pr[2], kde.participation_ratio(x, ys[2], 0.5), rtol=1e-12)


def test_gradients_with_respect_to_bandwidth_and_queries_are_finite_and_correct(x64):
  x, y = _data(11, 6, 30, 3)
  f = jax.jit(lambda h: jnp.sum(kde.log_density(x, y, h)))
  check_grads(f, (0.7,), order=1, modes=("fwd", "rev"))
  g = jax.jit(lambda xx: jnp.sum(kde.log_density(xx, y, 0.7, chunk_size=4, block_size=7)))
  check_grads(g, (jnp.asarray(x),), order=1, modes=("rev",))
  # Edge: a query on top of a data point at tiny bandwidth.
  grad = jax.grad(lambda h: kde.log_density(y[:1], y, h)[0])(1e-3)
  assert np.isfinite(grad)


def test_loo_log_likelihood_matches_brute_force(x64):
  _, y = _data(12, 1, 120, 7)
  h = 0.9
  sq = ((y[:, None] - y[None])**2).sum(-1)
  l = -sq / (2 * h * h)
  np.fill_diagonal(l, -np.inf)
  want = np.mean(logsumexp(l, axis=1) - np.log(119)) - 3.5 * np.log(2 * np.pi * h * h)
  assert float(kde.loo_log_likelihood(y, h, chunk_size=17, block_size=50)) == pytest.approx(want,
                                                                                          rel=1e-12)
  w = np.random.default_rng(12).uniform(0.5, 1.5, 120)
  lw = l + np.log(w)[None]
  rest = np.log(w.sum() - w)
  want_w = np.mean(logsumexp(lw, axis=1) - rest) - 3.5 * np.log(2 * np.pi * h * h)
  assert float(kde.loo_log_likelihood(y, h, weights=w)) == pytest.approx(want_w, rel=1e-12)


def test_participation_ratio_matches_brute_force_and_bounds(x64):
  x, y = _data(13, 40, 300, 10)
  h = 0.6
  sq = ((x[:, None] - y[None])**2).sum(-1)
  l = -sq / (2 * h * h)
  want = np.exp(logsumexp(2 * l, axis=1) - 2 * logsumexp(l, axis=1))
  got = kde.participation_ratio(x, y, h)
  np.testing.assert_allclose(got, want, rtol=1e-11)
  assert np.all(got >= 1 / 300 - 1e-15) and np.all(got <= 1 + 1e-15)
  np.testing.assert_allclose(kde.participation_ratio(x, y[:1], h), 1.0)
  np.testing.assert_allclose(kde.participation_ratio(x, y, 1e4), 1 / 300, rtol=1e-6)


def test_scott_and_silverman_match_scipy_factors(x64):
  _, y = _data(14, 1, 500, 6, scale=2.0)
  sd = math.sqrt(np.mean(np.var(y, axis=0, ddof=1)))
  ref = stats.gaussian_kde(y.T)
  assert float(kde.scott_bandwidth(y)) == pytest.approx(sd * ref.scotts_factor(), rel=1e-12)
  assert float(kde.silverman_bandwidth(y)) == pytest.approx(sd * ref.silverman_factor(), rel=1e-12)
  np.testing.assert_allclose(kde.scott_bandwidth(y, diagonal=True),
                             np.std(y, axis=0, ddof=1) * ref.scotts_factor(), rtol=1e-12)


def test_max_loo_bandwidth_finds_the_grid_maximum(x64):
  _, y = _data(15, 1, 300, 3)
  grid = np.geomspace(0.1, 2.0, 301)
  values = []
  for h in grid:
    sq = ((y[:, None] - y[None])**2).sum(-1)
    l = -sq / (2 * h * h)
    np.fill_diagonal(l, -np.inf)
    values.append(np.mean(logsumexp(l, axis=1)) - np.log(299) - 1.5 * np.log(2 * np.pi * h * h))
  best = grid[int(np.argmax(values))]
  got = float(jax.jit(kde.max_loo_bandwidth)(y))
  assert abs(math.log(got / best)) < 0.011  # one grid step in log h


def test_kl_optimal_bandwidth_matches_the_theory_for_gaussian_data(x64):
  d, alpha, sigma = 30, 0.2, 2.0
  n = round(math.exp(alpha * d))
  y = sigma * np.random.default_rng(16).standard_normal((n, d))
  got = float(kde.kl_optimal_bandwidth(y))
  want = sigma * 0.8917  # spec §3.1 at α = ln(403)/30 ≈ 0.19998
  assert got == pytest.approx(want, rel=4 / math.sqrt(2 * n * d))  # 4 SE of σ̂
  # Anisotropic data, general spectrum: the sample spectrum converges for n ≫ d.
  v = np.array([0.25, 1.0, 4.0])
  y = np.random.default_rng(17).standard_normal((40000, 3)) * np.sqrt(v)
  want = float(theory.general_thresholds(math.log(40000) / 3, v).h_star)
  assert float(kde.kl_optimal_bandwidth(y, isotropic=False)) == pytest.approx(want, rel=0.02)


def test_bandwidth_rules_run_under_jit_and_vmap_over_datasets(x64):
  ys = np.random.default_rng(18).standard_normal((3, 200, 4)) * np.array([1.0, 2.0, 0.5])[:, None, None]
  for rule in (kde.scott_bandwidth, kde.silverman_bandwidth, kde.kl_optimal_bandwidth):
    batched = jax.jit(jax.vmap(rule))(ys)
    np.testing.assert_allclose(batched, [rule(y) for y in ys], rtol=1e-12)
  loo = jax.vmap(lambda y: kde.max_loo_bandwidth(y, num_steps=20))(ys[:2])
  np.testing.assert_allclose(loo[1], kde.max_loo_bandwidth(ys[1], num_steps=20), rtol=1e-10)


def test_kl_to_reference_matches_closed_form_gaussian_kl(x64):
  # One data point y0: the KDE is N(y0, h²I), so KL(N(0, I) ‖ KDE) has a closed form.
  d, h = 4, 1.3
  y0 = np.array([[0.5, -0.2, 0.0, 1.0]])
  truth = 0.5 * (d / h**2 + np.sum(y0**2) / h**2 - d + 2 * d * np.log(h))
  logpdf = lambda x: -0.5 * jnp.sum(x * x, axis=1) - 0.5 * d * jnp.log(2 * jnp.pi)
  sampler = lambda key, m: jax.random.normal(key, (m, d), jnp.float64)
  est = jax.jit(kde.kl_to_reference, static_argnums=(1, 2, 5))(jax.random.key(0), logpdf, sampler,
                                                                y0, h, 20000)
  assert abs(float(est.value) - truth) < 4 * float(est.stderr)
  assert 0 < float(est.stderr) < 0.02


@pytest.mark.parametrize("bandwidth, match", [(0.0, "bandwidth must be positive"),
                                              (-1.0, "bandwidth must be positive"),
                                              (np.nan, "bandwidth contains NaN"),
                                              (np.inf, "bandwidth must be finite"),
                                              (np.array([1.0, 0.0, 1.0]), "bandwidth must be positive"),
                                              (np.ones(4), "bandwidth must have last dimension 3"),
                                              (np.ones((3, 3)), "bandwidth must be positive definite"),
                                              (np.ones((2, 3, 3)), "bandwidth must be a scalar")])
def test_bad_bandwidth_raises(bandwidth, match):
  x, y = _data(0, 4, 5, 3)
  with pytest.raises(ValueError, match=match):
    kde.log_density(x, y, bandwidth)


def test_bad_inputs_raise():
  x, y = _data(0, 4, 5, 3)
  with pytest.raises(ValueError, match="x must have last dimension 3"):
    kde.log_density(x[:, :2], y, 1.0)
  with pytest.raises(ValueError, match="data is empty"):
    kde.log_density(x, y[:0], 1.0)
  with pytest.raises(ValueError, match="data must have 2 dimension"):
    kde.log_density(x, y[0], 1.0)
  with pytest.raises(ValueError, match="x contains NaN"):
    kde.log_density(np.full((2, 3), np.nan), y, 1.0)
  with pytest.raises(ValueError, match="weights must have shape"):
    kde.log_density(x, y, 1.0, weights=np.ones(4))
  with pytest.raises(ValueError, match="weights must not all be zero"):
    kde.log_density(x, y, 1.0, weights=np.zeros(5))
  with pytest.raises(ValueError, match="weights contains NaN"):
    kde.log_density(x, y, 1.0, weights=np.array([1.0, np.nan, 1.0, 1.0, 1.0]))
  with pytest.raises(ValueError, match="at least 2 points"):
    kde.loo_log_likelihood(y[:1], 1.0)
  with pytest.raises(ValueError, match="participation|x must have last"):
    kde.participation_ratio(x[:, :1], y, 1.0)
  with pytest.raises(TypeError, match="data must be a real numeric array"):
    kde.log_density(x, np.array([["a"]]), 1.0)
