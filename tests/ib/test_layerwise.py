"""divjax.ib.layerwise against independent oracles.

Oracles written here, independent of the library: scipy quadrature of the 1-D quantile coupling,
NumPy float64 log pseudo-determinants of covariances built from the generative model's design
matrix (every independent Gaussian source as a column), direct simulation of whole training sets
for the generalisation gaps (Monte Carlo, 4-standard-error tolerances, fixed seeds), exact
enumeration of dropout / DropConnect channels with itertools, and the spec's numbers (§B.3, §B.4).
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from divjax.divergences import knn_kl_divergence
from divjax.ib import layerwise as lw


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


def random_weights(rng, d, widths, scale=None):
  out, prev = [], d
  for w in widths:
    out.append(rng.standard_normal((w, prev)) * (scale if scale else 1.0))
    prev = w
  return out


def spec_instance():
  """Spec §B.3: d = 6, s = 1.3, widths 6-5-3-4, i.i.d. standard-normal weights (r = 3), n = 20."""
  rng = np.random.default_rng(0)
  return random_weights(rng, 6, [5, 3, 4]), 1.3, 20


# ---------------------------------------------------------------------------------------------------
# W1 between 1-D Gaussians.


def quadrature_w1(mp, sp, mq, sq):
  f = lambda u: abs(stats.norm.ppf(u, mp, sp) - stats.norm.ppf(u, mq, sq))
  return integrate.quad(f, 0, 1, limit=400, epsabs=1e-12)[0]


@pytest.mark.parametrize("mp, sp, mq, sq", [(0.0, 1.0, 1.5, 0.7), (0.3, 2.0, 0.3, 0.5),
                                            (-1.0, 0.4, 2.0, 0.4), (0.0, 1.0, 0.1, 3.0)])
def test_w1_1d_matches_quantile_quadrature(x64, mp, sp, mq, sq):
  got = float(jax.jit(lw.gaussian_w1_1d)(mp, sp, mq, sq))
  np.testing.assert_allclose(got, quadrature_w1(mp, sp, mq, sq), rtol=1e-7, atol=1e-9)


def test_w1_1d_to_a_point_mass_is_the_expected_absolute_error(x64):
  # E|N(m, s²) − c| by quadrature of the density.
  m, s, c = 0.4, 1.7, 1.0
  want = integrate.quad(lambda x: abs(x - c) * stats.norm.pdf(x, m, s), -30, 30, points=[c])[0]
  np.testing.assert_allclose(float(lw.gaussian_w1_1d(m, s, c, 0.0)), want, rtol=1e-9)


def test_w1_1d_gradients_are_finite_at_equal_scales_and_point_masses():
  g = jax.grad(lambda a: lw.gaussian_w1_1d(a[0], a[1], a[2], a[3]))
  for point in ([0.0, 1.0, 0.5, 1.0], [0.2, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]):
    assert np.isfinite(np.asarray(g(jnp.asarray(point)))).all()


def test_w1_1d_vmaps_over_batches():
  m = jnp.linspace(-1.0, 1.0, 5)
  got = jax.vmap(lambda x: lw.gaussian_w1_1d(x, 1.0, 0.0, 1.0))(m)
  np.testing.assert_allclose(got, np.abs(np.linspace(-1, 1, 5)), atol=1e-6)


# ---------------------------------------------------------------------------------------------------
# Layer KL (spec §B.3).


def logpdet(c, tol=1e-9):
  ev = np.linalg.eigvalsh(c)
  return np.sum(np.log(ev[ev > tol * ev.max()]))


def pseudodet_mi(cov_u, cov_v, cov_joint):
  return 0.5 * (logpdet(cov_u) + logpdet(cov_v) - logpdet(cov_joint))


def design_covariances(weights, s, n, layer, noise=None):
  """Cov of (u, v) from a design matrix over the independent sources.

  Sources: X_i's noise z (d), the summed other-sample noise h (d, variance n−1), fresh evaluation
  noise e_k (d_k per layer), training noise t_k of sample i and training noise of the others o_k
  (variance n−1). u = T_l^{(i)} with fresh noise, v = n·w.
  """
  d = weights[0].shape[1]
  widths = [w.shape[0] for w in weights]
  L1 = len(weights)
  noise = np.zeros(L1) if noise is None else np.asarray(noise)
  blocks = ["z", "h"] + [f"{k}{j}" for k in "eto" for j in range(L1)]
  sizes = {"z": d, "h": d, **{f"{k}{j}": widths[j] for k in "eto" for j in range(L1)}}
  offs = dict(zip(blocks, np.cumsum([0] + [sizes[b] for b in blocks])[:-1]))
  total = sum(sizes.values())

  def propagate(src_scale, start, stop, prefix):
    """Rows: the representation at layer `stop` driven by z (scaled) plus noise `prefix` layers."""
    g = np.zeros((d, total))
    g[:, offs[src_scale[0]]:offs[src_scale[0]] + d] = src_scale[1] * np.eye(d)
    for j in range(stop):
      g = weights[j] @ g
      if prefix is not None:
        for b, sc in prefix:
          g[:, offs[f"{b}{j}"]:offs[f"{b}{j}"] + widths[j]] += sc * noise[j] * np.eye(widths[j])
    return g

  u = propagate(("z", s), 0, layer, [("e", 1.0)])
  v = propagate(("z", s), 0, L1, [("t", 1.0)]) + propagate(("h", s * math.sqrt(n - 1)), 0, L1,
                                                            [("o", math.sqrt(n - 1))])
  joint = np.vstack([u, v])
  return u @ u.T, v @ v.T, joint @ joint.T


def test_spec_B3_rank_formula_equals_pseudodeterminant_mi_at_every_layer(x64):
  weights, s, n = spec_instance()
  got = np.asarray(jax.jit(lw.linear_gaussian_layer_kl)(weights, n=n))
  want = [pseudodet_mi(*design_covariances(weights, s, n, l)) for l in range(4)]
  assert int(lw.network_rank(weights)) == 3
  np.testing.assert_allclose(got, -1.5 * math.log(1 - 1 / 20), rtol=0, atol=1e-12)
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


@pytest.mark.parametrize("seed", [0, 1])
def test_noisy_layer_kl_matches_design_matrix_logdet(x64, seed):
  rng = np.random.default_rng(seed)
  weights = random_weights(rng, 4, [5, 2, 3], scale=0.7)
  noise = rng.uniform(0.3, 1.2, size=3)
  got = np.asarray(jax.jit(lw.linear_gaussian_noisy_layer_kl)(weights, jnp.asarray(noise), n=15,
                                                                input_scale=0.9))
  want = [pseudodet_mi(*design_covariances(weights, 0.9, 15, l, noise)) for l in range(4)]
  np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_noisy_layer_kl_is_non_increasing_with_depth(x64):
  rng = np.random.default_rng(3)
  for widths in ([3, 1, 4, 2], [6, 2, 2, 5], [1, 5, 3, 3]):
    weights = random_weights(rng, 5, widths)
    kl = np.asarray(lw.linear_gaussian_noisy_layer_kl(weights, rng.uniform(0.05, 2.0, size=4),
                                                      n=int(rng.integers(2, 50)),
                                                      input_scale=rng.uniform(0.3, 2.0)))
    assert np.all(np.diff(kl) <= 1e-12), kl


def test_noisy_layer_kl_tends_to_the_rank_formula(x64):
  weights, s, n = spec_instance()
  kl = lw.linear_gaussian_noisy_layer_kl(weights, jnp.full(3, 1e-4), n=n, input_scale=s)
  np.testing.assert_allclose(kl, lw.linear_gaussian_layer_kl(weights, n=n), rtol=1e-6)


def test_noisy_layer_kl_vmaps_and_differentiates():
  weights, s, n = spec_instance()
  weights = [jnp.asarray(w, jnp.float32) for w in weights]
  scales = jnp.stack([jnp.full(3, v) for v in (0.3, 0.6, 1.0)])
  batched = jax.jit(jax.vmap(lambda sc: lw.linear_gaussian_noisy_layer_kl(weights, sc, n=n,
                                                                           input_scale=s)))(scales)
  for row, sc in zip(batched, scales):
    np.testing.assert_allclose(row, lw.linear_gaussian_noisy_layer_kl(weights, sc, n=n, input_scale=s),
                               rtol=1e-5)
  g = jax.grad(lambda sc: lw.linear_gaussian_noisy_layer_kl(weights, sc, n=n, input_scale=s)[1])
  grad = np.asarray(g(jnp.full(3, 0.5)))
  assert np.isfinite(grad).all() and (grad <= 1e-6).all()  # more noise, less information


def test_output_kl_is_below_the_hidden_kl_and_agrees_with_a_knn_estimate(x64):
  # Oracle: direct simulation of ŷ under the train and test laws, then divjax's kNN estimator.
  rng = np.random.default_rng(5)
  d, n, s = 3, 5, 1.0
  weights = random_weights(rng, d, [3, 2], scale=0.6)
  mu = np.array([0.8, -0.3, 0.5])
  a = weights[1] @ weights[0]
  m = a.T @ a
  reps = 4000
  vals_train, vals_test = [], []
  for _ in range(2):
    u = mu + s * rng.standard_normal((reps, n, d))       # Y_j X_j, with Y = +1 for sample 0
    mu_hat = u.mean(axis=1)
    vals_train.append(np.einsum("ri,ij,rj->r", mu_hat, m, u[:, 0]))
    x_test = mu + s * rng.standard_normal((reps, d))
    vals_test.append(np.einsum("ri,ij,rj->r", mu_hat, m, x_test))
  est = [float(knn_kl_divergence(jnp.asarray(tr[:, None]), jnp.asarray(te[:, None]), k=5))
         for tr, te in zip(vals_train, vals_test)]
  got = float(lw.linear_gaussian_output_kl(jax.random.key(0), weights, mu, n=n, input_scale=s,
                                           num_samples=4096, num_grid=1501))
  hidden = float(lw.linear_gaussian_layer_kl(weights, n=n)[0])
  assert 0 < got < hidden
  # kNN at N = 4000, k = 5 in 1-D: seed-to-seed sd ≈ 0.02 (measured); 0.05 ≈ 3 sd of the 2-run mean.
  assert abs(np.mean(est) - got) < 0.05, (est, got)


def simulate_gaps(weights, mu, n, s, reps, rng):
  """Direct simulation: (squared-loss gap, abs-loss gap) samples; Y = ±1 drawn, no symmetry used."""
  d = len(mu)
  a = np.eye(d)
  for w in weights:
    a = w @ a
  y = rng.choice([-1.0, 1.0], size=(reps, n))
  x = y[..., None] * mu + s * rng.standard_normal((reps, n, d))
  mu_hat = np.einsum("rj,rjd->rd", y, x) / n
  w = mu_hat @ a.T
  yt = rng.choice([-1.0, 1.0], size=reps)
  xt = yt[:, None] * mu + s * rng.standard_normal((reps, d))
  pred_train = np.einsum("rk,rk->r", w, x[:, 0] @ a.T)
  pred_test = np.einsum("rk,rk->r", w, xt @ a.T)
  sq = (pred_test - yt)**2 - (pred_train - y[:, 0])**2
  ab = np.abs(pred_test - yt) - np.abs(pred_train - y[:, 0])
  return sq, ab


def test_squared_and_absolute_gaps_match_direct_simulation(x64):
  rng = np.random.default_rng(7)
  weights = random_weights(rng, 3, [3, 2], scale=0.5)
  mu, n, s = np.array([0.9, 0.2, -0.4]), 6, 0.8
  sq, ab = simulate_gaps(weights, mu, n, s, 400_000, rng)
  exact = float(lw.linear_gaussian_squared_loss_gap(weights, mu, n=n, input_scale=s))
  se = sq.std() / math.sqrt(len(sq))
  assert abs(sq.mean() - exact) < 4 * se, (sq.mean(), exact, se)
  assert abs(exact) > 6 * se  # the check can fail: the gap is resolved
  b = lw.linear_gaussian_bounds(jax.random.key(0), weights, mu, n=n, input_scale=s,
                                num_samples=200_000)
  se_ab = math.hypot(ab.std() / math.sqrt(len(ab)), float(b.gap_se))
  assert abs(ab.mean() - float(b.gap)) < 4 * se_ab, (ab.mean(), float(b.gap), se_ab)
  assert abs(float(b.gap)) > 6 * se_ab


def test_bounds_hold_and_the_opnorm_w1_bound_is_non_increasing(x64):
  rng = np.random.default_rng(11)
  for trial in range(3):
    weights = random_weights(rng, 4, [4, 3, 3], scale=0.6)
    mu = rng.standard_normal(4)
    b = jax.jit(lambda k: lw.linear_gaussian_bounds(k, weights, mu, n=10, input_scale=0.7,
                                                    num_samples=4096))(jax.random.key(trial))
    gap = abs(float(b.gap)) - 3 * float(b.gap_se)
    assert (np.asarray(b.kl_bound) >= gap).all()
    assert (np.asarray(b.w1_bound) >= gap).all()
    assert (np.asarray(b.w1_lower) <= np.asarray(b.w1_upper)).all()
    assert (np.diff(np.asarray(b.w1_bound_opnorm)) <= 1e-9).all()
    assert (np.asarray(b.w1_bound) <= np.asarray(b.w1_bound_opnorm) + 1e-9).all()


def test_w1_coupling_bracket_dominates_the_exact_w2(x64):
  # The upper bracket sqrt(|δ|² + s²c²‖A_l P‖²_F) is a coupling cost, hence ≥ W₂ ≥ W₁; W₂ from
  # divjax.divergences (Dowson–Landau), a different formula.
  from divjax.divergences import gaussian_squared_wasserstein2
  rng = np.random.default_rng(2)
  d, n, s = 4, 8, 0.9
  a = rng.standard_normal((2, d))
  p = np.linalg.pinv(a) @ a
  delta = p @ rng.standard_normal(d)
  c = 1 - math.sqrt(1 - 1 / n)
  upper_sq = delta @ delta + s**2 * c**2 * np.sum(p**2)
  w2_sq = float(gaussian_squared_wasserstein2(delta, s**2 * (np.eye(d) - p / n), np.zeros(d),
                                              s**2 * np.eye(d)))
  assert w2_sq <= upper_sq + 1e-12 and upper_sq - w2_sq < 1e-3 * upper_sq


# ---------------------------------------------------------------------------------------------------
# Contraction coefficients (spec §B.4), by exact enumeration.


def enumerate_channel(inputs, num_mask, p, apply):
  """Transition matrix over all masks (each entry dropped w.p. p); outputs merged by value."""
  outputs, rows = {}, []
  for x in inputs:
    row = {}
    for mask in itertools.product([0, 1], repeat=num_mask):
      y = apply(x, mask)
      row[y] = row.get(y, 0.0) + np.prod([(1 - p) if mi else p for mi in mask])
      outputs.setdefault(y, len(outputs))
    rows.append(row)
  k = np.zeros((len(inputs), len(outputs)))
  for i, row in enumerate(rows):
    for y, prob in row.items():
      k[i, outputs[y]] = prob
  return k


def dropout_channel(width, p, levels=(1.0, 2.0)):
  return enumerate_channel(list(itertools.product(levels, repeat=width)), width, p,
                           lambda x, mask: tuple(xi * mi for xi, mi in zip(x, mask)))


def dropconnect_channel(w, p, levels=(1.0, 2.0)):
  d_out, d_in = w.shape
  return enumerate_channel(list(itertools.product(levels, repeat=d_in)), d_in * d_out, p,
                           lambda x, mask: tuple(np.round((w * np.reshape(mask, w.shape))
                                                          @ np.asarray(x), 10)))


def numpy_dobrushin(k):
  return max(0.5 * np.abs(k[i] - k[j]).sum() for i in range(len(k)) for j in range(len(k)))


@pytest.mark.parametrize("width", [1, 2, 3])
@pytest.mark.parametrize("p", [0.3, 0.5])
def test_dropout_formula_equals_enumerated_dobrushin(x64, width, p):
  k = dropout_channel(width, p)
  np.testing.assert_allclose(numpy_dobrushin(k), 1 - p**width, atol=1e-12)
  np.testing.assert_allclose(float(lw.tv_contraction_coefficient(k)), 1 - p**width, atol=1e-12)
  np.testing.assert_allclose(float(lw.dropout_contraction(width, rate=p)), 1 - p**width, atol=1e-12)


def test_spec_B4_dropout_kl_contraction_is_075_at_width_2(x64):
  k = dropout_channel(2, 0.5)
  lower = float(lw.kl_contraction_lower_bound(jax.random.key(0), k, num_restarts=4, num_steps=200))
  upper = float(lw.tv_contraction_coefficient(k))
  assert 0.75 - 2e-3 <= lower <= upper + 1e-9 and upper == pytest.approx(0.75, abs=1e-12)
  # Width 1 is the erasure channel: 1 − p.
  k1 = dropout_channel(1, 0.5)
  jitted = jax.jit(lambda key, ch: lw.kl_contraction_lower_bound(key, ch, num_restarts=4,
                                                                  num_steps=200))
  lower1 = float(jitted(jax.random.key(1), k1))
  assert lower1 == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("shape", [(1, 2), (2, 2), (2, 3)])
def test_dropconnect_formula_equals_enumerated_dobrushin(x64, shape):
  rng = np.random.default_rng(sum(shape))
  w = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1, 1], size=shape)
  k = dropconnect_channel(w, 0.5)
  want = float(lw.dropconnect_contraction(shape[1], shape[0], rate=0.5))
  np.testing.assert_allclose(want, 1 - 0.5**(shape[0] * shape[1]), atol=1e-12)
  np.testing.assert_allclose(numpy_dobrushin(k), want, atol=1e-9)


def test_gaussian_noise_formula_matches_monte_carlo_tv(x64):
  # Spec: |a − b| = 2√3 (width 3, R = 1), s = 0.7 → 0.98665. TV = E_P[(1 − q/p)_+].
  r, s, d = 1.0, 0.7, 3
  eta = float(lw.gaussian_noise_contraction(d, bound=r, noise_scale=s))
  assert eta == pytest.approx(2 * stats.norm.cdf(r * math.sqrt(d) / s) - 1, abs=1e-12)
  assert eta == pytest.approx(0.98665, abs=1e-5)
  rng = np.random.default_rng(0)
  a, b = np.full(d, r), np.full(d, -r)
  x = a + s * rng.standard_normal((400_000, d))
  log_ratio = (np.sum((x - a)**2, 1) - np.sum((x - b)**2, 1)) / (2 * s**2)
  vals = np.maximum(1 - np.exp(log_ratio), 0)
  assert abs(vals.mean() - eta) < 4 * vals.std() / math.sqrt(len(vals))


def test_channel_coefficients_of_textbook_channels(x64):
  eps = 0.2
  bsc = np.array([[1 - eps, eps], [eps, 1 - eps]])
  bec = np.array([[1 - eps, 0, eps], [0, 1 - eps, eps]])
  assert float(lw.tv_contraction_coefficient(bsc)) == pytest.approx(1 - 2 * eps)
  assert float(lw.tv_contraction_coefficient(bec)) == pytest.approx(1 - eps)
  # η_KL(BSC) = (1 − 2ε)² (Ahlswede–Gács), strictly below η_TV.
  got = float(lw.kl_contraction_lower_bound(jax.random.key(2), bsc, num_restarts=4, num_steps=300))
  assert (1 - 2 * eps)**2 - 5e-3 <= got <= (1 - 2 * eps)**2 + 1e-6


def test_composed_dropout_contracts_at_least_as_the_product(x64):
  # Two dropout layers on the same units = one dropout at rate 1 − (1−p)²; η ≤ η₁η₂.
  p, width = 0.3, 2
  k = dropout_channel(width, p)
  # Compose: the second layer acts on the first layer's outputs (coordinates already 0 stay 0).
  k2 = dropout_channel(width, 1 - (1 - p)**2)
  composed = float(lw.tv_contraction_coefficient(k2))
  product = float(lw.contracted_kl_bound(1.0, jnp.full(2, lw.dropout_contraction(width, rate=p)))[-1])
  assert composed <= product + 1e-12
  np.testing.assert_allclose(product, (1 - p**width)**2, atol=1e-12)
  np.testing.assert_allclose(float(lw.tv_contraction_coefficient(k)), 1 - p**width, atol=1e-12)


def test_contraction_formulas_jit_vmap_and_grad():
  rates = jnp.linspace(0.0, 1.0, 5)
  got = jax.jit(jax.vmap(lambda p: lw.dropout_contraction(3.0, rate=p)))(rates)
  np.testing.assert_allclose(got, 1 - np.linspace(0, 1, 5)**3, atol=1e-6)
  g = jax.grad(lambda p: lw.dropout_contraction(2.0, rate=p))
  assert np.isfinite(float(g(0.0))) and float(g(0.5)) == pytest.approx(-2 * 0.5, rel=1e-5)
  gd = jax.grad(lambda p: lw.dropconnect_contraction(2.0, 2.0, rate=p))(0.5)
  assert float(gd) == pytest.approx(-4 * 0.5**3, rel=1e-5)
  gg = jax.grad(lambda s: lw.gaussian_noise_contraction(4.0, bound=1.0, noise_scale=s))(1.0)
  assert float(gg) < 0  # noisier contracts more
  widths = jnp.arange(1.0, 9.0)
  etas = jax.vmap(lambda d: lw.gaussian_noise_contraction(d, bound=1.0, noise_scale=2.0))(widths)
  assert (np.diff(np.asarray(etas)) > 0).all()  # narrower contracts more


def test_layerwise_bounds_vmap_over_keys():
  weights, s, n = spec_instance()
  weights = [jnp.asarray(w, jnp.float32) for w in weights]
  mu = jnp.asarray([0.3, -0.2, 0.1, 0.4, 0.0, -0.1], jnp.float32)
  keys = jax.random.split(jax.random.key(0), 3)
  out = jax.vmap(lambda k: lw.linear_gaussian_bounds(k, weights, mu, n=n, input_scale=s,
                                                     num_samples=512))(keys)
  assert out.w1_bound.shape == (3, 5) and np.isfinite(np.asarray(out.w1_bound)).all()
  np.testing.assert_allclose(out.kl[0], lw.linear_gaussian_layer_kl(weights, n=n), rtol=1e-6)


def test_remaining_functions_jit_and_vmap(x64):
  weights, s, n = spec_instance()
  mu = np.linspace(-0.3, 0.3, 6)
  ns = jnp.asarray([5.0, 20.0, 100.0])
  kl = jax.jit(jax.vmap(lambda m: lw.linear_gaussian_layer_kl(weights, n=m)))(ns)
  np.testing.assert_allclose(kl[:, 0], -1.5 * np.log1p(-1 / np.asarray(ns)), rtol=1e-12)
  gaps = jax.jit(jax.vmap(lambda m: lw.linear_gaussian_squared_loss_gap(weights, mu, n=m,
                                                                         input_scale=s)))(ns)
  for g, m in zip(gaps, [5, 20, 100]):
    np.testing.assert_allclose(g, lw.linear_gaussian_squared_loss_gap(weights, mu, n=m,
                                                                      input_scale=s), rtol=1e-10)
  grad = jax.grad(lambda m_: lw.linear_gaussian_squared_loss_gap(weights, m_, n=20, input_scale=s))(
      jnp.asarray(mu))
  assert np.isfinite(np.asarray(grad)).all()
  keys = jax.random.split(jax.random.key(0), 2)
  out = jax.vmap(lambda k: lw.linear_gaussian_output_kl(k, weights, mu, n=n, input_scale=s,
                                                         num_samples=256, num_grid=257))(keys)
  assert out.shape == (2,) and np.isfinite(np.asarray(out)).all()
  eps = jnp.asarray([0.1, 0.2, 0.3])
  bscs = jax.vmap(lambda e: jnp.asarray([[1 - e, e], [e, 1 - e]]))(eps)
  np.testing.assert_allclose(jax.jit(jax.vmap(lw.tv_contraction_coefficient))(bscs), 1 - 2 * eps,
                             rtol=1e-12)
  np.testing.assert_allclose(jax.jit(lw.contracted_kl_bound)(2.0, jnp.asarray([0.5, 0.5, 0.8])),
                             [1.0, 0.5, 0.4], rtol=1e-12)
  assert int(jax.jit(lw.network_rank)(weights)) == 3


# ---------------------------------------------------------------------------------------------------
# Gibbs algorithm (spec §B.5), against brute force over every ordered dataset.


def brute_force_gibbs(losses, mu, gamma, n):
  num_w, k = losses.shape
  pop = losses @ mu
  rows = []
  for s in itertools.product(range(k), repeat=n):
    p_s = np.prod(mu[list(s)])
    emp = losses[:, list(s)].mean(axis=1)
    logits = -gamma * emp
    post = np.exp(logits - logits.max())
    post /= post.sum()
    rows.append((p_s, emp, post))
  marg = sum(p * post for p, _, post in rows)
  gen = sum(p * post @ (pop - emp) for p, emp, post in rows)
  mi = sum(p * post @ np.log(post / marg) for p, _, post in rows)
  lautum = sum(p * marg @ np.log(marg / post) for p, _, post in rows)
  return gen, mi, lautum


@pytest.mark.parametrize("n", [1, 2, 4])
def test_gibbs_matches_brute_force_and_the_isk_identity(x64, n):
  rng = np.random.default_rng(n)
  losses = rng.uniform(size=(4, 3))
  mu = rng.dirichlet(np.ones(3))
  gamma = 3.0
  g = lw.gibbs_generalization(losses, mu, gamma=gamma, n=n)
  gen, mi, lautum = brute_force_gibbs(losses, mu, gamma, n)
  np.testing.assert_allclose([g.gen, g.mutual_information, g.lautum_information], [gen, mi, lautum],
                             rtol=1e-10, atol=1e-14)
  # Aminian et al.: gen = I_SKL/γ exactly; and 0 ≤ gen ≤ 2σ²γ/n.
  np.testing.assert_allclose(float(g.gen), float(g.symmetrized_kl_information) / gamma, rtol=1e-10)
  assert 0 <= float(g.gen) <= float(g.sub_gaussian_bound)


def test_gibbs_jit_vmap_grad():
  losses = jnp.asarray([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
  mu = jnp.asarray([0.7, 0.3])
  f = jax.jit(lambda g: lw.gibbs_generalization(losses, mu, gamma=g, n=5).gen)
  gammas = jnp.asarray([0.5, 1.0, 2.0])
  np.testing.assert_allclose(jax.vmap(f)(gammas), [f(x) for x in gammas], rtol=1e-5)
  assert np.isfinite(float(jax.grad(f)(1.0)))
  # A tempered prior that puts all mass on one hypothesis has gen = 0.
  g = lw.gibbs_generalization(losses, mu, gamma=1.0, n=3, prior_logits=jnp.asarray([0.0, -jnp.inf,
                                                                                    -jnp.inf]))
  assert abs(float(g.gen)) < 1e-6


# ---------------------------------------------------------------------------------------------------
# Errors.


def test_invalid_inputs_raise_clear_errors():
  weights, s, n = spec_instance()
  with pytest.raises(ValueError, match="n must be > 1"):
    lw.linear_gaussian_layer_kl(weights, n=1)
  with pytest.raises(TypeError, match="weights must be a list"):
    lw.linear_gaussian_layer_kl(np.eye(3), n=5)
  with pytest.raises(ValueError, match=r"weights\[1\] must have shape"):
    lw.linear_gaussian_layer_kl([np.ones((3, 2)), np.ones((2, 2))], n=5)
  with pytest.raises(ValueError, match="noise_scales must have one entry"):
    lw.linear_gaussian_noisy_layer_kl(weights, np.ones(2), n=5)
  with pytest.raises(ValueError, match="noise_scales must be positive"):
    lw.linear_gaussian_noisy_layer_kl(weights, np.array([1.0, 0.0, 1.0]), n=5)
  with pytest.raises(ValueError, match="input_scale must be positive"):
    lw.linear_gaussian_squared_loss_gap(weights, np.zeros(6), n=5, input_scale=-1.0)
  with pytest.raises(ValueError, match=r"weights\[0\] must have shape"):
    lw.linear_gaussian_bounds(jax.random.key(0), weights, np.zeros(4), n=5)
  with pytest.raises(ValueError, match="rate must be a drop probability"):
    lw.dropout_contraction(2, rate=1.5)
  with pytest.raises(ValueError, match="width must be positive"):
    lw.dropout_contraction(0, rate=0.5)
  with pytest.raises(ValueError, match="noise_scale must be positive"):
    lw.gaussian_noise_contraction(2, bound=1.0, noise_scale=0.0)
  with pytest.raises(ValueError, match="std_p must be non-negative"):
    lw.gaussian_w1_1d(0.0, -1.0, 0.0, 1.0)
  with pytest.raises(ValueError, match="channel must sum to 1"):
    lw.tv_contraction_coefficient(np.array([[0.5, 0.4], [0.5, 0.5]]))
  with pytest.raises(ValueError, match="gamma must be positive"):
    lw.gibbs_generalization(np.ones((2, 2)), np.array([0.5, 0.5]), gamma=0.0, n=3)
  with pytest.raises(ValueError, match="data_probs must have last dimension 2"):
    lw.gibbs_generalization(np.ones((2, 2)), np.array([0.2, 0.3, 0.5]), gamma=1.0, n=3)
  with pytest.raises(TypeError, match="n must be an integer"):
    lw.gibbs_generalization(np.ones((2, 2)), np.array([0.5, 0.5]), gamma=1.0, n=2.5)
  with pytest.raises(ValueError, match=r"etas must lie in \[0, 1\]"):
    lw.contracted_kl_bound(1.0, np.array([0.5, 1.2]))
