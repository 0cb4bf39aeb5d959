"""Checked mode (divjax.checks): the eager argument errors, raised from inside compiled programs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify as jax_checkify

from divjax import checks, divergences as dv, kde, ot

P = jnp.array([0.2, 0.3, 0.5])
Q = jnp.array([0.4, 0.4, 0.2])
X = jnp.asarray(np.random.default_rng(0).normal(size=(6, 2)))


def _kl_numpy(p, q):
  p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
  return float(np.sum(p * np.log(p / q)))


def test_checked_gives_the_numpy_value_for_valid_inputs():
  np.testing.assert_allclose(checks.checked(dv.kl_divergence)(P, Q), _kl_numpy(P, Q), rtol=1e-5)


@pytest.mark.parametrize("fn, args, message", [
    (dv.kl_divergence, (jnp.array([0.5, 0.6, 0.0]), Q), r"^p must be a probability vector"),
    (lambda x, h: kde.log_density(x, x, h), (X, jnp.asarray(-0.5)), r"^bandwidth must be positive"),
    (lambda x, e: ot.sinkhorn_cost(x, x + 1.0, epsilon=e).value, (X, jnp.asarray(0.0)),
     r"^epsilon must be positive"),
    (lambda x, h: kde.log_density(x, x.at[0, 0].set(jnp.nan), h), (X, jnp.asarray(0.5)),
     r"^data must be finite"),
])
def test_checked_raises_the_named_error_where_jit_gives_nan(fn, args, message):
  assert np.isnan(np.asarray(jax.jit(fn)(*args))).any()
  with pytest.raises(ValueError, match=message) as info:
    checks.checked(fn)(*args)
  assert isinstance(info.value, jax_checkify.JaxRuntimeError)


def test_checkify_under_vmap_flags_only_the_bad_example_and_keeps_the_good_values():
  ps = jnp.stack([P, jnp.array([0.5, 0.6, 0.0]), Q])
  err, out = jax.jit(jax.vmap(checks.checkify(dv.kl_divergence), in_axes=(0, None)))(ps, Q)
  out = np.asarray(out)
  np.testing.assert_allclose(out[0], _kl_numpy(P, Q), rtol=1e-5)
  np.testing.assert_allclose(out[2], 0.0, atol=1e-7)
  assert np.isnan(out[1])
  assert "p must be a probability vector" in err.get()
  assert "index 1" in err.get()  # checkify names the mapped index


def test_checkify_reports_no_error_and_exact_gradients_for_valid_inputs():
  def loss(logits):
    return dv.kl_divergence(logits, jnp.log(Q), logits=True)

  err, g = jax.jit(checks.checkify(jax.grad(loss)))(jnp.log(P))
  assert err.get() is None
  # d/dz KL(softmax(z) || q) = p ⊙ (log p − log q − KL), an independent closed form.
  p, q = np.asarray(P, np.float64), np.asarray(Q, np.float64)
  expected = p * (np.log(p / q) - _kl_numpy(P, Q))
  np.testing.assert_allclose(g, expected, rtol=1e-4, atol=1e-6)


def test_checkify_reaches_divjax_calls_nested_in_a_users_scan():
  def total(ps):
    def body(acc, p):
      return acc + dv.kl_divergence(p, Q), None
    return jax.lax.scan(body, jnp.zeros(()), ps)[0]

  good = jnp.stack([P, Q])
  err, value = jax.jit(checks.checkify(total))(good)
  assert err.get() is None
  np.testing.assert_allclose(value, _kl_numpy(P, Q), rtol=1e-5)
  err, value = jax.jit(checks.checkify(total))(jnp.stack([P, -Q]))
  assert np.isnan(value) and "p must be a probability vector" in err.get()


def test_a_checked_trace_does_not_leak_into_later_plain_calls():
  # The jitted kernels are traced with the checks off, so checked and plain calls share one cache
  # entry without checkify effects escaping into the plain program.
  h = jnp.asarray(0.7)
  checked_value = checks.checked(lambda x, h: kde.log_density(x, x, h))(X, h)
  plain = jax.jit(lambda x, h: kde.log_density(x, x, h))
  np.testing.assert_allclose(plain(X, h), checked_value, rtol=1e-6)
  np.testing.assert_allclose(kde.log_density(X, X, 0.7), checked_value, rtol=1e-6)
  assert np.isnan(np.asarray(plain(X, jnp.asarray(-1.0)))).all()
  bad = jnp.array([0.5, 0.6, 0.0])
  with pytest.raises(ValueError):
    checks.checked(dv.kl_divergence)(bad, Q)
  assert np.isnan(jax.jit(dv.kl_divergence)(bad, Q))
  assert np.isnan(jax.jit(dv.js_divergence)(bad, Q))


def test_checked_passes_static_arguments_through():
  f = checks.checked(dv.kl_divergence, static_argnames="logits")
  np.testing.assert_allclose(f(jnp.log(P), jnp.log(Q), logits=True), _kl_numpy(P, Q), rtol=1e-5)
  with pytest.raises(ValueError, match=r"^p must be logits"):
    f(jnp.array([jnp.nan, 0.0, 0.0]), jnp.log(Q), logits=True)


def test_checkify_rejects_a_non_callable():
  with pytest.raises(TypeError, match=r"^fn must be callable"):
    checks.checkify(3.0)
