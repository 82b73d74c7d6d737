"""The training loop every chapter from 4 on uses: :func:`fit`.

One epoch is one jitted function: it draws a permutation from the epoch's
key, cuts the data into minibatches of ``batch_size`` rows and runs the
update for each with ``lax.scan``,

    θ_{t+1} = θ_t + update(∇J_B(θ_t)),      J_B = loss_fn(θ, batch B)

so an epoch costs one call from Python. The pieces: :mod:`.step` (the pure
step :func:`make_step`, which :func:`~recsys_lite.parallel.data_parallel_step`
jits too, the two epoch runners and the NaN guard), :mod:`.inputs` (what
:func:`fit` checks before anything is compiled) and :mod:`.loop` (:func:`fit`
and its :class:`History`; :func:`recsys_lite.plots.history` draws one).
"""

from recsys_lite.train.loop import History, fit
from recsys_lite.train.step import TrainingDiverged, make_step

__all__ = ["fit", "History", "TrainingDiverged", "make_step"]
