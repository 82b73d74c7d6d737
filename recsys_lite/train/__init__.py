"""The training loop every chapter from 4 on uses: :func:`fit`, one jitted ``lax.scan`` per epoch of

    θ_{t+1} = θ_t + update(∇J_B(θ_t)),      J_B = loss_fn(θ, batch B)

over shuffled minibatches B. :mod:`.step` holds the step (:func:`make_step`, also jitted by
:func:`~recsys_lite.parallel.data_parallel_step`) and the NaN guard, :mod:`.inputs` the checks of the
model and data, :mod:`.loop` :func:`fit` and :class:`History` (``plots.history`` draws one).
"""

from recsys_lite.train.loop import History, fit
from recsys_lite.train.step import TrainingDiverged, make_step

__all__ = ["fit", "History", "TrainingDiverged", "make_step"]
