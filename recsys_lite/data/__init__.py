"""MovieLens loading, the book's splits, per-user sequences and minibatches.

``load_movielens("ml-100k")`` reads the checksummed files from the
``data_dir`` argument, ``RECSYS_LITE_DATA``, the cache or a download (see
:mod:`~recsys_lite.data.files`); only when all of these fail does it fall
back, loudly, to the synthetic stand-in. Ids are 0-based and contiguous:
user ``u`` in the files is ``u - 1`` here. Every function checks its input
first and raises ``ValueError`` or ``TypeError`` naming the argument, what
was received and what was expected.

One module per concern, each importing only those above it in this list (tests/test_data.py checks it):

- :mod:`~recsys_lite.data.dataset`: the :class:`MovieLens` type, its genres, the rating tables' rules;
- :mod:`~recsys_lite.data.files`: finding, downloading and checksumming the files;
- :mod:`~recsys_lite.data.splits`: canonical splits, leave-one-out, :func:`seen_mask`;
- :mod:`~recsys_lite.data.synthetic`: the seeded stand-in (also ``recsys_lite.synthetic``);
- :mod:`~recsys_lite.data.movielens`: parsing, and :func:`load_movielens` with its fallback;
- :mod:`~recsys_lite.data.order`: :func:`timestamp_gaps`, :func:`shuffle_order` (how much order the data hold);
- :mod:`~recsys_lite.data.sequences`: per-user sequences, recent items, next-item examples, windows;
- :mod:`~recsys_lite.data.batching`: :func:`minibatches`;
- :mod:`~recsys_lite.data.features`: :func:`content_features`.

MovieLens may not be redistributed (see its README): this package downloads
it from GroupLens for each reader and never ships it.
"""

from recsys_lite.data.batching import minibatches
from recsys_lite.data.dataset import GENRES, MovieLens, Split
from recsys_lite.data.features import content_features
from recsys_lite.data.files import DataIntegrityError, cache_dir, locate_movielens
from recsys_lite.data.movielens import SPLIT_NAMES, SyntheticDataWarning, load_movielens
from recsys_lite.data.order import SHUFFLE_SCOPES, shuffle_order, timestamp_gaps
from recsys_lite.data.sequences import next_item_examples, recent_items, sequence_windows, user_sequences
from recsys_lite.data.splits import LeaveOneOut, canonical_splits, leave_one_out, seen_mask

__all__ = [
    "DataIntegrityError", "SyntheticDataWarning", "MovieLens", "Split", "LeaveOneOut", "GENRES", "SPLIT_NAMES",
    "load_movielens", "canonical_splits", "leave_one_out", "user_sequences", "seen_mask", "minibatches",
    "cache_dir", "locate_movielens", "content_features", "recent_items", "next_item_examples", "sequence_windows",
    "timestamp_gaps", "shuffle_order", "SHUFFLE_SCOPES",
]
