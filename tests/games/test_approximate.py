"""Approximate Nash-MP (A.8.9): inner error → 0 recovers exact Nash-MP; REINFORCE is unbiased and its
plateau shrinks with the batch size."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from divjax import games


def _setup(beta=0.1, n=6):
  g = games.uniform(jax.random.PRNGKey(0), n, beta=beta)
  eq = games.solve_equilibrium(g).log_pi
  apply_fn, params = games.approximate.tabular_policy(g)
  return g, eq, apply_fn, params


def approx(apply_fn, inner_steps, batch_size=None, step_size=0.2, lr=0.5):
  return games.approximate.solver(apply_fn=apply_fn, step_size=step_size, inner_steps=inner_steps,
                                  optimizer=optax.sgd(lr), batch_size=batch_size)


def test_many_exact_inner_steps_recover_exact_nash_mp(x64):
  g, eq, apply_fn, params = _setup()
  solver = approx(apply_fn, 100)
  final, tr = games.run(solver, g, solver.init(g, params), num_steps=10, equilibrium=eq)
  exact, tr_exact = games.run(games.nash_mp.solver(step_size=0.2), g, num_steps=10, equilibrium=eq)
  np.testing.assert_allclose(np.asarray(jax.nn.log_softmax(apply_fn(final.params))),
                             np.asarray(exact.log_pi), atol=1e-9)
  np.testing.assert_allclose(np.asarray(tr.kl), np.asarray(tr_exact.kl), rtol=1e-6)
  assert int(final.queries) == 20


def test_final_kl_decreases_with_inner_steps(x64):
  g, eq, apply_fn, params = _setup()
  def final_kl(m):
    solver = approx(apply_fn, m)
    return games.run(solver, g, solver.init(g, params), num_steps=30, equilibrium=eq)[1].kl[-1]

  run = jax.vmap(final_kl)
  kl = np.asarray(run(jnp.array([1, 3, 10, 30])))
  assert np.all(np.diff(kl) < 0), kl


@pytest.mark.slow
def test_reinforce_gradient_is_unbiased(x64):
  # Mean of many REINFORCE estimates vs the exact gradient of the prox objective; tolerance 5 standard
  # errors of the mean (seed 0, 1000 estimates of B = 64).
  g, _, apply_fn, params = _setup(beta=0.2, n=4)
  rng = np.random.default_rng(0)
  l_anchor = jax.nn.log_softmax(jnp.asarray(rng.standard_normal(4)))
  l_opp = jax.nn.log_softmax(jnp.asarray(rng.standard_normal(4)))
  theta = jnp.asarray(rng.standard_normal(4))
  exact = jax.grad(lambda t: games.approximate.prox_objective(g, jax.nn.log_softmax(t), l_anchor, l_opp,
                                                              step_size=0.4))(theta)
  p = {"params": {"logits": theta}}

  def one(k):
    # One inner SGD step with learning rate 1 from θ: the update is −gradient.
    out = games.approximate._prox(k, g, p, l_anchor, l_opp, apply_fn=apply_fn, step_size=0.4,
                                  inner_steps=1, optimizer=optax.sgd(1.0), batch_size=64)
    return theta - out["params"]["logits"]

  est = np.asarray(jax.vmap(one)(jax.random.split(jax.random.PRNGKey(0), 1000)))
  mean, se = est.mean(0), est.std(0) / np.sqrt(len(est))
  # The batch-mean baseline biases the estimate by a factor (B−1)/B.
  np.testing.assert_array_less(np.abs(mean - np.asarray(exact) * 63 / 64), 5 * se + 1e-12)


@pytest.mark.slow
def test_reinforce_plateau_shrinks_with_batch_size(x64):
  g, eq, apply_fn, params = _setup()

  def plateau(b):
    solver = approx(apply_fn, 20, batch_size=b)
    kl = jax.vmap(lambda k: games.run(solver, g, solver.init(g, params), num_steps=40, key=k,
                                      equilibrium=eq)[1].kl[-10:])(
                                          jax.random.split(jax.random.PRNGKey(2), 2))
    return float(np.exp(np.mean(np.log(np.asarray(kl)))))

  small, large = plateau(32), plateau(512)
  assert large < small / 4  # the floor scales like 1/B (16× more samples)


def test_invalid_inner_steps_raise():
  g = games.uniform(jax.random.PRNGKey(0), 4, beta=0.1)
  apply_fn, params = games.approximate.tabular_policy(g)
  with pytest.raises(ValueError, match="inner_steps"):
    approx(apply_fn, 0)
  with pytest.raises(ValueError, match="batch_size"):
    approx(apply_fn, 3, batch_size=0)


def test_reinforce_needs_a_key_and_init_needs_params():
  g = games.uniform(jax.random.PRNGKey(0), 4, beta=0.1)
  apply_fn, params = games.approximate.tabular_policy(g)
  solver = approx(apply_fn, 2, batch_size=8)
  with pytest.raises(ValueError, match="key"):
    games.run(solver, g, solver.init(g, params), num_steps=1, metrics=())
  with pytest.raises(ValueError, match="params"):
    games.run(solver, g, num_steps=1, metrics=())
  assert solver.queries_per_step == 2 * 2 * 8  # 2 proximal problems × M inner steps × B comparisons


def test_the_state_carries_the_policy_that_run_measures(x64):
  g, eq, apply_fn, params = _setup()
  solver = approx(apply_fn, 5)
  final, tr = games.run(solver, g, solver.init(g, params), num_steps=3, equilibrium=eq)
  np.testing.assert_allclose(np.asarray(final.log_pi), np.asarray(jax.nn.log_softmax(apply_fn(final.params))),
                             atol=1e-15)
  want = float(jnp.sum(jnp.exp(eq) * (eq - final.log_pi)))  # KL(π*‖π_3) written out
  np.testing.assert_allclose(float(tr.kl[-1]), want, rtol=1e-10)
