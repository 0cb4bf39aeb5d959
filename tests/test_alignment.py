"""divjax.alignment against independent oracles (spec nash_mp_alignment.md, sections B, C and D).

Oracles written here, independent of the code under test: plain NumPy float64 enumeration (tilts,
KL, J(π)), scipy SLSQP/BFGS optimisers (the constrained optimum, the KL-regularised argmax, the
f-DPO argmax with D_f written out in NumPy), brute-force enumeration of all N-tuples for best-of-N
(ties broken uniformly), Monte Carlo with tolerances from the standard error and a fixed seed, the
Bernoulli closed forms of the rate function, the textbook DPO loss, and central finite differences.
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize, special, stats

from divjax import alignment as al
from divjax import divergences as dv


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


def problem(n=8, seed=0, concentration=1.0):
  rng = np.random.default_rng(seed)
  p = rng.dirichlet(np.full(n, concentration))
  r = rng.normal(size=n)
  return np.log(p), r


def np_softmax(x):
  x = np.asarray(x, np.float64)
  e = np.exp(x - x.max())
  return e / e.sum()


def np_kl(a, b):
  a, b = np.asarray(a), np.asarray(b)
  m = a > 0
  return float(np.sum(a[m] * np.log(a[m] / b[m])))


def np_kl_stable(log_a, log_b):
  """KL(a‖b) = Σ a (expm1(−δ) + δ), δ = log a − log b: first-order insensitive to normalisation."""
  d = np.asarray(log_a) - np.asarray(log_b)
  return float(np.sum(np.exp(log_a) * (np.expm1(-d) + d)))


def np_tilt(p, r, lam):
  w = p * np.exp(lam * (r - r.max()))
  return w / w.sum()


# ---------------------------------------------------------------------------------------------------
# B. Tilted policies and the KL budget.


@pytest.mark.parametrize("lam", [-1.5, 0.0, 0.3, 2.0, 25.0])
def test_tilt_matches_numpy_enumeration(x64, lam):
  lp, r = problem()
  p = np.exp(lp)
  t = al.tilt(lp, r, lam)
  phi = np_tilt(p, r, lam)
  log_z = math.log(np.sum(p * np.exp(lam * r)))
  np.testing.assert_allclose(np.exp(t.log_probs), phi, rtol=1e-12, atol=1e-300)
  np.testing.assert_allclose(float(t.log_partition), log_z, rtol=1e-13, atol=1e-15)
  np.testing.assert_allclose(float(t.expected_reward), phi @ r, rtol=1e-12)
  np.testing.assert_allclose(float(t.reward_variance), phi @ (r - phi @ r)**2, rtol=1e-11)
  np.testing.assert_allclose(float(t.kl), np_kl(phi, p), rtol=1e-11, atol=1e-15)
  # KL(φ_λ‖p) = λΛ'(λ) − Λ(λ)
  np.testing.assert_allclose(float(t.kl), lam * (phi @ r) - log_z, rtol=1e-9, atol=1e-13)


def test_tilt_at_infinity_conditions_on_the_argmax_set(x64):
  lp = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
  r = np.array([1.0, 3.0, 0.0, 3.0])
  t = al.tilt(lp, r, jnp.inf)
  np.testing.assert_allclose(np.exp(t.log_probs), [0, 0.2 / 0.6, 0, 0.4 / 0.6], atol=1e-15)
  np.testing.assert_allclose(float(t.kl), -math.log(0.6), rtol=1e-14)
  assert float(t.log_partition) == math.inf


def test_tilted_policy_is_the_constrained_optimiser(x64):
  # Spec B check 1: SLSQP on max E_q r s.t. KL(q‖p) <= Δ, over the simplex.
  lp, r = problem(n=8, seed=3)
  p = np.exp(lp)
  delta = 0.25
  cons = [{"type": "ineq", "fun": lambda q: delta - np_kl(np.clip(q, 1e-300, None), p)},
          {"type": "eq", "fun": lambda q: q.sum() - 1.0}]
  # ftol 1e-12: below it scipy >= 1.16's SLSQP stops with "Positive directional derivative for
  # linesearch" (status 8) at the same point, i.e. at its own precision limit.
  res = optimize.minimize(lambda q: -(q @ r), p, method="SLSQP", bounds=[(1e-12, 1)] * 8,
                          constraints=cons, options={"ftol": 1e-12, "maxiter": 500})
  assert res.success, res.message
  sol = al.solve_kl_budget(lp, r, delta)
  np.testing.assert_allclose(float(sol.tilt.expected_reward), -res.fun, atol=1e-6)
  np.testing.assert_allclose(np.exp(sol.tilt.log_probs), res.x, atol=1e-4)


@pytest.mark.parametrize("delta", [1e-8, 1e-3, 0.1, 1.0, 1.8])
def test_kl_budget_is_met_to_round_off(x64, delta):
  lp, r = problem(n=30, seed=1)
  sol = jax.jit(al.solve_kl_budget)(lp, r, delta)
  assert float(sol.max_kl) > delta
  log_w = lp + float(sol.lam) * r
  np.testing.assert_allclose(np_kl_stable(log_w - special.logsumexp(log_w), lp), delta, rtol=1e-10)
  assert float(sol.kl_error) <= 1e-12 * max(delta, 1.0)


def test_kl_budget_beyond_the_maximum_gives_the_argmax_limit(x64):
  lp, r = problem(n=8, seed=2)
  p = np.exp(lp)
  max_kl = -math.log(p[np.argmax(r)])
  sol = al.solve_kl_budget(lp, r, max_kl + 0.5)
  assert float(sol.lam) == math.inf
  np.testing.assert_allclose(float(sol.max_kl), max_kl, rtol=1e-14)
  np.testing.assert_allclose(float(sol.tilt.expected_reward), r.max(), rtol=1e-14)


def test_kl_budget_gradient_matches_finite_differences(x64):
  lp, r = problem(n=8, seed=4)
  f = lambda d: al.solve_kl_budget(lp, r, d).lam
  d0, h = 0.4, 1e-5
  fd = (float(f(d0 + h)) - float(f(d0 - h))) / (2 * h)
  np.testing.assert_allclose(float(jax.jit(jax.grad(f))(d0)), fd, rtol=1e-6)
  # with respect to the reward, through the implicit function theorem
  g = lambda rr: al.solve_kl_budget(lp, rr, d0).tilt.expected_reward
  e = np.zeros_like(r)
  e[3] = 1.0
  fd_r = (float(g(r + h * e)) - float(g(r - h * e))) / (2 * h)
  np.testing.assert_allclose(float(jax.jit(jax.grad(g))(r)[3]), fd_r, rtol=1e-6, atol=1e-9)


def test_kl_budget_vmaps_over_budgets_and_problems(x64):
  lps, rs = zip(*(problem(n=8, seed=s) for s in range(3)))
  deltas = np.array([0.05, 0.3, 0.9])
  lams = jax.vmap(lambda lp, r, d: al.solve_kl_budget(lp, r, d).lam)(np.stack(lps), np.stack(rs),
                                                                    deltas)
  for lp, r, d, lam in zip(lps, rs, deltas, lams):
    np.testing.assert_allclose(float(lam), float(al.solve_kl_budget(lp, r, d).lam), rtol=1e-12)


def test_kl_budget_in_float32_is_accurate_to_single_precision():
  lp, r = problem(n=8, seed=5)
  sol = al.solve_kl_budget(lp.astype(np.float32), r.astype(np.float32), 0.5)
  assert sol.lam.dtype == jnp.float32
  phi = np_tilt(np.exp(lp), r, float(sol.lam))
  np.testing.assert_allclose(np_kl(phi, np.exp(lp)), 0.5, rtol=1e-4)


@pytest.mark.parametrize("lam", [0.0, 0.7, 3.0])
def test_kl_to_tilted_identity_to_round_off(x64, lam):
  # Spec B check 2: KL(q‖φ_λ) = KL(q‖p) − λ E_q r + log Z(λ), against direct enumeration.
  lp, r = problem(n=8, seed=6)
  rng = np.random.default_rng(7)
  qs = rng.dirichlet(np.full(8, 0.5), size=50)
  phi = np_tilt(np.exp(lp), r, lam)
  got = jax.vmap(lambda q: al.kl_to_tilted(jnp.log(q), lp, r, lam))(qs)
  want = np.array([np_kl(q, phi) for q in qs])
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-13)


def test_comparable_tradeoff_implies_closeness_to_the_tilt(x64):
  # If KL(q‖p) <= Δ and E_q r >= E_φ r − ε, then KL(q‖φ_λ) <= λ ε.
  lp, r = problem(n=8, seed=8)
  p = np.exp(lp)
  sol = al.solve_kl_budget(lp, r, 0.5)
  lam, best = float(sol.lam), float(sol.tilt.expected_reward)
  rng = np.random.default_rng(9)
  qs = 0.5 * rng.dirichlet(np.full(8, 0.3), size=4000) + 0.5 * np.exp(np.asarray(sol.tilt.log_probs))
  feasible = np.array([np_kl(q, p) <= 0.5 for q in qs])
  assert feasible.sum() > 100
  qs = qs[feasible]
  eps = best - qs @ r
  assert np.all(eps >= -1e-12)
  got = jax.vmap(lambda q: al.kl_to_tilted(jnp.log(q), lp, r, lam))(qs)
  assert np.all(np.asarray(got) <= lam * eps + 1e-12)


def test_solve_expected_reward_hits_the_target(x64):
  lp, r = problem(n=8, seed=10)
  for x in [r.min() + 1e-3, *np.quantile(r, [0.25, 0.5, 0.75]), r.max() - 1e-3]:
    t = jax.jit(al.solve_expected_reward)(lp, r, x)
    phi = np_tilt(np.exp(lp), r, float(t.lam))
    np.testing.assert_allclose(phi @ r, x, atol=1e-11)
  assert float(al.solve_expected_reward(lp, r, r.max()).lam) == math.inf
  # under jit an out-of-range target cannot raise: it gives NaN
  assert math.isnan(float(jax.jit(al.solve_expected_reward)(lp, r, r.max() + 1.0).expected_reward))


@pytest.mark.parametrize("q, delta, x", [(0.3, 0.2, 0.75), (0.5, 0.05, 0.3), (0.1, 1.0, 0.9)])
def test_rate_function_matches_the_bernoulli_closed_form(x64, q, delta, x):
  # Bernoulli(q) tokens, r = y: φ_{λ,1} = Bern(q_λ), KL(Bern(q_λ)‖Bern(q)) = Δ, I_λ(x) = KL(Bern(x)‖Bern(q_λ)).
  kl_b = lambda a, b: a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b))
  q_lam = optimize.brentq(lambda s: kl_b(s, q) - delta, q, 1 - 1e-15, xtol=1e-15)
  lp, r = np.log([1 - q, q]), np.array([0.0, 1.0])
  lam = al.solve_kl_budget(lp, r, delta).lam
  np.testing.assert_allclose(float(lam), special.logit(q_lam) - special.logit(q), rtol=1e-10)
  got = al.tilted_rate_function(lp, r, x, lam=lam)
  np.testing.assert_allclose(float(got), kl_b(x, q_lam), rtol=1e-10)
  assert float(al.tilted_rate_function(lp, r, q_lam, lam=lam)) < 1e-20


# ---------------------------------------------------------------------------------------------------
# B. Best-of-N.


def brute_force_bon(p, r, n):
  """Law of best-of-n by enumerating all n-tuples; ties broken uniformly among the maximal draws."""
  k = len(p)
  law = np.zeros(k)
  for tup in itertools.product(range(k), repeat=n):
    w = np.prod(p[list(tup)])
    rewards = r[list(tup)]
    winners = [y for y, rr in zip(tup, rewards) if rr == rewards.max()]
    for y in winners:
      law[y] += w / len(winners)
  return law


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("n", [1, 2, 4])
def test_best_of_n_matches_brute_force_enumeration(x64, ties, n):
  p = np.array([0.1, 0.25, 0.05, 0.3, 0.2, 0.1])
  r = np.array([0.3, 1.0, 2.0, 1.0, -1.0, 0.3]) if ties else np.array([0.3, 1.1, 2.0, 1.0, -1.0, 0.2])
  want = brute_force_bon(p, r, n)
  got = al.best_of_n(np.log(p), r, n=n)
  np.testing.assert_allclose(np.exp(got.log_probs), want, rtol=1e-12, atol=1e-16)
  np.testing.assert_allclose(float(got.kl), np_kl(want, p), rtol=1e-11, atol=1e-15)
  np.testing.assert_allclose(float(got.expected_reward), want @ r, rtol=1e-12)
  # win rate against Y ~ p, ties counted one half
  beats = (r[:, None] > r[None, :]) + 0.5 * (r[:, None] == r[None, :])
  np.testing.assert_allclose(float(got.win_rate), want @ beats @ p, rtol=1e-12)


@pytest.mark.slow
def test_best_of_n_law_matches_monte_carlo():
  # 2·10⁵ draws of best-of-16 with a fixed seed; every cell within 5 standard errors.
  lp, r = problem(n=20, seed=11)
  p = np.exp(lp)
  n, m = 16, 200_000
  rng = np.random.default_rng(12)
  ys = rng.choice(20, size=(m, n), p=p)
  best = ys[np.arange(m), np.argmax(r[ys], axis=1)]
  emp = np.bincount(best, minlength=20) / m
  law = np.exp(np.asarray(al.best_of_n(lp.astype(np.float32), r.astype(np.float32), n=n).log_probs))
  se = np.sqrt(law * (1 - law) / m)
  assert np.all(np.abs(emp - law) <= 5 * se + 1e-6), np.max(np.abs(emp - law) / (se + 1e-12))


@pytest.mark.parametrize("n", [2, 16, 64])
def test_best_of_n_kl_bound_holds_and_is_tight_for_many_outcomes(x64, n):
  # Spec B check 3: few atoms: well below; |Y| = 5000 (uniform p, distinct rewards): equal to 4 decimals.
  bound = float(al.best_of_n_kl_bound(n))
  np.testing.assert_allclose(bound, math.log(n) - (n - 1) / n, rtol=1e-14)
  few = al.best_of_n(np.zeros(5), np.arange(5.0), n=n)
  assert float(few.kl) < 0.95 * bound
  many = al.best_of_n(np.zeros(5000), np.random.default_rng(0).permutation(5000).astype(float), n=n)
  assert float(many.kl) <= bound
  np.testing.assert_allclose(float(many.kl), bound, atol=1e-4)
  assert float(many.win_rate) <= float(al.best_of_n_win_rate_bound(n))
  np.testing.assert_allclose(float(many.win_rate), n / (n + 1), atol=1e-4)


def test_best_of_n_with_log_n_handles_astronomical_n(x64):
  lp, r = problem(n=8, seed=13)
  a = al.best_of_n(lp, r, n=1e6)
  b = al.best_of_n(lp, r, log_n=math.log(1e6))
  np.testing.assert_allclose(np.asarray(a.log_probs), np.asarray(b.log_probs), rtol=1e-12)
  # N = e^2000: everything on the top outcome; its log-probability is exactly 0.
  huge = al.best_of_n(lp, r, log_n=2000.0)
  assert float(huge.log_probs[np.argmax(r)]) == 0.0
  np.testing.assert_allclose(float(huge.kl), -lp[np.argmax(r)], rtol=1e-14)
  with jax.enable_x64(False):
    huge32 = al.best_of_n(lp.astype(np.float32), r.astype(np.float32), log_n=2000.0)
    assert huge32.log_probs.dtype == jnp.float32
    np.testing.assert_allclose(float(huge32.kl), -lp[np.argmax(r)], rtol=1e-5)


def test_best_of_n_is_jittable_vmappable_and_differentiable(x64):
  lps, rs = zip(*(problem(n=8, seed=s) for s in range(4)))
  ns = np.array([1.0, 2.0, 8.0, 33.0])
  got = jax.jit(jax.vmap(lambda lp, r, n: al.best_of_n(lp, r, n=n).kl))(np.stack(lps), np.stack(rs), ns)
  want = [np_kl(brute_force_law_distinct(np.exp(lp), r, n), np.exp(lp)) for lp, r, n in zip(lps, rs, ns)]
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-11, atol=1e-15)
  # d KL / d logits is finite and matches central finite differences
  f = jax.jit(lambda lp: al.best_of_n(lp, rs[0], n=8.0).kl)
  grad = np.asarray(jax.jit(jax.grad(f))(jnp.asarray(lps[0])))
  assert np.all(np.isfinite(grad))
  h = 1e-6
  fd = [(float(f(lps[0] + h * e)) - float(f(lps[0] - h * e))) / (2 * h) for e in np.eye(8)]
  np.testing.assert_allclose(grad, fd, atol=1e-7)


def brute_force_law_distinct(p, r, n):
  """F^N − F⁻^N for distinct rewards, written directly (works for non-integer N)."""
  order = np.argsort(r)
  cdf = np.cumsum(p[order])
  law = np.empty_like(p)
  law[order] = cdf**n - np.concatenate([[0.0], cdf[:-1]])**n
  return law


# ---------------------------------------------------------------------------------------------------
# C. KL-regularised RL as Bayesian inference.


def test_objective_equals_beta_log_z_minus_beta_kl_to_the_posterior(x64):
  # Spec C: 1000 random π (n = 50, β = 0.7, Dirichlet draws with random concentration), to 1e-12.
  lp, r = problem(n=50, seed=14)
  beta = 0.7
  opt = al.kl_regularized_optimum(lp, r, beta=beta)
  p_star = np.exp(np.asarray(opt.log_probs))
  rng = np.random.default_rng(15)
  pis = np.stack([rng.dirichlet(np.full(50, c)) for c in rng.uniform(0.05, 5.0, size=1000)])
  J = jax.jit(jax.vmap(lambda pi: al.kl_regularized_objective(jnp.log(pi), lp, r, beta=beta)))(pis)
  want_J = np.array([pi @ r - beta * np_kl(pi, np.exp(lp)) for pi in pis])
  np.testing.assert_allclose(np.asarray(J), want_J, rtol=1e-12, atol=1e-12)
  rhs = np.array([float(opt.value) - beta * np_kl(pi, p_star) for pi in pis])
  np.testing.assert_allclose(np.asarray(J), rhs, atol=1e-12)
  np.testing.assert_allclose(float(opt.value), beta * math.log(np.exp(lp) @ np.exp(r / beta)),
                             rtol=1e-13)
  np.testing.assert_allclose(float(al.kl_regularized_objective(opt.log_probs, lp, r, beta=beta)),
                             float(opt.value), rtol=1e-13)


def test_bfgs_argmax_of_the_objective_is_the_posterior(x64):
  lp, r = problem(n=8, seed=16)
  beta = 0.4
  p0 = np.exp(lp)
  neg_j = lambda th: -(np_softmax(th) @ r - beta * np_kl(np_softmax(th), p0))
  res = optimize.minimize(neg_j, np.zeros(8), method="BFGS", options={"gtol": 1e-12})
  opt = al.kl_regularized_optimum(lp, r, beta=beta)
  np.testing.assert_allclose(np.exp(opt.log_probs), np_softmax(res.x), atol=1e-6)
  np.testing.assert_allclose(float(opt.value), -res.fun, atol=1e-10)


def test_objective_gradient_is_minus_beta_kl_gradient(x64):
  lp, r = problem(n=8, seed=17)
  beta = 1.3
  p_star = al.kl_regularized_optimum(lp, r, beta=beta).log_probs
  theta = np.random.default_rng(18).normal(size=8)
  g_j = jax.jit(jax.grad(lambda th: al.kl_regularized_objective(th, lp, r, beta=beta)))(theta)
  g_kl = jax.jit(jax.grad(lambda th: dv.kl_divergence(th, p_star, logits=True)))(theta)
  np.testing.assert_allclose(np.asarray(g_j), -beta * np.asarray(g_kl), atol=1e-13)
  # and the reverse-KL f-DPG gradient to p* (spec D.2 check 2)
  g_dpg = al.fdpg_gradient(theta, p_star, generator=dv.KL)
  np.testing.assert_allclose(np.asarray(g_j), -beta * np.asarray(g_dpg), atol=1e-13)


def test_small_beta_collapses_onto_the_argmax_within_the_support(x64):
  p = np.array([0.3, 0.0, 0.2, 0.1, 0.4])
  r = np.array([1.0, 5.0, 2.0, 2.0, 0.5])  # the overall argmax has zero prior mass
  opt = al.kl_regularized_optimum(np.log(p), r, beta=1e-3)
  np.testing.assert_allclose(np.exp(opt.log_probs), [0, 0, 2 / 3, 1 / 3, 0], atol=1e-12)


# ---------------------------------------------------------------------------------------------------
# D.1 f-DPO.

FDPO_CASES = [("reverse_kl", None), ("forward_kl", None), ("js", None), ("alpha", 0.5),
              ("alpha", 0.2)]


def np_f(name, alpha, u):
  if name == "reverse_kl":
    return u * np.log(u)
  if name == "forward_kl":
    return -np.log(u)
  if name == "js":
    return u * np.log(u) - (u + 1) * np.log((u + 1) / 2)
  return (u**(1 - alpha) - (1 - alpha) * u - alpha) / (alpha * (alpha - 1))


@pytest.mark.parametrize("name, alpha", FDPO_CASES)
def test_fdpo_generator_is_the_papers_f(x64, name, alpha):
  u = np.geomspace(1e-3, 1e3, 13)
  g = al.fdpo_generator(name, alpha=alpha)
  np.testing.assert_allclose(np.asarray(g.f(u)), np_f(name, alpha, u), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, alpha", FDPO_CASES)
def test_fdpo_maps_invert_exactly(x64, name, alpha):
  # Spec D.1 check 1, both directions: reward → policy → reward (up to c) and policy → reward → policy.
  g = al.fdpo_generator(name, alpha=alpha)
  lp, r = problem(n=8, seed=19)
  beta = 0.5
  pol = jax.jit(lambda lp, r: al.fdpo_policy(lp, r, beta=beta, generator=g))(lp, r)
  np.testing.assert_allclose(float(jnp.sum(jnp.exp(pol.log_probs))), 1.0, atol=1e-14)
  back = np.asarray(al.fdpo_reward(pol.log_probs, lp, beta=beta, generator=g))
  np.testing.assert_allclose(back + float(pol.normalizer), r, atol=1e-12)
  pi = np.random.default_rng(20).dirichlet(np.ones(8))
  r2 = al.fdpo_reward(np.log(pi), lp, beta=beta, generator=g)
  pol2 = al.fdpo_policy(lp, r2, beta=beta, generator=g)
  np.testing.assert_allclose(np.exp(pol2.log_probs), pi, rtol=1e-11)


@pytest.mark.parametrize("name, alpha", FDPO_CASES)
def test_fdpo_policy_is_the_regularised_argmax(x64, name, alpha):
  # BFGS on softmax logits of E_π r − β D_f(π‖π_ref), D_f written in NumPy.
  lp, r = problem(n=8, seed=21)
  beta = 0.5
  p0 = np.exp(lp)
  obj = lambda th: -(np_softmax(th) @ r - beta * p0 @ np_f(name, alpha, np_softmax(th) / p0))
  res = optimize.minimize(obj, lp, method="BFGS", options={"gtol": 1e-10})
  pol = al.fdpo_policy(lp, r, beta=beta, generator=al.fdpo_generator(name, alpha=alpha))
  np.testing.assert_allclose(np.exp(pol.log_probs), np_softmax(res.x), atol=2e-6)


def test_fdpo_closed_forms_for_the_two_kls(x64):
  lp, r = problem(n=8, seed=22)
  beta = 0.8
  p0 = np.exp(lp)
  rev = al.fdpo_policy(lp, r, beta=beta, generator=al.fdpo_generator("reverse_kl"))
  np.testing.assert_allclose(np.exp(rev.log_probs), np_softmax(lp + r / beta), rtol=1e-12)
  fwd = al.fdpo_policy(lp, r, beta=beta, generator=al.fdpo_generator("forward_kl"))
  c = float(fwd.normalizer)
  assert c > r.max()
  np.testing.assert_allclose(np.exp(fwd.log_probs), p0 * beta / (c - r), rtol=1e-12)


def test_fdpo_loss_with_reverse_kl_is_the_dpo_loss(x64):
  rng = np.random.default_rng(23)
  pw, pl, rw, rl = rng.normal(-20, 3, size=(4, 64))
  beta = 0.1
  dpo = np.log1p(np.exp(-beta * ((pw - rw) - (pl - rl))))
  got = al.fdpo_loss(pw, pl, rw, rl, beta=beta, generator=al.fdpo_generator("reverse_kl"))
  np.testing.assert_allclose(np.asarray(got), dpo, rtol=1e-12)
  grad = jax.grad(lambda w: jnp.sum(al.fdpo_loss(w, pl, rw, rl, beta=beta, generator=dv.KL)))(pw)
  np.testing.assert_allclose(np.asarray(grad), -beta * special.expit(-beta * ((pw - rw) - (pl - rl))),
                             rtol=1e-10)


@pytest.mark.parametrize("name, alpha", FDPO_CASES)
def test_bradley_terry_likelihood_is_the_same_under_r_and_the_implicit_reward(x64, name, alpha):
  # Spec D.1 check 3: the optimal π* gives the same BT probabilities as the true reward.
  lp, r = problem(n=8, seed=24)
  g = al.fdpo_generator(name, alpha=alpha)
  pol = al.fdpo_policy(lp, r, beta=0.3, generator=g)
  bt_true = special.expit(r[:, None] - r[None, :])
  # the f-DPO loss of every ordered pair (i ≻ j) equals −log σ(r_i − r_j)
  i, j = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
  lpi = np.asarray(pol.log_probs)
  loss = al.fdpo_loss(lpi[i], lpi[j], lp[i], lp[j], beta=0.3, generator=g)
  np.testing.assert_allclose(np.exp(-np.asarray(loss)), bt_true, rtol=1e-11)


@pytest.mark.parametrize("bad", [dv.PEARSON_CHI2, dv.TOTAL_VARIATION, dv.alpha_generator(2.0)])
def test_fdpo_rejects_generators_without_the_map(bad):
  with pytest.raises(ValueError, match="f-DPO"):
    al.fdpo_policy(np.zeros(3), np.arange(3.0), beta=1.0, generator=bad)


def test_fdpo_generator_rejects_unknown_names_and_bad_alpha():
  with pytest.raises(ValueError, match="divergence must be one of"):
    al.fdpo_generator("chi2")
  with pytest.raises(ValueError, match="alpha"):
    al.fdpo_generator("alpha", alpha=1.5)
  with pytest.raises(ValueError, match="alpha"):
    al.fdpo_generator("alpha")


def test_fdpo_policy_vmaps_over_beta(x64):
  lp, r = problem(n=8, seed=25)
  g = al.fdpo_generator("js")
  betas = np.array([0.1, 0.5, 2.0])
  batched = jax.vmap(lambda b: al.fdpo_policy(lp, r, beta=b, generator=g).log_probs)(betas)
  for b, row in zip(betas, batched):
    np.testing.assert_allclose(np.asarray(row), np.asarray(al.fdpo_policy(lp, r, beta=b, generator=g)
                                                           .log_probs), rtol=1e-12)


# ---------------------------------------------------------------------------------------------------
# D.2 f-DPG.

DPG_GENERATORS = [dv.KL, dv.REVERSE_KL, 2.0 * dv.JENSEN_SHANNON, dv.TOTAL_VARIATION]


@pytest.mark.parametrize("gen", DPG_GENERATORS, ids=lambda g: g.name)
def test_fdpg_gradient_matches_autodiff_and_finite_differences(x64, gen):
  rng = np.random.default_rng(26)
  theta = rng.normal(size=8)
  lp = np.log(rng.dirichlet(np.ones(8)))
  got = np.asarray(jax.jit(lambda th: al.fdpg_gradient(th, lp, generator=gen))(theta))
  auto = jax.grad(lambda th: dv.f_divergence(gen, th, lp, logits=True))(theta)
  np.testing.assert_allclose(got, np.asarray(auto), atol=1e-13)
  # central differences of D_f written in NumPy (f from the generator's own f, evaluated in NumPy)
  p = np.exp(lp)
  d = lambda th: float(np.sum(p * np.asarray(gen.f(np_softmax(th) / p))))
  h = 1e-6
  fd = np.array([(d(theta + h * e) - d(theta - h * e)) / (2 * h) for e in np.eye(8)])
  np.testing.assert_allclose(got, fd, atol=1e-7)


def test_fdpg_surrogate_is_an_unbiased_gradient_estimate(x64):
  # 4000 independent batches of 16 samples (fixed seed); the mean estimate within 5 standard errors.
  rng = np.random.default_rng(27)
  theta = rng.normal(size=8)
  lp_target = np.log(rng.dirichlet(np.ones(8)))
  gen = 2.0 * dv.JENSEN_SHANNON
  exact = np.asarray(al.fdpg_gradient(theta, lp_target, generator=gen))

  lp_target = jnp.asarray(lp_target)

  def estimate(key):
    y = jax.random.categorical(key, theta, shape=(16,))
    loss = lambda th: al.fdpg_surrogate_loss(jax.nn.log_softmax(th)[y], lp_target[y], generator=gen)
    return jax.grad(loss)(theta)

  ests = np.asarray(jax.vmap(estimate)(jax.random.split(jax.random.key(0), 4000)))
  se = ests.std(axis=0, ddof=1) / math.sqrt(len(ests))
  assert np.all(np.abs(ests.mean(axis=0) - exact) <= 5 * se), (ests.mean(0), exact, se)


def test_fdpg_surrogate_accepts_an_unnormalised_target(x64):
  rng = np.random.default_rng(28)
  lq = np.log(rng.dirichlet(np.ones(5)))
  lp = np.log(rng.dirichlet(np.ones(5)))
  a = al.fdpg_surrogate_loss(lq, lp, generator=dv.REVERSE_KL, baseline=False)
  b = al.fdpg_surrogate_loss(lq, lp + 3.0, generator=dv.REVERSE_KL, log_normalizer=3.0,
                             baseline=False)
  np.testing.assert_allclose(float(a), float(b), rtol=1e-13)
  # value: mean of f'(u) log q with f'(u) = −1/u
  np.testing.assert_allclose(float(a), np.mean(-np.exp(lp - lq) * lq), rtol=1e-13)


# ---------------------------------------------------------------------------------------------------
# D.3 DPH-RL per-token penalties.


@pytest.mark.parametrize("gen", [2.0 * dv.JENSEN_SHANNON, dv.alpha_generator(0.8), dv.KL],
                         ids=lambda g: g.name)
def test_f_penalty_is_unbiased_for_the_exact_divergence(x64, gen):
  # Spec D.3 check 1: 2·10⁵ samples from π₀ (fixed seed), the mean within 5 standard errors.
  rng = np.random.default_rng(29)
  p0 = rng.dirichlet(np.ones(7))
  pt = rng.dirichlet(np.ones(7))
  y = rng.choice(7, size=200_000, p=p0)
  vals = np.asarray(al.f_penalty_per_sample(np.log(pt)[y], np.log(p0)[y], generator=gen))
  exact = float(np.sum(p0 * np.asarray(gen.f(pt / p0))))  # D_f(π_θ‖π₀) = Σ π₀ f(π_θ/π₀)
  se = vals.std(ddof=1) / math.sqrt(len(vals))
  assert abs(vals.mean() - exact) <= 5 * se
  np.testing.assert_allclose(float(dv.f_divergence(gen, pt, p0)), exact, rtol=1e-12)


def test_k3_is_unbiased_for_forward_kl_and_nonnegative(x64):
  # Spec D.3 check 2: E_{π₀}[u − log u − 1] = KL(π₀‖π_θ).
  rng = np.random.default_rng(30)
  p0 = rng.dirichlet(np.ones(7))
  pt = rng.dirichlet(np.ones(7))
  y = rng.choice(7, size=200_000, p=p0)
  vals = np.asarray(al.k3_per_sample(np.log(pt)[y], np.log(p0)[y]))
  assert np.all(vals >= 0)
  se = vals.std(ddof=1) / math.sqrt(len(vals))
  assert abs(vals.mean() - np_kl(p0, pt)) <= 5 * se
  # exact expectation, by enumeration
  per_outcome = np.asarray(al.k3_per_sample(np.log(pt), np.log(p0)))
  np.testing.assert_allclose(p0 @ per_outcome, np_kl(p0, pt), rtol=1e-12)
  # no cancellation near u = 1
  np.testing.assert_allclose(float(al.k3_per_sample(1e-9, 0.0)), 0.5e-18, rtol=1e-6)
  assert float(al.k3_per_sample(30.0, 0.0, clip=10.0)) == 10.0


# ---------------------------------------------------------------------------------------------------
# jit and vmap of every public function: jit(vmap(fn)) over a batch equals the eager calls one by one.

def _inside(lp, r, s):
  """A reward level strictly between the mean under p and max r (s in (0, 1))."""
  mean = jnp.dot(jnp.exp(lp), r)
  return mean + s * (jnp.max(r) - mean)


BATCH_CASES = {
    "tilt": lambda lp, r, q, s: al.tilt(lp, r, s).log_probs,
    "solve_kl_budget": lambda lp, r, q, s: al.solve_kl_budget(lp, r, s).lam,
    "solve_expected_reward": lambda lp, r, q, s: al.solve_expected_reward(lp, r, _inside(lp, r, s)).lam,
    "kl_to_tilted": lambda lp, r, q, s: al.kl_to_tilted(q, lp, r, s),
    "tilted_rate_function": lambda lp, r, q, s: al.tilted_rate_function(lp, r, _inside(lp, r, s),
                                                                        lam=s),
    "best_of_n": lambda lp, r, q, s: al.best_of_n(lp, r, n=1.0 + 10 * s).log_probs,
    "best_of_n_kl_bound": lambda lp, r, q, s: al.best_of_n_kl_bound(1.0 + 10 * s),
    "best_of_n_win_rate_bound": lambda lp, r, q, s: al.best_of_n_win_rate_bound(1.0 + 10 * s),
    "kl_regularized_objective": lambda lp, r, q, s: al.kl_regularized_objective(q, lp, r, beta=s),
    "kl_regularized_optimum": lambda lp, r, q, s: al.kl_regularized_optimum(lp, r, beta=s).value,
    "fdpo_reward": lambda lp, r, q, s: al.fdpo_reward(q, lp, beta=s, generator=dv.REVERSE_KL),
    "fdpo_policy": lambda lp, r, q, s: al.fdpo_policy(lp, r, beta=s,
                                                      generator=al.fdpo_generator("alpha", alpha=s)).log_probs,
    "fdpo_loss": lambda lp, r, q, s: al.fdpo_loss(q, lp, r, q[::-1], beta=s,
                                                  generator=2.0 * dv.JENSEN_SHANNON),
    "fdpg_gradient": lambda lp, r, q, s: al.fdpg_gradient(s * q, lp, generator=dv.JENSEN_SHANNON),
    "fdpg_surrogate_loss": lambda lp, r, q, s: al.fdpg_surrogate_loss(s * q, lp, generator=dv.KL),
    "f_penalty_per_sample": lambda lp, r, q, s: al.f_penalty_per_sample(s * q, lp, generator=dv.KL),
    "k3_per_sample": lambda lp, r, q, s: al.k3_per_sample(s * q, lp),
}


@pytest.mark.parametrize("name", sorted(BATCH_CASES))
def test_public_functions_jit_and_vmap(x64, name):
  fn = BATCH_CASES[name]
  data = [problem(n=8, seed=40 + i) for i in range(3)]
  lps = np.stack([d[0] for d in data])
  rs = np.stack([d[1] for d in data])
  qs = np.log(np.random.default_rng(41).dirichlet(np.ones(8), size=3))
  ss = np.array([0.2, 0.5, 0.8])
  batched = jax.jit(jax.vmap(fn))(lps, rs, qs, ss)
  for i in range(3):
    np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(fn(lps[i], rs[i], qs[i], ss[i])),
                               rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------------
# Validation.


def test_invalid_inputs_raise_naming_the_argument():
  lp, r = problem(n=4)
  with pytest.raises(ValueError, match="delta"):
    al.solve_kl_budget(lp, r, -0.1)
  with pytest.raises(ValueError, match="reward"):
    al.tilt(lp, np.array([0.0, np.nan, 1.0, 2.0]), 1.0)
  with pytest.raises(ValueError, match="same shape"):
    al.tilt(lp, r[:3], 1.0)
  with pytest.raises(ValueError, match="beta"):
    al.kl_regularized_optimum(lp, r, beta=0.0)
  with pytest.raises(ValueError, match="exactly one"):
    al.best_of_n(lp, r)
  with pytest.raises(ValueError, match="n must be"):
    al.best_of_n(lp, r, n=0.5)
  with pytest.raises(ValueError, match="target"):
    al.solve_expected_reward(lp, r, r.max() + 1.0)
  with pytest.raises(ValueError, match="ref_logits"):
    al.tilt(np.full(4, -np.inf), r, 1.0)
  with pytest.raises(ValueError, match="lam"):
    al.tilt(lp, r, -np.inf)
  with pytest.raises(TypeError, match="generator"):
    al.fdpg_gradient(lp, lp, generator="kl")


def test_the_package_exports_every_name_of_its_topic_modules_once():
  # The public names of divjax.alignment before it became a package (one module per paper).
  before = ["Tilt", "tilt", "KLBudgetSolution", "solve_kl_budget", "solve_expected_reward",
            "kl_to_tilted", "tilted_rate_function", "BestOfN", "best_of_n", "best_of_n_kl_bound",
            "best_of_n_win_rate_bound", "kl_regularized_objective", "KLRegularizedOptimum",
            "kl_regularized_optimum", "fdpo_generator", "fdpo_reward", "FDPOPolicy", "fdpo_policy",
            "fdpo_loss", "fdpg_gradient", "fdpg_surrogate_loss", "f_penalty_per_sample", "k3_per_sample"]
  assert sorted(al.__all__) == sorted(before)
  from divjax.alignment import bon, fdpg, fdpo, kl_regularized, penalties, tilted
  topics = [tilted, bon, kl_regularized, fdpo, fdpg, penalties]
  names = [name for module in topics for name in module.__all__]
  assert sorted(names) == sorted(before)  # each name in exactly one topic module
  for module in topics:
    for name in module.__all__:
      assert getattr(al, name) is getattr(module, name)
