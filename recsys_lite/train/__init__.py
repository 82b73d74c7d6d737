"""The training loop every chapter from 4 on uses: :func:`fit`.

One epoch is one jitted function: it draws a permutation from the epoch's
key, cuts the data into minibatches of ``batch_size`` rows and runs the
update for each with ``lax.scan``,

    θ_{t+1} = θ_t + update(∇J_B(θ_t)),      J_B = loss_fn(θ, batch B)

so an epoch costs one call from Python (``scan=False``: one call per step).
The pieces, each small enough to read at once:

- :mod:`~recsys_lite.train.step`: :func:`make_step`, the pure step
  ``step(model, opt_state, batch, key) -> (model, opt_state, loss)`` that
  :func:`~recsys_lite.parallel.data_parallel_step` jits too, and the two
  epoch runners (``lax.scan``, or a loop of compiled steps);
- :mod:`~recsys_lite.train.inputs`: what :func:`fit` checks before anything
  is compiled (numbers, finite floats, ids that index the model's tables);
- :mod:`~recsys_lite.train.diverged`: the NaN guard, one jitted all-finite
  check per epoch and, if it fails, a replay that names the step and the
  parameter (:class:`TrainingDiverged`);
- :mod:`~recsys_lite.train.loop`: :func:`fit` itself and its :class:`History`,
  with validation, early stopping and progress. :func:`recsys_lite.plots.history`
  draws a history.
"""

from recsys_lite.train.diverged import TrainingDiverged
from recsys_lite.train.loop import History, fit
from recsys_lite.train.step import make_step

__all__ = ["fit", "History", "TrainingDiverged", "make_step"]
