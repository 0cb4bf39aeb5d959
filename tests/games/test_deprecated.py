"""The module functions the solvers had before they became values, and games.kl_to: each still works,
emits a DeprecationWarning naming its replacement, and gives what the replacement gives.

Oracle: the new API (games.run over the solver values, divergences.kl_divergence) on the same inputs.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from divjax import games
from divjax.divergences import kl_divergence


def _game():
  return games.uniform(jax.random.PRNGKey(3), 5, beta=0.2)


@pytest.mark.parametrize("module, step", [(games.nash_mp, 0.4), (games.egpo, 0.9), (games.mmd, 0.7),
                                          (games.nash_md, 0.9)])
def test_module_functions_warn_and_match_the_solver_value(module, step):
  g = _game()
  solver = module.solver(step_size=step)
  start = jnp.array([0.3, -0.2, 0.0, 1.0, 0.5])
  name = module.__name__.rsplit(".", 1)[-1]
  with pytest.warns(DeprecationWarning, match=rf"games\.{name}\.init.*games\.{name}\.solver"):
    s_old = module.init(g, start)
  with pytest.warns(DeprecationWarning, match=rf"games\.{name}\.update.*games\.{name}\.solver"):
    s_old = module.update(g, s_old, step_size=step)
  s_new = solver.update(g, solver.init(g, start))
  np.testing.assert_array_equal(np.asarray(s_old.log_pi), np.asarray(s_new.log_pi))
  with pytest.warns(DeprecationWarning, match=rf"games\.{name}\.run.*games\.run"):
    f_old, t_old = module.run(g, step_size=step, num_steps=6, log_pi0=start)
  f_new, t_new = games.run(solver, g, solver.init(g, start), num_steps=6)
  for a, b in zip(jax.tree_util.tree_leaves((f_old, t_old)), jax.tree_util.tree_leaves((f_new, t_new))):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_approximate_module_functions_warn_and_match_the_solver_value():
  g = _game()
  apply_fn, params = games.approximate.tabular_policy(g)
  kw = dict(apply_fn=apply_fn, step_size=0.4, inner_steps=3, optimizer=optax.sgd(0.3), batch_size=4)
  solver = games.approximate.solver(**kw)
  key = jax.random.PRNGKey(5)
  with pytest.warns(DeprecationWarning, match=r"games\.approximate\.run.*games\.run"):
    f_old, t_old = games.approximate.run(key, g, params, num_steps=3, **kw)
  f_new, t_new = games.run(solver, g, solver.init(g, params), num_steps=3, key=key)
  np.testing.assert_array_equal(np.asarray(f_old.log_pi), np.asarray(f_new.log_pi))
  np.testing.assert_array_equal(np.asarray(t_old.kl), np.asarray(t_new.kl))
  with pytest.warns(DeprecationWarning, match=r"games\.approximate\.init"):
    s = games.approximate.init(g, params)
  with pytest.warns(DeprecationWarning, match=r"games\.approximate\.update"):
    s = games.approximate.update(key, g, s, **kw)
  want = solver.update(g, solver.init(g, params), key=key)
  np.testing.assert_array_equal(np.asarray(s.params["params"]["logits"]),
                                np.asarray(want.params["params"]["logits"]))
  assert s.log_pi is None  # the structure the deprecated init gave, so old loops keep their carry
  with pytest.warns(DeprecationWarning, match=r"ApproxTrajectory.*games\.Trajectory"):
    assert games.approximate.ApproxTrajectory is games.Trajectory


def test_kl_to_warns_and_is_kl_divergence_on_logits():
  lp, lq = jnp.log(jnp.array([0.5, 0.5])), jnp.log(jnp.array([0.9, 0.1]))
  with pytest.warns(DeprecationWarning, match=r"games\.kl_to.*divjax\.divergences\.kl_divergence"):
    got = games.kl_to(lp, lq)
  assert float(got) == float(kl_divergence(lp, lq, logits=True))
  np.testing.assert_allclose(float(got), -0.5 * np.log(0.36), rtol=1e-6)  # the old doctest's value
