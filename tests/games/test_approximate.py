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


def test_many_exact_inner_steps_recover_exact_nash_mp(x64):
  g, eq, apply_fn, params = _setup()
  final, tr = games.approximate.run(jax.random.PRNGKey(1), g, params, apply_fn=apply_fn, step_size=0.2,
                                    inner_steps=100, num_steps=10, optimizer=optax.sgd(0.5),
                                    equilibrium=eq)
  exact, tr_exact = games.nash_mp.run(g, step_size=0.2, num_steps=10, equilibrium=eq)
  np.testing.assert_allclose(np.asarray(jax.nn.log_softmax(apply_fn(final.params))),
                             np.asarray(exact.log_pi), atol=1e-9)
  np.testing.assert_allclose(np.asarray(tr.kl), np.asarray(tr_exact.kl), rtol=1e-6)
  assert int(final.queries) == 20


def test_final_kl_decreases_with_inner_steps(x64):
  g, eq, apply_fn, params = _setup()
  run = jax.vmap(lambda m: games.approximate.run(jax.random.PRNGKey(1), g, params, apply_fn=apply_fn,
                                                 step_size=0.2, inner_steps=m, num_steps=30,
                                                 optimizer=optax.sgd(0.5), equilibrium=eq)[1].kl[-1])
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
    kl = jax.vmap(lambda k: games.approximate.run(k, g, params, apply_fn=apply_fn, step_size=0.2,
                                                  inner_steps=20, num_steps=40,
                                                  optimizer=optax.sgd(0.5), batch_size=b,
                                                  equilibrium=eq)[1].kl[-10:])(
                                                      jax.random.split(jax.random.PRNGKey(2), 2))
    return float(np.exp(np.mean(np.log(np.asarray(kl)))))

  small, large = plateau(32), plateau(512)
  assert large < small / 4  # the floor scales like 1/B (16× more samples)


def test_invalid_inner_steps_raise():
  g = games.uniform(jax.random.PRNGKey(0), 4, beta=0.1)
  apply_fn, params = games.approximate.tabular_policy(g)
  with pytest.raises(ValueError, match="inner_steps"):
    games.approximate.update(jax.random.PRNGKey(0), g, games.approximate.init(g, params),
                             apply_fn=apply_fn, step_size=0.2, inner_steps=0, optimizer=optax.sgd(0.5))
