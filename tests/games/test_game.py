"""PreferenceGame validation, instance generators, best response, exploitability and metrics.

Oracles: NumPy float64 written here (softmax, KL, the exploitability by maximising over the simplex with
scipy), and the defining properties of each instance family.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import optimize

from divjax import games


def np_softmax(x):
  z = np.exp(x - x.max())
  return z / z.sum()


def np_kl(p, q):
  return float(np.sum(p * (np.log(p) - np.log(q))))


# ---------------------------------------------------------------------------------------------------
# Validation.


def test_valid_game_is_normalised():
  P = np.array([[0.5, 0.7], [0.3, 0.5]])
  g = games.preference_game(P, beta=0.1, ref_logits=np.array([0.0, 1.0]))
  np.testing.assert_allclose(np.exp(g.log_ref).sum(), 1.0, rtol=1e-6)
  assert g.num_actions == 2


@pytest.mark.parametrize("P, match", [
    (np.array([[0.5, 0.7], [0.4, 0.5]]), "P \\+ P\\^T = 1"),
    (np.array([[0.5, 1.2], [-0.2, 0.5]]), "in \\[0, 1\\]"),
    (np.array([[0.5, 0.7, 0.1], [0.3, 0.5, 0.2]]), "square"),
    (np.array([[0.5, np.nan], [0.5, 0.5]]), "NaN"),
])
def test_invalid_preference_raises(P, match):
  with pytest.raises(ValueError, match=match):
    games.preference_game(P, beta=0.1)


@pytest.mark.parametrize("beta", [0.0, -1.0, np.inf])
def test_nonpositive_beta_raises(beta):
  with pytest.raises(ValueError, match="beta"):
    games.preference_game(np.full((2, 2), 0.5), beta=beta)


def test_reference_without_full_support_raises():
  with pytest.raises(ValueError, match="ref_logits"):
    games.preference_game(np.full((3, 3), 0.5), beta=0.1, ref_logits=np.array([0.0, -np.inf, 0.0]))


def test_reference_of_wrong_length_raises():
  with pytest.raises(ValueError, match="ref_logits"):
    games.preference_game(np.full((3, 3), 0.5), beta=0.1, ref_logits=np.zeros(2))


def test_cyclic_needs_odd_n():
  with pytest.raises(ValueError, match="odd"):
    games.cyclic(jax.random.PRNGKey(0), 10, beta=0.1)


def test_generator_rejects_bad_beta():
  with pytest.raises(ValueError, match="beta"):
    games.uniform(jax.random.PRNGKey(0), 5, beta=-0.1)


# ---------------------------------------------------------------------------------------------------
# Instances.


@pytest.mark.parametrize("gen", [games.uniform, games.skew_sigmoid, games.bradley_terry])
def test_random_instances_are_valid_games(gen, x64):
  g = gen(jax.random.PRNGKey(3), 7, beta=0.1, reference="dirichlet")
  P = np.asarray(g.preference)
  np.testing.assert_allclose(P + P.T, 1.0, atol=1e-15)
  assert P.min() >= 0 and P.max() <= 1
  games.preference_game(P, beta=0.1, ref_logits=g.log_ref)  # passes validation
  np.testing.assert_allclose(np.exp(np.asarray(g.log_ref)).sum(), 1.0, atol=1e-12)
  assert np.ptp(np.asarray(g.log_ref)) > 0  # Dirichlet draw, not uniform


def test_bradley_terry_is_transitive(x64):
  g = games.bradley_terry(jax.random.PRNGKey(1), 6, beta=0.1)
  P = np.asarray(g.preference)
  order = np.argsort(-P.sum(1))
  assert np.all(P[order][:, order][np.triu_indices(6, 1)] > 0.5)


def test_cyclic_tournament_structure(x64):
  n = 7
  g = games.cyclic(jax.random.PRNGKey(0), n, beta=0.1)
  P = np.asarray(g.preference)
  for i in range(n):
    for j in range(n):
      d = (j - i) % n
      want = 0.5 if d == 0 else (1.0 if d <= 3 else 0.0)
      assert P[i, j] == want
  # With a uniform reference the uniform policy is the equilibrium: P·u = ½.
  np.testing.assert_allclose(P @ np.full(n, 1 / n), 0.5, atol=1e-15)


# ---------------------------------------------------------------------------------------------------
# Best response, exploitability, metrics.


def _random_policy(rng, n):
  return np.log(rng.dirichlet(np.ones(n)))


def test_best_response_matches_numpy(x64):
  g = games.uniform(jax.random.PRNGKey(2), 6, beta=0.3, reference="dirichlet")
  rng = np.random.default_rng(0)
  lp = _random_policy(rng, 6)
  want = np_softmax(np.asarray(g.log_ref) + np.asarray(g.preference) @ np.exp(lp) / 0.3)
  np.testing.assert_allclose(np.exp(games.best_response(g, lp)), want, rtol=1e-12)


def test_exploitability_equals_max_over_the_simplex(x64):
  # Gap(π) = max_π' P_β(π' ≻ π) − ½, maximised numerically by scipy over softmax logits.
  g = games.skew_sigmoid(jax.random.PRNGKey(4), 5, beta=0.2, reference="dirichlet")
  P, lref, beta = np.asarray(g.preference), np.asarray(g.log_ref), 0.2
  rng = np.random.default_rng(1)
  lp = _random_policy(rng, 5)
  pi = np.exp(lp)

  def neg_payoff(th):
    q = np_softmax(th)
    return -(q @ P @ pi - beta * np_kl(q, np.exp(lref)) + beta * np_kl(pi, np.exp(lref)))

  res = optimize.minimize(neg_payoff, np.zeros(5), method="BFGS", options={"gtol": 1e-12})
  want = -res.fun - 0.5
  got = float(jax.jit(games.exploitability)(g, jnp.asarray(lp)))
  np.testing.assert_allclose(got, want, rtol=1e-8)


def test_exploitability_identity_closed_form(x64):
  g = games.uniform(jax.random.PRNGKey(5), 8, beta=0.05, reference="dirichlet")
  rng = np.random.default_rng(2)
  for _ in range(5):
    lp = jnp.asarray(_random_policy(rng, 8))
    np.testing.assert_allclose(float(games.exploitability(g, lp)),
                               float(games.exploitability_closed_form(g, lp)), atol=1e-12)


def test_exploitability_is_zero_only_at_equilibrium(x64):
  g = games.cyclic(jax.random.PRNGKey(6), 5, beta=0.1)
  eq = games.solve_equilibrium(g).log_pi
  assert float(games.exploitability(g, eq)) < 1e-14
  assert float(games.exploitability(g, g.log_ref)) > 1e-3


def test_span_seminorm_is_shift_invariant():
  a = jnp.array([0.1, -2.0, 3.0])
  b = jnp.array([1.0, 1.0, 0.5])
  assert float(games.span_seminorm(a, b)) == pytest.approx(float(np.ptp(np.asarray(a - b))))
  assert float(games.span_seminorm(a + 7.0, b)) == pytest.approx(float(games.span_seminorm(a, b)))


def test_the_trajectory_kl_is_accurate_near_zero(x64):
  p = np.log(np.array([0.2, 0.3, 0.5]))
  q = p + np.array([1e-10, -1e-10, 0.0])
  # KL ≈ ½ Σ p δ² (next term O(δ³)) with δ the log-ratio: ~1e-21, far below the 1e-16 floor of the
  # naive Σ p (log p − log q). Renormalisation round-off (~1e-16 on δ ~ 1e-10) allows rtol 1e-4.
  lq = q - np.log(np.exp(q).sum())
  d = p - lq
  want = float(np.sum(np.exp(p) * d**2) / 2)
  g = games.preference_game(np.array([[0.5, 0.7, 0.2], [0.3, 0.5, 0.6], [0.8, 0.4, 0.5]]), beta=0.1)
  solver = games.nash_mp.solver(step_size=0.2)
  _, tr = games.run(solver, g, solver.init(g, jnp.asarray(lq)), num_steps=0, equilibrium=jnp.asarray(p),
                    metrics=("kl",))
  np.testing.assert_allclose(float(tr.kl[0]), want, rtol=1e-4)


def test_games_vmap_over_beta_and_seed(x64):
  keys = jax.random.split(jax.random.PRNGKey(0), 3)
  betas = jnp.array([0.1, 0.3, 1.0])
  stacked = jax.vmap(lambda k, b: games.uniform(k, 5, beta=b))(keys, betas)
  gaps = jax.vmap(lambda g: games.exploitability(g, jnp.zeros(5) - jnp.log(5.0)))(stacked)
  for i in range(3):
    g = games.uniform(keys[i], 5, beta=betas[i])
    np.testing.assert_allclose(float(gaps[i]),
                               float(games.exploitability(g, jnp.zeros(5) - jnp.log(5.0))), rtol=1e-12)


def test_exploitability_gradient_is_finite(x64):
  g = games.uniform(jax.random.PRNGKey(7), 4, beta=0.1)
  grad = jax.grad(lambda l: games.exploitability(g, jax.nn.log_softmax(l)))(jnp.array([0.0, 1.0, -30.0,
                                                                                       2.0]))
  assert np.all(np.isfinite(np.asarray(grad)))
  check_grads(lambda l: games.exploitability(g, jax.nn.log_softmax(l)),
                            (jnp.array([0.0, 1.0, -1.0, 2.0]),), order=1, modes=("rev",))
