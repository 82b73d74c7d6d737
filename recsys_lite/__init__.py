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
from recsys_lite.book import phrase as phrase  # glued words in both editions' languages
from recsys_lite.book import verdict_word as verdict_word  # "above" / "within noise of" / "below", both languages


def _version() -> str:
    """The version in pyproject.toml, the one place it is written.

    A source checkout (this package beside the pyproject.toml that names it) reads the file itself: an
    editable install's metadata keeps the version of the day it was installed. An installed wheel reads its
    metadata (``importlib.metadata``). Neither: ``"0+unknown"``.
    """
    from pathlib import Path

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == "recsys_lite" and "version" in project:
            return str(project["version"])
    from importlib import metadata

    try:
        return metadata.version("recsys_lite")
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _version()
