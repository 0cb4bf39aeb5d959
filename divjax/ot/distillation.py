r"""Knowledge distillation with divergences and entropic OT: SinKD, KD divergences, the combined loss.

The distillation layer over :mod:`divjax.ot.sinkhorn` and :mod:`divjax.divergences`: SinKD's batch-wise
Sinkhorn loss (a Sinkhorn solve across the samples of a batch), the per-sample KD divergences between
teacher and student, the BD-KD-style weighting of forward and reverse KL, and the combined objective

.. math::  \mathcal L = w\,\overline{\mathrm{KD}_\tau(t, s)} + (1-w)\,\overline{\mathrm{CE}(y, s)}
           + \beta\,\mathcal L_{\mathrm{SinKD}}.

Symbols: :math:`s = \mathrm{softmax}(z^S/\tau)` the student, :math:`t = \mathrm{softmax}(z^T/\tau)` the
teacher (the target), τ the temperature, w = ``kd_weight`` the weight of the KD term against
cross-entropy, α = ``alpha`` the order of the α-divergence KD term (Cichocki–Amari, as in
:func:`divjax.divergences.alpha_divergence`). ``alpha`` is always an order in divjax, never a weight.

Direction: "forward" KL is :math:`\mathrm{KL}(t\|s)` = KL(target ‖ model), the mass-covering direction,
the same meaning as ``fdpo_generator("forward_kl")`` in :mod:`divjax.alignment` (KL(π_ref ‖ π)); see
the Conventions page.

The theory behind SinKD's batch loss and the distillation divergences, with the tests that check each
statement: :doc:`/theory/sinkhorn_kd`.

References:
  Hinton, Vinyals & Dean, *Distilling the knowledge in a neural network*, arXiv:1503.02531.
  Cui, Ge, Xu, Ruan, Pan & Zhang, *SinKD: Sinkhorn distance minimization for knowledge
  distillation*, LREC-COLING 2024 / TNNLS 2025, arXiv:2402.17110.
  Amara, Sepahvand, Meyer, Gross & Clark, *BD-KD: balancing the divergences for online knowledge
  distillation*, arXiv:2212.12965.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from ott.geometry import geometry as ott_geometry

from divjax import _deprecation, _validate
from divjax import divergences as dv
from divjax.ot.sinkhorn import SinkhornOptions, _accepts_solver_keywords, _check_epsilon, _solve

__all__ = [
    "pairwise_cost",
    "sinkd_loss",
    "entropy_gap_weights",
    "equal_weights",
    "kd_divergence",
    "DistillationLoss",
    "distillation_loss",
]

Array = jax.Array
ArrayLike = Any
GroundCost = Literal["l1", "sqeuclidean", "euclidean"]


# ---------------------------------------------------------------------------------------------------
# SinKD: the batch-wise Sinkhorn distillation loss.


@_validate.guarded
def pairwise_cost(p: Array, q: Array, *, ground_cost: GroundCost | Callable[[Array, Array], Array] = "l1"
                  ) -> Array:
  r"""Cost matrix C_ij = c(p_i, q_j) between the rows of p and the rows of q.

  ``"l1"``: :math:`\|p_i - q_j\|_1` (SinKD's ``torch.cdist(p=1)``); ``"sqeuclidean"``:
  :math:`\|p_i - q_j\|_2^2`; ``"euclidean"``: :math:`\|p_i-q_j\|_2` (gradient 0 at coincident
  points instead of NaN); or a callable ``c(u, v) -> scalar`` applied pairwise.

  Args:
    p: ``[n, k]``.
    q: ``[m, k]``.
    ground_cost: ``"l1"``, ``"sqeuclidean"``, ``"euclidean"`` or a callable, see above.

  Returns:
    ``[n, m]`` cost matrix.

  Raises:
    ValueError: for an unknown ``ground_cost`` name, inputs that are not 2-D, rows of different
      lengths or non-finite entries.

  References:
    Cui et al., arXiv:2402.17110 (public code, ``loss.py``).

  Examples:
    ℓ₁ distances between one-hot rows: 2 between different classes, 0 within a class:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ot
    >>> cost = ot.pairwise_cost(jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 1.0], [1.0, 0.0]]))
    >>> print(np.asarray(cost))
    [[2. 0.]]
  """
  p, q = _validate.as_array(p), _validate.as_array(q)
  for name, z in (("p", p), ("q", q)):
    _validate.array(name, z)
    _validate.ndim(name, z, 2)
  _validate.last_dim("q", q, np.shape(p)[1], what="the row length k of p")
  p, q = jnp.asarray(_validate.finite("p", p)), jnp.asarray(_validate.finite("q", q))
  diff = p[:, None, :] - q[None, :, :]
  if callable(ground_cost):
    return jax.vmap(jax.vmap(ground_cost, (None, 0)), (0, None))(p, q)
  if ground_cost == "l1":
    return jnp.sum(jnp.abs(diff), axis=-1)
  sq = jnp.sum(diff**2, axis=-1)
  if ground_cost == "sqeuclidean":
    return sq
  if ground_cost == "euclidean":
    safe = jnp.where(sq > 0, sq, 1.0)
    return jnp.where(sq > 0, jnp.sqrt(safe), 0.0)
  raise ValueError(f"ground_cost must be 'l1', 'sqeuclidean', 'euclidean' or a callable, got "
                   f"{ground_cost!r}.")


def _check_logits_pair(student_logits: ArrayLike, teacher_logits: ArrayLike) -> tuple[Array, Array]:
  for name, z in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
    _validate.array(name, z)
    _validate.ndim(name, z, 2)
  _validate.same_shape("student_logits", student_logits, "teacher_logits", teacher_logits)
  zs = jnp.asarray(_validate.finite("student_logits", student_logits))
  zt = jnp.asarray(_validate.finite("teacher_logits", teacher_logits))
  dtype = jnp.result_type(zs.dtype, zt.dtype, float)
  return zs.astype(dtype), zt.astype(dtype)


#: The stopping rule of :func:`sinkd_loss` when it solves to tolerance (``num_iterations=None``).
_SINKD_OPTIONS = SinkhornOptions(threshold=1e-6, max_iterations=5000)


@_validate.guarded
@_accepts_solver_keywords(_SINKD_OPTIONS)
def sinkd_loss(student_logits: ArrayLike,
               teacher_logits: ArrayLike,
               *,
               temperature: float = 2.0,
               epsilon: float = 0.1,
               num_iterations: int | None = 20,
               ground_cost: GroundCost | Callable[[Array, Array], Array] = "l1",
               options: SinkhornOptions | None = None) -> Array:
  r"""SinKD's batch-wise Sinkhorn distillation loss, without SinKD's 0.001 factor.

  Put that factor into the ``beta`` of :func:`distillation_loss`.

  With :math:`s_i = \mathrm{softmax}(z^S_i/T)`, :math:`t_j = \mathrm{softmax}(z^T_j/T)` and the
  :math:`B\times B` cost :math:`M_{ij} = c(s_i, t_j)` (ℓ₁ by default) across the **samples** of
  the batch,

  .. math::  \mathcal L_{\mathrm{SinKD}} = B\,\langle P_\varepsilon, M\rangle
             = \sum_{ij} (B P_\varepsilon)_{ij} M_{ij},

  where :math:`P_\varepsilon` is the entropic plan between uniform marginals :math:`\mathbf 1/B`.
  With ``num_iterations=n`` (default 20) ``P`` is the n-th Sinkhorn iterate started from the
  kernel :math:`e^{-M/\varepsilon}`, each iteration normalising rows then columns, exactly the
  public code's loop, and gradients flow through the unrolled iterations; ``num_iterations=None``
  solves with ``options`` (default: threshold 10⁻⁶, at most 5000 iterations, implicit
  differentiation). The solves are
  ott-jax's (log-domain).

  Properties (tested): invariant to permuting the batch (the loss matches the batch as a *set*;
  per-sample supervision must come from KD and CE terms); **not zero when student = teacher**
  (entropic blur: the plan is not the identity); for B = 1 it is the ℓ₁ distance of that sample.

  Args:
    student_logits: ``[B, C]``, differentiable.
    teacher_logits: ``[B, C]``.
    temperature: T (SinKD's code fixes T = 2).
    epsilon: ε > 0, absolute (SinKD: 0.1).
    num_iterations: unrolled iterations (SinKD: 20), or ``None`` to solve to tolerance.
    ground_cost: see :func:`pairwise_cost`.
    options: the :class:`~divjax.ot.SinkhornOptions` of the solve when ``num_iterations`` is
      ``None`` (``None``: threshold 10⁻⁶, ``max_iterations=5000``); unused otherwise. The deprecated keywords
      ``threshold=`` and ``max_iterations=`` still work, with a ``DeprecationWarning``.

  Returns:
    The scalar loss (a sum over the B×B plan, as in the paper's code).

  Raises:
    ValueError: for non-finite or mis-shaped logits, ε ≤ 0, T ≤ 0, num_iterations < 1.

  References:
    Cui et al., *SinKD*, arXiv:2402.17110 (and the public code ``2018cx/SinKD``, ``loss.py``).

  Examples:
    B = 1: the ℓ₁ distance between softmax(z/2) = (½, ½) and (¾, ¼). Student = teacher with two
    samples at ℓ₁ distance m gives the entropic blur :math:`2m/(1 + e^{m/\varepsilon}) > 0`
    (here m = 0.2449):

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> teacher = jnp.array([[2 * jnp.log(3.0), 0.0]])
    >>> print(f"{float(ot.sinkd_loss(jnp.zeros((1, 2)), teacher)):.4f}")
    0.5000
    >>> z = jnp.array([[0.0, 0.0], [1.0, 0.0]])
    >>> print(f"{float(ot.sinkd_loss(z, z)):.4f}")
    0.0389
  """
  zs, zt = _check_logits_pair(student_logits, teacher_logits)
  epsilon = _check_epsilon(epsilon)
  temperature = _validate.positive_scalar("temperature", temperature)
  if num_iterations is not None:
    num_iterations = _validate.integer("num_iterations", num_iterations, minimum=1)
  s = jax.nn.softmax(zs / temperature, axis=-1)
  t = jax.nn.softmax(zt / temperature, axis=-1)
  B = zs.shape[0]
  # ott updates the column potential first; transposing (rows = teacher, columns = student) makes
  # its first half-step the code's row (student) normalisation.
  cost = pairwise_cost(t, s, ground_cost=ground_cost)
  geom = ott_geometry.Geometry(cost_matrix=cost, epsilon=epsilon)
  uniform = jnp.full((B,), 1.0 / B, dtype=cost.dtype)
  if num_iterations is not None:
    # Exactly n unrolled iterations, no early stop: SinKD's loop (only the threshold, which sets the
    # converged flag, is taken from options).
    options = SinkhornOptions(threshold=options.threshold, inner_iterations=num_iterations,
                              max_iterations=num_iterations, min_iterations=num_iterations,
                              implicit_diff=False)
  return B * _solve(geom, uniform, uniform, options).transport_cost


# ---------------------------------------------------------------------------------------------------
# The distillation objective.


@_validate.guarded
def equal_weights(h_teacher: Array, h_student: Array) -> tuple[Array, Array]:
  """(w_F, w_R) = (½, ½): the balanced objective becomes half the Jeffreys divergence.

  Args:
    h_teacher: teacher entropies ``[B]``.
    h_student: student entropies ``[B]``.

  Returns:
    ``(w_F, w_R)``, each ½ with the broadcast shape of the entropies.

  Examples:
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ot
    >>> w_f, w_r = ot.equal_weights(jnp.array([0.5, 1.0]), jnp.array([1.0, 0.5]))
    >>> print(np.asarray(w_f), np.asarray(w_r))
    [0.5 0.5] [0.5 0.5]
  """
  h_teacher, h_student = _entropies(h_teacher, h_student)
  half = jnp.full(jnp.broadcast_shapes(h_teacher.shape, h_student.shape), 0.5,
                  jnp.result_type(h_teacher, h_student, float))
  return half, half


def _entropies(h_teacher: ArrayLike, h_student: ArrayLike) -> tuple[Array, Array]:
  """Per-example entropies: finite, broadcastable; returned as float arrays."""
  h_teacher, h_student = _validate.as_array(h_teacher), _validate.as_array(h_student)
  _validate.broadcastable("h_teacher", h_teacher, "h_student", h_student)
  h_teacher = jnp.asarray(_validate.finite("h_teacher", h_teacher))
  h_student = jnp.asarray(_validate.finite("h_student", h_student))
  dtype = jnp.result_type(h_teacher, h_student, float)
  return h_teacher.astype(dtype), h_student.astype(dtype)


@_validate.guarded
def entropy_gap_weights(h_teacher: Array, h_student: Array) -> tuple[Array, Array]:
  r"""A BD-KD-style weighting rule: a hard switch on the sign of the entropy gap.

  .. math::  (w_F, w_R) = \begin{cases} (0, 1) & H(s) > H(t)\ \text{(student less confident: sharpen
             with mode-seeking reverse KL)}\\ (1, 0) & \text{otherwise (mass-covering forward KL)}
             \end{cases}

  BD-KD weights forward and reverse KL per sample by the teacher–student entropy gap; this hard
  switch is divjax's choice of such a rule, not one taken from the paper (see
  :doc:`/theory/sinkhorn_kd`). Pass your own ``weights_fn`` to :func:`kd_divergence` for another.

  Args:
    h_teacher: teacher entropies ``[B]``.
    h_student: student entropies ``[B]``.

  Returns:
    ``(w_F, w_R)``, each ``[B]`` with entries 0 or 1.

  References:
    Amara et al., *BD-KD*, arXiv:2212.12965.

  Examples:
    The first student is less confident than its teacher (reverse KL), the second more (forward):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ot
    >>> w_f, w_r = ot.entropy_gap_weights(jnp.array([0.5, 1.0]), jnp.array([1.0, 0.5]))
    >>> print(np.asarray(w_f), np.asarray(w_r))
    [0. 1.] [1. 0.]
  """
  h_teacher, h_student = _entropies(h_teacher, h_student)
  less_confident = (h_student > h_teacher).astype(h_student.dtype)
  return 1.0 - less_confident, less_confident


def _entropy(log_p: Array) -> Array:
  p = jnp.exp(log_p)
  return -jnp.sum(jnp.where(p > 0, p * log_p, 0.0), axis=-1)


KDKind = Literal["forward_kl", "reverse_kl", "js", "alpha", "balanced"]
_KD_KINDS = ("forward_kl", "reverse_kl", "js", "alpha", "balanced")


@_validate.guarded
@_deprecation.renamed_keywords(order=("alpha", "(alpha is the order of the α-divergence, as in "
                                      "divjax.divergences.alpha_divergence)"))
def kd_divergence(student_logits: ArrayLike,
                  teacher_logits: ArrayLike,
                  *,
                  kind: KDKind = "forward_kl",
                  temperature: float = 1.0,
                  alpha: float = 0.5,
                  weights_fn: Callable[[Array, Array], tuple[Array, Array]] = entropy_gap_weights
                  ) -> Array:
  r"""Per-sample distillation divergence between teacher t and student s.

  With :math:`t = \mathrm{softmax}(z^T/\tau)` and :math:`s = \mathrm{softmax}(z^S/\tau)`:

  .. math::
     \texttt{forward\_kl}: \mathrm{KL}(t\|s) \quad
     \texttt{reverse\_kl}: \mathrm{KL}(s\|t) \quad
     \texttt{js}: \mathrm{JS}(t, s) \quad
     \texttt{alpha}: D_\alpha(t\|s) \quad
     \texttt{balanced}: w_F\,\mathrm{KL}(t\|s) + w_R\,\mathrm{KL}(s\|t),

  with :math:`(w_F, w_R) = \texttt{weights\_fn}(H(t), H(s))` evaluated per sample and treated as
  constants (``stop_gradient``). All divergences are :mod:`divjax.divergences`' (in nats, from
  logits). "Forward" is KL(target ‖ model) with the teacher as the target, as everywhere in divjax
  (the Conventions page; ``tests/test_conventions.py``). Forward KL differs from SinKD's code's soft
  cross-entropy only by the teacher entropy, a constant in the student: the gradients agree. No τ²
  factor is applied (SinKD's code has none; multiply ``kd_weight`` of :func:`distillation_loss` by τ²
  for Hinton's scaling).

  Args:
    student_logits, teacher_logits: ``[B, C]``.
    kind: one of ``"forward_kl"``, ``"reverse_kl"``, ``"js"``, ``"alpha"``, ``"balanced"``.
    temperature: τ > 0.
    alpha: the order α of the α-divergence for ``kind="alpha"`` (Cichocki–Amari, as in
      :func:`divjax.divergences.alpha_divergence`; → KL(t‖s) as α → 1, → KL(s‖t) as α → 0). Its
      former name ``order=`` still works, with a ``DeprecationWarning``.
    weights_fn: ``(H_teacher [B], H_student [B]) -> (w_F [B], w_R [B])`` for ``"balanced"``.

  Returns:
    ``[B]`` divergences.

  References:
    Hinton, Vinyals & Dean, arXiv:1503.02531; Cui et al. (SinKD), arXiv:2402.17110; Amara et al.
    (BD-KD), arXiv:2212.12965; Xu, Nie & Vahdat (f-distill), arXiv:2502.15681.

  Examples:
    Teacher (¾, ¼), uniform student: KL(t‖s) = ¾ log 1.5 + ¼ log 0.5 and
    KL(s‖t) = ½ log(2/3) + ½ log 2. The student is less confident, so the default balanced
    weighting picks the reverse KL:

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> zs, zt = jnp.zeros((1, 2)), jnp.array([[jnp.log(3.0), 0.0]])
    >>> for kind in ("forward_kl", "reverse_kl", "balanced"):
    ...     print(kind, f"{float(ot.kd_divergence(zs, zt, kind=kind)[0]):.4f}")
    forward_kl 0.1308
    reverse_kl 0.1438
    balanced 0.1438
  """
  zs, zt = _check_logits_pair(student_logits, teacher_logits)
  temperature = _validate.positive_scalar("temperature", temperature)
  if kind not in _KD_KINDS:
    raise ValueError(f"kind must be one of {_KD_KINDS}, got {kind!r}.")
  ls = jax.nn.log_softmax(zs / temperature, axis=-1)
  lt = jax.nn.log_softmax(zt / temperature, axis=-1)
  if kind == "forward_kl":
    return dv.kl_divergence(lt, ls, logits=True)
  if kind == "reverse_kl":
    return dv.reverse_kl_divergence(lt, ls, logits=True)
  if kind == "js":
    return dv.js_divergence(lt, ls, logits=True)
  if kind == "alpha":
    return dv.alpha_divergence(lt, ls, alpha=alpha, logits=True)
  w_f, w_r = weights_fn(_entropy(lt), _entropy(ls))
  w_f, w_r = jax.lax.stop_gradient(w_f), jax.lax.stop_gradient(w_r)
  return w_f * dv.kl_divergence(lt, ls, logits=True) + w_r * dv.reverse_kl_divergence(lt, ls, logits=True)


class DistillationLoss(NamedTuple):
  """The combined distillation objective and its parts (batch means; the Sinkhorn term is a sum).

  Attributes:
    total: w·kd + (1 − w)·ce + β·sinkhorn, w = ``kd_weight``.
    kd: mean distillation divergence.
    ce: mean cross-entropy with the labels.
    sinkhorn: :func:`sinkd_loss`, SinKD's sum over the plan (0 when β = 0 and it is skipped).

  Examples:
    Student = teacher = uniform over 2 classes: kd = 0, ce = log 2, total = (1 − w) log 2:

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> z, labels = jnp.zeros((2, 2)), jnp.array([0, 1])
    >>> out = ot.distillation_loss(z, z, labels, kd_weight=0.9)
    >>> print(f"{float(out.kd):.4f} {float(out.ce):.4f} {float(out.total):.4f}")
    0.0000 0.6931 0.0693
  """
  total: Array
  kd: Array
  ce: Array
  sinkhorn: Array


@_validate.guarded
@_deprecation.renamed_keywords(
    alpha=("kd_weight", "(alpha= was the weight of the KD term against cross-entropy; in divjax alpha "
                        "is an order, here kd_alpha)"),
    order=("kd_alpha", "(the order α of the α-divergence KD term)"))
def distillation_loss(student_logits: ArrayLike,
                      teacher_logits: ArrayLike,
                      labels: ArrayLike,
                      *,
                      kd: KDKind = "forward_kl",
                      kd_weight: float = 0.9,
                      beta: float = 0.0,
                      temperature: float = 1.0,
                      kd_alpha: float = 0.5,
                      weights_fn: Callable[[Array, Array], tuple[Array, Array]] = entropy_gap_weights,
                      sinkhorn_temperature: float = 2.0,
                      sinkhorn_epsilon: float = 0.1,
                      sinkhorn_iterations: int | None = 20,
                      ground_cost: GroundCost | Callable[[Array, Array], Array] = "l1"
                      ) -> DistillationLoss:
  r"""The SinKD / BD-KD distillation objective.

  .. math::  \mathcal L = w\,\overline{\mathrm{KD}_\tau(t, s)} + (1-w)\,\overline{\mathrm{CE}(y, s)}
             + \beta\,\mathcal L_{\mathrm{SinKD}}

  (bars are batch means; w = ``kd_weight``, which the SinKD and Hinton papers call α). SinKD's GLUE
  scripts use w ∈ [0.8, 1], τ ∈ [2, 4], and β = 0.8 × 0.001 (the code multiplies the Sinkhorn sum by
  0.001), i.e. ``beta=8e-4``.

  Args:
    student_logits: ``[B, C]`` (differentiate with respect to these).
    teacher_logits: ``[B, C]``.
    labels: integer class labels ``[B]`` in ``[0, C)``.
    kd, temperature, weights_fn: the KD term, see :func:`kd_divergence`.
    kd_alpha: the order α of the KD term when ``kd="alpha"`` (``alpha`` of :func:`kd_divergence`).
      Former name ``order=`` (deprecated).
    kd_weight: w, the weight of KD against CE, in [0, 1]. Former name ``alpha=`` (deprecated: in
      divjax ``alpha`` names an order).
    beta: weight of the Sinkhorn term, ≥ 0 (skipped when 0 and concrete).
    sinkhorn_temperature, sinkhorn_epsilon, sinkhorn_iterations, ground_cost: see :func:`sinkd_loss`.

  Returns:
    A :class:`DistillationLoss`.

  Raises:
    ValueError: for ``kd_weight`` outside [0, 1], β < 0, labels of the wrong shape or out of range, and the
      errors of :func:`kd_divergence` / :func:`sinkd_loss`.

  References:
    Cui et al., *SinKD*, arXiv:2402.17110; Amara et al., *BD-KD*, arXiv:2212.12965; Hinton, Vinyals
    & Dean, *Distilling the knowledge in a neural network*, arXiv:1503.02531.

  Examples:
    Student = teacher: kd = 0, ce = ½(log 2 + log(1 + e⁻¹)) = 0.5032, the Sinkhorn term is the
    entropic blur 0.0389 of the :func:`sinkd_loss` example, and the total is
    0.1 · 0.5032 + 0.5 · 0.0389:

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> z, labels = jnp.array([[0.0, 0.0], [1.0, 0.0]]), jnp.array([0, 0])
    >>> out = ot.distillation_loss(z, z, labels, kd_weight=0.9, beta=0.5)
    >>> print(" ".join(f"{float(v):.4f}" for v in (out.kd, out.ce, out.sinkhorn, out.total)))
    0.0000 0.5032 0.0389 0.0698
  """
  zs, zt = _check_logits_pair(student_logits, teacher_logits)
  _validate.array("labels", labels)
  _validate.ndim("labels", labels, 1)
  if np.shape(labels)[0] != zs.shape[0]:
    raise ValueError(f"labels must have shape [{zs.shape[0]}], got {np.shape(labels)}.")
  if _validate.is_concrete(labels):
    lab = np.asarray(labels)
    if not np.issubdtype(lab.dtype, np.integer):
      raise TypeError(f"labels must be integers, got dtype {lab.dtype}.")
    if lab.size and (lab.min() < 0 or lab.max() >= zs.shape[1]):
      raise ValueError(f"labels must lie in [0, {zs.shape[1]}), got range [{lab.min()}, {lab.max()}].")
  kd_weight = _validate.interval("kd_weight", kd_weight, lower=0.0, upper=1.0)
  beta = _validate.nonnegative("beta", beta)
  kd_value = jnp.mean(kd_divergence(zs, zt, kind=kd, temperature=temperature, alpha=kd_alpha,
                                    weights_fn=weights_fn))
  ce = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(zs, jnp.asarray(labels)))
  skip = _validate.is_concrete(beta) and float(beta) == 0.0
  sink = (jnp.zeros((), zs.dtype) if skip else
          sinkd_loss(zs, zt, temperature=sinkhorn_temperature, epsilon=sinkhorn_epsilon,
                     num_iterations=sinkhorn_iterations, ground_cost=ground_cost))
  total = kd_weight * kd_value + (1.0 - kd_weight) * ce + beta * sink
  return DistillationLoss(total=total, kd=kd_value, ce=ce, sinkhorn=sink)
