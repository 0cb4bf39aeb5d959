"""Tests for divjax.divergences.estimators.

Oracles are independent of the code under test: a float64 NumPy/SciPy brute force of the
Wang–Kulkarni–Verdú formula, closed-form Gaussian KL, and SciPy quadrature of D_f = E_Q f(p/q) with the
generators and their derivatives written out here in NumPy.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import integrate, special, stats
from scipy.spatial.distance import cdist

from divjax.divergences import estimators
from divjax.divergences import generators
from divjax.divergences.estimators import (donsker_varadhan_bound, f_gan_bound, knn_kl_divergence,
                                           nwj_bound)

# ---------------------------------------------------------------------------------------------------
# Oracles.


def brute_force_knn_kl_f64(x, y, k):
  """WKV's adaptive estimator, written plainly in float64: full distance matrices and sorting."""
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  n, d = x.shape
  m = y.shape[0]
  d_xx = cdist(x, x)
  d_xy = cdist(x, y)
  total = 0.0
  for i in range(n):
    others = np.delete(d_xx[i], i)  # exclude x_i itself by index
    l_i = k + np.count_nonzero(others == 0)
    rho = np.sort(others[others > 0])[k - 1]
    k_i = k + np.count_nonzero(d_xy[i] == 0)
    nu = np.sort(d_xy[i][d_xy[i] > 0])[k - 1]
    total += d * np.log(nu / rho) + special.digamma(l_i) - special.digamma(k_i)
  return total / n + np.log(m / (n - 1))


def gaussian_kl_f64(mu0, cov0, mu1, cov1):
  """KL(N(mu0, cov0) || N(mu1, cov1)) in closed form."""
  d = len(mu0)
  cov1_inv = np.linalg.inv(cov1)
  dm = mu1 - mu0
  return 0.5 * (np.trace(cov1_inv @ cov0) + dm @ cov1_inv @ dm - d +
                np.log(np.linalg.det(cov1) / np.linalg.det(cov0)))


# f and f' for the f-GAN checks, in NumPy (u = dP/dQ > 0).
F_NUMPY = {
    "kl": (lambda u: u * np.log(u), lambda u: np.log(u) + 1.0),
    "jensen_shannon": (lambda u: 0.5 * (u * np.log(u) - (u + 1.0) * np.log((u + 1.0) / 2.0)),
                       lambda u: 0.5 * (np.log(2.0) + np.log(u) - np.log1p(u))),
    "squared_hellinger": (lambda u: 0.5 * (np.sqrt(u) - 1.0)**2,
                          lambda u: 0.5 * (1.0 - 1.0 / np.sqrt(u))),
    "pearson_chi2": (lambda u: (u - 1.0)**2, lambda u: 2.0 * (u - 1.0)),
}

# P = N(MU_P, 1), Q = N(MU_Q, 1) in 1-D: log dP/dQ(x) = (MU_P - MU_Q) x - (MU_P^2 - MU_Q^2) / 2.
MU_P, MU_Q = 0.5, -0.5
KL_PQ = 0.5 * (MU_P - MU_Q)**2
N_MC = 100_000


def log_ratio(x):
  return (MU_P - MU_Q) * x - 0.5 * (MU_P**2 - MU_Q**2)


def f_divergence_quadrature(name):
  """D_f(P||Q) = ∫ q f(p/q) dx by adaptive quadrature (the tails beyond ±30 are below 1e-150)."""
  f = F_NUMPY[name][0]
  integrand = lambda x: stats.norm.pdf(x, MU_Q) * f(np.exp(log_ratio(x)))
  value, err = integrate.quad(integrand, -30.0, 30.0, limit=200)
  assert err < 1e-8
  return value


@functools.lru_cache(maxsize=None)
def gaussian_samples():
  """Fixed-seed samples x ~ P (n = 100_000) and y ~ Q (m = 100_000), float64."""
  rng = np.random.default_rng(20240601)
  return rng.normal(MU_P, 1.0, N_MC), rng.normal(MU_Q, 1.0, N_MC)


def standard_error(a_p, b_q):
  """Standard error of mean(a_p) - mean(b_q) for independent samples."""
  return np.sqrt(np.var(a_p, ddof=1) / a_p.size + np.var(b_q, ddof=1) / b_q.size)


def knn_data(case, seed=0, n=60, m=45, d=3):
  """Small float32 data sets: no duplicates, duplicates within x, and duplicates shared with y."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, d)).astype(np.float32)
  y = (rng.normal(size=(m, d)) + 0.5).astype(np.float32)
  if case == "distinct":
    pass
  elif case == "repeats_in_x":
    x[10:14] = x[3]  # x_3 appears 5 times
    x[20] = x[21]
  elif case == "shared_with_y":
    x[10:13] = x[3]
    y[:4] = x[3]  # x_3 also appears 4 times in y
    y[7] = x[30]
    y[8] = x[31]
  elif case == "grid":  # coarse lattice: almost every point is duplicated, in x and across x and y
    x = rng.integers(0, 5, size=(n, d)).astype(np.float32)
    y = rng.integers(0, 6, size=(m, d)).astype(np.float32)
  else:
    raise ValueError(case)
  return x, y


# ---------------------------------------------------------------------------------------------------
# knn_kl_divergence.


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("case", ["distinct", "repeats_in_x", "shared_with_y", "grid"])
def test_knn_matches_float64_brute_force(case, k):
  x, y = knn_data(case)
  expected = brute_force_knn_kl_f64(x, y, k)
  got = knn_kl_divergence(x, y, k=k)
  assert got.shape == ()
  np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("case", ["distinct", "repeats_in_x", "shared_with_y"])
def test_knn_in_float64_matches_brute_force(case, k):
  # float64 takes a different k-th-smallest path (no TopK kernel for float64 on CPU).
  with jax.enable_x64(True):
    x, y = knn_data(case)
    got = knn_kl_divergence(np.asarray(x, np.float64), np.asarray(y, np.float64), k=k)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, brute_force_knn_kl_f64(x, y, k), rtol=1e-10, atol=1e-12)


def test_knn_without_duplicates_is_finite():
  x, y = knn_data("distinct")
  assert np.isfinite(knn_kl_divergence(x, y, k=1))


def test_knn_with_repeated_points_is_finite_and_matches_brute_force():
  # Every point of x appears three times (and x_0 also in y): no log 0, and the digamma correction
  # makes it agree with the brute force.
  rng = np.random.default_rng(3)
  base = rng.normal(size=(20, 2)).astype(np.float32)
  x = np.concatenate([base, base, base])
  y = rng.normal(size=(30, 2)).astype(np.float32)
  y[:2] = base[0]
  got = knn_kl_divergence(x, y, k=2)
  assert np.isfinite(got)
  np.testing.assert_allclose(got, brute_force_knn_kl_f64(x, y, 2), atol=1e-4, rtol=1e-5)


def test_knn_integer_inputs_match_float_inputs():
  x, y = knn_data("grid")
  np.testing.assert_allclose(
      knn_kl_divergence(x.astype(np.int32), y.astype(np.int32), k=2), knn_kl_divergence(x, y, k=2),
      rtol=1e-6)


def test_knn_converges_to_gaussian_closed_form():
  # d = 2, n = m = 4000, k = 1, seeds 0..4. P = N(0, I), Q = N(mu, S): KL ≈ 0.708 nats.
  # Tolerance: in an offline study of 40 seeds at this n the per-seed spread was σ ≈ 0.035 and the
  # finite-sample bias -0.021 ± 0.006, so |mean of 5 - KL| <= 4 σ/√5 (0.063) + 0.035 bias allowance.
  mu0, cov0 = np.zeros(2), np.eye(2)
  mu1, cov1 = np.array([1.0, -0.5]), np.array([[2.0, 0.5], [0.5, 1.0]])
  expected = gaussian_kl_f64(mu0, cov0, mu1, cov1)
  estimates = []
  for seed in range(5):
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(mu0, cov0, 4000).astype(np.float32)
    y = rng.multivariate_normal(mu1, cov1, 4000).astype(np.float32)
    estimates.append(float(knn_kl_divergence(x, y, k=1)))
  estimates = np.array(estimates)
  sigma = 0.035
  assert np.std(estimates, ddof=1) < 3 * sigma  # the spread is what the tolerance assumes
  assert abs(estimates.mean() - expected) < 4 * sigma / np.sqrt(5) + 0.035


def test_knn_under_jit_matches_eager():
  x, y = knn_data("shared_with_y")
  jitted = jax.jit(knn_kl_divergence, static_argnames=("k", "chunk_size"))
  np.testing.assert_allclose(jitted(x, y, k=3, chunk_size=16), knn_kl_divergence(x, y, k=3),
                             rtol=1e-6)
  np.testing.assert_allclose(jax.jit(knn_kl_divergence)(x, y), knn_kl_divergence(x, y), rtol=1e-6)


@pytest.mark.parametrize("chunk_size", [1, 7, 16, 60, 1000])
def test_knn_chunk_size_does_not_change_result(chunk_size):
  x, y = knn_data("repeats_in_x")
  np.testing.assert_allclose(knn_kl_divergence(x, y, k=3, chunk_size=chunk_size),
                             knn_kl_divergence(x, y, k=3, chunk_size=256), rtol=1e-6)


def test_knn_is_scale_invariant_even_at_extreme_scales():
  # KL is invariant under a common invertible affine map, and so is the estimator (the log ratio
  # of distances and the neighbour ranks do not change under scaling): tiny and huge scales too,
  # where squared distances would under- or overflow float32.
  x, y = knn_data("shared_with_y")
  reference = knn_kl_divergence(x, y, k=1)
  for scale in (1e-25, 1e25):
    np.testing.assert_allclose(knn_kl_divergence(x * np.float32(scale), y * np.float32(scale), k=1),
                               reference, rtol=1e-4, atol=1e-4)


def test_knn_raises_when_x_has_too_few_distinct_neighbours():
  x = np.zeros((6, 2), np.float32)
  x[0] = 1.0  # every other point has only one point of x at positive distance
  y = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
  assert np.isfinite(knn_kl_divergence(x, y, k=1))
  with pytest.raises(ValueError, match="x has .* fewer than k = 2 other points of x"):
    knn_kl_divergence(x, y, k=2)


def test_knn_raises_when_y_has_too_few_points_different_from_x():
  x = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
  y = np.repeat(x[:1], 4, axis=0)
  y[0] = 5.0  # y has one point different from x_0 (and two from every other x_i)
  assert np.isfinite(knn_kl_divergence(x, y, k=1))
  with pytest.raises(ValueError, match="y has fewer than k = 2 points different from 1 point"):
    knn_kl_divergence(x, y, k=2)


def test_knn_undefined_estimate_is_nan_under_jit():
  x = np.zeros((6, 2), np.float32)
  x[0] = 1.0
  y = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
  jitted = jax.jit(knn_kl_divergence, static_argnames=("k",))
  assert np.isnan(jitted(x, y, k=2))


@pytest.mark.parametrize(
    "x_shape, y_shape, kwargs, match",
    [
        ((10,), (8, 1), {}, "x must have 2 dimension"),
        ((10, 2), (2, 4, 2), {}, "y must have 2 dimension"),
        ((10, 2), (8, 3), {}, "y must have last dimension 2"),
        ((10, 2), (8, 2), dict(k=0), "k must be >= 1"),
        ((10, 2), (8, 2), dict(k=10), r"k must be <= n - 1 = 9"),
        ((10, 2), (8, 2), dict(k=9), "k must be <= m = 8"),
        ((1, 2), (8, 2), {}, r"k must be <= n - 1 = 0"),
        ((10, 2), (8, 2), dict(chunk_size=0), "chunk_size must be >= 1"),
    ],
)
def test_knn_rejects_bad_shapes_and_ranks(x_shape, y_shape, kwargs, match):
  with pytest.raises(ValueError, match=match):
    knn_kl_divergence(np.ones(x_shape, np.float32), np.ones(y_shape, np.float32), **kwargs)


@pytest.mark.parametrize("name, bad", [("x", np.nan), ("x", np.inf), ("y", np.nan), ("y", -np.inf)])
def test_knn_rejects_non_finite_samples(name, bad):
  x, y = knn_data("distinct")
  (x if name == "x" else y)[2, 1] = bad
  with pytest.raises(ValueError, match=f"^{name} (contains NaN|must be finite)"):
    knn_kl_divergence(x, y)


@pytest.mark.parametrize("kwargs, name", [(dict(k=1.5), "k"), (dict(chunk_size=2.0), "chunk_size")])
def test_knn_rejects_non_integer_hyperparameters(kwargs, name):
  x, y = knn_data("distinct")
  with pytest.raises(TypeError, match=f"{name} must be an integer"):
    knn_kl_divergence(x, y, **kwargs)


# ---------------------------------------------------------------------------------------------------
# Variational bounds.


def test_donsker_varadhan_at_optimal_critic_matches_kl():
  x, y = gaussian_samples()
  t_p, t_q = log_ratio(x) + 0.7, log_ratio(y) + 0.7  # T* = log dP/dQ + c, any c
  got = float(jax.jit(donsker_varadhan_bound)(t_p, t_q))
  # Delta method: log mean(e^T) has standard error sd(e^T) / (sqrt(m) mean(e^T)).
  e_q = np.exp(t_q)
  se = np.sqrt(np.var(t_p, ddof=1) / x.size + np.var(e_q, ddof=1) / (y.size * e_q.mean()**2))
  assert abs(got - KL_PQ) < 4 * se, (got, KL_PQ, se)


def test_nwj_at_optimal_critic_matches_kl():
  x, y = gaussian_samples()
  t_p, t_q = 1.0 + log_ratio(x), 1.0 + log_ratio(y)  # T* = 1 + log dP/dQ
  got = float(jax.jit(nwj_bound)(t_p, t_q))
  se = standard_error(t_p, np.exp(t_q - 1.0))
  assert abs(got - KL_PQ) < 4 * se, (got, KL_PQ, se)


GENERATOR_CASES = [
    (generators.KL, "kl"),
    (generators.JENSEN_SHANNON, "jensen_shannon"),
    (generators.SQUARED_HELLINGER, "squared_hellinger"),
    (generators.PEARSON_CHI2, "pearson_chi2"),
]


def test_quadrature_oracle_matches_closed_forms():
  # Sanity of the oracle itself: KL = Δ²/2, χ² = e^{Δ²} - 1, H² = 1 - e^{-Δ²/8} for unit Gaussians.
  delta2 = (MU_P - MU_Q)**2
  np.testing.assert_allclose(f_divergence_quadrature("kl"), delta2 / 2, rtol=1e-8)
  np.testing.assert_allclose(f_divergence_quadrature("pearson_chi2"), np.expm1(delta2), rtol=1e-8)
  np.testing.assert_allclose(f_divergence_quadrature("squared_hellinger"), -np.expm1(-delta2 / 8),
                             rtol=1e-8)


@pytest.mark.parametrize("generator, name", GENERATOR_CASES, ids=[c[1] for c in GENERATOR_CASES])
def test_f_gan_at_optimal_critic_matches_quadrature(generator, name):
  x, y = gaussian_samples()
  f, f_prime = F_NUMPY[name]
  r_p, r_q = np.exp(log_ratio(x)), np.exp(log_ratio(y))
  t_p, t_q = f_prime(r_p), f_prime(r_q)  # T* = f'(dP/dQ)
  got = float(jax.jit(f_gan_bound)(generator, t_p, t_q))
  expected = f_divergence_quadrature(name)
  # At T* the Fenchel equality gives f*(f'(r)) = r f'(r) - f(r): the Q-term's spread, in NumPy.
  se = standard_error(t_p, r_q * t_q - f(r_q))
  assert abs(got - expected) < 4 * se, (got, expected, se)


def test_f_gan_with_kl_is_nwj():
  rng = np.random.default_rng(1)
  t_p, t_q = rng.normal(size=50), rng.normal(size=40)
  np.testing.assert_allclose(f_gan_bound(generators.KL, t_p, t_q), nwj_bound(t_p, t_q), rtol=1e-6)


SUBOPTIMAL_CASES = [
    # (bound, optimal critic as a function of log r, a sub-optimal one)
    ("dv", donsker_varadhan_bound, lambda lr: lr, lambda lr: 0.3 * lr),
    ("nwj", nwj_bound, lambda lr: 1.0 + lr, lambda lr: 1.5 + lr),
    ("nwj_scaled", nwj_bound, lambda lr: 1.0 + lr, lambda lr: 1.0 + 0.5 * lr),
] + [(f"f_gan_{name}", functools.partial(f_gan_bound, g),
      (lambda lr, fp=F_NUMPY[name][1]: fp(np.exp(lr))),
      (lambda lr, fp=F_NUMPY[name][1]: 0.5 * fp(np.exp(lr)))) for g, name in GENERATOR_CASES]


@pytest.mark.parametrize("label, bound, optimal, suboptimal", SUBOPTIMAL_CASES,
                         ids=[c[0] for c in SUBOPTIMAL_CASES])
def test_suboptimal_critic_gives_smaller_value(label, bound, optimal, suboptimal):
  x, y = gaussian_samples()
  lr_p, lr_q = log_ratio(x), log_ratio(y)
  best = float(bound(optimal(lr_p), optimal(lr_q)))
  worse = float(bound(suboptimal(lr_p), suboptimal(lr_q)))
  assert worse < best, (label, worse, best)


def test_donsker_varadhan_suboptimal_critic_matches_its_population_value():
  # For T = a log r with Gaussians, E_P T - log E_Q e^T = Δ²(a - a²/2) < Δ²/2 = KL for a != 1.
  x, y = gaussian_samples()
  a, delta2 = 0.3, (MU_P - MU_Q)**2
  t_p, t_q = a * log_ratio(x), a * log_ratio(y)
  e_q = np.exp(t_q)
  se = np.sqrt(np.var(t_p, ddof=1) / x.size + np.var(e_q, ddof=1) / (y.size * e_q.mean()**2))
  got = float(donsker_varadhan_bound(t_p, t_q))
  assert abs(got - delta2 * (a - a**2 / 2)) < 4 * se
  assert got < KL_PQ - 4 * se


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nwj_maximised_over_shifts_equals_donsker_varadhan(seed):
  # NWJ(T + c) <= DV(T) for every c, with equality at c* = 1 - log mean(e^{t_q}).
  rng = np.random.default_rng(seed)
  t_p, t_q = rng.normal(size=200), rng.normal(0.3, 1.5, size=150)
  dv = float(donsker_varadhan_bound(t_p, t_q))
  for c in np.linspace(-3.0, 3.0, 13):
    assert float(nwj_bound(t_p + c, t_q + c)) <= dv + 1e-5
  c_star = 1.0 - np.log(np.mean(np.exp(t_q)))
  np.testing.assert_allclose(nwj_bound(t_p + c_star, t_q + c_star), dv, atol=1e-5)


def test_donsker_varadhan_is_shift_invariant():
  rng = np.random.default_rng(4)
  t_p, t_q = rng.normal(size=30), rng.normal(size=20)
  np.testing.assert_allclose(donsker_varadhan_bound(t_p + 5.0, t_q + 5.0),
                             donsker_varadhan_bound(t_p, t_q), atol=1e-5)


BOUNDS = {
    "dv": donsker_varadhan_bound,
    "nwj": nwj_bound,
    "f_gan_js": functools.partial(f_gan_bound, generators.JENSEN_SHANNON),
    "f_gan_hellinger": functools.partial(f_gan_bound, generators.SQUARED_HELLINGER),
}


def batch_of_critic_values(seed=0, batch=4, n=50, m=40):
  # Values below 0.3 lie inside the domains of every conjugate used here (JS: < ½ log 2, H²: < ½).
  rng = np.random.default_rng(seed)
  t_p = np.minimum(rng.normal(size=(batch, n)), 0.3).astype(np.float32)
  t_q = np.minimum(rng.normal(size=(batch, m)), 0.3).astype(np.float32)
  return t_p, t_q


@pytest.mark.parametrize("name", list(BOUNDS))
def test_bounds_vmap_and_batched_call_match_loop(name):
  bound = BOUNDS[name]
  t_p, t_q = batch_of_critic_values()
  expected = np.array([float(bound(t_p[b], t_q[b])) for b in range(t_p.shape[0])])
  np.testing.assert_allclose(jax.vmap(bound)(t_p, t_q), expected, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(jax.jit(bound)(t_p, t_q), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", list(BOUNDS))
def test_bounds_broadcast_leading_axes(name):
  bound = BOUNDS[name]
  t_p, t_q = batch_of_critic_values(batch=3)
  got = bound(t_p[:, None, :], t_q[None, :2, :])
  assert got.shape == (3, 2)
  for i in range(3):
    for j in range(2):
      np.testing.assert_allclose(got[i, j], bound(t_p[i], t_q[j]), rtol=1e-6, atol=1e-6)


def test_f_gan_bound_vmaps_over_alpha_generators():
  t_p, t_q = batch_of_critic_values(batch=1)
  alphas = jnp.array([0.5, 2.0, 3.0])
  got = jax.vmap(lambda a: f_gan_bound(generators.alpha_generator(a), t_p[0], t_q[0]))(alphas)
  expected = [f_gan_bound(generators.alpha_generator(float(a)), t_p[0], t_q[0]) for a in alphas]
  np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", list(BOUNDS))
def test_bounds_gradients_are_finite_and_correct(name):
  bound = BOUNDS[name]
  t_p, t_q = batch_of_critic_values(batch=1, n=6, m=5)
  t_p, t_q = jnp.asarray(t_p[0]), jnp.asarray(t_q[0])
  g_p, g_q = jax.grad(bound, argnums=(0, 1))(t_p, t_q)
  assert np.isfinite(g_p).all() and np.isfinite(g_q).all()
  np.testing.assert_allclose(g_p, np.full(6, 1 / 6), rtol=1e-6)  # d mean(t_p) / d t_p
  with jax.enable_x64(True):  # finite differences need float64 for a tight tolerance
    t64 = (jnp.asarray(np.asarray(t_p, np.float64)), jnp.asarray(np.asarray(t_q, np.float64)))
    check_grads(bound, t64, order=1, modes=("rev",))


def test_donsker_varadhan_gradient_is_minus_softmax():
  t_q = jnp.array([0.1, -1.0, 2.0, 0.5])
  g_q = jax.grad(donsker_varadhan_bound, argnums=1)(jnp.zeros(3), t_q)
  e = np.exp(np.asarray(t_q, np.float64))
  np.testing.assert_allclose(g_q, -e / e.sum(), rtol=1e-5)


@pytest.mark.parametrize("generator, t_bad", [
    (generators.JENSEN_SHANNON, 0.5 * np.log(2.0) + 0.1),
    (generators.SQUARED_HELLINGER, 0.5),
    (generators.REVERSE_KL, 0.2),
])
def test_f_gan_bound_is_minus_inf_outside_conjugate_domain(generator, t_bad):
  t_p = np.zeros(5, np.float32)
  t_q = np.array([-1.0, -0.5, t_bad], np.float32)
  assert float(f_gan_bound(generator, t_p, t_q)) == -np.inf


@pytest.mark.parametrize("name", list(BOUNDS))
@pytest.mark.parametrize("which, bad, match", [
    ("t_p", np.nan, "t_p contains NaN"),
    ("t_q", np.nan, "t_q contains NaN"),
    ("t_p", np.inf, "t_p must be finite"),
    ("t_q", -np.inf, "t_q must be finite"),
])
def test_bounds_reject_non_finite_critic_values(name, which, bad, match):
  t_p, t_q = batch_of_critic_values(batch=1)
  (t_p if which == "t_p" else t_q)[0, 3] = bad
  with pytest.raises(ValueError, match=match):
    BOUNDS[name](t_p, t_q)


@pytest.mark.parametrize("name", list(BOUNDS))
@pytest.mark.parametrize("t_p, t_q, match", [
    (np.float32(1.0), np.ones(3, np.float32), "t_p must have at least one dimension"),
    (np.ones(3, np.float32), np.float32(1.0), "t_q must have at least one dimension"),
    (np.ones(0, np.float32), np.ones(3, np.float32), "t_p must hold at least one sample"),
    (np.ones(3, np.float32), np.ones((2, 0), np.float32), "t_q must hold at least one sample"),
    (np.ones((3, 4), np.float32), np.ones((2, 5), np.float32), "leading .* t_p .* t_q .* broadcast"),
])
def test_bounds_reject_bad_shapes(name, t_p, t_q, match):
  with pytest.raises(ValueError, match=match):
    BOUNDS[name](t_p, t_q)


def test_f_gan_bound_rejects_non_generator():
  with pytest.raises(TypeError, match="generator must be an FGenerator"):
    f_gan_bound("kl", np.zeros(3), np.zeros(3))


def test_public_api():
  assert set(estimators.__all__) == {
      "knn_kl_divergence", "knn_entropy", "ksg_mutual_information", "donsker_varadhan_bound",
      "nwj_bound", "f_gan_bound"
  }
