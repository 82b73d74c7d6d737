"""recsys_lite: the companion library of the recsys-lite textbook.

One module per idea (see the book's preface):

- ``data``: MovieLens loading, splits, sequences, minibatches
- ``synthetic``: a seeded MovieLens-shaped stand-in with known ground truth
- ``metrics``: RMSE, MAE, HR@K, NDCG@K, Recall@K, MRR over the full ranking
- ``losses``: MSE, MAE, Huber, BCE, BPR, softmax cross-entropy
- ``optim``: SGD, momentum, Adagrad, RMSProp, Adam(W), schedules (optax-shaped)
- ``models``: baselines and recommenders
- ``widgets``: slider explorers that work live and on the static website
- ``plots``: the few matplotlib helpers the chapters share

Submodules are imported on use (``from recsys_lite import data``), so that
``import recsys_lite`` stays cheap.
"""
from recsys_lite.book import glue as glue  # the chapters' glue, with or without myst-nb (recsys_lite/book.py)

__version__ = "0.1.0"
