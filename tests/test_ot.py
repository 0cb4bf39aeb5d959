"""divjax.ot against POT, numpy ports of the SinKD loop, and finite differences (float64 oracles)."""

import jax
import jax.numpy as jnp
import numpy as np
import ot as pot
import pytest
from scipy.special import log_softmax as np_log_softmax

from divjax import ot


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


# ---------------------------------------------------------------------------------------------------
# Independent oracles.


def problem(seed, n=12, m=15, d=3, shift=1.0):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, d))
  y = rng.normal(size=(m, d)) + shift
  a = rng.dirichlet(np.ones(n))
  b = rng.dirichlet(np.ones(m))
  return x, y, a, b


def sqdist(x, y):
  return ((x[:, None, :] - y[None, :, :])**2).sum(-1)


def pot_costs(a, b, M, eps):
  """POT's log-domain Sinkhorn to machine precision: (regularised cost, transport cost)."""
  P = pot.sinkhorn(a, b, M, eps, method="sinkhorn", stopThr=1e-13, numItermax=100000, warn=False)
  transport = float((P * M).sum())
  pos = P > 0
  kl = float((P[pos] * np.log(P[pos] / np.outer(a, b)[pos])).sum())
  return transport + eps * kl, transport


def softmax(z):
  e = np.exp(z - z.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def sinkd_reference(zs, zt, T=2.0, eps=0.1, n_iter=20):
  """A plain numpy port of SinKD's public loss loop (loss.py): rows then columns, sum of P*M."""
  s, t = softmax(zs / T), softmax(zt / T)
  M = np.abs(s[:, None, :] - t[None, :, :]).sum(-1)
  P = np.exp(-M / eps)
  for _ in range(n_iter):
    P = P / P.sum(1, keepdims=True)
    P = P / P.sum(0, keepdims=True)
  return (P * M).sum()


TIGHT = dict(options=ot.SinkhornOptions(threshold=1e-12, max_iterations=50000))

# Compiled once per shape and reused (ε is traced): ott's solver loop recompiles on every eager call.
COST = jax.jit(lambda x, y, a, b, eps: ot.sinkhorn_cost(x, y, a, b, epsilon=eps, **TIGHT))
DIV = jax.jit(lambda x, y, a, b, eps: ot.sinkhorn_divergence(x, y, a, b, epsilon=eps, **TIGHT))
HCOST = jax.jit(lambda a, b, C, eps: ot.histogram_sinkhorn_cost(a, b, C, epsilon=eps, **TIGHT))
HDIV = jax.jit(lambda a, b, C, eps: ot.histogram_sinkhorn_divergence(a, b, C, epsilon=eps, **TIGHT))
SINKD = jax.jit(ot.sinkd_loss)


# ---------------------------------------------------------------------------------------------------
# Sinkhorn costs.


@pytest.mark.parametrize("seed, eps", [(0, 0.5), (1, 2.0), (2, 0.2)])
def test_point_cloud_cost_matches_pot(x64, seed, eps):
  x, y, a, b = problem(seed)
  want_reg, want_transport = pot_costs(a, b, sqdist(x, y), eps)
  got = COST(x, y, a, b, eps)
  assert bool(got.converged)
  np.testing.assert_allclose(got.value, want_reg, rtol=1e-9)
  np.testing.assert_allclose(got.transport_cost, want_transport, rtol=1e-9)


def test_l1_cost_matches_pot(x64):
  x, y, a, b = problem(3)
  M = np.abs(x[:, None] - y[None]).sum(-1)
  want_reg, _ = pot_costs(a, b, M, 0.3)
  got = ot.sinkhorn_cost(x, y, a, b, epsilon=0.3, cost="l1", **TIGHT)  # eager call works too
  np.testing.assert_allclose(got.value, want_reg, rtol=1e-9)


def test_histogram_cost_matches_pot(x64):
  rng = np.random.default_rng(4)
  a, b = rng.dirichlet(np.ones(8)), rng.dirichlet(np.ones(8))
  C = rng.uniform(0, 3, size=(8, 8))
  want_reg, want_transport = pot_costs(a, b, C, 0.25)
  got = HCOST(a, b, C, 0.25)
  np.testing.assert_allclose(got.value, want_reg, rtol=1e-9)
  np.testing.assert_allclose(got.transport_cost, want_transport, rtol=1e-9)


def test_relative_epsilon_is_a_multiple_of_the_mean_cost(x64):
  x, y, a, b = problem(5)
  M = sqdist(x, y)
  want_reg, _ = pot_costs(a, b, M, 0.1 * M.mean())
  got = ot.sinkhorn_cost(x, y, a, b, epsilon=0.1, relative_epsilon="mean", **TIGHT)
  np.testing.assert_allclose(got.value, want_reg, rtol=1e-8)


def test_small_budget_reports_not_converged():
  x, y, a, b = problem(6)
  got = ot.sinkhorn_cost(x, y, a, b, epsilon=0.01,
                         options=ot.SinkhornOptions(threshold=1e-8, max_iterations=20))
  assert not bool(got.converged)
  assert int(got.n_iters) == 20
  assert float(got.error) > 1e-8


def test_float32_default_and_float64_under_x64(x64):
  x, y, a, b = problem(7)
  f = lambda *args: ot.sinkhorn_cost(*args, epsilon=1.0).value
  assert jax.eval_shape(f, x, y, a, b).dtype == jnp.float64
  with jax.enable_x64(False):
    assert jax.eval_shape(f, x.astype(np.float32), y.astype(np.float32), a.astype(np.float32),
                          b.astype(np.float32)).dtype == jnp.float32


# ---------------------------------------------------------------------------------------------------
# Sinkhorn divergences.


def test_divergence_matches_pot_debiased_combination(x64):
  x, y, a, b = problem(8, m=12)
  eps = 0.7
  want = (pot_costs(a, b, sqdist(x, y), eps)[0] - 0.5 * pot_costs(a, a, sqdist(x, x), eps)[0] -
          0.5 * pot_costs(b, b, sqdist(y, y), eps)[0])
  got = DIV(x, y, a, b, eps)
  assert bool(got.converged) and got.n_iters.shape == (3,)
  np.testing.assert_allclose(got.value, want, rtol=1e-8)


def test_divergence_is_zero_for_identical_inputs(x64):
  x, _, a, _ = problem(9)
  np.testing.assert_allclose(DIV(x, x, a, a, 0.5).value, 0.0, atol=1e-10)
  support = x[:8]
  p = a[:8] / a[:8].sum()
  np.testing.assert_allclose(HDIV(p, p, sqdist(support, support), 0.5).value, 0.0, atol=1e-10)


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_divergence_is_positive_for_different_inputs(x64, seed):
  x, y, a, b = problem(seed, m=12, shift=0.3)
  assert float(DIV(x, y, a, b, 0.5).value) > 1e-4
  rng = np.random.default_rng(seed)
  support = rng.normal(size=(8, 2))
  p, q = rng.dirichlet(np.ones(8)), rng.dirichlet(np.ones(8))
  assert float(HDIV(p, q, sqdist(support, support), 0.5).value) > 1e-5


def test_histogram_divergence_matches_pot_debiased_combination(x64):
  rng = np.random.default_rng(13)
  support = rng.normal(size=(8, 2))
  C = sqdist(support, support)
  p, q = rng.dirichlet(np.ones(8)), rng.dirichlet(np.ones(8))
  want = pot_costs(p, q, C, 0.4)[0] - 0.5 * pot_costs(p, p, C, 0.4)[0] - 0.5 * pot_costs(q, q, C, 0.4)[0]
  got = HDIV(p, q, C, 0.4)
  np.testing.assert_allclose(got.value, want, rtol=1e-8)


def test_divergence_tends_to_w2_squared_for_small_epsilon(x64):
  # Equal-weight clouds of the same size: exact OT is an assignment (POT's emd2 computes it).
  x, y, _, _ = problem(14, m=12, shift=2.0)
  w = np.full(12, 1 / 12)
  w2sq = pot.emd2(w, w, sqdist(x, y))
  got = DIV(x, y, w, w, 0.005)
  np.testing.assert_allclose(got.value, w2sq, rtol=1e-2)


# ---------------------------------------------------------------------------------------------------
# Gradients.


def test_cost_gradient_matches_finite_differences(x64):
  x, y, a, b = problem(15)
  g = np.asarray(jax.jit(jax.grad(lambda x_: COST(x_, y, a, b, 0.5).value))(jnp.asarray(x)))
  assert np.all(np.isfinite(g))
  h = 1e-5
  for i, j in [(0, 0), (2, 1), (11, 2)]:
    e = np.zeros_like(x)
    e[i, j] = h
    fd = (float(pot_costs(a, b, sqdist(x + e, y), 0.5)[0]) -
          float(pot_costs(a, b, sqdist(x - e, y), 0.5)[0])) / (2 * h)
    np.testing.assert_allclose(g[i, j], fd, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------------------------------
# Batches.


@pytest.mark.parametrize("method", ["vmap", "loop"])
def test_batched_paths_match_pot_per_problem(x64, method):
  probs = [problem(20 + k, n=8, m=9) for k in range(4)]
  x, y, a, b = (np.stack(z) for z in zip(*probs))
  options = ot.SinkhornOptions(threshold=1e-10, max_iterations=3000)
  got = jax.jit(lambda *args: ot.batched_sinkhorn_cost(*args, epsilon=0.5, method=method,
                                                       options=options))(x, y, a, b)
  assert got.value.shape == (4,) and bool(jnp.all(got.converged))
  want = [pot_costs(*p[2:], sqdist(p[0], p[1]), 0.5)[0] for p in probs]
  np.testing.assert_allclose(got.value, want, rtol=1e-8)
  if method == "vmap":
    assert np.all(np.asarray(got.n_iters) == 3000)  # fixed budget
  else:
    assert np.all(np.asarray(got.n_iters) < 3000)  # early stopping


def test_vmap_of_single_problem_function(x64):
  probs = [problem(30 + k) for k in range(3)]
  x, y, a, b = (np.stack(z) for z in zip(*probs))
  got = jax.jit(jax.vmap(lambda *args: COST(*args, 0.5).value))(x, y, a, b)
  want = [pot_costs(p[2], p[3], sqdist(p[0], p[1]), 0.5)[0] for p in probs]
  np.testing.assert_allclose(got, want, rtol=1e-9)


def test_default_batch_method_per_backend():
  assert ot.default_batch_method("cpu") == "loop"
  assert ot.default_batch_method("gpu") == "vmap"


# ---------------------------------------------------------------------------------------------------
# Errors.


def test_errors_name_the_argument():
  x, y, a, b = problem(40)
  with pytest.raises(ValueError, match="epsilon"):
    ot.sinkhorn_cost(x, y, epsilon=0.0)
  with pytest.raises(ValueError, match="epsilon"):
    ot.sinkhorn_cost(x, y, epsilon=-1.0)
  with pytest.raises(ValueError, match="a must be non-negative"):
    ot.sinkhorn_cost(x, y, a - 2 * a.max() * (np.arange(len(a)) == 0), b, epsilon=1.0)
  with pytest.raises(ValueError, match="b must sum to 1"):
    ot.sinkhorn_cost(x, y, a, 2 * b, epsilon=1.0)
  with pytest.raises(ValueError, match="one weight per point"):
    ot.sinkhorn_cost(x, y, a[:-1], b, epsilon=1.0)
  with pytest.raises(ValueError, match="same dimension"):
    ot.sinkhorn_cost(x, y[:, :2], epsilon=1.0)
  with pytest.raises(ValueError, match="cost_matrix must have shape"):
    ot.histogram_sinkhorn_cost(a, b, np.ones((len(a), len(b) + 1)), epsilon=1.0)
  with pytest.raises(ValueError, match="same support"):
    ot.histogram_sinkhorn_divergence(a, b, np.ones((len(a), len(b))), epsilon=1.0)
  with pytest.raises(ValueError, match="method"):
    ot.batched_sinkhorn_cost(x[None], y[None], epsilon=1.0, method="scan")
  with pytest.raises(ValueError, match="same batch size"):
    ot.batched_sinkhorn_cost(np.stack([x, x]), y[None], epsilon=1.0)
  with pytest.raises(ValueError, match="relative_epsilon"):
    ot.sinkhorn_cost(x, y, epsilon=1.0, relative_epsilon="max")
  with pytest.raises(ValueError, match="cost must be one of"):
    ot.sinkhorn_cost(x, y, epsilon=1.0, cost="cosine-ish")
  with pytest.raises(ValueError, match="min_iterations"):
    ot.SinkhornOptions(max_iterations=10, min_iterations=11)
  with pytest.raises(ValueError, match="threshold"):
    ot.SinkhornOptions(threshold=0.0)
  with pytest.raises(TypeError, match="options must be a SinkhornOptions"):
    ot.sinkhorn_cost(x, y, epsilon=1.0, options={"threshold": 1e-3})
  z = np.zeros((4, 3))
  with pytest.raises(ValueError, match="same shape"):
    ot.sinkd_loss(z, np.zeros((4, 2)))
  with pytest.raises(ValueError, match="epsilon"):
    ot.sinkd_loss(z, z, epsilon=0.0)
  with pytest.raises(ValueError, match="num_iterations"):
    ot.sinkd_loss(z, z, num_iterations=0)
  with pytest.raises(ValueError, match="student_logits contains NaN"):
    ot.sinkd_loss(z + np.nan, z)
  with pytest.raises(ValueError, match="kind"):
    ot.kd_divergence(z, z, kind="tv")
  with pytest.raises(ValueError, match="kd_weight"):
    ot.distillation_loss(z, z, np.zeros(4, int), kd_weight=1.5)
  with pytest.raises(ValueError, match="labels must lie"):
    ot.distillation_loss(z, z, np.array([0, 1, 2, 3]))
  with pytest.raises(TypeError, match="labels must be integers"):
    ot.distillation_loss(z, z, np.zeros(4))


# ---------------------------------------------------------------------------------------------------
# SinKD (spec C.3).


def logits_pair(seed, B=16, C=3):
  rng = np.random.default_rng(seed)
  return rng.normal(size=(B, C)), rng.normal(size=(B, C))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sinkd_equals_numpy_port_of_public_loop(x64, seed):
  zs, zt = logits_pair(seed)
  got = SINKD(zs, zt)
  np.testing.assert_allclose(got, sinkd_reference(zs, zt), rtol=1e-10, atol=1e-12)


def test_sinkd_converges_to_batch_times_entropic_transport_cost(x64):
  zs, zt = logits_pair(3)
  s, t = softmax(zs / 2), softmax(zt / 2)
  M = np.abs(s[:, None] - t[None]).sum(-1)
  B = len(zs)
  u = np.full(B, 1.0 / B)
  _, transport = pot_costs(u, u, M, 0.1)
  got = ot.sinkd_loss(zs, zt, num_iterations=None, options=ot.SinkhornOptions(threshold=1e-12,
                                                                               max_iterations=5000))
  np.testing.assert_allclose(got, B * transport, rtol=1e-8)


def test_sinkd_is_invariant_to_permuting_the_batch(x64):
  zs, zt = logits_pair(4)
  perm = np.random.default_rng(0).permutation(16)
  converged = jax.jit(lambda s, t: ot.sinkd_loss(
      s, t, num_iterations=None, options=ot.SinkhornOptions(threshold=1e-12, max_iterations=5000)))
  np.testing.assert_allclose(converged(zs[perm], zt), converged(zs, zt), rtol=1e-9)
  # After 20 iterations the residual of the row/column loop bounds the difference.
  np.testing.assert_allclose(SINKD(zs[perm], zt), SINKD(zs, zt), rtol=2e-2)


def test_sinkd_is_positive_when_student_equals_teacher(x64):
  _, zt = logits_pair(5)
  got = SINKD(zt, zt)
  assert float(got) > 0.1
  np.testing.assert_allclose(got, sinkd_reference(zt, zt), rtol=1e-10)


def test_sinkd_batch_of_one_is_the_l1_distance_with_finite_gradient(x64):
  zs, zt = logits_pair(6, B=1, C=4)
  want = np.abs(softmax(zs / 2) - softmax(zt / 2)).sum()
  value, g = jax.jit(jax.value_and_grad(ot.sinkd_loss))(jnp.asarray(zs), zt)
  np.testing.assert_allclose(value, want, rtol=1e-12)
  assert np.all(np.isfinite(np.asarray(g)))


def test_sinkd_gradient_matches_finite_differences_of_the_numpy_port(x64):
  zs, zt = logits_pair(7)
  g = np.asarray(jax.jit(jax.grad(ot.sinkd_loss))(jnp.asarray(zs), zt))
  h = 1e-6
  for i, j in [(0, 0), (3, 2), (15, 1)]:
    e = np.zeros_like(zs)
    e[i, j] = h
    fd = (sinkd_reference(zs + e, zt) - sinkd_reference(zs - e, zt)) / (2 * h)
    np.testing.assert_allclose(g[i, j], fd, rtol=1e-5, atol=1e-9)


def test_sinkd_vmaps_over_batches(x64):
  pairs = [logits_pair(10 + k) for k in range(3)]
  zs, zt = (np.stack(z) for z in zip(*pairs))
  got = jax.vmap(ot.sinkd_loss)(zs, zt)
  np.testing.assert_allclose(got, [sinkd_reference(*p) for p in pairs], rtol=1e-10)


def test_pairwise_cost_variants(x64):
  rng = np.random.default_rng(8)
  p, q = rng.dirichlet(np.ones(4), size=3), rng.dirichlet(np.ones(4), size=5)
  np.testing.assert_allclose(ot.pairwise_cost(p, q, ground_cost="sqeuclidean"), sqdist(p, q))
  np.testing.assert_allclose(ot.pairwise_cost(p, q, ground_cost="euclidean"), np.sqrt(sqdist(p, q)))
  linf = lambda u, v: jnp.max(jnp.abs(u - v))
  np.testing.assert_allclose(ot.pairwise_cost(p, q, ground_cost=linf),
                             np.abs(p[:, None] - q[None]).max(-1))


# ---------------------------------------------------------------------------------------------------
# KD divergences and the combined objective.


def np_kl(lp, lq):
  return (np.exp(lp) * (lp - lq)).sum(-1)


@pytest.mark.parametrize("T", [1.0, 3.5])
def test_kd_divergences_match_numpy(x64, T):
  zs, zt = logits_pair(20, B=6, C=5)
  ls, lt = np_log_softmax(zs / T, axis=-1), np_log_softmax(zt / T, axis=-1)
  s, t = np.exp(ls), np.exp(lt)
  lm = np.log((s + t) / 2)
  alpha = 0.3
  want = {
      "forward_kl": np_kl(lt, ls),
      "reverse_kl": np_kl(ls, lt),
      "js": 0.5 * np_kl(lt, lm) + 0.5 * np_kl(ls, lm),
      "alpha": ((t**alpha * s**(1 - alpha)).sum(-1) - 1) / (alpha * (alpha - 1)),
  }
  for kind, value in want.items():
    got = ot.kd_divergence(zs, zt, kind=kind, temperature=T, alpha=alpha)
    np.testing.assert_allclose(got, value, rtol=1e-10, err_msg=kind)


def test_balanced_kd_reduces_to_jeffreys_half_and_to_forward_kl(x64):
  zs, zt = logits_pair(21, B=6, C=5)
  ls, lt = np_log_softmax(zs, axis=-1), np_log_softmax(zt, axis=-1)
  got = ot.kd_divergence(zs, zt, kind="balanced", weights_fn=ot.equal_weights)
  np.testing.assert_allclose(got, 0.5 * (np_kl(lt, ls) + np_kl(ls, lt)), rtol=1e-10)
  forward_only = lambda ht, hs: (jnp.ones_like(ht), jnp.zeros_like(hs))
  got = ot.kd_divergence(zs, zt, kind="balanced", weights_fn=forward_only)
  np.testing.assert_allclose(got, np_kl(lt, ls), rtol=1e-10)


def test_entropy_gap_weights_switch_on_the_sign_of_the_gap(x64):
  zt = np.array([[4.0, 0.0, 0.0], [0.0, 0.0, 0.0]])      # confident, then uniform teacher
  zs = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0]])      # uniform, then confident student
  ls, lt = np_log_softmax(zs, axis=-1), np_log_softmax(zt, axis=-1)
  got = ot.kd_divergence(zs, zt, kind="balanced")
  # Row 0: student less confident -> reverse KL; row 1: over-confident -> forward KL.
  np.testing.assert_allclose(got, [np_kl(ls, lt)[0], np_kl(lt, ls)[1]], rtol=1e-10)


def test_distillation_loss_combines_its_parts(x64):
  zs, zt = logits_pair(22)
  labels = np.random.default_rng(0).integers(0, 3, size=16)
  out = jax.jit(lambda s, t, y: ot.distillation_loss(s, t, y, kd="js", kd_weight=0.7, beta=0.05,
                                                     temperature=2.0))(zs, zt, labels)
  ls2, lt2 = np_log_softmax(zs / 2, axis=-1), np_log_softmax(zt / 2, axis=-1)
  lm = np.log((np.exp(ls2) + np.exp(lt2)) / 2)
  kd = np.mean(0.5 * np_kl(lt2, lm) + 0.5 * np_kl(ls2, lm))
  ce = -np.mean(np_log_softmax(zs, axis=-1)[np.arange(16), labels])
  sink = sinkd_reference(zs, zt)
  np.testing.assert_allclose([out.kd, out.ce, out.sinkhorn], [kd, ce, sink], rtol=1e-10)
  np.testing.assert_allclose(out.total, 0.7 * kd + 0.3 * ce + 0.05 * sink, rtol=1e-10)


@pytest.mark.parametrize("kd, beta", [("forward_kl", 0.1), ("reverse_kl", 0.0), ("js", 0.0),
                                      ("alpha", 0.0), ("balanced", 0.0)])
def test_distillation_gradient_is_finite_and_matches_finite_differences(x64, kd, beta):
  zs, zt = logits_pair(23)
  labels = np.arange(16) % 3
  f = jax.jit(lambda s: ot.distillation_loss(s, zt, labels, kd=kd, kd_weight=0.6, beta=beta,
                                             weights_fn=ot.equal_weights).total)
  g = np.asarray(jax.grad(f)(jnp.asarray(zs)))
  assert np.all(np.isfinite(g))
  h = 1e-6
  e = np.zeros_like(zs)
  e[2, 1] = h
  np.testing.assert_allclose(g[2, 1], (float(f(zs + e)) - float(f(zs - e))) / (2 * h), rtol=1e-5,
                             atol=1e-9)


# ---------------------------------------------------------------------------------------------------
# The solver options as one object, and the deprecated names.


def test_options_object_is_a_static_pytree_that_jit_caches_by_value(x64):
  x, y, a, b = problem(50)
  traces = []

  def f(x, options):
    traces.append(options)
    return ot.sinkhorn_cost(x, y, a, b, epsilon=0.5, options=options).value

  f = jax.jit(f)
  assert jax.tree_util.tree_leaves(ot.SinkhornOptions()) == []
  first = f(x, ot.SinkhornOptions(threshold=1e-10))
  second = f(x, ot.SinkhornOptions(threshold=1e-10))   # an equal, distinct object: no new trace
  assert len(traces) == 1 and float(first) == float(second)
  f(x, ot.SinkhornOptions(threshold=1e-9))
  assert len(traces) == 2


def test_options_match_pot_and_reach_the_ott_solver(x64):
  # The oracle is POT on the same problem; the iteration count proves the budget reached ott-jax.
  x, y, a, b = problem(51)
  want = pot_costs(a, b, sqdist(x, y), 0.5)[0]
  got = ot.sinkhorn_cost(x, y, a, b, epsilon=0.5, options=ot.SinkhornOptions(threshold=1e-12,
                                                                             max_iterations=20000))
  np.testing.assert_allclose(got.value, want, rtol=1e-9)
  fixed = ot.sinkhorn_cost(x, y, a, b, epsilon=0.5, options=ot.SinkhornOptions(
      inner_iterations=7, min_iterations=7, max_iterations=7))
  assert int(fixed.n_iters) == 7


@pytest.mark.parametrize("fn, args", [
    ("sinkhorn_cost", "points"), ("sinkhorn_divergence", "points"),
    ("histogram_sinkhorn_cost", "histograms"), ("histogram_sinkhorn_divergence", "histograms"),
    ("batched_sinkhorn_cost", "batch")])
def test_deprecated_solver_keywords_warn_and_give_the_options_result(x64, fn, args):
  x, y, a, b = problem(52)
  inputs = {"points": (x, y, a, b), "batch": (x[None], y[None], a[None], b[None]),
            "histograms": (a, a if "divergence" in fn else b,
                           sqdist(x, x) if "divergence" in fn else sqdist(x, y))}[args]
  f = getattr(ot, fn)
  new = f(*inputs, epsilon=0.5, options=ot.SinkhornOptions(threshold=1e-9, max_iterations=3000))
  with pytest.warns(DeprecationWarning, match=r"options=divjax\.ot\.SinkhornOptions"):
    old = f(*inputs, epsilon=0.5, threshold=1e-9, max_iterations=3000)
  np.testing.assert_array_equal(np.asarray(old.value), np.asarray(new.value))
  with pytest.raises(TypeError, match="not also as the deprecated keywords"):
    f(*inputs, epsilon=0.5, threshold=1e-9, options=ot.SinkhornOptions())


def test_deprecated_sinkd_keywords_keep_their_own_defaults(x64):
  zs, zt = logits_pair(5)
  with pytest.warns(DeprecationWarning, match="threshold"):
    old = ot.sinkd_loss(zs, zt, num_iterations=None, threshold=1e-12)
  # max_iterations stays sinkd_loss's 5000 (not SinkhornOptions' 2000).
  new = ot.sinkd_loss(zs, zt, num_iterations=None,
                      options=ot.SinkhornOptions(threshold=1e-12, max_iterations=5000))
  assert float(old) == float(new)


def test_kd_alpha_is_the_order_and_order_is_its_deprecated_name(x64):
  zs, zt = logits_pair(6)
  ls, lt = np_log_softmax(zs, axis=-1), np_log_softmax(zt, axis=-1)
  s, t = np.exp(ls), np.exp(lt)
  a = 0.3
  want = (np.sum(t**a * s**(1 - a), axis=-1) - 1) / (a * (a - 1))   # D_α(t‖s), Cichocki–Amari
  np.testing.assert_allclose(ot.kd_divergence(zs, zt, kind="alpha", alpha=a), want, rtol=1e-10)
  with pytest.warns(DeprecationWarning, match=r"use alpha=\.\.\."):
    old = ot.kd_divergence(zs, zt, kind="alpha", order=a)
  np.testing.assert_allclose(old, want, rtol=1e-10)
  with pytest.raises(TypeError, match="pass alpha= only"):
    ot.kd_divergence(zs, zt, kind="alpha", alpha=a, order=a)


def test_distillation_kd_weight_and_kd_alpha_replace_alpha_and_order(x64):
  zs, zt = logits_pair(7)
  labels = np.arange(16) % 3
  new = ot.distillation_loss(zs, zt, labels, kd="alpha", kd_weight=0.7, kd_alpha=0.2)
  with pytest.warns(DeprecationWarning) as record:
    old = ot.distillation_loss(zs, zt, labels, kd="alpha", alpha=0.7, order=0.2)
  messages = " ".join(str(w.message) for w in record)
  assert "use kd_weight=" in messages and "use kd_alpha=" in messages
  assert float(old.total) == float(new.total)
  # The weight is w·KD + (1 − w)·CE (oracle: the parts the function returns, combined by hand).
  np.testing.assert_allclose(new.total, 0.7 * new.kd + 0.3 * new.ce, rtol=1e-12)
