"""divjax._linalg.solve against NumPy's LAPACK solve, and the multi-device pattern that deadlocks
``jnp.linalg.solve`` on jaxlib 0.10's CPU backend (run in a subprocess with a timeout)."""

import pathlib
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from divjax import _linalg


@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_solve_matches_numpy_float64(n):
  rng = np.random.default_rng(n)
  a, b = rng.normal(size=(n, n)), rng.normal(size=n)
  with jax.enable_x64(True):
    got = np.asarray(jax.jit(_linalg.solve)(jnp.asarray(a), jnp.asarray(b)))
  np.testing.assert_allclose(got, np.linalg.solve(a, b), rtol=1e-9, atol=1e-11)


def test_solve_pivots_on_a_zero_leading_entry():
  a, b = np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([1.0, 5.0])
  np.testing.assert_allclose(_linalg.solve(jnp.asarray(a), jnp.asarray(b)), [1.0, 1.0], rtol=1e-6)


def test_solve_is_vmappable():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(5, 6, 6)) + 6 * np.eye(6), rng.normal(size=(5, 6))
  got = jax.vmap(_linalg.solve)(jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32))
  np.testing.assert_allclose(got, np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-4, atol=1e-5)


def test_singular_system_gives_non_finite_not_an_error():
  x = _linalg.solve(jnp.zeros((3, 3)), jnp.ones(3))
  assert not np.all(np.isfinite(np.asarray(x)))


@pytest.mark.slow
def test_sharded_batched_solve_in_a_loop_finishes_on_two_cpu_devices():
  # The pattern that hangs with jnp.linalg.solve (batched getrf inside a loop, 2 CPU devices).
  script = textwrap.dedent("""
      import os
      os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
      import jax, jax.numpy as jnp, numpy as np
      from jax.sharding import NamedSharding, PartitionSpec as P
      from divjax import _linalg
      jax.config.update("jax_enable_x64", True)
      n, batch = 101, 16
      a = jax.random.normal(jax.random.key(0), (batch, n, n)) + n * jnp.eye(n)
      b = jnp.ones((batch, n))
      f = jax.jit(jax.vmap(lambda a, b: jax.lax.fori_loop(0, 5, lambda i, x: _linalg.solve(a, x), b)))
      s = NamedSharding(jax.sharding.Mesh(np.array(jax.devices()), ("b",)), P("b"))  # as the harness
      for _ in range(3):
        out = jax.block_until_ready(f(jax.device_put(a, s), jax.device_put(b, s)))
      ref = np.asarray(b)
      for _ in range(5):
        ref = np.linalg.solve(np.asarray(a), ref[..., None])[..., 0]
      np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-8, atol=1e-300)
      print("finished")
  """)
  proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240,
                        cwd=pathlib.Path(__file__).resolve().parents[1])
  assert proc.returncode == 0 and "finished" in proc.stdout, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------------------
# Cholesky and forward substitution: unrolled up to UNROLL_MAX, LAPACK above (NumPy is the oracle).


def _spd(rng, batch, d):
  a = rng.normal(size=(*batch, d, d))
  return a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(d)


@pytest.mark.parametrize("d", [1, 2, 4, _linalg.UNROLL_MAX, _linalg.UNROLL_MAX + 3])
def test_cholesky_and_forward_substitution_match_numpy(d):
  rng = np.random.default_rng(d)
  a, b = _spd(rng, (6,), d), rng.normal(size=(6, d, 3))
  with jax.enable_x64(True):
    chol = np.asarray(jax.jit(_linalg.cholesky)(jnp.asarray(a)))
    x = np.asarray(jax.jit(_linalg.solve_lower_triangular)(jnp.asarray(chol), jnp.asarray(b)))
  np.testing.assert_allclose(chol, np.linalg.cholesky(a), rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(x, np.linalg.solve(np.linalg.cholesky(a), b), rtol=1e-10, atol=1e-12)


def test_forward_substitution_broadcasts_one_factor_over_a_batch():
  rng = np.random.default_rng(1)
  chol = np.linalg.cholesky(_spd(rng, (), 3))
  b = rng.normal(size=(5, 3, 2))
  with jax.enable_x64(True):
    x = np.asarray(_linalg.solve_lower_triangular(jnp.asarray(chol), jnp.asarray(b)))
  np.testing.assert_allclose(x, np.linalg.solve(chol, b), rtol=1e-10, atol=1e-12)


def test_cholesky_of_a_matrix_that_is_not_positive_definite_is_all_nan():
  got = np.asarray(_linalg.cholesky(jnp.array([[1.0, 2.0], [2.0, 1.0]])))
  assert np.isnan(got).all()  # as jnp.linalg.cholesky's


def test_unrolled_cholesky_gradient_matches_lapacks():
  # The reverse-mode gradient of log det through the unrolled factor, against jnp.linalg.cholesky's
  # own derivative rule and against the closed form ∂ log det A/∂A = A⁻¹ (lower triangle read).
  rng = np.random.default_rng(3)
  a = _spd(rng, (), 4)
  logdet = lambda f: lambda m: 2.0 * jnp.sum(jnp.log(jnp.diagonal(f(m))))
  sym = lambda m: 0.5 * (m + m.T)
  with jax.enable_x64(True):
    ours = np.asarray(jax.grad(lambda m: logdet(_linalg.cholesky)(sym(m)))(jnp.asarray(a)))
    lapack = np.asarray(jax.grad(lambda m: logdet(jnp.linalg.cholesky)(sym(m)))(jnp.asarray(a)))
  np.testing.assert_allclose(ours, lapack, rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(ours, np.linalg.inv(a), rtol=1e-10, atol=1e-12)
