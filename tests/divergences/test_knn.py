"""Tests for the k-nearest-neighbour estimators: KL (both search methods), entropy and KSG mutual information.

Oracles are independent of the code under test: the estimators written plainly in float64 NumPy with
full distance matrices (``scipy.spatial.distance.cdist``) and sorting, and closed forms for Gaussians.
The tree and brute-force searches are checked against each other (they must agree to rounding, and
bit for bit for KSG, whose counts are exact on both paths), with exact duplicates and distance ties.
No test measures time.
"""

import ctypes
import functools
import os
import platform
import signal
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.spatial
from scipy import special
from scipy.spatial.distance import cdist

from divjax import divergences as dv
from divjax.divergences import _knn

METHODS = ("tree", "brute")

# ---------------------------------------------------------------------------------------------------
# Oracles (float64, full distance matrices).


def _kth_positive(row, k):
  """(k-th smallest positive entry, number of zero entries) of a 1-D array of distances."""
  return np.sort(row[row > 0])[k - 1], np.count_nonzero(row == 0)


def brute_force_entropy_f64(x, k):
  """Kozachenko–Leonenko with the adaptive rank l_i = k + #duplicates, Euclidean norm."""
  x = np.asarray(x, np.float64)
  n, d = x.shape
  dist = cdist(x, x)
  log_vd = 0.5 * d * np.log(np.pi) - special.gammaln(0.5 * d + 1.0)
  terms = []
  for i in range(n):
    rho, dups = _kth_positive(np.delete(dist[i], i), k)
    terms.append(d * np.log(rho) - special.digamma(k + dups))
  return special.digamma(n) + log_vd + np.mean(terms), np.array(terms)


def brute_force_ksg_f64(x, y, k):
  """KSG estimator 1 (max-norms, strict marginal counts), adaptive rank for joint duplicates."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  n = x.shape[0]
  dx, dy = cdist(x, x, "chebyshev"), cdist(y, y, "chebyshev")
  dz = np.maximum(dx, dy)
  terms = []
  for i in range(n):
    eps, dups = _kth_positive(np.delete(dz[i], i), k)
    n_x = np.count_nonzero(np.delete(dx[i], i) < eps)
    n_y = np.count_nonzero(np.delete(dy[i], i) < eps)
    terms.append(special.digamma(k + dups) - special.digamma(n_x + 1) - special.digamma(n_y + 1))
  return special.digamma(n) + np.mean(terms), np.array(terms)


def brute_force_kl_f64(x, y, k):
  """Wang–Kulkarni–Verdú's adaptive estimator (as in test_estimators.py)."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  n, d = x.shape
  d_xx, d_xy = cdist(x, x), cdist(x, y)
  total = 0.0
  for i in range(n):
    rho, dups_x = _kth_positive(np.delete(d_xx[i], i), k)
    nu, dups_y = _kth_positive(d_xy[i], k)
    total += d * np.log(nu / rho) + special.digamma(k + dups_x) - special.digamma(k + dups_y)
  return total / n + np.log(y.shape[0] / (n - 1))


def samples(case, seed=0, n=70, d=3):
  """float32 samples with no duplicates, duplicates, or a coarse lattice (many distance ties)."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, d)).astype(np.float32)
  y = (rng.normal(size=(n - 10, d)) + 0.5).astype(np.float32)
  if case == "repeats":
    x[10:14] = x[3]
    x[20] = x[21]
    y[:3] = x[3]
    y[7] = x[30]
  elif case == "grid":
    x = rng.integers(0, 4, size=(n, d)).astype(np.float32)
    y = rng.integers(0, 5, size=(n - 10, d)).astype(np.float32)
  elif case == "multiscale":
    # Coordinates 1e-20 apart next to O(1) ones: squared differences underflow float32, so the
    # brute-force path must switch to log-domain keys.
    x[:5] = np.float32(1e-20) * np.arange(5, dtype=np.float32)[:, None]
    y[:3] = np.float32(3e-20) * np.arange(1, 4, dtype=np.float32)[:, None]
  elif case == "wide_range":
    # Coordinates near the float32 maximum beside O(1) ones: 1/‖v‖ and the scaled squares of the
    # small differences are subnormal, which XLA:CPU flushes to zero.
    x[0], x[1], y[0] = [3e38, 0.0, 0.0], [3e38, 1e38, 0.0], [-2e38, 0.0, 1.0]
  elif case != "distinct":
    raise ValueError(case)
  return x, y


def paired(case, seed=0, n=70):
  """Paired samples (x, y) for KSG: correlated Gaussians, with joint/marginal ties in some cases."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, 2)).astype(np.float32)
  y = (0.7 * x[:, :1] + 0.5 * rng.normal(size=(n, 1))).astype(np.float32)
  if case == "repeats":
    x[10:14], y[10:14] = x[3], y[3]  # joint duplicates
    x[20] = x[21]                     # a marginal duplicate only
  elif case == "grid":
    x = rng.integers(0, 4, size=(n, 2)).astype(np.float32)
    y = (x[:, :1] + rng.integers(0, 3, size=(n, 1))).astype(np.float32)
  elif case != "distinct":
    raise ValueError(case)
  return x, y


# ---------------------------------------------------------------------------------------------------
# Against the float64 oracles, both methods.


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("case", ["distinct", "repeats", "grid", "multiscale", "wide_range"])
def test_knn_entropy_matches_float64_brute_force(case, k, method):
  x, _ = samples(case)
  expected, _ = brute_force_entropy_f64(x, k)
  got = dv.knn_entropy(x, k=k, method=method)
  assert got.shape == () and got.dtype == jnp.float32
  np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("case", ["distinct", "repeats", "grid"])
def test_ksg_matches_float64_brute_force(case, k, method):
  x, y = paired(case)
  expected, _ = brute_force_ksg_f64(x, y, k)
  got = dv.ksg_mutual_information(x, y, k=k, method=method)
  assert got.shape == () and got.dtype == jnp.float32
  np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", ["repeats", "multiscale", "wide_range"])
def test_knn_kl_matches_float64_brute_force_with_either_method(case, method):
  x, y = samples(case)
  np.testing.assert_allclose(dv.knn_kl_divergence(x, y, k=2, method=method),
                             brute_force_kl_f64(x, y, 2), atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_float64_inputs_match_brute_force_to_float64_precision(method):
  with jax.enable_x64(True):
    x, y = (a.astype(np.float64) for a in samples("repeats"))
    got = dv.knn_entropy(x, k=2, method=method)
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(got, brute_force_entropy_f64(x, 2)[0], rtol=1e-12)
    np.testing.assert_allclose(dv.knn_kl_divergence(x, y, k=2, method=method),
                               brute_force_kl_f64(x, y, 2), rtol=1e-11, atol=1e-12)
    px, py = (a.astype(np.float64) for a in paired("repeats"))
    np.testing.assert_allclose(dv.ksg_mutual_information(px, py, k=3, method=method),
                               brute_force_ksg_f64(px, py, 3)[0], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_power_of_two_split_matches_numpy_frexp_over_the_whole_normal_range(dtype):
  # s = m·2^e with m in [½, 1) (NumPy's frexp), f1·f2 = 2^−e exactly, both factors normal, at
  # every normal exponent, including the smallest and largest normal numbers.
  info = np.finfo(dtype)
  with jax.enable_x64(dtype == np.float64):
    rng = np.random.default_rng(0)
    exps = np.arange(info.minexp, info.maxexp)
    s = np.concatenate([np.ldexp(rng.uniform(1, 2, exps.size), exps),
                        [info.tiny, info.max, 1.0, 0.5, 0.75]]).astype(dtype)
    e, f1, f2 = (np.asarray(a) for a in jax.jit(_knn._inverse_power_of_two)(jnp.asarray(s)))
    np.testing.assert_array_equal(e, np.frexp(s)[1])
    assert f1.dtype == f2.dtype == dtype
    assert np.all(np.abs(f1) >= info.tiny) and np.all(np.abs(f2) >= info.tiny)
    np.testing.assert_array_equal(f1.astype(np.float64) * f2.astype(np.float64),
                                  np.ldexp(1.0, -e.astype(np.int64)))
    m = (s.astype(np.float64) * f1) * f2
    assert np.all((m >= 0.5) & (m < 1.0))
  with pytest.raises(TypeError, match="float32 or float64"):
    _knn._inverse_power_of_two(jnp.ones(2, jnp.float16))


# ---------------------------------------------------------------------------------------------------
# The two search methods agree.


@pytest.mark.parametrize("case", ["distinct", "repeats", "grid", "multiscale", "wide_range"])
def test_tree_and_brute_agree_on_kl_and_entropy(case):
  x, y = samples(case, seed=1)
  for k in (1, 4):
    np.testing.assert_allclose(dv.knn_kl_divergence(x, y, k=k, method="tree"),
                               dv.knn_kl_divergence(x, y, k=k, method="brute"), rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(dv.knn_entropy(x, k=k, method="tree"),
                               dv.knn_entropy(x, k=k, method="brute"), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["distinct", "repeats", "grid"])
def test_tree_and_brute_give_identical_ksg(case, dtype):
  # The counts are exact integers on both paths (the tree's radius reproduces the float32 test
  # round(D) < ε exactly), so the estimates are equal, not just close.
  with jax.enable_x64(dtype == np.float64):
    x, y = (a.astype(dtype) for a in paired(case, seed=2))
    for k in (1, 3):
      assert (dv.ksg_mutual_information(x, y, k=k, method="tree")
              == dv.ksg_mutual_information(x, y, k=k, method="brute"))


def test_searches_return_the_same_neighbours_and_duplicate_counts():
  x, y = samples("repeats", seed=3)
  for k in (1, 2, 5):
    for r in (None, y):
      tree = _knn.search_tree(jnp.asarray(x), None if r is None else jnp.asarray(r), k=k,
                              norm="euclidean")
      brute = _knn.search_brute(jnp.asarray(x), jnp.asarray(x if r is None else r), k=k,
                                norm="euclidean", same=r is None, chunk_size=16, block_size=32)
      np.testing.assert_array_equal(tree.duplicates, brute.duplicates)
      ref = x if r is None else r
      # The neighbour may differ only between points at the same distance.
      np.testing.assert_allclose(np.linalg.norm(x - ref[tree.index], axis=1),
                                 np.linalg.norm(x - ref[brute.index], axis=1), rtol=1e-6)


@pytest.mark.parametrize("chunk_size, block_size", [(1, 1), (7, 13), (16, 64), (1000, 5)])
def test_brute_force_tiles_do_not_change_the_result(chunk_size, block_size):
  x, y = samples("repeats")
  px, py = paired("repeats")
  brute = functools.partial(dv.knn_kl_divergence, method="brute", chunk_size=chunk_size,
                            block_size=block_size)
  np.testing.assert_allclose(brute(x, y, k=3), dv.knn_kl_divergence(x, y, k=3, method="tree"),
                             rtol=1e-6)
  np.testing.assert_allclose(
      dv.knn_entropy(x, k=3, method="brute", chunk_size=chunk_size, block_size=block_size),
      dv.knn_entropy(x, k=3, method="tree"), rtol=1e-6)
  assert (dv.ksg_mutual_information(px, py, method="brute", chunk_size=chunk_size,
                                    block_size=block_size)
          == dv.ksg_mutual_information(px, py, method="tree"))


def test_strictly_below_is_the_float32_comparison_in_float64():
  # For a float32 ε, the radius t is the largest float64 with round_f32(t) < ε.
  rng = np.random.default_rng(0)
  eps = np.abs(rng.normal(size=2000)) * 10.0**rng.integers(-30, 30, 2000)
  eps = np.concatenate([eps, [1.0, 2.0, 3.0, 1e-45, 3e-45]]).astype(np.float32)
  t = _knn._strictly_below(eps, np.float32)
  assert np.all(t.astype(np.float32) < eps)
  assert np.all(np.nextafter(t, np.inf).astype(np.float32) >= eps)
  t64 = _knn._strictly_below(eps.astype(np.float64), np.float64)
  assert np.all(t64 < eps) and np.all(np.nextafter(t64, np.inf) == eps)


def test_auto_picks_tree_on_cpu_up_to_a_dimension_that_grows_with_n():
  assert jax.default_backend() == "cpu"
  sizes = (100, 1000, 2000, 4000, 16000, 10**6)
  assert [_knn.tree_max_dim(n) for n in sizes] == [0, 3, 5, 7, 10, 10]
  assert [_knn.tree_max_dim(n, "kl") for n in sizes] == [0, 3, 5, 7, 10, 10]
  assert [_knn.tree_max_dim(n, "entropy") for n in sizes] == [0, 5, 7, 10, 12, 12]
  assert [_knn.tree_max_dim(n, "ksg") for n in sizes] == [0, 2, 4, 6, 10, 10]
  assert _knn.resolve_method("auto", 1, 100) == "brute"  # small n: brute force at every d
  assert _knn.resolve_method("auto", 7, 4000) == "tree"
  assert _knn.resolve_method("auto", 8, 4000) == "brute"
  assert _knn.resolve_method("auto", 10, 4000, "entropy") == "tree"
  assert _knn.resolve_method("auto", 11, 4000, "entropy") == "brute"
  assert _knn.resolve_method("auto", 7, 4000, "ksg") == "brute"
  assert _knn.resolve_method("auto", 10, 10**5) == "tree"
  assert _knn.resolve_method("auto", 11, 10**5) == "brute"
  assert _knn.resolve_method("brute", 2, 10**5) == "brute"
  assert _knn.resolve_method("tree", 50, 10) == "tree"
  with pytest.raises(ValueError, match="estimator must be one of"):
    _knn.tree_max_dim(1000, "kde")


@pytest.mark.parametrize("parts", [2, 3, 5])
def test_query_split_across_threads_equals_one_scipy_query(monkeypatch, parts):
  # The split query (contiguous parts, one per core, on a persistent pool) must return exactly
  # what one cKDTree query returns, ties included: integer grid data have many equal distances.
  monkeypatch.setattr(_knn, "_num_threads", lambda: parts)
  rng = np.random.default_rng(3)
  for points in (rng.normal(size=(2 * _knn._PARALLEL_QUERIES + 7, 4)),
                 rng.integers(0, 4, size=(_knn._PARALLEL_QUERIES + 1, 3)).astype(np.float64)):
    tree = scipy.spatial.cKDTree(points, leafsize=_knn.leafsize(points.shape[1]))
    for p in (2.0, np.inf):
      dist, nb = _knn._query(tree, points, 4, p)
      want_dist, want_nb = tree.query(points, k=[1, 2, 3, 4], p=p, workers=1)
      np.testing.assert_array_equal(nb, want_nb)
      np.testing.assert_array_equal(dist, want_dist)
      dist1, nb1 = _knn._query(tree, points, 4, p, workers=1)
      np.testing.assert_array_equal(nb1, want_nb)


def test_leafsize_grows_with_dimension():
  assert [_knn.leafsize(d) for d in (1, 3, 4, 7, 8, 64)] == [16, 16, 32, 32, 64, 64]


# ---------------------------------------------------------------------------------------------------
# Statistical sanity against closed forms (fixed seeds).


def test_knn_entropy_of_a_gaussian_is_within_four_standard_errors():
  # N(0, Σ) in d = 3, n = 4000, k = 3, seed 0. H = ½ log((2πe)^d det Σ). SE = std(per-point
  # terms)/√n from the oracle's terms (0.021 here). Offline, seeds 0..19: bias −0.019 (0.9 SE),
  # spread across seeds 0.84 SE, largest |error| 2.1 SE; 4 SE covers the bias plus 3.5 spreads.
  cov = np.array([[1.0, 0.4, 0.0], [0.4, 1.5, 0.3], [0.0, 0.3, 0.7]])
  x = np.random.default_rng(0).multivariate_normal(np.zeros(3), cov, 4000)
  truth = 0.5 * np.log((2 * np.pi * np.e)**3 * np.linalg.det(cov))
  _, terms = brute_force_entropy_f64(x, 3)
  se = np.std(terms, ddof=1) / np.sqrt(len(terms))
  assert abs(float(dv.knn_entropy(x, k=3)) - truth) < 4 * se


def test_ksg_of_a_gaussian_pair_is_within_four_standard_errors():
  # ρ = 0.6, n = 3000, k = 3, seed 0: I = −½ log(1 − ρ²) = 0.2231 nats. SE from the oracle's
  # per-point terms, as above (0.015). Offline, seeds 0..19: bias 0.0005, spread 0.91 SE, largest
  # |error| 1.9 SE.
  rho = 0.6
  rng = np.random.default_rng(0)
  x = rng.normal(size=(3000, 1))
  y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=(3000, 1))
  truth = -0.5 * np.log(1 - rho**2)
  _, terms = brute_force_ksg_f64(x, y, 3)
  se = np.std(terms, ddof=1) / np.sqrt(len(terms))
  assert abs(float(dv.ksg_mutual_information(x, y, k=3)) - truth) < 4 * se


def test_ksg_of_independent_samples_is_near_zero():
  # n = 2000, k = 3, seed 1; 4 SE as above (offline, seeds 1..20: bias −0.003, spread 0.91 SE,
  # largest |estimate| 1.7 SE).
  rng = np.random.default_rng(1)
  x, y = rng.normal(size=(2000, 2)), rng.normal(size=(2000, 1))
  _, terms = brute_force_ksg_f64(x, y, 3)
  assert abs(float(dv.ksg_mutual_information(x, y))) < 4 * np.std(terms) / np.sqrt(2000)


# ---------------------------------------------------------------------------------------------------
# Transformations: jit, vmap, grad.


@pytest.mark.parametrize("method", METHODS)
def test_estimators_under_jit_match_eager(method):
  x, y = samples("repeats")
  px, py = paired("repeats")
  static = ("k", "method")
  for fn, args in ((dv.knn_kl_divergence, (x, y)), (dv.knn_entropy, (x,)),
                   (dv.ksg_mutual_information, (px, py))):
    jitted = jax.jit(fn, static_argnames=static)
    np.testing.assert_allclose(jitted(*args, k=2, method=method), fn(*args, k=2, method=method),
                               rtol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_estimators_vmap_over_data_sets_match_a_loop(method):
  xs = np.stack([samples("repeats", seed=s)[0] for s in range(3)])
  ys = np.stack([samples("repeats", seed=s)[1] for s in range(3)])
  pairs = [paired("distinct", seed=s) for s in range(3)]
  pxs, pys = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
  kl = jax.vmap(functools.partial(dv.knn_kl_divergence, k=2, method=method))(xs, ys)
  ent = jax.vmap(functools.partial(dv.knn_entropy, k=2, method=method))(xs)
  mi = jax.vmap(functools.partial(dv.ksg_mutual_information, k=2, method=method))(pxs, pys)
  # y shared across the batch (not mapped): one reference set, three query sets.
  kl_shared = jax.vmap(lambda a: dv.knn_kl_divergence(a, ys[0], k=2, method=method))(xs)
  for i in range(3):
    np.testing.assert_allclose(kl[i], dv.knn_kl_divergence(xs[i], ys[i], k=2), rtol=1e-6)
    np.testing.assert_allclose(ent[i], dv.knn_entropy(xs[i], k=2), rtol=1e-6)
    np.testing.assert_allclose(mi[i], dv.ksg_mutual_information(pxs[i], pys[i], k=2), rtol=1e-6)
    np.testing.assert_allclose(kl_shared[i], dv.knn_kl_divergence(xs[i], ys[0], k=2), rtol=1e-6)


def test_gradients_are_the_same_piece_on_both_paths():
  # The estimate is smooth while no neighbour changes rank: both paths differentiate that piece.
  x, y = samples("distinct")
  for fn, args in ((dv.knn_kl_divergence, (x, y)), (dv.knn_entropy, (x,))):
    grads = [jax.grad(lambda a, m=m: fn(a, *args[1:], k=2, method=m))(args[0]) for m in METHODS]
    assert np.all(np.isfinite(grads[0]))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-6)
  # Entropy: d log ρ_i changes by d/ρ_i per unit of distance; check one coordinate by finite
  # differences in float64.
  with jax.enable_x64(True):
    x64 = x.astype(np.float64)
    g = jax.grad(lambda a: dv.knn_entropy(a, k=1, method="tree"))(x64)
    step = np.zeros_like(x64)
    step[5, 1] = 1e-7
    fd = (float(dv.knn_entropy(x64 + step, k=1)) - float(dv.knn_entropy(x64 - step, k=1))) / 2e-7
    np.testing.assert_allclose(g[5, 1], fd, rtol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_ksg_gradient_is_zero(method):
  x, y = paired("distinct")
  gx, gy = jax.grad(lambda a, b: dv.ksg_mutual_information(a, b, method=method),
                    argnums=(0, 1))(x, y)
  assert not np.any(gx) and not np.any(gy)


# ---------------------------------------------------------------------------------------------------
# Undefined estimates and bad inputs.


@pytest.mark.parametrize("method", METHODS)
def test_undefined_entropy_raises_eagerly_and_is_nan_under_jit(method):
  x = np.zeros((6, 2), np.float32)
  x[0] = 1.0  # every other point has a single point of x at positive distance
  assert np.isfinite(dv.knn_entropy(x, k=1, method=method))
  with pytest.raises(ValueError, match="x has 5 point.* fewer than k = 2 other points of x"):
    dv.knn_entropy(x, k=2, method=method)
  assert np.isnan(jax.jit(dv.knn_entropy, static_argnames=("k", "method"))(x, k=2, method=method))


@pytest.mark.parametrize("method", METHODS)
def test_undefined_ksg_raises_eagerly_and_is_nan_under_jit(method):
  x, y = np.zeros((6, 1), np.float32), np.zeros((6, 1), np.float32)
  x[0] = 1.0
  assert np.isfinite(dv.ksg_mutual_information(x, y, k=1, method=method))
  with pytest.raises(ValueError, match=r"\(x, y\) has 5 sample.* fewer than k = 2"):
    dv.ksg_mutual_information(x, y, k=2, method=method)
  jitted = jax.jit(dv.ksg_mutual_information, static_argnames=("k", "method"))
  assert np.isnan(jitted(x, y, k=2, method=method))


def test_integer_inputs_match_float_inputs():
  x, y = paired("grid")
  np.testing.assert_allclose(dv.knn_entropy(x.astype(np.int32), k=2), dv.knn_entropy(x, k=2))
  np.testing.assert_allclose(dv.ksg_mutual_information(x.astype(np.int32), y.astype(np.int32)),
                             dv.ksg_mutual_information(x, y))


@pytest.mark.parametrize(
    "fn, shapes, kwargs, error, match",
    [
        (dv.knn_entropy, [(10,)], {}, ValueError, "x must have 2 dimension"),
        (dv.knn_entropy, [(10, 2)], dict(k=10), ValueError, r"k must be <= n - 1 = 9"),
        (dv.knn_entropy, [(10, 2)], dict(k=0), ValueError, "k must be >= 1"),
        (dv.knn_entropy, [(10, 2)], dict(k=1.0), TypeError, "k must be an integer"),
        (dv.knn_entropy, [(10, 2)], dict(method="kdtree"), ValueError, "method must be one of"),
        (dv.knn_entropy, [(10, 2)], dict(block_size=0), ValueError, "block_size must be >= 1"),
        (dv.knn_kl_divergence, [(10, 2), (8, 2)], dict(method=None), ValueError,
         "method must be one of"),
        (dv.knn_kl_divergence, [(10, 2), (8, 2)], dict(block_size=2.0), TypeError,
         "block_size must be an integer"),
        (dv.ksg_mutual_information, [(10, 2), (9, 1)], {}, ValueError,
         "x and y must hold the same number"),
        (dv.ksg_mutual_information, [(10, 2), (10,)], {}, ValueError, "y must have 2 dimension"),
        (dv.ksg_mutual_information, [(3, 1), (3, 1)], {}, ValueError, r"k must be <= n - 1 = 2"),
        (dv.ksg_mutual_information, [(10, 1), (10, 1)], dict(chunk_size=0), ValueError,
         "chunk_size must be >= 1"),
    ],
)
def test_bad_arguments_raise_named_errors(fn, shapes, kwargs, error, match):
  rng = np.random.default_rng(0)
  with pytest.raises(error, match=match):
    fn(*[rng.normal(size=s).astype(np.float32) for s in shapes], **kwargs)


@pytest.mark.parametrize("name, bad", [("x", np.nan), ("y", np.inf)])
def test_ksg_rejects_non_finite_samples(name, bad):
  x, y = paired("distinct")
  (x if name == "x" else y)[2, 0] = bad
  with pytest.raises(ValueError, match=f"^{name} (contains NaN|must be finite)"):
    dv.ksg_mutual_information(x, y)


def test_public_api():
  assert {"knn_kl_divergence", "knn_entropy", "ksg_mutual_information"} <= set(dv.__all__)


def _mxcsr_control() -> int:
  """The SSE control bits (rounding, flush-to-zero, denormals-are-zero, masks) of this thread."""
  env = ctypes.create_string_buffer(_knn._FENV_BYTES)
  _knn._FENV[0](env)
  return int.from_bytes(env.raw[28:32], "little") & 0xFFC0  # glibc x86-64: mxcsr last; no flags


@pytest.mark.skipif(_knn._FENV is None or platform.machine() != "x86_64"
                    or platform.system() != "Linux", reason="reads glibc's x86-64 fenv_t layout")
def test_pool_tasks_run_in_the_callers_floating_point_environment(monkeypatch):
  # The pool's threads start inside a JAX callback (an XLA thread, which flushes subnormals to
  # zero) and later serve a caller on the main thread: each task must take its caller's mode, or
  # cKDTree orders tied neighbours differently in different threads of one query.
  monkeypatch.setattr(_knn, "_POOL", None)
  monkeypatch.setattr(_knn, "_num_threads", lambda: 2)
  seen = {}

  def host(x):
    seen["callback"] = _mxcsr_control()
    seen["callback_task"] = _knn._submit(_mxcsr_control).result()
    return np.zeros((), np.float32)

  jax.block_until_ready(jax.pure_callback(host, jax.ShapeDtypeStruct((), jnp.float32),
                                          jnp.zeros(3)))
  assert seen["callback_task"] == seen["callback"]
  assert _knn._submit(_mxcsr_control).result() == _mxcsr_control()
  # The same grid data (many ties) split over the pool give one cKDTree query's answer.
  points = np.random.default_rng(3).integers(0, 4, size=(_knn._PARALLEL_QUERIES + 1, 3)) * 1.0
  tree = scipy.spatial.cKDTree(points, leafsize=_knn.leafsize(3))
  np.testing.assert_array_equal(_knn._query(tree, points, 4, 2.0)[1],
                                tree.query(points, k=[1, 2, 3, 4], workers=1)[1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_split_query_works_in_a_forked_child(monkeypatch):
  # The child of os.fork inherits the pool object but none of its threads; a query there must
  # start a fresh pool instead of waiting forever on the parent's threads.
  monkeypatch.setattr(_knn, "_num_threads", lambda: 2)
  points = np.random.default_rng(4).normal(size=(_knn._PARALLEL_QUERIES + 5, 3))
  tree = scipy.spatial.cKDTree(points)
  want = tree.query(points, k=[1, 2], workers=1)[1]
  _knn._submit(int).result()  # the parent's pool exists and has a thread
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # JAX warns that os.fork() and threads do not mix
    pid = os.fork()
  if pid == 0:  # the child: no pytest machinery, only an exit status
    code = 1
    try:
      signal.alarm(60)  # a deadlock ends the child with SIGALRM instead of hanging the suite
      code = 0 if np.array_equal(_knn._query(tree, points, 2, 2.0)[1], want) else 1
    finally:
      os._exit(code)  # pylint: disable=lost-exception
  _, status = os.waitpid(pid, 0)
  assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
