"""Neural-network layers as pytrees, written from scratch.

- :mod:`~recsys_lite.nn.activations` (chapter 4): activations g(z) and their derivatives;
- :mod:`~recsys_lite.nn.initializers` (chapter 4): weight initialisers and their fans;
- :mod:`~recsys_lite.nn.core` (chapter 4): ``Dense``, ``Embedding``, ``MLP``, ``Dropout``;
- :mod:`~recsys_lite.nn.conv` (chapter 6): ``Conv1D`` beside its didactic
  loop version, pooling over time;
- :mod:`~recsys_lite.nn.recurrent` (chapter 7): recurrent cells and a
  masked ``lax.scan`` sequence layer;
- :mod:`~recsys_lite.nn.compose` (chapter 8): ``Serial`` and ``Parallel``, stax-style combinators.

Everything is importable from here: ``from recsys_lite import nn; nn.Dense``.
"""

from recsys_lite.nn import activations, compose, conv, core, initializers, recurrent
from recsys_lite.nn.activations import *  # noqa: F403
from recsys_lite.nn.compose import *  # noqa: F403
from recsys_lite.nn.conv import *  # noqa: F403
from recsys_lite.nn.core import *  # noqa: F403
from recsys_lite.nn.initializers import *  # noqa: F403
from recsys_lite.nn.recurrent import *  # noqa: F403

__all__ = [*activations.__all__, *initializers.__all__, *core.__all__, *conv.__all__, *recurrent.__all__,
           *compose.__all__]
