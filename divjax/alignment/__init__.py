r"""KL-regularised alignment: tilted policies, best-of-N, RL as inference, f-DPO and f-DPG.

Symbols (one finite outcome space :math:`\mathcal Y` of size ``n``; every function takes the single
problem as 1-D arrays over :math:`\mathcal Y` and is batched with ``vmap``):

* :math:`p` — the reference policy (π_ref, π₀), given as logits ``ref_logits`` (unnormalised
  log-probabilities, ``-inf`` for zero-probability outcomes);
* :math:`r` — the reward, a finite vector ``reward``;
* :math:`\Lambda(\lambda) = \log \mathbb E_p e^{\lambda r} = \log Z(\lambda)` — the cumulant generating
  function of the reward under p;
* :math:`\varphi_\lambda = p\,e^{\lambda r}/Z(\lambda)` — the exponentially *tilted* policy, with
  :math:`\mathbb E_{\varphi_\lambda} r = \Lambda'(\lambda)` and
  :math:`\mathrm{KL}(\varphi_\lambda\|p) = \lambda\Lambda'(\lambda) - \Lambda(\lambda)`;
* :math:`\beta = 1/\lambda` — the KL-penalty coefficient; :math:`\Delta` — a KL budget;
* :math:`N` — the number of best-of-N samples; :math:`F` — the reward CDF under p;
* :math:`f` — an f-divergence generator (:class:`divjax.divergences.FGenerator`) with
  :math:`D_f(P\|Q) = \mathbb E_Q f(P/Q)`; in f-DPO / f-DPG the ratio is
  :math:`u = \pi/\pi_\mathrm{ref}` (policy over reference), so divjax's ``KL`` generator
  (:math:`u\log u`) is what those papers call *reverse* KL and ``REVERSE_KL`` (:math:`-\log u`) their
  *forward* KL (:func:`fdpo_generator` maps their names).

One module per topic (every name is importable from ``divjax.alignment``):

* :mod:`~divjax.alignment.tilted` — :func:`tilt`, :func:`solve_kl_budget`, :func:`solve_expected_reward`,
  :func:`kl_to_tilted`, :func:`tilted_rate_function`: the KL-constrained optimum
  :math:`\varphi_\Delta = \arg\max\{\mathbb E_\varphi r : \mathrm{KL}(\varphi\|p)\le\Delta\}
  = \varphi_{\lambda(\Delta)}` and its large-deviation rate (Yang et al. 2024);
* :mod:`~divjax.alignment.bon` — :func:`best_of_n`, :func:`best_of_n_kl_bound`,
  :func:`best_of_n_win_rate_bound`: the exact law of best-of-N on a discrete space,
  :math:`F(r_y)^N - F(r_y^-)^N`, and the bounds :math:`\mathrm{KL}\le\log N - (N-1)/N`, win rate
  :math:`\le N/(N+1)` (Beirami et al. 2024);
* :mod:`~divjax.alignment.kl_regularized` — :func:`kl_regularized_objective`,
  :func:`kl_regularized_optimum`:
  :math:`J(\pi) = \mathbb E_\pi r - \beta\,\mathrm{KL}(\pi\|p) = \beta\log Z - \beta\,\mathrm{KL}(\pi\|p^*)`
  with :math:`p^* = \varphi_{1/\beta}` (Korbak, Perez & Buckley 2022);
* :mod:`~divjax.alignment.fdpo` — :func:`fdpo_generator`, :func:`fdpo_reward`, :func:`fdpo_policy`,
  :func:`fdpo_loss`: the f-DPO reward↔policy maps :math:`r = \beta f'(\pi^*/\pi_\mathrm{ref}) + c` and
  :math:`\pi^* = \pi_\mathrm{ref}\,(f')^{-1}((r-c)/\beta)`, and the pairwise loss (Wang et al. 2024);
* :mod:`~divjax.alignment.fdpg` — :func:`fdpg_gradient`, :func:`fdpg_surrogate_loss`: the f-DPG gradient
  :math:`\nabla_\theta D_f(\pi_\theta\|p) = \mathbb E_{\pi_\theta}[f'(\pi_\theta/p)\nabla_\theta\log\pi_\theta]`
  exactly for softmax logits and as a REINFORCE surrogate (Go et al. 2023);
* :mod:`~divjax.alignment.penalties` — :func:`f_penalty_per_sample`, :func:`k3_per_sample`: DPH-RL's
  per-token Monte-Carlo divergence penalties from samples of the initial policy (Li et al. 2025).

Every function is pure and works under ``jit`` and ``vmap``; the solvers run a fixed number of
safeguarded Newton steps (``lax.fori_loop``) after a ``lax.while_loop`` bracket, and their outputs are
differentiable with respect to the problem data by the implicit-function theorem. Everything is in log
space and nats; float32 by default, float64 under ``jax.enable_x64(True)``. The derivations, and
how each identity is checked, are on :doc:`/theory/alignment`.

References:
  * Yang, Salamatian, Sun, Suresh & Beirami, *Asymptotics of language model alignment*, ISIT 2024,
    arXiv:2404.01730.
  * Beirami, Agarwal, Berant, D'Amour, Eisenstein, Nagpal & Suresh, *Theoretical guarantees on the
    best-of-n alignment policy*, arXiv:2401.01879.
  * Korbak, Perez & Buckley, *RL with KL penalties is better viewed as Bayesian inference*,
    Findings of EMNLP 2022, arXiv:2205.11275.
  * Wang, Jiang, Yang, Liu & Chen, *Beyond reverse KL: generalizing direct preference optimization
    with diverse divergence constraints*, ICLR 2024, arXiv:2309.16240.
  * Go, Korbak, Kruszewski, Rozen, Ryu & Dymetman, *Aligning language models with preferences
    through f-divergence minimization*, ICML 2023, arXiv:2302.08215.
  * Rafailov, Sharma, Mitchell, Ermon, Manning & Finn, *Direct preference optimization*,
    NeurIPS 2023, arXiv:2305.18290.
  * Li et al., *The choice of divergence: a neglected key to mitigating diversity collapse in
    reinforcement learning with verifiable reward*, arXiv:2509.07430 (DPH-RL).

Examples:
  On a fair coin with reward = outcome, best-of-2 picks heads with probability 1 − ¼ = ¾, which is
  also the tilt with λ = log 3; both lie below the best-of-N bound log 2 − ½:

  >>> import math
  >>> import jax.numpy as jnp
  >>> from divjax import alignment
  >>> ref, reward = jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0])
  >>> bon, phi = alignment.best_of_n(ref, reward, n=2), alignment.tilt(ref, reward, math.log(3.0))
  >>> print(f"{float(bon.kl):.4f} {float(phi.kl):.4f} {float(alignment.best_of_n_kl_bound(2)):.4f}")
  0.1308 0.1308 0.1931
"""

from divjax.alignment import bon, fdpg, fdpo, kl_regularized, penalties, tilted
from divjax.alignment.bon import *  # noqa: F401,F403
from divjax.alignment.fdpg import *  # noqa: F401,F403
from divjax.alignment.fdpo import *  # noqa: F401,F403
from divjax.alignment.kl_regularized import *  # noqa: F401,F403
from divjax.alignment.penalties import *  # noqa: F401,F403
from divjax.alignment.tilted import *  # noqa: F401,F403

__all__ = [*tilted.__all__, *bon.__all__, *kl_regularized.__all__, *fdpo.__all__, *fdpg.__all__,
           *penalties.__all__]
