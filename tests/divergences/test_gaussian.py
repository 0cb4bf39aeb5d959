"""Tests for divjax.divergences.gaussian against independent float64 oracles.

Oracles: plain NumPy formulas (np.linalg.inv / slogdet / scipy.linalg.sqrtm), POT's Bures–Wasserstein
distance, Monte Carlo with scipy.stats log-densities, and 2-D grid quadrature of the defining integrals.
None of them calls the code under test.

Default-dtype (float32) results are compared at rtol 1e-4, the accuracy the module documents for
well-conditioned inputs (float32 eps ≈ 1.2e-7, amplified by at most ~10³ through 2x2/3x3 Cholesky
factorisations, solves and log-dets of matrices with condition numbers < 10); float64 results at 1e-8.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import ot
import pytest
import scipy.linalg
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from divjax.divergences import gaussian as G

F32_RTOL = 1e-4  # the module's documented float32 accuracy (see module docstring)
F32_ATOL = 1e-6  # absolute floor for values near zero: a few float32 ulps of O(1) intermediate terms
F64_RTOL = 1e-8  # float64 with cond < 10: rounding ~1e-15, the grid oracles are exact to ~1e-12

FUNCTIONS = {
    "kl": G.gaussian_kl_divergence,
    "renyi_0.5": functools.partial(G.gaussian_renyi_divergence, alpha=0.5),
    "renyi_2": functools.partial(G.gaussian_renyi_divergence, alpha=2.0),
    "bhattacharyya": G.gaussian_bhattacharyya_distance,
    "squared_hellinger": G.gaussian_squared_hellinger_distance,
    "hellinger": G.gaussian_hellinger_distance,
    "cauchy_schwarz": G.gaussian_cauchy_schwarz_divergence,
    "w2": G.gaussian_squared_wasserstein2,
}
# Value tests call jitted functions (one compilation per shape; eager first calls compile every
# primitive separately and are slow). Eager calls are checked against these in the jit/vmap test.
JITTED = {name: jax.jit(fn) for name, fn in FUNCTIONS.items()}
KL = jax.jit(G.gaussian_kl_divergence)
RENYI = jax.jit(G.gaussian_renyi_divergence)  # alpha is traced: one compilation for every α
BHATTACHARYYA = jax.jit(G.gaussian_bhattacharyya_distance)
SQUARED_HELLINGER = jax.jit(G.gaussian_squared_hellinger_distance)
HELLINGER = jax.jit(G.gaussian_hellinger_distance)
CAUCHY_SCHWARZ = jax.jit(G.gaussian_cauchy_schwarz_divergence)
W2 = jax.jit(G.gaussian_squared_wasserstein2)
ALL_PUBLIC = [getattr(G, name) for name in G.__all__]

# A fixed 2-D pair for the quadrature oracles. 3 Σq − 2 Σp is positive definite, so R_α is finite for
# α ≤ 3 (Σ_α ≻ 0), and both covariances have condition numbers below 2.
MEAN_P = np.array([0.3, -0.2])
COV_P = np.array([[1.0, 0.3], [0.3, 0.8]])
MEAN_Q = np.array([-0.1, 0.4])
COV_Q = np.array([[1.4, -0.2], [-0.2, 1.1]])
PAIR = (MEAN_P, COV_P, MEAN_Q, COV_Q)


def _f32(*arrays):
  return tuple(np.asarray(a, np.float32) for a in arrays)


def _random_spd(rng, d, *, jitter=0.5):
  a = rng.normal(size=(d, d))
  return a @ a.T / d + jitter * np.eye(d)


def _random_pair(rng, d):
  return (rng.normal(size=d), _random_spd(rng, d), rng.normal(size=d), _random_spd(rng, d))


# ---------------------------------------------------------------------------------------------------
# Independent float64 oracles.


def _kl_numpy(mean_p, cov_p, mean_q, cov_q):
  d = len(mean_p)
  inv_q = np.linalg.inv(cov_q)
  diff = mean_q - mean_p
  return 0.5 * (np.trace(inv_q @ cov_p) + diff @ inv_q @ diff - d + np.linalg.slogdet(cov_q)[1]
                - np.linalg.slogdet(cov_p)[1])


def _logpdf(x, mean, cov):
  return scipy.stats.multivariate_normal(mean, cov).logpdf(x)


def _grid(center, half_width, n):
  xs = center[0] + np.linspace(-half_width, half_width, n)
  ys = center[1] + np.linspace(-half_width, half_width, n)
  xx, yy = np.meshgrid(xs, ys, indexing="ij")
  return np.stack([xx.ravel(), yy.ravel()], axis=-1), (xs[1] - xs[0]) * (ys[1] - ys[0])


def _log_integral_2d(log_integrand):
  """log ∫ exp(log_integrand(x)) dx over R² for a Gaussian-shaped integrand, by two grid passes.

  Pass 1 (a 201² grid on [-25, 25]²) locates the integrand's mean and spread numerically; pass 2
  integrates on a 401² grid spanning ±10 of its largest standard deviations. The Riemann sum of a smooth
  rapidly decaying integrand converges spectrally: with spacing h = 0.05 σ_max ≤ 0.2 σ_min (all
  integrands here have axis ratios below 4) the discretisation error is ~exp(-2π²σ²/h²) < 1e-200 and
  the truncated tail mass is ~e^{-50}.
  """
  pts, cell = _grid(np.zeros(2), 25.0, 201)
  lf = log_integrand(pts)
  w = np.exp(lf - lf.max())
  w /= w.sum()
  center = w @ pts
  spread = (pts - center).T @ ((pts - center) * w[:, None])
  half_width = 10.0 * np.sqrt(np.linalg.eigvalsh(spread).max())
  pts, cell = _grid(center, half_width, 401)
  return scipy.special.logsumexp(log_integrand(pts)) + np.log(cell)


def _cached(fn):
  """Memoises a quadrature oracle on the bytes of its array arguments (several tests share a pair)."""
  cache = {}

  @functools.wraps(fn)
  def wrapper(*args):
    key = tuple(np.asarray(a, np.float64).tobytes() + str(np.shape(a)).encode() for a in args)
    if key not in cache:
      cache[key] = fn(*args)
    return cache[key]

  return wrapper


@_cached
def _renyi_quadrature(mean_p, cov_p, mean_q, cov_q, alpha):
  log_int = _log_integral_2d(
      lambda x: alpha * _logpdf(x, mean_p, cov_p) + (1 - alpha) * _logpdf(x, mean_q, cov_q))
  return log_int / (alpha - 1)


@_cached
def _bhattacharyya_coefficient_quadrature(mean_p, cov_p, mean_q, cov_q):
  return np.exp(_log_integral_2d(
      lambda x: 0.5 * (_logpdf(x, mean_p, cov_p) + _logpdf(x, mean_q, cov_q))))


@_cached
def _cauchy_schwarz_quadrature(mean_p, cov_p, mean_q, cov_q):
  lp = lambda x: _logpdf(x, mean_p, cov_p)
  lq = lambda x: _logpdf(x, mean_q, cov_q)
  # divjax's CS convention (Yu et al. 2024): −2 log∫pq + log∫p² + log∫q².
  return (-2 * _log_integral_2d(lambda x: lp(x) + lq(x)) + _log_integral_2d(lambda x: 2 * lp(x))
          + _log_integral_2d(lambda x: 2 * lq(x)))


def _w2_sqrtm(mean_p, cov_p, mean_q, cov_q):
  root_p = scipy.linalg.sqrtm(cov_p).real
  cross = scipy.linalg.sqrtm(root_p @ cov_q @ root_p).real
  return np.sum((mean_p - mean_q)**2) + np.trace(cov_p + cov_q - 2 * cross)


# ---------------------------------------------------------------------------------------------------
# KL.


@pytest.mark.parametrize("seed,d", [(0, 1), (1, 2), (2, 3), (3, 5)])
def test_kl_matches_numpy_formula(seed, d):
  args = _f32(*_random_pair(np.random.default_rng(seed), d))
  expected = _kl_numpy(*(a.astype(np.float64) for a in args))
  np.testing.assert_allclose(KL(*args), expected, rtol=F32_RTOL, atol=F32_ATOL)


def test_kl_matches_monte_carlo():
  # KL(p||q) = E_p[log p(x) - log q(x)]; seed 0, n = 200_000 draws from p in d = 3, tolerance = 4
  # standard errors of the Monte Carlo mean (false-failure probability ~6e-5).
  rng = np.random.default_rng(0)
  mean_p, cov_p, mean_q, cov_q = _random_pair(rng, 3)
  x = rng.multivariate_normal(mean_p, cov_p, size=200_000)
  log_ratio = _logpdf(x, mean_p, cov_p) - _logpdf(x, mean_q, cov_q)
  standard_error = log_ratio.std(ddof=1) / np.sqrt(len(x))
  got = float(KL(*_f32(mean_p, cov_p, mean_q, cov_q)))
  assert abs(got - log_ratio.mean()) < 4 * standard_error


def test_kl_keeps_relative_accuracy_when_p_is_close_to_q():
  # KL ≈ 2e-5 here; the textbook tr − d + log det form would cancel O(d) terms in float32 and lose
  # nearly all digits. The non-negative-terms form keeps ~1e-5 relative; 1e-3 leaves margin.
  rng = np.random.default_rng(4)
  cov_p = _random_spd(rng, 3)
  e = rng.normal(size=(3, 3))
  args = _f32(np.zeros(3), cov_p, np.full(3, 1e-3), cov_p + 1e-3 * (e + e.T))
  expected = _kl_numpy(*(a.astype(np.float64) for a in args))
  assert 1e-6 < expected < 1e-4
  np.testing.assert_allclose(KL(*args), expected, rtol=1e-3)


def test_kl_in_float64_matches_numpy_formula():
  args = _random_pair(np.random.default_rng(5), 4)
  with jax.enable_x64(True):
    got = KL(*args)
    assert got.dtype == jnp.float64
  np.testing.assert_allclose(got, _kl_numpy(*args), rtol=F64_RTOL)


def test_kl_is_zero_for_equal_gaussians():
  mean, cov = _f32(MEAN_P, COV_P)
  np.testing.assert_allclose(KL(mean, cov, mean, cov), 0.0, atol=F32_ATOL)


# ---------------------------------------------------------------------------------------------------
# Rényi.


@pytest.mark.parametrize("alpha", [0.5, 2.0, 3.0])
def test_renyi_matches_quadrature(alpha):
  expected = _renyi_quadrature(*PAIR, alpha)
  got = RENYI(*_f32(*PAIR), alpha=alpha)
  np.testing.assert_allclose(got, expected, rtol=F32_RTOL)


def test_renyi_in_float64_matches_quadrature():
  expected = _renyi_quadrature(*PAIR, 3.0)
  with jax.enable_x64(True):
    got = RENYI(*PAIR, alpha=3.0)
  np.testing.assert_allclose(got, expected, rtol=F64_RTOL)


def test_renyi_at_one_is_kl():
  np.testing.assert_allclose(RENYI(*_f32(*PAIR), alpha=1.0), _kl_numpy(*PAIR), rtol=F32_RTOL)


def test_renyi_approaches_kl_as_alpha_tends_to_one():
  # Float64. R_α is non-decreasing in α, so R_{1-δ} <= KL <= R_{1+δ}, and R_α - KL = O(α - 1): the gap
  # must shrink about tenfold per decade of δ (we require at least fivefold).
  kl = _kl_numpy(*PAIR)
  with jax.enable_x64(True):
    gaps = []
    for delta in [1e-2, 1e-3, 1e-4]:
      below = float(RENYI(*PAIR, alpha=1.0 - delta))
      above = float(RENYI(*PAIR, alpha=1.0 + delta))
      assert below <= kl <= above
      gaps.append(max(kl - below, above - kl))
  assert gaps[1] < gaps[0] / 5 and gaps[2] < gaps[1] / 5
  assert gaps[2] < 1e-3 * kl


def test_renyi_is_infinite_when_sigma_alpha_is_not_positive_definite():
  # Σp = diag(4, 1), Σq = I: the eigenvalues of Σq⁻¹Σp are 4 and 1, so R_α is finite iff
  # 4 < α / (α − 1), i.e. α < 4/3. At α = 2, Σ_α = 2I − diag(4, 1) = diag(−2, 1).
  mean_p, cov_p, mean_q, cov_q = _f32(np.zeros(2), np.diag([4.0, 1.0]), np.ones(2), np.eye(2))
  assert np.isposinf(G.gaussian_renyi_divergence(mean_p, cov_p, mean_q, cov_q, alpha=2.0))  # eager
  assert np.isposinf(RENYI(mean_p, cov_p, mean_q, cov_q, alpha=2.0))  # jit: NaN Cholesky detected
  assert np.isfinite(RENYI(mean_p, cov_p, mean_q, cov_q, alpha=1.3))
  grad_fn = jax.jit(jax.grad(G.gaussian_renyi_divergence, argnums=(0, 1, 2, 3)))
  grads = grad_fn(mean_p, cov_p, mean_q, cov_q, alpha=2.0)
  for grad in grads:  # the +inf branch is a constant: zero gradient, no NaN leaking from Cholesky
    np.testing.assert_array_equal(grad, 0.0)


def test_renyi_just_inside_the_validity_region_matches_quadrature():
  # Same pair as above at α = 1.2 < 4/3: Σ_α = diag(0.4, 1) is positive definite but close to the
  # boundary, so the integrand decays slowly (σ ≈ 3.2 along the first axis).
  args = (np.zeros(2), np.diag([4.0, 1.0]), np.ones(2), np.eye(2))
  expected = _renyi_quadrature(*args, 1.2)
  np.testing.assert_allclose(RENYI(*_f32(*args), alpha=1.2), expected, rtol=F32_RTOL)


def test_renyi_vmaps_over_alpha():
  alphas = np.array([0.25, 0.5, 1.0, 2.0, 3.0], np.float32)
  args = _f32(*PAIR)
  got = jax.vmap(lambda a: RENYI(*args, alpha=a))(alphas)
  expected = [_renyi_quadrature(*PAIR, a) if a != 1 else _kl_numpy(*PAIR) for a in alphas]
  np.testing.assert_allclose(got, expected, rtol=F32_RTOL)


# ---------------------------------------------------------------------------------------------------
# Bhattacharyya and Hellinger.


def test_bhattacharyya_and_hellinger_match_quadrature():
  coefficient = _bhattacharyya_coefficient_quadrature(*PAIR)  # ∫ sqrt(pq)
  args = _f32(*PAIR)
  np.testing.assert_allclose(BHATTACHARYYA(*args), -np.log(coefficient), rtol=F32_RTOL)
  np.testing.assert_allclose(SQUARED_HELLINGER(*args), 1 - coefficient, rtol=F32_RTOL)
  np.testing.assert_allclose(HELLINGER(*args), np.sqrt(1 - coefficient), rtol=F32_RTOL)


def test_bhattacharyya_and_hellinger_in_one_dimension_match_scalar_formula():
  # D_B = (μ1 − μ2)² / (4(σ1² + σ2²)) + ½ log((σ1² + σ2²) / (2 σ1 σ2)).
  mu1, mu2, s1, s2 = 0.7, -1.1, 0.5, 1.8
  distance = (mu1 - mu2)**2 / (4 * (s1**2 + s2**2)) + 0.5 * np.log((s1**2 + s2**2) / (2 * s1 * s2))
  args = _f32([mu1], [[s1**2]], [mu2], [[s2**2]])
  np.testing.assert_allclose(BHATTACHARYYA(*args), distance, rtol=F32_RTOL)
  np.testing.assert_allclose(SQUARED_HELLINGER(*args), 1 - np.exp(-distance), rtol=F32_RTOL)


def test_hellinger_lies_in_unit_interval():
  rng = np.random.default_rng(6)
  far = (np.zeros(2), 0.01 * np.eye(2), np.full(2, 50.0), 0.01 * np.eye(2))  # H = 1 to float32
  pairs = [_random_pair(rng, 2) for _ in range(5)] + [far, (MEAN_P, COV_P, MEAN_P, COV_P)]
  for pair in pairs:
    h = float(HELLINGER(*_f32(*pair)))
    assert 0.0 <= h <= 1.0
  assert float(HELLINGER(*_f32(*far))) == pytest.approx(1.0, abs=1e-6)
  # At p = q, H² is float32 rounding (~1e-7) and the square root amplifies it to ~3e-4.
  assert float(HELLINGER(*_f32(MEAN_P, COV_P, MEAN_P, COV_P))) < 1e-3


# ---------------------------------------------------------------------------------------------------
# Cauchy–Schwarz.


def test_cauchy_schwarz_matches_quadrature():
  expected = _cauchy_schwarz_quadrature(*PAIR)
  got = CAUCHY_SCHWARZ(*_f32(*PAIR))
  np.testing.assert_allclose(got, expected, rtol=F32_RTOL)


def test_cauchy_schwarz_is_zero_iff_equal():
  cs = CAUCHY_SCHWARZ
  mean, cov = _f32(MEAN_P, COV_P)
  # Zero up to float32 rounding of O(1) log-determinants (~1e-6).
  np.testing.assert_allclose(cs(mean, cov, mean, cov), 0.0, atol=1e-5)
  assert cs(mean, cov, mean + np.float32(0.1), cov) > 1e-4  # mean shift only
  assert cs(mean, cov, mean, np.float32(1.2) * cov) > 1e-4  # covariance change only


# ---------------------------------------------------------------------------------------------------
# Wasserstein-2.


@pytest.mark.parametrize("seed,d", [(7, 2), (8, 3), (9, 5)])
def test_w2_matches_pot_and_sqrtm(seed, d):
  args = _random_pair(np.random.default_rng(seed), d)
  mean_p, cov_p, mean_q, cov_q = args
  pot = float(ot.gaussian.bures_wasserstein_distance(mean_p, mean_q, cov_p, cov_q))**2
  np.testing.assert_allclose(_w2_sqrtm(*args), pot, rtol=1e-10)  # the two oracles agree
  got = W2(*_f32(*args))
  np.testing.assert_allclose(got, pot, rtol=F32_RTOL)


def test_w2_in_one_dimension_is_mean_and_std_difference():
  mu1, mu2, s1, s2 = 0.4, -0.9, 0.6, 1.7
  got = W2(*_f32([mu1], [[s1**2]], [mu2], [[s2**2]]))
  np.testing.assert_allclose(got, (mu1 - mu2)**2 + (s1 - s2)**2, rtol=F32_RTOL)


def test_w2_for_commuting_covariances_is_frobenius_distance_of_roots():
  rng = np.random.default_rng(10)
  rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
  a, b = np.array([0.5, 1.0, 2.0]), np.array([1.5, 0.3, 2.0])
  cov_p, cov_q = rotation @ np.diag(a) @ rotation.T, rotation @ np.diag(b) @ rotation.T
  root_p = rotation @ np.diag(np.sqrt(a)) @ rotation.T
  root_q = rotation @ np.diag(np.sqrt(b)) @ rotation.T
  mean_p, mean_q = rng.normal(size=3), rng.normal(size=3)
  expected = np.sum((mean_p - mean_q)**2) + np.sum((root_p - root_q)**2)
  got = W2(*_f32(mean_p, cov_p, mean_q, cov_q))
  np.testing.assert_allclose(got, expected, rtol=F32_RTOL)


def test_w2_in_float64_matches_pot():
  mean_p, cov_p, mean_q, cov_q = _random_pair(np.random.default_rng(11), 4)
  with jax.enable_x64(True):
    got = W2(mean_p, cov_p, mean_q, cov_q)
  pot = float(ot.gaussian.bures_wasserstein_distance(mean_p, mean_q, cov_p, cov_q))**2
  np.testing.assert_allclose(got, pot, rtol=F64_RTOL)


# ---------------------------------------------------------------------------------------------------
# Batching, jit, vmap.

BATCH_SHAPES = dict(mean_p=(2, 1), cov_p=(3,), mean_q=(), cov_q=(2, 3))  # broadcast to (2, 3)
# renyi_0.5 runs the same code path as renyi_2 with another constant; skipped here to save compilations.
BATCH_NAMES = [name for name in FUNCTIONS if name != "renyi_0.5"]


def _batched_inputs(d=2):
  rng = np.random.default_rng(12)

  def spd_stack(shape):
    return np.stack([_random_spd(rng, d) for _ in range(int(np.prod(shape)))]).reshape(shape + (d, d))

  return _f32(rng.normal(size=BATCH_SHAPES["mean_p"] + (d,)), spd_stack(BATCH_SHAPES["cov_p"]),
              rng.normal(size=BATCH_SHAPES["mean_q"] + (d,)), spd_stack(BATCH_SHAPES["cov_q"]))


@pytest.mark.parametrize("name", BATCH_NAMES)
def test_batched_eager_jit_and_vmap_match_python_loop(name):
  mean_p, cov_p, mean_q, cov_q = _batched_inputs()
  d = mean_p.shape[-1]
  eager = FUNCTIONS[name](mean_p, cov_p, mean_q, cov_q)  # leading dims broadcast to (2, 3)
  assert eager.shape == (2, 3)
  full = lambda x, tail: np.broadcast_to(x, (2, 3) + tail)
  mp, cp, mq, cq = full(mean_p, (d,)), full(cov_p, (d, d)), full(mean_q, (d,)), full(cov_q, (d, d))
  loop = np.array([[JITTED[name](mp[i, j], cp[i, j], mq[i, j], cq[i, j]) for j in range(3)]
                   for i in range(2)])
  flat = [x.reshape((6,) + x.shape[2:]) for x in (mp, cp, mq, cq)]
  vmapped = jax.vmap(JITTED[name])(*flat).reshape(2, 3)
  # Same float32 arithmetic, possibly in a different order under batching: a few ulps.
  np.testing.assert_allclose(eager, loop, rtol=1e-5, atol=F32_ATOL)
  np.testing.assert_allclose(vmapped, loop, rtol=1e-5, atol=F32_ATOL)


def test_non_positive_definite_covariance_under_jit_gives_nan():
  # Traced, the value checks give NaN instead of raising (documented); so does the failed Cholesky.
  args = _f32(MEAN_P, np.diag([1.0, -1.0]), MEAN_Q, COV_Q)
  assert np.isnan(KL(*args))
  assert np.isnan(RENYI(*args, alpha=2.0))  # NaN, not the +inf of a non-positive-definite Σ_α


# ---------------------------------------------------------------------------------------------------
# Gradients (float64, central differences vs reverse mode, check_grads' float64 default tolerances).
# check_grads perturbs covariances in non-symmetric directions, and a traced non-symmetric
# covariance gives NaN (the traced validation), so the functions are differentiated through a
# symmetrisation: the gradient of f(m_p, sym(Σ_p), m_q, sym(Σ_q)).


def _sym(c):
  return 0.5 * (c + jnp.swapaxes(c, -1, -2))


def _on_symmetric(f):
  return lambda mp, cp, mq, cq, *rest: f(mp, _sym(cp), mq, _sym(cq), *rest)


@pytest.mark.parametrize("name", ["kl", "bhattacharyya", "cauchy_schwarz"])
def test_gradients_match_finite_differences(name):
  with jax.enable_x64(True):
    check_grads(jax.jit(_on_symmetric(FUNCTIONS[name])), PAIR, order=1, modes=["rev"])


def test_renyi_gradients_match_finite_differences():
  # Gradients with respect to the means, the covariances and α, for α < 1 and α > 1.
  renyi = jax.jit(_on_symmetric(
      lambda mp, cp, mq, cq, alpha: G.gaussian_renyi_divergence(mp, cp, mq, cq, alpha=alpha)))
  with jax.enable_x64(True):
    for alpha in [0.5, 2.0]:
      check_grads(renyi, PAIR + (alpha,), order=1, modes=["rev"])


def test_w2_gradients_match_finite_differences_at_repeated_eigenvalues():
  # Σp = I, Σq = 2I: Σp^{1/2} Σq Σp^{1/2} = 2I has a fully repeated spectrum, where eigenvector
  # derivatives are undefined; the trace of its square root is still smooth.
  args = (np.zeros(3), np.eye(3), np.full(3, 0.5), 2.0 * np.eye(3))
  with jax.enable_x64(True):
    check_grads(jax.jit(_on_symmetric(G.gaussian_squared_wasserstein2)), args, order=1,
                modes=["rev"])


# ---------------------------------------------------------------------------------------------------
# Properties that hold for all Gaussians (independent of any closed form).


def _spd_from(entries):
  a = np.array(entries, np.float64).reshape(2, 2)
  return a @ a.T + 0.2 * np.eye(2)


_means = st.lists(st.floats(-3, 3), min_size=2, max_size=2)
_factors = st.lists(st.floats(-1, 1), min_size=4, max_size=4)  # Σ = A Aᵀ + 0.2 I, cond <= 11
_pairs = st.tuples(_means, _factors, _means, _factors)


@settings(max_examples=30, deadline=None)
@given(_pairs)
def test_divergence_inequalities_and_symmetries(pair):
  mean_p, a_p, mean_q, a_q = pair
  args = _f32(mean_p, _spd_from(a_p), mean_q, _spd_from(a_q))
  swapped = (args[2], args[3], args[0], args[1])
  value = {name: float(fn(*args)) for name, fn in JITTED.items()}
  # Slack for float32 rounding of O(1)–O(100) quantities.
  slack = 1e-4 * (1 + max(abs(v) for v in value.values() if np.isfinite(v)))
  for name, v in value.items():
    assert v >= -slack, name
  assert value["hellinger"] <= 1.0
  # Rényi divergences are non-decreasing in α: R_½ = 2 D_B <= KL <= R_2; and D_B >= H² (−log(1−x) >= x).
  assert value["renyi_0.5"] <= value["kl"] + slack
  assert value["kl"] <= value["renyi_2"] + slack
  assert value["squared_hellinger"] <= value["bhattacharyya"] + slack
  for name in ["bhattacharyya", "squared_hellinger", "cauchy_schwarz", "w2"]:
    np.testing.assert_allclose(JITTED[name](*swapped), value[name], rtol=1e-4, atol=slack)


# ---------------------------------------------------------------------------------------------------
# Documented errors.

_GOOD = _f32(*PAIR)


def _with(index, value):
  """The good (mean_p, cov_p, mean_q, cov_q) with argument ``index`` replaced by ``value``."""
  return tuple(value if i == index else arg for i, arg in enumerate(_GOOD))


_BAD_INPUTS = [  # (id, arguments, message pattern)
    ("mean_q wrong d", _with(2, np.zeros(3)), r"mean_q must have last dimension 2"),
    ("cov_p wrong d", _with(1, np.eye(3)), r"cov_p must be 2x2 to match the mean"),
    ("cov_q not square", _with(3, np.ones((2, 3))), r"cov_q must have shape \[\.\.\., d, d\]"),
    ("cov_q not symmetric", _with(3, np.array([[1.0, 0.5], [0.0, 1.0]])), r"cov_q must be symmetric"),
    ("cov_p not PD", _with(1, np.diag([1.0, -0.5])), r"cov_p must be positive definite"),
    ("cov_p singular", _with(1, np.ones((2, 2))), r"cov_p must be positive definite"),
    ("mean_p NaN", _with(0, np.array([np.nan, 0.0])), r"mean_p contains NaN"),
    ("cov_q NaN", _with(3, np.full((2, 2), np.nan)), r"cov_q contains NaN"),
    ("mean_q inf", _with(2, np.array([np.inf, 0.0])), r"mean_q must be finite"),
    ("mean_p scalar", _with(0, np.float32(0.0)), r"mean_p must have shape \[\.\.\., d\]"),
    ("batch mismatch", (np.zeros((3, 2)), _GOOD[1], np.zeros((4, 2)), _GOOD[3]), r"batch shapes"),
]


@pytest.mark.parametrize("fn", ALL_PUBLIC, ids=G.__all__)
@pytest.mark.parametrize("case", _BAD_INPUTS, ids=[c[0] for c in _BAD_INPUTS])
def test_invalid_inputs_raise(fn, case):
  _, args, match = case
  kwargs = {"alpha": 2.0} if fn is G.gaussian_renyi_divergence else {}
  with pytest.raises(ValueError, match=match):
    fn(*args, **kwargs)


@pytest.mark.parametrize("alpha,match", [
    (0.0, r"alpha must be positive"),
    (-1.0, r"alpha must be positive"),
    (np.nan, r"alpha contains NaN"),
    (np.array([0.5, 2.0]), r"alpha must be a scalar"),
])
def test_invalid_alpha_raises(alpha, match):
  with pytest.raises(ValueError, match=match):
    G.gaussian_renyi_divergence(*_GOOD, alpha=alpha)
