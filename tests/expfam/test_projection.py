"""Information projection, MLE and Bregman KL against independent oracles (float64): hand-written
moment matching (logit, log-mean, −1/mean, μ/σ², digamma equations solved by scipy), KL by scipy
quadrature or summation over a truncated support, and the exact identities of the spec (§1, §7.1)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads
from scipy import integrate, optimize, special, stats

from divjax import expfam as ef


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


# Families are built once: a family is static configuration, so reusing the instance reuses the
# compiled Newton solver.
FAMILIES = {
    "bernoulli": ef.bernoulli(),
    "categorical4": ef.categorical(4),
    "poisson": ef.poisson(),
    "exponential": ef.exponential(),
    "gamma": ef.gamma(),
    "normal": ef.normal(),
    "mvn2": ef.multivariate_normal(2),
    # Wider than the default [-10, 10]: the fitted densities below must be negligible at the ends.
    "polynomial2": ef.polynomial(2, lower=-20.0, upper=20.0, num_points=8001),
    "polynomial4": ef.polynomial(4, lower=-20.0, upper=20.0, num_points=8001),
}
CLOSED_FORM = {"bernoulli", "categorical4", "poisson", "exponential", "normal", "mvn2"}

# ---------------------------------------------------------------------------------------------------
# Oracles written from the textbook parametrisations (they never call ψ or the family's inverse).


def statistic(name, x):
  """T(x) for observations x ([m] or [m, d]), written from each family's definition."""
  x = np.asarray(x, np.float64)
  if name in ("bernoulli", "poisson", "exponential"):
    return x[:, None]
  if name == "categorical4":
    return (x[:, None] == np.arange(1, 4)).astype(float)
  if name == "gamma":
    return np.stack([np.log(x), x], -1)
  if name in ("normal", "polynomial2"):
    return np.stack([x, x * x], -1)
  if name == "polynomial4":
    return np.stack([x, x**2, x**3, x**4], -1)
  if name == "mvn2":
    return np.stack([x[:, 0], x[:, 1], x[:, 0]**2, x[:, 1] * x[:, 0], x[:, 1]**2], -1)
  raise KeyError(name)


def gamma_shape_from_moments(mean_log, mean):
  """Solve log k − ψ₀(k) = log E x − E log x for the Gamma shape (the MLE equation)."""
  s = math.log(mean) - mean_log
  return optimize.brentq(lambda k: math.log(k) - special.digamma(k) - s, 1e-8, 1e8, xtol=1e-300,
                         rtol=4 * np.finfo(float).eps)


def mvn_theta(mu, sigma):
  P = np.linalg.inv(sigma)
  rows, cols = np.tril_indices(len(mu))
  return np.concatenate([P @ mu, np.where(rows == cols, -0.5, -1.0) * P[rows, cols]])


def theta_from_moments(name, eta):
  """The natural parameter whose mean of T is η, by the textbook formulas."""
  eta = np.asarray(eta, np.float64)
  if name == "bernoulli":
    return np.log(eta / (1 - eta))
  if name == "categorical4":
    return np.log(eta / (1 - eta.sum()))
  if name == "poisson":
    return np.log(eta)
  if name == "exponential":
    return -1 / eta
  if name == "gamma":
    k = gamma_shape_from_moments(*eta)
    return np.array([k - 1, -k / eta[1]])
  if name in ("normal", "polynomial2"):
    var = eta[1] - eta[0]**2
    return np.array([eta[0] / var, -0.5 / var])
  if name == "mvn2":
    mu = eta[:2]
    second = np.array([[eta[2], eta[3]], [eta[3], eta[4]]])
    return mvn_theta(mu, second - np.outer(mu, mu))
  raise KeyError(name)


def oracle_logpdf(name, theta):
  """(log density, support) of p_θ for the scalar families, from the textbook parametrisations."""
  theta = np.asarray(theta, np.float64)
  if name == "bernoulli":
    q = special.expit(theta[0])
    return (lambda x: stats.bernoulli.logpmf(x, q)), np.array([0.0, 1.0])
  if name == "categorical4":
    logits = np.r_[0.0, theta]
    return (lambda x: (logits - special.logsumexp(logits))[np.asarray(x, int)]), np.arange(4.0)
  if name == "poisson":
    return stats.poisson(np.exp(theta[0])).logpmf, np.arange(200.0)
  if name == "exponential":
    return stats.expon(scale=-1 / theta[0]).logpdf, (0.0, np.inf)
  if name == "gamma":
    return stats.gamma(theta[0] + 1, scale=-1 / theta[1]).logpdf, (0.0, np.inf)
  if name == "normal":
    var = -0.5 / theta[1]
    return stats.norm(theta[0] * var, math.sqrt(var)).logpdf, (-np.inf, np.inf)
  if name == "polynomial4":
    def unnorm(x):
      return np.stack([np.asarray(x)**j for j in range(1, 5)], -1) @ theta
    log_z = math.log(integrate.quad(lambda x: math.exp(unnorm(x)), -20, 20, epsabs=0, epsrel=1e-13,
                                    limit=200)[0])
    return (lambda x: unnorm(x) - log_z), (-20.0, 20.0)
  raise KeyError(name)


def oracle_kl(name, theta1, theta2):
  """KL(p_θ₁‖p_θ₂) by summation over the support or scipy quadrature (closed form for mvn2)."""
  if name == "mvn2":
    def mu_sigma(theta):
      P = np.array([[-2 * theta[2], -theta[3]], [-theta[3], -2 * theta[4]]])
      S = np.linalg.inv(P)
      return S @ theta[:2], S
    (m1, S1), (m2, S2) = mu_sigma(np.asarray(theta1)), mu_sigma(np.asarray(theta2))
    S2i = np.linalg.inv(S2)
    return 0.5 * (np.trace(S2i @ S1) + (m2 - m1) @ S2i @ (m2 - m1) - 2 +
                  np.log(np.linalg.det(S2) / np.linalg.det(S1)))
  lp1, support = oracle_logpdf(name, theta1)
  lp2, _ = oracle_logpdf(name, theta2)
  if isinstance(support, np.ndarray):
    a, b = lp1(support), lp2(support)
    return float(np.sum(np.exp(a) * (a - b)))
  return integrate.quad(lambda x: math.exp(lp1(x)) * (lp1(x) - lp2(x)), *support, epsabs=1e-15,
                        epsrel=1e-13, limit=200)[0]


# ---------------------------------------------------------------------------------------------------
# Targets.

RNG_SAMPLES = {
    "bernoulli": lambda r: r.binomial(1, 0.35, 40).astype(float),
    "categorical4": lambda r: r.choice(4, 40, p=[0.1, 0.2, 0.3, 0.4]).astype(float),
    "poisson": lambda r: r.poisson(2.5, 40).astype(float),
    "exponential": lambda r: r.gamma(2.0, 1.0, 40),
    "gamma": lambda r: r.lognormal(0.0, 0.5, 40),
    "normal": lambda r: r.laplace(1.0, 2.0, 40),
    "mvn2": lambda r: r.standard_t(5, size=(40, 2)) @ np.array([[1.0, 0.4], [0.0, 0.7]]),
    "polynomial2": lambda r: r.normal(0.5, 1.2, 40),
    "polynomial4": lambda r: r.choice([-1.0, 1.0], 40) + 0.4 * r.normal(size=40),  # bimodal
}


def samples(name):
  return RNG_SAMPLES[name](np.random.default_rng(7))


PMFS = {
    "bernoulli": ([0.0, 1.0], [0.6, 0.4]),
    "categorical4": ([0.0, 1.0, 2.0, 3.0], [0.4, 0.3, 0.2, 0.1]),
    "poisson": ([0.0, 1.0, 2.0, 3.0, 5.0, 9.0], [0.1, 0.3, 0.2, 0.2, 0.1, 0.1]),
    "exponential": ([0.5, 1.0, 3.0], [0.2, 0.5, 0.3]),
    "gamma": ([0.5, 1.0, 3.0], [0.2, 0.5, 0.3]),
    "normal": ([-1.0, 0.5, 2.0], [0.3, 0.3, 0.4]),
    "mvn2": ([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], [0.1, 0.2, 0.3, 0.4]),
    "polynomial2": ([-1.0, 0.5, 2.0], [0.3, 0.3, 0.4]),
    "polynomial4": ([-2.0, -0.5, 0.0, 1.0, 3.0], [0.1, 0.2, 0.3, 0.25, 0.15]),
}


def mixture_grid():
  """½N(−1, 0.5²) + ½N(2, 1) on [−15, 15]: mean ½, E x² = 3.125, E x³ = 7.0625, E x⁴ = 41.25."""
  x = np.linspace(-15, 15, 6001)
  logd = np.logaddexp(stats.norm(-1, 0.5).logpdf(x), stats.norm(2, 1).logpdf(x)) + math.log(0.5)
  raw = [0.5 * (stats.norm(-1, 0.5).moment(j) + stats.norm(2, 1).moment(j)) for j in range(1, 5)]
  return ef.GridDensity(jnp.array(x), jnp.array(logd)), np.array(raw)


def lognormal_grid():
  """LogNormal(0, ½²) on [10⁻³, 40]: E log x = 0, E x = e^{1/8}."""
  x = np.linspace(1e-3, 40, 40001)
  return ef.GridDensity(jnp.array(x), jnp.array(stats.lognorm(0.5).logpdf(x)))


GRIDS = {
    "exponential": lambda: (lognormal_grid(), np.array([math.exp(0.125)])),
    "gamma": lambda: (lognormal_grid(), np.array([0.0, math.exp(0.125)])),
    "normal": lambda: (mixture_grid()[0], mixture_grid()[1][:2]),
    "polynomial2": lambda: (mixture_grid()[0], mixture_grid()[1][:2]),
    "polynomial4": lambda: mixture_grid(),
}

MOMENTS = {
    "bernoulli": [0.8],
    "categorical4": [0.25, 0.25, 0.3],
    "poisson": [4.2],
    "exponential": [2.5],
    "gamma": [special.digamma(3.0) - math.log(2.0), 1.5],      # Gamma(3, rate 2): θ = (2, −2)
    "normal": [1.0, 5.0],                                      # N(1, 4)
    "mvn2": [1.0, -1.0, 2.0, -0.5, 3.0],                       # μ = (1, −1), Σ = [[1, .5], [.5, 2]]
    "polynomial2": [1.0, 5.0],
    "polynomial4": [0.0, 1.0, 0.0, 3.0],                       # N(0, 1): θ = (0, −½, 0, 0)
}


def target_and_eta(name, kind):
  """A target of the given kind and its mean of T computed by the test (numpy or analytic)."""
  if kind == "samples":
    x = samples(name)
    return x, statistic(name, x).mean(0)
  if kind == "pmf":
    support, probs = map(np.asarray, PMFS[name])
    return ef.Pmf(jnp.array(support), jnp.array(probs)), probs @ statistic(name, support)
  if kind == "grid":
    return GRIDS[name]()
  return ef.Moments(jnp.array(MOMENTS[name])), np.array(MOMENTS[name])


PROJECTION_CASES = [(name, kind) for name in FAMILIES
                    for kind in ("samples", "pmf", "grid", "moments")
                    if kind != "grid" or name in GRIDS]


def methods(name):
  return ("newton", "closed_form", "auto") if name in CLOSED_FORM else ("newton", "auto")


# ---------------------------------------------------------------------------------------------------
# Identities (spec §7.1).


@pytest.mark.parametrize("name", ["bernoulli", "categorical4", "poisson", "exponential", "gamma",
                                  "normal", "mvn2", "polynomial4"])
def test_log_likelihood_gain_equals_reversed_kl(x64, name):
  # (ℓ(θ̂) − ℓ(θ*))/n = KL(p_θ̂‖p_θ*) holds for every θ* when ∇ψ(θ̂) = T̄ (spec §1 fact 5).
  family, x = FAMILIES[name], samples(name)
  theta_hat = ef.mle(family, x).theta
  theta_star = ef.information_projection(family, ef.Moments(jnp.array(MOMENTS[name]))).theta
  loglik = jax.jit(lambda th: jnp.sum(jax.vmap(lambda xi: ef.log_prob(family, th, xi))(jnp.array(x))))
  gain = (loglik(theta_hat) - loglik(theta_star)) / len(x)
  np.testing.assert_allclose(gain, oracle_kl(name, theta_hat, theta_star), rtol=0, atol=1e-12)


@pytest.mark.parametrize("theta", [[-1.0], [0.4], [2.5]])
def test_pythagorean_identity_for_poisson_model_and_discrete_target(x64, theta):
  support = np.arange(8.0)
  g = np.array([0.3, 0.05, 0.1, 0.2, 0.1, 0.05, 0.05, 0.15])   # bimodal: far from any Poisson
  theta_star = ef.information_projection(FAMILIES["poisson"], ef.Pmf(jnp.array(support),
                                                                     jnp.array(g))).theta
  lam_star, lam = math.exp(theta_star[0]), math.exp(theta[0])
  grid = np.arange(300.0)
  log_p_star = stats.poisson(lam_star).logpmf(grid)
  kl_star_theta = np.sum(np.exp(log_p_star) * (log_p_star - stats.poisson(lam).logpmf(grid)))
  lhs = np.sum(g * (np.log(g) - stats.poisson(lam).logpmf(support)))
  rhs = np.sum(g * (np.log(g) - stats.poisson(lam_star).logpmf(support))) + kl_star_theta
  np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("theta", [[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [-3.0, 4.0, 1.0]])
def test_pythagorean_identity_for_categorical_model_and_discrete_target(x64, theta):
  g = np.array([0.15, 0.25, 0.45, 0.15])
  theta_star = ef.information_projection(FAMILIES["categorical4"],
                                         ef.Pmf(jnp.arange(4.0), jnp.array(g))).theta

  def probs(th):
    e = np.exp(np.r_[0.0, th])
    return e / e.sum()

  p_star, p = probs(np.asarray(theta_star)), probs(np.asarray(theta))
  lhs = np.sum(special.rel_entr(g, p))
  rhs = np.sum(special.rel_entr(g, p_star)) + np.sum(special.rel_entr(p_star, p))
  np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_mean_parameter_at_projection_equals_target_mean_of_statistic(x64, name):
  target, eta = target_and_eta(name, "pmf")
  theta_star = ef.information_projection(FAMILIES[name], target).theta
  np.testing.assert_allclose(jax.jit(ef.mean_parameters)(FAMILIES[name], theta_star), eta, rtol=1e-11,
                             atol=1e-12)


# ---------------------------------------------------------------------------------------------------
# Information projection = analytic moment matching.


@pytest.mark.parametrize("name, kind", PROJECTION_CASES)
def test_projection_equals_analytic_moment_match_by_every_method(x64, name, kind):
  family = FAMILIES[name]
  target, eta = target_and_eta(name, kind)
  tol = 1e-8 if kind == "grid" else 1e-10   # grid: trapezoid vs the exact moments of the density
  for method in methods(name):
    res = ef.information_projection(family, target, method=method)
    assert bool(res.converged), method
    if name == "polynomial4":   # no closed form: match E_θ*[x^j] by scipy quadrature instead
      lp, support = oracle_logpdf(name, res.theta)
      got = [integrate.quad(lambda x: x**j * math.exp(lp(x)), *support, epsabs=1e-13,
                            epsrel=1e-12, limit=200)[0] for j in range(1, 5)]
      np.testing.assert_allclose(got, eta, rtol=tol, atol=tol)
    else:
      np.testing.assert_allclose(res.theta, theta_from_moments(name, eta), rtol=tol, atol=tol,
                                 err_msg=method)


def test_normal_projection_of_samples_is_sample_mean_and_biased_variance(x64):
  x = samples("normal")
  res = ef.mle(FAMILIES["normal"], x)
  var = -0.5 / res.theta[1]
  np.testing.assert_allclose([res.theta[0] * var, var], [np.mean(x), np.var(x)], rtol=1e-12)


def test_gamma_projection_solves_the_digamma_equations(x64):
  x = samples("gamma")
  res = ef.mle(FAMILIES["gamma"], x)
  k, rate = float(res.theta[0]) + 1, -float(res.theta[1])
  np.testing.assert_allclose(special.digamma(k) - math.log(rate), np.mean(np.log(x)), rtol=1e-12)
  np.testing.assert_allclose(k / rate, np.mean(x), rtol=1e-12)


def test_polynomial4_projection_of_standard_normal_moments_is_the_standard_normal(x64):
  res = ef.information_projection(FAMILIES["polynomial4"],
                                  ef.Moments(jnp.array([0.0, 1.0, 0.0, 3.0])))
  np.testing.assert_allclose(res.theta, [0.0, -0.5, 0.0, 0.0], atol=1e-10)


def test_grid_density_may_be_unnormalised(x64):
  grid, _ = mixture_grid()
  shifted = ef.GridDensity(grid.x, grid.log_density + 12.3)
  np.testing.assert_allclose(ef.information_projection(FAMILIES["normal"], shifted).theta,
                             ef.information_projection(FAMILIES["normal"], grid).theta, rtol=1e-13)


def test_integer_samples_are_accepted(x64):
  x = np.random.default_rng(1).poisson(3.0, 30)
  np.testing.assert_allclose(ef.mle(FAMILIES["poisson"], x).theta, [math.log(x.mean())], rtol=1e-13)


def test_target_moments_of_samples_match_numpy(x64):
  x = samples("normal")
  t = statistic("normal", x)
  m = ef.target_moments(FAMILIES["normal"], x)
  c = t - t.mean(0)
  third = np.array([[[np.mean(c[:, a] * c[:, b] * c[:, e]) for e in range(2)] for b in range(2)]
                    for a in range(2)])
  np.testing.assert_allclose(m.mean, t.mean(0), rtol=1e-13)
  np.testing.assert_allclose(m.covariance, np.cov(t.T, bias=True), rtol=1e-12)
  np.testing.assert_allclose(m.third_cumulant, third, rtol=1e-11)


def test_target_moments_of_a_pmf_match_weighted_sums(x64):
  support, probs = map(np.asarray, PMFS["poisson"])
  m = ef.target_moments(FAMILIES["poisson"], ef.Pmf(jnp.array(support), jnp.array(probs)))
  mean = probs @ support
  np.testing.assert_allclose(m.mean, [mean], rtol=1e-14)
  np.testing.assert_allclose(m.covariance, [[probs @ (support - mean)**2]], rtol=1e-13)
  np.testing.assert_allclose(m.third_cumulant, [[[probs @ (support - mean)**3]]], rtol=1e-12)


@pytest.mark.parametrize("eta, want", [([0.999], math.log(999.0)), ([0.995], math.log(199.0)),
                                       ([1e-3], -math.log(999.0))])
def test_newton_converges_for_bernoulli_means_near_the_boundary(x64, eta, want):
  # F(θ) = ψ(θ) − θη is a difference of two O(7) numbers here: the line search must tolerate
  # rounding in F, or Newton stalls with ‖∇F‖ ~ 1e-9 and converged = False.
  res = ef.information_projection(FAMILIES["bernoulli"], ef.Moments(jnp.array(eta)), method="newton")
  assert bool(res.converged)
  np.testing.assert_allclose(res.theta, [want], rtol=1e-12)


def test_newton_converges_for_an_ill_conditioned_normal(x64):
  # N(100, 0.1²): θ = (10⁴, −50), Cov(T) nearly singular.
  res = ef.information_projection(FAMILIES["normal"], ef.Moments(jnp.array([100.0, 1e4 + 0.01])),
                                  method="newton")
  assert bool(res.converged)
  np.testing.assert_allclose(res.theta, [1e4, -50.0], rtol=1e-9)


# ---------------------------------------------------------------------------------------------------
# KL as a Bregman divergence.

KL_PAIRS = {
    "bernoulli": ([0.3], [-1.2]),
    "categorical4": ([0.3, -0.5, 1.1], [-1.0, 0.2, 0.4]),
    "poisson": ([math.log(3.5)], [math.log(1.2)]),
    "exponential": ([-1.7], [-0.4]),
    "gamma": ([1.5, -2.0], [0.2, -0.7]),
    "normal": ([0.48, -0.4], [-1.0, -0.2]),
    "mvn2": (mvn_theta(np.array([0.4, -0.3]), np.array([[1.2, 0.5], [0.5, 0.8]])),
             mvn_theta(np.array([-1.0, 0.5]), np.array([[2.0, -0.3], [-0.3, 0.5]]))),
    "polynomial4": ([0.3, -0.2, 0.1, -0.15], [-0.1, -0.6, 0.0, -0.05]),
}


@pytest.mark.parametrize("name", list(KL_PAIRS))
def test_bregman_kl_divergence_matches_quadrature_or_summation(x64, name):
  th1, th2 = map(np.asarray, KL_PAIRS[name])
  got = ef.bregman_kl_divergence(FAMILIES[name], jnp.array(th1), jnp.array(th2))
  np.testing.assert_allclose(got, oracle_kl(name, th1, th2), rtol=1e-10, atol=1e-13)


@given(mu1=st.floats(-5, 5), mu2=st.floats(-5, 5), log_s1=st.floats(-2, 2), log_s2=st.floats(-2, 2))
def test_normal_bregman_kl_divergence_equals_closed_form(mu1, mu2, log_s1, log_s2):
  # KL(N(μ₁, σ₁²)‖N(μ₂, σ₂²)) = log(σ₂/σ₁) + (σ₁² + (μ₁ − μ₂)²)/(2σ₂²) − ½ ≥ 0.
  v1, v2 = math.exp(2 * log_s1), math.exp(2 * log_s2)
  want = log_s2 - log_s1 + (v1 + (mu1 - mu2)**2) / (2 * v2) - 0.5
  with jax.enable_x64(True):
    got = float(ef.bregman_kl_divergence(FAMILIES["normal"], jnp.array([mu1 / v1, -0.5 / v1]),
                                 jnp.array([mu2 / v2, -0.5 / v2])))
  assert got >= -1e-12
  np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_bregman_kl_divergence_vanishes_on_the_diagonal(x64):
  th = jnp.array([1.5, -2.0])
  assert float(ef.bregman_kl_divergence(FAMILIES["gamma"], th, th)) == 0.0


def test_vmap_of_bregman_kl_divergence_over_a_batch_of_theta(x64):
  family = FAMILIES["normal"]
  theta1 = jnp.array([0.48, -0.4])
  batch = jnp.array([[-1.0, -0.2], [0.0, -0.5], [2.0, -3.0], [0.48, -0.4]])
  got = jax.vmap(lambda th: ef.bregman_kl_divergence(family, theta1, th))(batch)
  want = [oracle_kl("normal", np.asarray(theta1), np.asarray(th)) for th in batch]
  np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def test_grad_of_kl_in_second_argument_is_difference_of_mean_parameters(x64):
  # ∂/∂θ₂ [ψ(θ₂) − ψ(θ₁) − η₁·(θ₂ − θ₁)] = η₂ − η₁; for the normal η = (μ, μ² + σ²).
  family = FAMILIES["normal"]
  th1, th2 = jnp.array([0.48, -0.4]), jnp.array([-1.0, -0.2])
  grad = jax.grad(lambda th: ef.bregman_kl_divergence(family, th1, th))(th2)
  eta = lambda m, v: np.array([m, m * m + v])  # noqa: E731
  np.testing.assert_allclose(grad, eta(-2.5, 2.5) - eta(0.6, 1.25), rtol=1e-12)
  check_grads(lambda a, b: ef.bregman_kl_divergence(family, a, b), (th1, th2), order=1, modes=["rev"])


# ---------------------------------------------------------------------------------------------------
# Transformations.


def test_jit_of_newton_projection_on_moments(x64):
  family = FAMILIES["gamma"]
  project = jax.jit(lambda eta: ef.information_projection(family, ef.Moments(eta), method="newton"))
  eta = jnp.array(MOMENTS["gamma"])
  res = project(eta)
  assert bool(res.converged)
  np.testing.assert_allclose(res.theta, [2.0, -2.0], rtol=1e-12)
  np.testing.assert_allclose(res.theta, ef.information_projection(family, ef.Moments(eta)).theta,
                             rtol=1e-13)


def test_jit_with_the_family_as_an_argument(x64):
  project = jax.jit(ef.information_projection, static_argnames=("method", "max_iters", "tol"))
  res = project(FAMILIES["exponential"], ef.Moments(jnp.array([2.5])), method="newton")
  np.testing.assert_allclose(res.theta, [-0.4], rtol=1e-13)


def test_vmap_of_projection_over_a_batch_of_moments(x64):
  family = FAMILIES["gamma"]
  shapes, rates = np.array([0.7, 3.0, 12.0]), np.array([0.5, 2.0, 1.0])
  etas = np.stack([special.digamma(shapes) - np.log(rates), shapes / rates], -1)
  res = jax.vmap(lambda e: ef.information_projection(family, ef.Moments(e), method="newton"))(
      jnp.array(etas))
  assert np.all(res.converged)
  np.testing.assert_allclose(res.theta, np.stack([shapes - 1, -rates], -1), rtol=1e-11)


# ---------------------------------------------------------------------------------------------------
# Errors.


@pytest.mark.parametrize("name, x", [
    ("exponential", [1.0, -0.5]),
    ("exponential", [1.0, 0.0]),
    ("poisson", [1.0, -1.0]),
    ("poisson", [1.0, 2.5]),
    ("bernoulli", [0.0, 2.0]),
    ("categorical4", [0.0, 4.0]),
    ("gamma", [1.0, -2.0]),
])
def test_samples_outside_the_support_are_rejected(x64, name, x):
  with pytest.raises(ValueError, match=r"samples\[1\] = .* lies outside the support"):
    ef.mle(FAMILIES[name], np.array(x))


@pytest.mark.parametrize("bad, match", [(np.nan, "contains NaN"), (np.inf, "must be finite")])
def test_non_finite_samples_are_rejected(x64, bad, match):
  with pytest.raises(ValueError, match=match):
    ef.mle(FAMILIES["normal"], np.array([0.0, 1.0, bad]))


@pytest.mark.parametrize("name, shape", [("normal", (5, 2)), ("mvn2", (5, 3)), ("mvn2", (5,)),
                                         ("normal", (0,))])
def test_wrong_sample_shape_is_rejected(x64, name, shape):
  with pytest.raises(ValueError, match=r"samples must (have shape \[n|hold at least one)"):
    ef.mle(FAMILIES[name], np.ones(shape))


def test_string_samples_are_rejected(x64):
  with pytest.raises(TypeError, match="samples must be a numeric array"):
    ef.mle(FAMILIES["normal"], "0.5")


@pytest.mark.parametrize("name, x", [
    ("bernoulli", [0.0, 0.0, 0.0]),
    ("bernoulli", [1.0, 1.0]),
    ("categorical4", [0.0, 1.0, 3.0, 3.0]),
    ("poisson", [0.0, 0.0]),
    ("normal", [2.0, 2.0, 2.0]),
    ("gamma", [2.0, 2.0]),
    ("mvn2", [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]),
])
def test_mle_non_existence_is_reported(x64, name, x):
  with pytest.raises(ValueError, match="not in the interior of .* mean space"):
    ef.mle(FAMILIES[name], np.array(x))


def test_mvn_mle_needs_more_samples_than_dimensions(x64):
  with pytest.raises(ValueError, match=r"needs n > d samples"):
    ef.mle(FAMILIES["mvn2"], np.array([[0.0, 1.0], [2.0, -1.0]]))


def test_projection_of_a_boundary_pmf_is_reported(x64):
  with pytest.raises(ValueError, match="information projection \\(or MLE\\) does not exist"):
    ef.information_projection(FAMILIES["categorical4"], ef.Pmf(jnp.arange(3.0), jnp.ones(3) / 3))


def test_pmf_probabilities_must_sum_to_one(x64):
  with pytest.raises(ValueError, match="target.probs must sum to 1"):
    ef.information_projection(FAMILIES["poisson"],
                              ef.Pmf(jnp.arange(3.0), jnp.array([0.5, 0.5, 0.5])))


def test_unknown_method_is_rejected(x64):
  with pytest.raises(ValueError, match="method must be 'auto', 'newton' or 'closed_form'"):
    ef.information_projection(FAMILIES["normal"], ef.Moments(jnp.array([0.0, 1.0])), method="bfgs")


def test_closed_form_without_an_inverse_is_rejected(x64):
  with pytest.raises(ValueError, match="has no closed-form inverse; use method='newton'"):
    ef.information_projection(FAMILIES["gamma"], ef.Moments(jnp.array(MOMENTS["gamma"])),
                              method="closed_form")


def test_kl_divergence_is_a_deprecated_alias_of_bregman_kl_divergence(x64):
  family, th1, th2 = FAMILIES["gamma"], jnp.array([1.5, -2.0]), jnp.array([0.5, -1.0])
  with pytest.warns(DeprecationWarning, match=r"expfam\.kl_divergence.*expfam\.bregman_kl_divergence"):
    old = ef.kl_divergence(family, th1, th2)
  assert float(old) == float(ef.bregman_kl_divergence(family, th1, th2))
  assert "kl_divergence" not in ef.__all__ and "bregman_kl_divergence" in ef.__all__
