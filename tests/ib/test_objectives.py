"""divjax.ib.objectives: VIB and CS-IB losses against independent closed forms, and use with flax+optax."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from divjax import divergences as dv
from divjax import ib


def test_diagonal_kl_matches_the_full_covariance_closed_form(x64):
  rng = np.random.default_rng(0)
  mean, log_var = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
  want = dv.gaussian_kl_divergence(mean, np.stack([np.diag(np.exp(v)) for v in log_var]),
                                   np.zeros(3), np.eye(3))
  np.testing.assert_allclose(ib.diagonal_gaussian_kl_to_standard_normal(mean, log_var), want,
                             rtol=1e-12)


def test_vib_loss_matches_its_expectation_for_a_quadratic_decoder(x64):
  # −log q(y|t) = ½‖t − c‖² (+ const): E = ½(‖μ − c‖² + Σσ²). S = 4000 draws per input, n = 5:
  # the sample mean has SE ≈ 0.013 here; tolerance 5 SE.
  rng = np.random.default_rng(1)
  mean, log_var, c = rng.normal(size=(5, 2)), 0.3 * rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
  nll = lambda t: 0.5 * jnp.sum((t - c)**2, axis=-1)
  loss, info = ib.vib_loss(jax.random.key(0), mean, log_var, nll, beta=0.3, num_samples=4000)
  want_nll = np.mean(0.5 * (((mean - c)**2).sum(-1) + np.exp(log_var).sum(-1)))
  want_kl = np.mean(0.5 * (mean**2 + np.exp(log_var) - 1 - log_var).sum(-1))
  assert abs(float(info.prediction) - want_nll) < 0.07
  np.testing.assert_allclose(info.compression, want_kl, rtol=1e-12)
  np.testing.assert_allclose(loss, info.prediction + 0.3 * info.compression, rtol=1e-12)


def test_reparameterized_samples_have_the_right_moments():
  t = ib.reparameterize(jax.random.key(3), jnp.array([1.0, -2.0]), jnp.log(jnp.array([0.25, 4.0])),
                        num_samples=20000)
  # SE of the mean: σ/√20000 ≤ 0.015; tolerance 4 SE.
  np.testing.assert_allclose(t.mean(0), [1.0, -2.0], atol=0.06)
  np.testing.assert_allclose(t.var(0), [0.25, 4.0], rtol=0.05)


def test_cs_ib_loss_is_conditional_cs_plus_beta_qmi():
  rng = np.random.default_rng(2)
  x = rng.normal(size=(64, 3))
  y = np.sin(x[:, 0])
  t = np.tanh(x @ rng.normal(size=(3, 2)))
  yp = y + 0.1 * rng.normal(size=64)
  loss, info = ib.cs_ib_loss(x, y, yp, t, beta=0.5, sigma_x=1.0, sigma_y=0.5, sigma_t=1.0)
  pred = ib.conditional_cs_divergence(x, y, yp, sigma_x=1.0, sigma_y=0.5)
  comp = ib.cs_qmi(x, t, sigma_x=1.0, sigma_t=1.0)
  np.testing.assert_allclose([info.prediction, info.compression], [pred, comp], rtol=1e-6)
  np.testing.assert_allclose(loss, pred + 0.5 * comp, rtol=1e-6)
  loss0, _ = ib.cs_ib_loss(x, y, y, t, beta=0.0, sigma_x=1.0, sigma_y=0.5, sigma_t=1.0)
  assert abs(float(loss0)) < 1e-6


def test_negative_beta_raises():
  z = np.zeros((4, 1))
  with pytest.raises(ValueError, match="beta"):
    ib.cs_ib_loss(z, z, z, z, beta=-1.0, sigma_x=1.0, sigma_y=1.0, sigma_t=1.0)
  with pytest.raises(ValueError, match="beta"):
    ib.vib_loss(jax.random.key(0), z, z, lambda t: jnp.zeros(t.shape[:-1]), beta=-0.1)
  with pytest.raises(ValueError, match="num_samples"):
    ib.vib_loss(jax.random.key(0), z, z, lambda t: jnp.zeros(t.shape[:-1]), beta=0.1, num_samples=0)


class _Net(nn.Module):
  k: int = 2

  @nn.compact
  def __call__(self, x):
    h = nn.tanh(nn.Dense(8)(x))
    mean, log_var = nn.Dense(self.k)(h), nn.Dense(self.k)(h)
    return mean, log_var


def test_both_losses_train_a_flax_model_with_optax():
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(128, 2)), jnp.float32)
  y = jnp.sin(2 * x[:, :1])
  enc, dec = _Net(), nn.Dense(1)
  key = jax.random.key(0)
  params = {"enc": enc.init(key, x), "dec": dec.init(key, jnp.zeros((1, 2)))}
  opt = optax.adam(3e-2)

  def vib(p, k):
    mean, log_var = enc.apply(p["enc"], x)
    nll = lambda t: 0.5 * jnp.sum((dec.apply(p["dec"], t) - y)**2, axis=-1)
    return ib.vib_loss(k, mean, log_var, nll, beta=1e-3)[0]

  def csib(p, k):
    mean, _ = enc.apply(p["enc"], x)
    return ib.cs_ib_loss(x, y, dec.apply(p["dec"], mean), mean, beta=1e-2, sigma_x=1.0,
                         sigma_y=0.5, sigma_t=1.0)[0]

  for loss_fn in (vib, csib):
    @jax.jit
    def step(p, s, k):
      value, g = jax.value_and_grad(loss_fn)(p, k)
      u, s = opt.update(g, s, p)
      return optax.apply_updates(p, u), s, value

    p, s = params, opt.init(params)
    first = None
    for i in range(150):
      p, s, value = step(p, s, jax.random.fold_in(key, i))
      first = value if first is None else first
    assert np.isfinite(float(value)) and float(value) < 0.5 * float(first), (loss_fn, first, value)
