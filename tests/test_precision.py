"""Accuracy-critical dots state their precision, so GPUs do not drop them to TF32-class arithmetic.

On NVIDIA GPUs XLA may run a float32 ``dot_general`` whose precision is ``DEFAULT`` on tensor cores at
reduced (TF32) precision. Every dot of the functions below — KDE distances (the whitened
``|x|² + |y|² − 2x·y`` matmul) and bandwidth rules, the Cauchy–Schwarz Gram estimators, Sinkhorn cost
matrices (ott-jax's point-cloud costs included) — must carry ``precision = [HIGHEST, HIGHEST]`` in the
lowered StableHLO. The check reads the program text that ``jax.jit(f).lower(...)`` produces, so it
holds on any backend; on CPU float32 dots are exact either way, so results here do not change.

Where a function has no dot at all (the Gram estimators and divjax's own cost matrices form
differences elementwise), the test records that too: a future matmul rewrite must keep the precision.
KDE whitening with a full bandwidth matrix is a ``triangular_solve``, not a dot; XLA's GPU expander
builds its blocked dots at HIGHEST.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from divjax import divergences, ib, kde, ot

_DOT = re.compile(r"stablehlo\.dot_general[^\n]*")


def _dots(fn, *args):
  return _DOT.findall(jax.jit(fn).lower(*args).as_text())


_rng = np.random.default_rng(0)
X = jnp.asarray(_rng.normal(size=(12, 3)), jnp.float32)
Y = jnp.asarray(_rng.normal(size=(10, 3)), jnp.float32)
T = jnp.asarray(_rng.normal(size=(12, 2)), jnp.float32)
BW_FULL = jnp.asarray([[0.5, 0.1, 0.0], [0.1, 0.4, 0.0], [0.0, 0.0, 0.3]], jnp.float32)
LOGITS = jnp.asarray(_rng.normal(size=(8, 5)), jnp.float32)
LOGITS_T = jnp.asarray(_rng.normal(size=(8, 5)), jnp.float32)
HIST = jnp.full((6,), 1 / 6, jnp.float32)
COST = jnp.asarray(_rng.uniform(size=(6, 6)), jnp.float32)
BATCH_X = jnp.asarray(_rng.normal(size=(3, 7, 2)), jnp.float32)
BATCH_Y = jnp.asarray(_rng.normal(size=(3, 5, 2)), jnp.float32)

#: (name, function, arguments, whether it has at least one dot).
CASES = [
    ("kde.log_density, isotropic", lambda x, y: kde.log_density(x, y, 0.7), (X, Y), True),
    ("kde.log_density, diagonal", lambda x, y: kde.log_density(x, y, jnp.array([0.5, 0.7, 0.9])),
     (X, Y), True),
    ("kde.log_density, full", lambda x, y: kde.log_density(x, y, BW_FULL), (X, Y), True),
    ("kde.log_density, weighted", lambda x, y: kde.log_density(x, y, 0.7, weights=jnp.ones(10)),
     (X, Y), True),
    ("kde.loo_log_likelihood", lambda y: kde.loo_log_likelihood(y, 0.7), (Y,), True),
    ("kde.participation_ratio", lambda x, y: kde.participation_ratio(x, y, 0.7), (X, Y), True),
    ("kde.max_loo_bandwidth", lambda y: kde.max_loo_bandwidth(y), (Y,), True),
    ("kde.kl_optimal_bandwidth, general", lambda y: kde.kl_optimal_bandwidth(y, isotropic=False),
     (Y,), True),
    ("divergences.knn_kl_divergence", lambda x, y: divergences.knn_kl_divergence(x, y), (X, Y),
     False),
    ("ib.log_gram", lambda x, y: ib.log_gram(x, y, sigma=1.0), (X, Y), False),
    ("ib.cs_divergence", lambda x, y: ib.cs_divergence(x, y, sigma=1.0), (X, Y), False),
    ("ib.cs_qmi", lambda x, t: ib.cs_qmi(x, t, sigma_x=1.0, sigma_t=1.0), (X, T), False),
    ("ib.cs_qmi_normalized", lambda x, t: ib.cs_qmi_normalized(x, t, sigma_x=1.0, sigma_t=1.0),
     (X, T), False),
    ("ib.conditional_cs_divergence",
     lambda x, t: ib.conditional_cs_divergence(x, t, t + 0.1, sigma_x=1.0, sigma_y=1.0), (X, T),
     False),
    ("ot.sinkhorn_cost", lambda x, y: ot.sinkhorn_cost(x, y, epsilon=0.5).value, (X, Y), True),
    ("ot.sinkhorn_cost, relative ε",
     lambda x, y: ot.sinkhorn_cost(x, y, epsilon=0.1, relative_epsilon="mean").value, (X, Y), True),
    ("ot.sinkhorn_divergence", lambda x, y: ot.sinkhorn_divergence(x, y, epsilon=0.5).value, (X, Y),
     True),
    ("ot.batched_sinkhorn_cost, loop",
     lambda x, y: ot.batched_sinkhorn_cost(x, y, epsilon=0.5, method="loop").value,
     (BATCH_X, BATCH_Y), True),
    ("ot.batched_sinkhorn_cost, vmap",
     lambda x, y: ot.batched_sinkhorn_cost(
         x, y, epsilon=0.5, method="vmap", options=ot.SinkhornOptions(max_iterations=50)).value,
     (BATCH_X, BATCH_Y), True),
    ("ot.histogram_sinkhorn_cost",
     lambda a, c: ot.histogram_sinkhorn_cost(a, a, c, epsilon=0.5).value, (HIST, COST), False),
    ("ot.histogram_sinkhorn_divergence",
     lambda a, c: ot.histogram_sinkhorn_divergence(a, a, c, epsilon=0.5).value, (HIST, COST), False),
    ("ot.pairwise_cost", lambda p, q: ot.pairwise_cost(p, q, ground_cost="sqeuclidean"),
     (LOGITS, LOGITS_T), False),
    ("ot.sinkd_loss", lambda s, t: ot.sinkd_loss(s, t), (LOGITS, LOGITS_T), False),
    ("ot.sinkd_loss, gradient", jax.grad(lambda s, t: ot.sinkd_loss(s, t, num_iterations=5)),
     (LOGITS, LOGITS_T), False),
]


@pytest.mark.parametrize("name, fn, args, has_dot", CASES, ids=[c[0] for c in CASES])
def test_every_dot_is_lowered_at_highest_precision(name, fn, args, has_dot):
  dots = _dots(fn, *args)
  assert bool(dots) == has_dot, f"{name}: expected {'a' if has_dot else 'no'} dot_general, got {dots}"
  loose = [d for d in dots if "precision = [HIGHEST, HIGHEST]" not in d]
  assert not loose, f"{name}: dots without HIGHEST precision:\n" + "\n".join(loose)


def test_the_check_sees_a_default_precision_dot():
  # The pattern the test relies on: a plain float32 matmul lowers with DEFAULT precision.
  (dot,) = _dots(lambda a: a @ a, jnp.ones((3, 3), jnp.float32))
  assert "precision = [DEFAULT, DEFAULT]" in dot
