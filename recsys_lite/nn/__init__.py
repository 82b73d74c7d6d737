"""Neural-network layers as pytrees, written from scratch.

- :mod:`~recsys_lite.nn.core` (chapter 4): activations and their derivatives,
  initialisers, ``Dense``, ``Embedding``, ``MLP``, ``Dropout``;
- :mod:`~recsys_lite.nn.conv` (chapter 6): ``Conv1D`` beside its didactic
  loop version, pooling over time;
- :mod:`~recsys_lite.nn.recurrent` (chapter 7): recurrent cells and a
  masked ``lax.scan`` sequence layer.

Everything is importable from here: ``from recsys_lite import nn; nn.Dense``.
"""

from recsys_lite.nn.core import *  # noqa: F401,F403
from recsys_lite.nn.core import __all__ as _core_all
from recsys_lite.nn.conv import *  # noqa: F401,F403
from recsys_lite.nn.conv import __all__ as _conv_all
from recsys_lite.nn.recurrent import *  # noqa: F401,F403
from recsys_lite.nn.recurrent import __all__ as _recurrent_all

__all__ = [*_core_all, *_conv_all, *_recurrent_all]
