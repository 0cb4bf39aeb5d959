"""Equilibrium solver and the tabular solvers against independent oracles (spec A.8 checks 1–7).

Oracles: NumPy float64 implementations of each update written here from the papers' formulas, scipy BFGS
for the proximal argmin, the fixed-point equation itself, and the theorem's bound.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from divjax import games
from divjax.divergences import kl_divergence
from divjax.games import _solver


def np_softmax(x):
  z = np.exp(x - x.max())
  return z / z.sum()


def np_log_softmax(x):
  return x - x.max() - np.log(np.exp(x - x.max()).sum())


def kl(log_p, log_q):
  return kl_divergence(log_p, log_q, logits=True)


def instance(family, n, beta, seed=0):
  gen = {"uniform": games.uniform, "skew_sigmoid": games.skew_sigmoid,
         "bradley_terry": games.bradley_terry, "cyclic": games.cyclic}[family]
  kw = {} if family == "cyclic" else {"reference": "dirichlet"}
  return gen(jax.random.PRNGKey(seed), n, beta=beta, **kw)


# ---------------------------------------------------------------------------------------------------
# Equilibrium (A.8.1).


@pytest.mark.parametrize("family, n", [("uniform", 10), ("skew_sigmoid", 30), ("bradley_terry", 10),
                                       ("cyclic", 11)])
def test_equilibrium_is_a_fixed_point_of_the_best_response(family, n, x64):
  betas = [0.01, 0.1, 1.0]
  stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *[instance(family, n, b) for b in betas])
  res = jax.jit(jax.vmap(games.solve_equilibrium))(stacked)
  for j, beta in enumerate(betas):
    g = instance(family, n, beta)
    P, lref = np.asarray(g.preference), np.asarray(g.log_ref)
    x = np.asarray(res.log_pi[j])
    br = np_log_softmax(lref + P @ np.exp(x) / beta)  # NumPy oracle of the fixed-point map
    assert np.max(np.abs(br - x)) < 1e-11
    assert bool(res.converged[j])
    assert float(games.exploitability(g, res.log_pi[j])) < 1e-14
    kl_ref = float(np.sum(np.exp(x) * (x - lref)))
    win = float(np.exp(x) @ P @ np.exp(lref))
    assert kl_ref <= (win - 0.5) / beta + 1e-12 <= 1 / (2 * beta) + 1e-12


def test_equilibrium_float32_converges_to_its_tolerance():
  g = instance("uniform", 10, 0.1)
  res = games.solve_equilibrium(g)
  assert res.log_pi.dtype == jnp.float32 and bool(res.converged)


def test_equilibrium_vmaps_over_beta(x64):
  betas = jnp.array([0.03, 0.3])
  stacked = jax.vmap(lambda b: instance("cyclic", 7, 0.1)._replace(beta=b))(betas)
  out = jax.vmap(games.solve_equilibrium)(stacked)
  for i, b in enumerate(np.asarray(betas)):
    single = games.solve_equilibrium(instance("cyclic", 7, float(b)))
    np.testing.assert_allclose(np.asarray(out.log_pi[i]), np.asarray(single.log_pi), atol=1e-12)


# ---------------------------------------------------------------------------------------------------
# Updates against NumPy transcriptions of the papers' formulas.


def np_nash_mp(P, lref, beta, eta, l):
  lam = eta / (1 + eta)
  half = np_log_softmax((1 - lam) * l + lam * lref + lam / beta * (P @ np.exp(l)))
  return np_log_softmax((1 - lam) * l + lam * lref + lam / beta * (P @ np.exp(half)))


def np_mmd(P, lref, beta, eta, l):
  return np_log_softmax((l + eta * beta * lref + eta * (P @ np.exp(l))) / (1 + eta * beta))


def np_nash_md(P, lref, beta, eta, l):
  mix = np_log_softmax((1 - eta * beta) * l + eta * beta * lref)
  return np_log_softmax(mix + eta * (P @ np.exp(mix)))


@pytest.mark.parametrize("solver, oracle, step, queries", [
    (games.nash_mp, np_nash_mp, 0.4, 2), (games.mmd, np_mmd, 0.7, 1), (games.nash_md, np_nash_md, 0.9, 1)])
def test_update_matches_numpy_transcription(solver, oracle, step, queries, x64):
  g = instance("uniform", 6, 0.2)
  P, lref = np.asarray(g.preference), np.asarray(g.log_ref)
  s = solver.solver(step_size=step).init(g)
  l = lref.copy()
  update = jax.jit(lambda s: solver.solver(step_size=step).update(g, s))
  for _ in range(5):
    s = update(s)
    l = oracle(P, lref, 0.2, step, l)
  np.testing.assert_allclose(np.asarray(s.log_pi), l, atol=1e-13)
  assert int(s.step) == 5 and int(s.queries) == 5 * queries == 5 * solver.QUERIES_PER_STEP


def test_closed_form_step_equals_the_bfgs_argmin(x64):
  # A.8.2: the argmin of (1/β)P(π_opp ≻ π) + KL(π‖π_ref) + (1/η)KL(π‖π_k) over softmax logits.
  g = instance("uniform", 8, 0.1)
  P, lref, beta, eta = np.asarray(g.preference), np.asarray(g.log_ref), 0.1, 0.2
  rng = np.random.default_rng(0)
  lk = np_log_softmax(rng.standard_normal(8))
  lopp = np_log_softmax(rng.standard_normal(8))

  def f(th):
    lt = np_log_softmax(th)
    pi = np.exp(lt)
    # P(π_opp ≻ π) = 1 − πᵀ P π_opp.
    return (1 - pi @ P @ np.exp(lopp)) / beta + pi @ (lt - lref) + pi @ (lt - lk) / eta

  res = optimize.minimize(f, lk, method="BFGS", options={"gtol": 1e-12})
  lam = eta / (1 + eta)
  closed = jax.nn.softmax((1 - lam) * lk + lam * lref + lam / beta * (P @ np.exp(lopp)))
  np.testing.assert_allclose(np.asarray(closed), np_softmax(res.x), atol=1e-7)
  # The library's prox objective has the same minimiser.
  # (It drops the constant 1/β of P(π_opp ≻ π) = 1 − πᵀPπ_opp, so it equals f − 1/β.)
  prox = lambda th: games.approximate.prox_objective(g, jax.nn.log_softmax(th), jnp.asarray(lk),
                                                     jnp.asarray(lopp), step_size=eta)
  np.testing.assert_allclose(float(prox(jnp.log(closed))), f(res.x) - 1 / beta, atol=1e-9)
  np.testing.assert_allclose(np.asarray(jax.grad(prox)(jnp.log(closed))), 0.0, atol=1e-8)
  # And the solvers' closed-form step is that minimiser.
  win = jnp.asarray(P @ np.exp(lopp))
  step = _solver.prox_step(g, jnp.asarray(lk), win, jnp.asarray(lam))
  np.testing.assert_allclose(np.exp(np.asarray(step)), np_softmax(res.x), atol=1e-7)


@pytest.mark.parametrize("family, n", [("cyclic", 11), ("uniform", 10)])
@pytest.mark.parametrize("beta", [0.01, 0.3])
def test_nash_mp_equals_egpo_under_the_reparametrisation(family, n, beta, x64):
  # A.8.3.
  g = instance(family, n, beta)
  eta = 2 * beta
  eta_e = games.egpo.step_size_from_nash_mp(eta, beta)
  assert eta_e == pytest.approx(2 / (1 + 2 * beta))
  a, _ = games.run(games.nash_mp.solver(step_size=eta), g, num_steps=50, metrics=())
  b, _ = games.run(games.egpo.solver(step_size=eta_e), g, num_steps=50, metrics=())
  np.testing.assert_allclose(np.asarray(a.log_pi), np.asarray(b.log_pi), atol=1e-10)


@pytest.mark.parametrize("family, n", [("uniform", 10), ("skew_sigmoid", 10), ("bradley_terry", 10),
                                       ("cyclic", 11)])
def test_theorem_bound_holds_on_every_iterate_from_random_starts(family, n, x64):
  # A.8.4: KL(π*‖π_k) ≤ (1+2β)^{-k} KL(π*‖π_0), η = 2β, from π_ref and three random starts.
  betas = [0.03, 0.3]
  starts = np.concatenate([np.zeros((1, n)), 3.0 * np.random.default_rng(1).standard_normal((3, n))])
  def kl_trajectory(l0, g, eq):
    solver = games.nash_mp.solver(step_size=2 * g.beta)
    return games.run(solver, g, solver.init(g, l0), num_steps=300, equilibrium=eq, metrics=("kl",))[1].kl

  run = jax.jit(jax.vmap(kl_trajectory, in_axes=(0, None, None)))
  for beta in betas:
    g = instance(family, n, beta)
    eq = games.solve_equilibrium(g).log_pi
    starts_b = starts.copy()
    starts_b[0] = np.asarray(g.log_ref)
    kl = np.asarray(run(jnp.asarray(starts_b), g, eq))
    k = np.arange(kl.shape[1])
    bound = kl[:, :1] * (1 + 2 * beta)**(-k)
    keep = kl > 1e-24  # below, KL's own round-off (~1e-31) dominates
    assert np.all(kl[keep] <= bound[keep] * (1 + 1e-9))


@pytest.mark.parametrize("family, n, beta", [("uniform", 10, 0.1), ("cyclic", 11, 0.03),
                                             ("bradley_terry", 10, 0.3)])
def test_late_phase_rate_is_the_square_of_the_bound(family, n, beta, x64):
  # A.8.5: per-iteration KL ratio in the second half of a run ending at 1e-26 is ≈ (1+2β)^{-2};
  # the span ratio ≈ (1+2β)^{-1}.
  g = instance(family, n, beta)
  eq = games.solve_equilibrium(g).log_pi
  _, tr = games.run(games.nash_mp.solver(step_size=2 * beta), g, num_steps=1000, equilibrium=eq)
  kl, span = np.asarray(tr.kl), np.asarray(tr.span)
  m = int(np.nonzero(kl < 1e-26)[0][0])
  i = m // 2
  np.testing.assert_allclose((kl[m] / kl[i])**(1 / (m - i)), (1 + 2 * beta)**-2, rtol=0.02)
  np.testing.assert_allclose((span[m] / span[i])**(1 / (m - i)), (1 + 2 * beta)**-1, rtol=0.02)


def test_gap_identity_and_sandwich_on_every_iterate(x64):
  # A.8.6.
  beta = 0.05
  g = instance("cyclic", 11, beta)
  eq = games.solve_equilibrium(g).log_pi
  solver = games.nash_mp.solver(step_size=2 * beta)
  s = solver.init(g)
  for _ in range(60):
    s = solver.update(g, s)
    gap = float(games.exploitability(g, s.log_pi))
    np.testing.assert_allclose(gap, float(games.exploitability_closed_form(g, s.log_pi)), atol=1e-12)
    lower = beta * float(kl(s.log_pi, eq))
    upper = lower + float(kl(eq, s.log_pi)) / (4 * beta)
    assert lower * (1 - 1e-9) <= gap <= upper * (1 + 1e-9)


@pytest.mark.slow
def test_eta_above_2beta_stalls_on_the_cyclic_tournament(x64):
  # A.8.7: β = 0.01, cyclic n = 11, ~7.5k queries.
  beta = 0.01
  g = instance("cyclic", 11, beta, seed=3)
  eq = games.solve_equilibrium(g).log_pi
  run = jax.jit(jax.vmap(lambda eta: games.run(games.nash_mp.solver(step_size=eta), g, num_steps=3788,
                                               equilibrium=eq, metrics=("kl",))[1].kl))
  kl = np.asarray(run(jnp.array([2 * beta, 4 * beta])))
  m, i = 3788, 1894
  per_query = (kl[:, m] / kl[:, i])**(1 / (2 * (m - i)))
  assert per_query[1] >= 0.99999
  np.testing.assert_allclose(kl[0, 1500:].max() < 1e-20, True)
  m0 = int(np.nonzero(kl[0] < 1e-26)[0][0])
  np.testing.assert_allclose((kl[0, m0] / kl[0, m0 // 2])**(1 / (m0 - m0 // 2) / 2), 1 / (1 + 2 * beta),
                             rtol=0.005)


# ---------------------------------------------------------------------------------------------------
# API behaviour: jit, vmap, validation.


def test_run_records_the_trajectory(x64):
  g = instance("uniform", 5, 0.5)
  eq = games.solve_equilibrium(g).log_pi
  final, tr = jax.jit(lambda g: games.run(games.nash_mp.solver(step_size=1.0), g, num_steps=7,
                                          equilibrium=eq))(g)
  assert tr.kl.shape == tr.exploitability.shape == tr.span.shape == tr.queries.shape == (8,)
  np.testing.assert_array_equal(np.asarray(tr.queries), 2 * np.arange(8))
  np.testing.assert_allclose(float(tr.kl[-1]), float(kl(eq, final.log_pi)), rtol=1e-12)
  np.testing.assert_allclose(float(tr.kl[0]), float(kl(eq, g.log_ref)), rtol=1e-12)


def test_run_without_metrics_records_only_queries(x64):
  _, tr = games.run(games.mmd.solver(step_size=0.3), instance("uniform", 5, 0.5), num_steps=3, metrics=())
  assert tr.kl is None and tr.exploitability is None and tr.span is None
  np.testing.assert_array_equal(np.asarray(tr.queries), [0, 1, 2, 3])


def test_run_vmaps_over_step_size_and_games(x64):
  g = instance("skew_sigmoid", 6, 0.2)
  eq = games.solve_equilibrium(g).log_pi
  steps = jnp.array([0.1, 0.4])
  run = lambda st: games.run(games.nash_md.solver(step_size=st), g, num_steps=20, equilibrium=eq,
                             metrics=("kl",))[1].kl
  kls = jax.vmap(run)(steps)
  for i, st in enumerate(np.asarray(steps)):
    np.testing.assert_allclose(np.asarray(kls[i]), np.asarray(run(float(st))), rtol=1e-12)


def test_run_gradient_with_respect_to_the_step_size_is_finite(x64):
  g = instance("uniform", 5, 0.3)
  eq = games.solve_equilibrium(g).log_pi
  f = lambda eta: games.run(games.nash_mp.solver(step_size=eta), g, num_steps=10, equilibrium=eq,
                            metrics=("kl",))[1].kl[-1]
  d = float(jax.grad(f)(0.6))
  fd = (float(f(0.6 + 1e-6)) - float(f(0.6 - 1e-6))) / 2e-6
  np.testing.assert_allclose(d, fd, rtol=1e-5)


@pytest.mark.parametrize("solver, step", [(games.nash_mp, 0.0), (games.mmd, -1.0), (games.nash_md, 20.0),
                                          (games.egpo, 20.0)])
def test_invalid_step_sizes_raise(solver, step):
  g = instance("uniform", 4, 0.1)
  with pytest.raises(ValueError, match="step_size"):
    games.run(solver.solver(step_size=step), g, num_steps=2, metrics=())


def test_invalid_start_raises():
  g = instance("uniform", 4, 0.1)
  with pytest.raises(ValueError, match="log_pi0"):
    games.nash_mp.solver(step_size=0.2).init(g, jnp.zeros(3))
  with pytest.raises(ValueError, match="metrics"):
    games.run(games.nash_mp.solver(step_size=0.2), g, num_steps=2, metrics=("loss",))


# ---------------------------------------------------------------------------------------------------
# Solvers as values.

CONSTRUCTORS = [(games.nash_mp, 0.4), (games.egpo, 0.9), (games.mmd, 0.7), (games.nash_md, 0.9)]


@pytest.mark.parametrize("module, step", CONSTRUCTORS)
def test_each_constructor_returns_a_game_solver_with_its_query_cost(module, step, x64):
  solver = module.solver(step_size=step)
  assert isinstance(solver, games.GameSolver)
  assert solver.queries_per_step == module.QUERIES_PER_STEP
  g = instance("uniform", 5, 0.3)
  s0 = solver.init(g)
  a, b = solver.update(g, s0), solver.update(g, s0)  # pure: the same state gives the same step
  np.testing.assert_array_equal(np.asarray(a.log_pi), np.asarray(b.log_pi))
  assert int(a.queries) == solver.queries_per_step and int(a.step) == 1


@pytest.mark.parametrize("module, step", CONSTRUCTORS)
def test_one_solver_value_serves_a_vmapped_batch_of_games(module, step, x64):
  solver = module.solver(step_size=step)
  game_list = [instance("skew_sigmoid", 6, 0.2, seed=s) for s in range(3)]
  stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *game_list)
  final, _ = jax.jit(jax.vmap(lambda g: games.run(solver, g, num_steps=15, metrics=())))(stacked)
  for i, g in enumerate(game_list):
    one, _ = games.run(solver, g, num_steps=15, metrics=())
    np.testing.assert_allclose(np.asarray(final.log_pi[i]), np.asarray(one.log_pi), atol=1e-13)


@pytest.mark.parametrize("module", [games.nash_mp, games.egpo, games.mmd, games.nash_md])
@pytest.mark.parametrize("step", [0.0, -1.0, float("nan")])
def test_a_non_positive_step_is_rejected_by_the_constructor(module, step):
  with pytest.raises(ValueError, match="step_size"):
    module.solver(step_size=step)


def test_run_takes_a_solver_value():
  g = instance("uniform", 4, 0.1)
  with pytest.raises(TypeError, match="solver"):
    games.run(games.nash_mp, g, num_steps=2)
  with pytest.raises(ValueError, match="num_steps"):
    games.run(games.mmd.solver(step_size=0.1), g, num_steps=-1)


def test_run_from_a_given_state_continues_where_it_stopped(x64):
  # Two runs of 10 equal one run of 20 (the state carries the iteration and the queries).
  g = instance("cyclic", 7, 0.1)
  solver = games.egpo.solver(step_size=1.5)
  mid, _ = games.run(solver, g, num_steps=10, metrics=())
  two, tr = games.run(solver, g, mid, num_steps=10, metrics=())
  one, _ = games.run(solver, g, num_steps=20, metrics=())
  np.testing.assert_allclose(np.asarray(two.log_pi), np.asarray(one.log_pi), atol=1e-14)
  assert int(two.queries) == int(one.queries) == 40 and int(tr.queries[0]) == 20
