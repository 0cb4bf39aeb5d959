"""Exponential families against independent oracles: scipy.stats densities, scipy quadrature and
sums over a truncated support (float64). The oracles parametrise each distribution from θ by hand
(logit, rate, shape/rate, mean/variance) and never call ψ or its derivatives."""

import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import integrate, special, stats

from divjax import expfam as ef


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


# ---------------------------------------------------------------------------------------------------
# Oracles: each case is a family, a natural parameter θ, and the distribution written independently.


class Case(NamedTuple):
  family: ef.ExponentialFamily
  theta: tuple[float, ...]
  T: Callable[[np.ndarray], np.ndarray]   # x [m] -> [m, p], written from the definition of T
  pdf: Callable[[np.ndarray], np.ndarray]  # pmf on `support` (discrete) or density (continuous)
  support: object                          # array of points (discrete) or an interval (a, b)
  logpdf: Callable[[np.ndarray], np.ndarray]
  points: np.ndarray                       # where log_prob is compared with logpdf


def _poly_case(theta, lower=-10.0, upper=10.0):
  k = len(theta)
  theta = np.asarray(theta)

  def unnorm(x):
    return np.exp(np.stack([np.asarray(x)**j for j in range(1, k + 1)], -1) @ theta)

  log_z = math.log(integrate.quad(unnorm, lower, upper, epsabs=0, epsrel=1e-13, limit=200)[0])
  return dict(
      T=lambda x: np.stack([x**j for j in range(1, k + 1)], -1),
      pdf=lambda x: unnorm(x) / math.exp(log_z),
      logpdf=lambda x: np.stack([x**j for j in range(1, k + 1)], -1) @ theta - log_z)


def _cases():
  cases = {}
  q = special.expit(0.7)
  cases["bernoulli"] = Case(
      ef.bernoulli(), (0.7,), lambda x: x[:, None], lambda x: np.where(x == 1, q, 1 - q),
      np.array([0.0, 1.0]), lambda x: stats.bernoulli.logpmf(x, q), np.array([0.0, 1.0]))
  th = np.array([0.3, -0.5, 1.1])
  pi = np.exp(np.r_[0.0, th]) / np.exp(np.r_[0.0, th]).sum()
  cases["categorical4"] = Case(
      ef.categorical(4), tuple(th), lambda x: (x[:, None] == np.arange(1, 4)).astype(float),
      lambda x: pi[x.astype(int)], np.arange(4.0), lambda x: np.log(pi[x.astype(int)]),
      np.arange(4.0))
  lam = 3.5
  cases["poisson"] = Case(
      ef.poisson(), (math.log(lam),), lambda x: x[:, None], stats.poisson(lam).pmf, np.arange(80.0),
      stats.poisson(lam).logpmf, np.array([0.0, 1.0, 4.0, 17.0]))
  rate = 1.7
  g = stats.expon(scale=1 / rate)
  cases["exponential"] = Case(ef.exponential(), (-rate,), lambda x: x[:, None], g.pdf, (0, np.inf),
                              g.logpdf, np.array([1e-3, 0.4, 2.0, 9.0]))
  shape, rate = 2.5, 2.0
  g = stats.gamma(shape, scale=1 / rate)
  cases["gamma"] = Case(ef.gamma(), (shape - 1, -rate), lambda x: np.stack([np.log(x), x], -1),
                        g.pdf, (0, np.inf), g.logpdf, np.array([0.01, 0.5, 1.3, 6.0]))
  var = 1.25
  mu = 0.6 * var
  g = stats.norm(mu, math.sqrt(var))
  cases["normal"] = Case(ef.normal(), (mu / var, -0.5 / var), lambda x: np.stack([x, x * x], -1),
                         g.pdf, (-np.inf, np.inf), g.logpdf, np.array([-3.0, 0.0, 0.75, 4.2]))
  theta = (0.3, -0.2, 0.1, -0.15)
  cases["polynomial4"] = Case(ef.polynomial(4), theta, support=(-10.0, 10.0),
                              points=np.array([-2.0, -0.3, 0.0, 1.1, 2.5]), **_poly_case(theta))
  return cases


CASES = _cases()
SCALAR = list(CASES)
DISCRETE = ["bernoulli", "categorical4", "poisson"]

log_prob_j = jax.jit(ef.log_prob)
mean_parameters_j = jax.jit(ef.mean_parameters)
fisher_information_j = jax.jit(ef.fisher_information)
cumulants_j = jax.jit(ef.cumulants)


def expect(case: Case, fn):
  """E[fn(x)] under the oracle distribution: a sum over the support or scipy's adaptive quadrature."""
  if isinstance(case.support, np.ndarray):
    x = case.support
    return np.tensordot(case.pdf(x), fn(x), axes=(0, 0))
  a, b = case.support
  value, _ = integrate.quad_vec(lambda x: case.pdf(np.array([x]))[0] * fn(np.array([x]))[0], a, b,
                                epsabs=1e-14, epsrel=1e-12, limit=400)
  return value


def oracle_moments(case: Case):
  """E[T], Cov(T), third and fourth central moment tensors of T under the oracle."""
  eta = expect(case, case.T)
  p = eta.shape[0]

  def central_products(x):
    c = case.T(x) - eta
    c2 = np.einsum("ma,mb->mab", c, c)
    c3 = np.einsum("mab,mc->mabc", c2, c)
    c4 = np.einsum("mabc,md->mabcd", c3, c)
    return np.concatenate([c2.reshape(len(x), -1), c3.reshape(len(x), -1), c4.reshape(len(x), -1)], 1)

  flat = expect(case, central_products)
  cov = flat[:p * p].reshape(p, p)
  m3 = flat[p * p:p * p + p**3].reshape(p, p, p)
  m4 = flat[p * p + p**3:].reshape(p, p, p, p)
  return eta, cov, m3, m4


@functools.lru_cache(maxsize=None)
def cached_oracle_moments(name):
  return oracle_moments(CASES[name])


# ---------------------------------------------------------------------------------------------------
# Scalar-observation families.


@pytest.mark.parametrize("name", SCALAR)
def test_density_normalises(x64, name):
  case = CASES[name]
  theta = jnp.array(case.theta)
  if isinstance(case.support, np.ndarray):
    total = sum(math.exp(log_prob_j(case.family, theta, x)) for x in case.support)
  else:
    total = integrate.quad(lambda x: math.exp(log_prob_j(case.family, theta, x)), *case.support,
                           epsabs=0, epsrel=1e-13, limit=200)[0]
  np.testing.assert_allclose(total, 1.0, rtol=1e-10)


@pytest.mark.parametrize("name", SCALAR)
def test_log_prob_matches_oracle_log_density(x64, name):
  case = CASES[name]
  got = [log_prob_j(case.family, jnp.array(case.theta), x) for x in case.points]
  np.testing.assert_allclose(got, case.logpdf(case.points), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SCALAR)
def test_mean_parameters_equal_expected_statistic(x64, name):
  case = CASES[name]
  eta, *_ = cached_oracle_moments(name)
  got = mean_parameters_j(case.family, jnp.array(case.theta))
  np.testing.assert_allclose(got, eta, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", SCALAR)
def test_fisher_information_equals_covariance_of_statistic(x64, name):
  case = CASES[name]
  _, cov, *_ = cached_oracle_moments(name)
  got = fisher_information_j(case.family, jnp.array(case.theta))
  np.testing.assert_allclose(got, cov, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", SCALAR)
def test_third_cumulant_equals_third_central_moment(x64, name):
  case = CASES[name]
  _, _, m3, _ = cached_oracle_moments(name)
  _, psi3, _ = cumulants_j(case.family, jnp.array(case.theta))
  np.testing.assert_allclose(psi3, m3, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", SCALAR)
def test_fourth_cumulant_equals_fourth_central_moment_minus_gaussian_part(x64, name):
  case = CASES[name]
  _, K, _, m4 = cached_oracle_moments(name)
  kappa4 = (m4 - np.einsum("ab,cd->abcd", K, K) - np.einsum("ac,bd->abcd", K, K) -
            np.einsum("ad,bc->abcd", K, K))
  _, _, psi4 = cumulants_j(case.family, jnp.array(case.theta))
  np.testing.assert_allclose(psi4, kappa4, rtol=1e-7, atol=1e-9)


NORMAL, POLY2 = CASES["normal"].family, ef.polynomial(2)


@pytest.mark.parametrize("theta", [(0.5, -0.8), (-1.0, -2.0), (1.5, -1.2)])
def test_polynomial2_matches_normal(x64, theta):
  # On [-10, 10] the N(μ, σ²) densities used here are below e^-60 at the ends, so the truncated
  # quadrature family equals the normal family; ψ differs by log √(2π) because h = 1 there.
  theta = jnp.array(theta)
  normal, poly = NORMAL, POLY2
  np.testing.assert_allclose(poly.log_partition(theta) - normal.log_partition(theta),
                             0.5 * math.log(2 * math.pi), rtol=1e-12)
  np.testing.assert_allclose(ef.mean_parameters(poly, theta), ef.mean_parameters(normal, theta),
                             rtol=1e-11, atol=1e-12)
  for got, want in zip(cumulants_j(poly, theta), cumulants_j(normal, theta)):
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


def test_polynomial2_matches_normal_on_a_wider_grid_where_the_default_truncation_shows(x64):
  # N(10/3, 5/3) has mass ~1e-7 beyond x = 10: the default [-10, 10] truncation is visible in ψ₄, a
  # wider grid removes it.
  theta = jnp.array([2.0, -0.3])
  _, _, psi4 = cumulants_j(NORMAL, theta)
  _, _, psi4_default = cumulants_j(POLY2, theta)
  _, _, psi4_wide = cumulants_j(ef.polynomial(2, lower=-25.0, upper=30.0, num_points=11001), theta)
  assert np.max(np.abs(psi4_default - psi4)) > 1e-3
  np.testing.assert_allclose(psi4_wide, psi4, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("family, theta", [
    (ef.exponential(), [0.0]),
    (ef.exponential(), [0.5]),
    (ef.gamma(), [-1.0, -1.0]),
    (ef.gamma(), [-2.0, -1.0]),
    (ef.gamma(), [0.5, 0.0]),
    (ef.gamma(), [0.5, 1.0]),
    (ef.normal(), [0.3, 0.0]),
    (ef.normal(), [0.3, 0.2]),
    (ef.multivariate_normal(2), [0.0, 0.0, 1.0, 0.0, -0.5]),   # P_11 = -2 < 0
    (ef.multivariate_normal(2), [0.0, 0.0, -0.5, 2.0, -0.5]),  # P = [[1, -2], [-2, 1]], indefinite
    (ef.multivariate_normal(2), [0.0, 0.0, -0.5, 1.0, -0.5]),  # P = [[1, -1], [-1, 1]], singular
], ids=lambda v: v.name if isinstance(v, ef.ExponentialFamily) else str(v))
def test_in_natural_domain_is_false_outside_theta(x64, family, theta):
  assert not bool(ef.in_natural_domain(family, jnp.array(theta)))


@pytest.mark.parametrize("family, theta", [
    (ef.bernoulli(), [40.0]),
    (ef.categorical(3), [-30.0, 30.0]),
    (ef.poisson(), [-20.0]),
    (ef.exponential(), [-1e-6]),
    (ef.gamma(), [-0.999, -1e-3]),
    (ef.normal(), [5.0, -1e-4]),
    (ef.multivariate_normal(2), [1.0, -1.0, -0.5, 0.9, -0.5]),
    (ef.polynomial(4), [0.1, -0.2, 0.3, -0.4]),
], ids=lambda v: v.name if isinstance(v, ef.ExponentialFamily) else str(v))
def test_in_natural_domain_is_true_inside_theta(x64, family, theta):
  assert bool(ef.in_natural_domain(family, jnp.array(theta)))


# ---------------------------------------------------------------------------------------------------
# Multivariate normal: scipy densities and a 2-D trapezoid grid.

MVN_MU = np.array([0.4, -0.3])
MVN_SIGMA = np.array([[1.2, 0.5], [0.5, 0.8]])


def mvn_theta(mu, sigma):
  """θ = (Σ⁻¹μ, vech Λ), Λ_ii = -½(Σ⁻¹)_ii, Λ_ij = -(Σ⁻¹)_ij (i > j), lower triangle row-major."""
  P = np.linalg.inv(sigma)
  rows, cols = np.tril_indices(len(mu))
  lam = np.where(rows == cols, -0.5, -1.0) * P[rows, cols]
  return np.concatenate([P @ mu, lam])


def mvn_statistic(x):
  rows, cols = np.tril_indices(x.shape[-1])
  return np.concatenate([x, x[..., rows] * x[..., cols]], -1)


@functools.lru_cache(maxsize=None)
def mvn_grid():
  """Trapezoid nodes and weights over ±9 standard deviations (Gaussian: spectrally accurate)."""
  half = 9 * np.sqrt(np.diag(MVN_SIGMA))
  axes = [np.linspace(m - h, m + h, 361) for m, h in zip(MVN_MU, half)]
  w1 = [np.full(len(a), a[1] - a[0]) for a in axes]
  for w in w1:
    w[0] = w[-1] = w[0] / 2
  X, Y = np.meshgrid(*axes, indexing="ij")
  pts = np.stack([X.ravel(), Y.ravel()], -1)
  return pts, np.outer(*w1).ravel()


def test_mvn_log_prob_matches_scipy(x64):
  fam = ef.multivariate_normal(2)
  x = np.random.default_rng(0).normal(size=(6, 2)) * 2
  got = jax.vmap(lambda xi: ef.log_prob(fam, jnp.array(mvn_theta(MVN_MU, MVN_SIGMA)), xi))(x)
  np.testing.assert_allclose(got, stats.multivariate_normal(MVN_MU, MVN_SIGMA).logpdf(x), rtol=1e-12)


def test_mvn_density_normalises_on_a_grid(x64):
  fam = ef.multivariate_normal(2)
  pts, w = mvn_grid()
  theta = jnp.array(mvn_theta(MVN_MU, MVN_SIGMA))
  lp = jax.jit(jax.vmap(lambda xi: ef.log_prob(fam, theta, xi)))(pts)
  np.testing.assert_allclose(np.sum(w * np.exp(lp)), 1.0, rtol=1e-11)


def test_mvn_mean_parameters_and_fisher_information_match_grid_moments(x64):
  fam = ef.multivariate_normal(2)
  pts, w = mvn_grid()
  wp = w * stats.multivariate_normal(MVN_MU, MVN_SIGMA).pdf(pts)
  t = mvn_statistic(pts)
  eta = wp @ t
  cov = np.einsum("m,ma,mb->ab", wp, t - eta, t - eta)
  theta = jnp.array(mvn_theta(MVN_MU, MVN_SIGMA))
  np.testing.assert_allclose(mean_parameters_j(fam, theta), eta, rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(fisher_information_j(fam, theta), cov, rtol=1e-10, atol=1e-12)


def test_mvn_statistic_is_x_then_lower_triangle_row_major(x64):
  x = jnp.array([2.0, 3.0, 5.0])
  np.testing.assert_array_equal(ef.multivariate_normal(3).sufficient_statistic(x),
                                [2, 3, 5, 4, 6, 9, 10, 15, 25])


# ---------------------------------------------------------------------------------------------------
# User-defined families, pytree behaviour, jit/vmap/grad, constructor errors.


def test_custom_family_reproduces_the_exponential(x64):
  fam = ef.custom("my_exponential", 1, lambda x: jnp.atleast_1d(x), lambda th: -jnp.log(-th[0]),
                  initial_natural=(-1.0,))
  ref = ef.exponential()
  theta = jnp.array([-0.6])
  np.testing.assert_allclose(ef.mean_parameters(fam, theta), [1 / 0.6], rtol=1e-14)
  np.testing.assert_allclose(ef.fisher_information(fam, theta), [[1 / 0.36]], rtol=1e-14)
  np.testing.assert_allclose(ef.log_prob(fam, theta, 2.0), ef.log_prob(ref, theta, 2.0), rtol=1e-14)
  res = ef.information_projection(fam, ef.Moments(jnp.array([4.0])))
  assert bool(res.converged)
  np.testing.assert_allclose(res.theta, [-0.25], rtol=1e-12)


def test_family_is_a_pytree_without_leaves_and_passes_through_jit(x64):
  fam = ef.gamma()
  assert jax.tree_util.tree_leaves(fam) == []
  theta = jnp.array([1.5, -2.0])
  # E log x = ψ₀(k) − log β, E x = k/β for Gamma(k = 2.5, β = 2).
  np.testing.assert_allclose(jax.jit(ef.mean_parameters)(fam, theta),
                             [special.digamma(2.5) - math.log(2.0), 1.25], rtol=1e-13)


def test_vmap_of_mean_parameters_over_a_batch_of_theta(x64):
  fam = ef.poisson()
  thetas = jnp.log(jnp.array([[0.5], [2.0], [7.0]]))
  np.testing.assert_allclose(jax.vmap(lambda th: ef.mean_parameters(fam, th))(thetas),
                             [[0.5], [2.0], [7.0]], rtol=1e-14)


def test_vmap_of_log_prob_over_observations_and_parameters(x64):
  fam = ef.normal()
  mus, sig2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 0.5, 3.0])
  thetas = jnp.array(np.stack([mus / sig2, -0.5 / sig2], -1))
  xs = jnp.array([0.3, -1.0, 2.0, 5.0])
  got = jax.vmap(lambda th: jax.vmap(lambda x: ef.log_prob(fam, th, x))(xs))(thetas)
  want = stats.norm(mus[:, None], np.sqrt(sig2)[:, None]).logpdf(np.asarray(xs)[None, :])
  np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("name", ["gamma", "normal", "polynomial4"])
def test_log_partition_gradients_match_finite_differences(x64, name):
  case = CASES[name]
  theta = jnp.array(case.theta)
  assert np.all(np.isfinite(jax.grad(case.family.log_partition)(theta)))
  check_grads(case.family.log_partition, (theta,), order=2, modes=["rev"], eps=1e-4)


@pytest.mark.parametrize("make, arg", [(ef.categorical, 1), (ef.polynomial, 0)])
def test_constructor_rejects_too_small_k(make, arg):
  with pytest.raises(ValueError, match="k must be >= "):
    make(arg)


# ---------------------------------------------------------------------------------------------------
# Families compare and hash by value, so jit compiles once per family value.


@pytest.mark.parametrize("make, same, other", [
    (ef.normal, ef.normal, ef.exponential),
    (lambda: ef.categorical(3), lambda: ef.categorical(k=np.int64(3)), lambda: ef.categorical(4)),
    (lambda: ef.multivariate_normal(2), lambda: ef.multivariate_normal(d=2),
     lambda: ef.multivariate_normal(3)),
    (lambda: ef.polynomial(2, lower=-10), lambda: ef.polynomial(k=2, lower=-10.0, upper=10.0),
     lambda: ef.polynomial(2, num_points=101)),
])
def test_built_in_families_compare_and_hash_by_their_arguments(make, same, other):
  assert make() == same() and hash(make()) == hash(same())
  assert make() != other()
  assert len({make(), same(), other()}) == 2


def test_jit_traces_once_for_two_normal_families():
  traces = []

  @jax.jit
  def psi(family, theta):
    traces.append(family.name)  # runs only while tracing
    return family.log_partition(theta)

  theta = jnp.array([0.5, -0.125])
  a, b = psi(ef.normal(), theta), psi(ef.normal(), theta)
  assert traces == ["normal"] and float(a) == float(b)
  psi(ef.exponential(), jnp.array([-2.0, 0.0]))  # another family value: a new trace
  assert traces == ["normal", "exponential"]


def test_library_kernels_trace_once_for_equal_custom_families(x64):
  # cumulants runs a jitted kernel keyed on the family: count the traces of ψ through it.
  traces = []

  def psi(th):
    traces.append(1)  # runs only while tracing
    return -jnp.log(-th[0])

  fam = ef.custom("rate", 1, jnp.atleast_1d, psi, initial_natural=(-1.0,))
  twin = ef.custom("rate", 1, jnp.atleast_1d, psi, initial_natural=[-1])
  assert fam == twin and hash(fam) == hash(twin)
  ef.cumulants(fam, jnp.array([-4.0]))
  n = len(traces)
  ef.cumulants(twin, jnp.array([-3.0]))
  assert n > 0 and len(traces) == n  # the twin reused the program compiled for the first family


def test_custom_families_compare_by_the_identity_of_their_callables():
  T, psi = jnp.atleast_1d, lambda th: -jnp.log(-th[0])
  assert ef.custom("rate", 1, T, psi) == ef.custom("rate", 1, T, psi)
  assert ef.custom("rate", 1, T, psi) != ef.custom("rate", 1, T, lambda th: -jnp.log(-th[0]))
  import dataclasses
  assert dataclasses.replace(ef.normal(), log_partition=psi) != ef.normal()


def test_a_shared_family_works_under_both_x64_settings():
  # Built-in families are shared instances, so one family meets both jax_enable_x64 settings.
  fam = ef.multivariate_normal(2)
  x = np.array([1.0, 2.0])
  with jax.enable_x64(True):
    t64 = jax.jit(fam.sufficient_statistic)(jnp.asarray(x))
    psi64 = jax.jit(fam.log_partition)(jnp.asarray(fam.theta0()))
  t32 = fam.sufficient_statistic(jnp.asarray(x, jnp.float32))
  psi32 = fam.log_partition(fam.theta0())
  np.testing.assert_array_equal(np.asarray(t32), [1.0, 2.0, 1.0, 2.0, 4.0])
  np.testing.assert_allclose(np.asarray(t64), np.asarray(t32))
  np.testing.assert_allclose(float(psi64), float(psi32), rtol=1e-6)
