"""The training loop every chapter from 4 on uses: :func:`fit`.

One epoch is one jitted function: it draws a permutation from the epoch's
key, cuts the data into minibatches of ``batch_size`` rows and runs the
update for each with ``lax.scan``,

    θ_{t+1} = θ_t + update(∇J_B(θ_t)),      J_B = loss_fn(θ, batch B)

so an epoch costs one call from Python. The pieces: :mod:`.step` (the step
:func:`make_step`, also jitted by :func:`~recsys_lite.parallel.data_parallel_step`,
the epoch runners, the NaN guard), :mod:`.inputs` (the model and data checks)
and :mod:`.loop` (:func:`fit`, :class:`History`; ``plots.history`` draws one).
"""

from recsys_lite.train.loop import History, fit
from recsys_lite.train.step import TrainingDiverged, make_step

__all__ = ["fit", "History", "TrainingDiverged", "make_step"]
