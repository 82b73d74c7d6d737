"""The loader, its checks and fallback, and the book's splits."""

from __future__ import annotations

import shutil
import zipfile

import jax
import numpy as np
import pandas as pd
import pytest

from recsys_lite import data, synthetic

# ---------------------------------------------------------------- real data

def test_sizes(ml100k):
    assert (ml100k.n_users, ml100k.n_items, len(ml100k.ratings)) == (943, 1682, 100_000)
    assert not ml100k.synthetic
    r = ml100k.ratings
    assert r["user"].min() == 0 and r["user"].max() == 942
    assert r["item"].min() == 0 and r["item"].max() == 1681
    assert sorted(r["rating"].unique()) == [1, 2, 3, 4, 5]
    assert np.bincount(r["rating"])[1:].tolist() == [6110, 11370, 27145, 34174, 21201]


def test_u1_split_sizes(ml100k):
    train, test = ml100k.split("u1")
    assert (len(train), len(test)) == (80_000, 20_000)
    for name in data.SPLIT_NAMES:
        train, test = ml100k.split(name)
        assert len(train) + len(test) == 100_000


def test_canonical_splits_rebuild_the_official_files(ml100k):
    """Our mku.sh re-implementation gives the files GroupLens ships, row for row."""
    rebuilt = data.canonical_splits(ml100k.ratings)
    for name in data.SPLIT_NAMES:
        for ours, theirs in zip(rebuilt[name], ml100k.splits[name]):
            pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs.reset_index(drop=True))


def test_latin1_titles_and_metadata(ml100k):
    titles = ml100k.items["title"]
    assert "Misérables, Les (1995)" in set(titles)
    assert titles.iloc[0] == "Toy Story (1995)"
    assert ml100k.items.loc[0, "year"] == 1995
    assert ml100k.genres[0] == "unknown" and len(ml100k.genres) == 19
    assert ml100k.items.loc[0, ["Animation", "Children's", "Comedy"]].all()
    assert ml100k.users.loc[0].to_dict() == {"age": 24, "gender": "M", "occupation": "technician", "zip": "85711"}


def _zip_of(folder, target):
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f"ml-100k/{f.name}")
    return target


def test_zip_and_folder_load_the_same(ml100k_root, tmp_path, ml100k):
    _zip_of(ml100k_root / "ml-100k", tmp_path / "ml-100k.zip")
    from_zip = data.load_movielens("ml-100k", data_dir=tmp_path)
    assert "ml-100k.zip" in from_zip.source
    pd.testing.assert_frame_equal(from_zip.ratings, ml100k.ratings)
    pd.testing.assert_frame_equal(from_zip.items, ml100k.items)


def test_environment_variable_is_used(ml100k_root, monkeypatch):
    monkeypatch.setenv("RECSYS_LITE_DATA", str(ml100k_root))
    assert "RECSYS_LITE_DATA" in data.load_movielens().source


def test_cache_is_used(ml100k_root, monkeypatch, tmp_path):
    shutil.copytree(ml100k_root / "ml-100k", tmp_path / "ml-100k")
    monkeypatch.delenv("RECSYS_LITE_DATA", raising=False)
    monkeypatch.setenv("RECSYS_LITE_CACHE", str(tmp_path))
    assert "(cache)" in data.load_movielens().source


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_checksum_mismatch_names_the_file_and_the_fix(ml100k_root, tmp_path, damage):
    copy = tmp_path / "ml-100k"
    shutil.copytree(ml100k_root / "ml-100k", copy)
    path = copy / "u.item"
    path.chmod(0o644)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2] if damage == "truncate" else raw.replace(b"Toy Story", b"Toy Storm", 1))
    with pytest.raises(data.DataIntegrityError, match=r"u\.item.*SHA-256.*Fix: delete"):
        data.load_movielens(data_dir=tmp_path)


def test_corrupt_zip_is_reported(tmp_path):
    (tmp_path / "ml-100k.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(data.DataIntegrityError, match="not a readable zip"):
        data.load_movielens(data_dir=tmp_path)


def test_missing_file_in_folder(ml100k_root, tmp_path):
    copy = tmp_path / "ml-100k"
    shutil.copytree(ml100k_root / "ml-100k", copy)
    (copy / "u3.test").unlink()
    with pytest.raises(data.DataIntegrityError, match=r"u3\.test is missing"):
        data.load_movielens(data_dir=tmp_path)


def test_bad_arguments(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="`name` must be 'ml-100k'.*'ml-20m'"):
        data.load_movielens("ml-20m")
    with pytest.raises(FileNotFoundError, match="`data_dir` argument.*neither ml-100k/"):
        data.load_movielens(data_dir=tmp_path)
    monkeypatch.setenv("RECSYS_LITE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="RECSYS_LITE_DATA"):
        data.load_movielens()


def test_offline_with_nothing_cached_falls_back_loudly(monkeypatch):
    monkeypatch.delenv("RECSYS_LITE_DATA", raising=False)

    def no_network(into):
        raise ConnectionError("offline")

    monkeypatch.setattr(data.files, "download", no_network)
    expected = "SYNTHETIC DATA.*download from GroupLens failed.*RECSYS_LITE_DATA"
    with pytest.warns(data.SyntheticDataWarning, match=expected):
        ds = data.load_movielens()
    assert ds.synthetic and "synthetic" in ds.source and "SYNTHETIC" in repr(ds)
    assert (ds.n_users, ds.n_items, len(ds.ratings)) == (943, 1682, 100_000)
    # The data set, not the loader, shows the reason: an orange box wherever a notebook displays it.
    assert "download from GroupLens failed" in ds.notice
    box = ds._repr_html_()
    assert 'class="admonition warning"' in box and "Synthetic data" in box and "USING SYNTHETIC DATA" in box
    assert "&lt;SYNTHETIC stand-in ml-100k" in box


def test_movielens_displays_as_plain_text(ml100k):
    assert ml100k.notice == "" and ml100k._repr_html_() is None


def test_imports_point_one_way():
    """Each data module imports only those listed before it in data/__init__; none imports IPython."""
    import ast
    import pathlib

    package = pathlib.Path(data.__file__).parent
    order = ["dataset", "files", "splits", "synthetic", "movielens", "order", "sequences", "batching", "features"]
    assert sorted(order) == sorted(p.stem for p in package.glob("*.py") if p.stem != "__init__")
    for rank, name in enumerate(order):
        tree = ast.parse((package / f"{name}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {f"recsys_lite.data.{a.name}" for n in ast.walk(tree)
                     if isinstance(n, ast.ImportFrom) and n.module == "recsys_lite.data" for a in n.names}
        below = {f"recsys_lite.data.{m}" for m in order[:rank]}
        assert {m for m in imported if m.startswith("recsys_lite.data.")} <= below, name
        assert "recsys_lite.synthetic" not in imported and not any(m.startswith("IPython") for m in imported), name


# ---------------------------------------------------------------- synthetic

def test_synthetic_has_movielens_shape_and_is_seeded():
    a, b, c = synthetic.movielens_like(0), synthetic.movielens_like(0), synthetic.movielens_like(1)
    pd.testing.assert_frame_equal(a.ratings, b.ratings)
    assert not a.ratings.equals(c.ratings)
    r = a.ratings
    assert np.bincount(r["rating"])[1:].tolist() == [6110, 11370, 27145, 34174, 21201]
    assert r.groupby("user").size().min() >= 20
    assert not r.duplicated(["user", "item"]).any()
    popularity = np.sort(r.groupby("item").size().to_numpy())[::-1]
    assert popularity[:168].sum() > 0.3 * len(r)  # the top 10 % of items take far more than 10 %
    assert a.items[list(data.GENRES)].any(axis=1).all()
    assert set(a.truth) >= {"mu", "user_bias", "item_bias", "user_factors", "item_factors"}
    assert (len(a.split("u1").train), len(a.split("u1").test)) == (80_000, 20_000)


def test_synthetic_ratings_follow_the_truth():
    ds = synthetic.movielens_like(0)
    t, r = ds.truth, ds.ratings
    latent = t["user_bias"][r.user] + t["item_bias"][r.item] + np.einsum(
        "nk,nk->n", t["user_factors"][r.user], t["item_factors"][r.item])
    assert np.corrcoef(latent, r.rating)[0, 1] > 0.5


# ---------------------------------------------------------------- leave-one-out

def test_leave_one_out_takes_each_users_latest(ml100k, ml100k_loo):
    loo = ml100k_loo
    assert len(loo.test) == len(loo.valid) == 943
    assert loo.test["user"].tolist() == list(range(943))
    assert len(loo.train) + 2 * 943 == 100_000
    latest = ml100k.ratings.groupby("user")["timestamp"].max()
    assert (loo.test.set_index("user")["timestamp"] == latest).all()
    assert (loo.valid["timestamp"].to_numpy() <= loo.test["timestamp"].to_numpy()).all()
    train_pairs = set(zip(loo.train.user, loo.train.item))
    assert not any(pair in train_pairs for pair in zip(loo.test.user, loo.test.item))
    assert (loo.train.groupby("user")["timestamp"].max().to_numpy() <= loo.valid["timestamp"].to_numpy()).all()


def test_ties_are_broken_by_row_order_not_item_id(ml100k, ml100k_loo):
    r = ml100k.ratings
    tied = (ml100k_loo.valid["timestamp"].to_numpy() == ml100k_loo.test["timestamp"].to_numpy()).sum()
    assert tied == 415  # DESIGN.md: 415 of 943 users rated their last two items in the same second
    # Independently: the test item is the last row of u.data among the user's latest-second rows.
    last_rows = r[r["timestamp"] == r.groupby("user")["timestamp"].transform("max")]
    expected = last_rows.groupby("user")["item"].last()
    assert (ml100k_loo.test.set_index("user")["item"] == expected).all()
    by_id = data.leave_one_out(r, 943, 1682, ties="item_id")
    assert (by_id.test.set_index("user")["item"] == last_rows.groupby("user")["item"].max()).all()


def test_exclusions(ml100k_loo):
    loo = ml100k_loo
    valid_mask, test_mask = loo.exclusions("valid"), loo.exclusions("test")
    assert valid_mask.sum() == len(loo.train)
    assert test_mask.sum() == len(loo.train) + 943
    assert not test_mask[loo.test.user, loo.test.item].any()
    assert test_mask[loo.valid.user, loo.valid.item].all()
    with pytest.raises(ValueError, match="`stage` must be 'valid' or 'test'"):
        loo.exclusions("train")


def test_leave_one_out_rejects_bad_input():
    frame = pd.DataFrame({"user": [0, 0, 1, 1, 1], "item": [0, 1, 0, 1, 2], "rating": 5, "timestamp": 1})
    with pytest.raises(ValueError, match="at least 3 interactions.*user 0"):
        data.leave_one_out(frame, 2, 3)
    with pytest.raises(ValueError, match=r"ratings\['item'\].*out of range.*0 <= id < 2"):
        data.leave_one_out(frame, 2, 2)


# ---------------------------------------------------------------- sequences and batches

def test_user_sequences():
    frame = pd.DataFrame({"user": [1, 0, 1, 0, 1], "item": [5, 2, 3, 4, 1], "rating": 3,
                          "timestamp": [20, 10, 10, 10, 20]})
    items, lengths = data.user_sequences(frame, 3, 6)
    assert lengths.tolist() == [2, 3, 0]
    assert items.tolist() == [[2, 4, 6], [3, 5, 1], [6, 6, 6]]  # ties keep row order; pad = n_items
    items, lengths = data.user_sequences(frame, 3, 6, max_len=2)
    assert items.tolist() == [[2, 4], [5, 1], [6, 6]] and lengths.tolist() == [2, 2, 0]


def test_minibatches_cover_every_row_once_in_a_keyed_order():
    arrays = {"x": np.arange(10), "y": np.arange(10) * 2}
    batches = list(data.minibatches(jax.random.key(0), arrays, 4))
    assert [len(b["x"]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b["x"] for b in batches])
    assert sorted(seen) == list(range(10)) and seen.tolist() != list(range(10))
    assert all((b["y"] == 2 * b["x"]).all() for b in batches)
    again = np.concatenate([b["x"] for b in data.minibatches(jax.random.key(0), arrays, 4)])
    assert (again == seen).all()
    other = np.concatenate([b["x"] for b in data.minibatches(jax.random.key(1), arrays, 4)])
    assert (other != seen).any()
    assert [len(b[0]) for b in data.minibatches(jax.random.key(0), (np.arange(10),), 4, drop_last=True)] == [4, 4]
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer"):
        next(data.minibatches(jax.random.key(0), arrays, 0))
    with pytest.raises(ValueError, match="share their first dimension"):
        next(data.minibatches(jax.random.key(0), (np.arange(3), np.arange(4)), 2))


def test_seen_mask_checks_ids():
    mask = data.seen_mask(2, 3, [0, 1], [2, 0])
    assert mask.tolist() == [[False, False, True], [True, False, False]]
    with pytest.raises(ValueError, match=r"`items` holds ids out of range.*there are 3 items"):
        data.seen_mask(2, 3, [0], [3])


def test_offline_switch_skips_the_download(monkeypatch):
    monkeypatch.delenv("RECSYS_LITE_DATA", raising=False)
    monkeypatch.setenv("RECSYS_LITE_OFFLINE", "1")

    def must_not_download(into):
        raise AssertionError("downloaded although RECSYS_LITE_OFFLINE=1")

    monkeypatch.setattr(data.files, "download", must_not_download)
    with pytest.warns(data.SyntheticDataWarning, match="RECSYS_LITE_OFFLINE is on, which forbids downloading"):
        assert data.load_movielens().synthetic


def test_content_features(ml100k):
    user_x, item_x, user_names, item_names = data.content_features(ml100k)
    assert user_x.shape == (943, len(user_names)) and item_x.shape == (1682, len(item_names))
    assert user_x.dtype == np.float32 and np.isfinite(user_x).all() and np.isfinite(item_x).all()
    assert abs(user_x[:, 0].mean()) < 1e-5 and abs(user_x[:, 0].std() - 1) < 1e-4  # standardised age
    occupation = user_x[:, 2:]
    assert (occupation.sum(axis=1) == 1).all()  # one-hot
    assert user_names[2 + int(occupation[0].argmax())] == "occupation=technician"
    toy_story = dict(zip(item_names, item_x[0]))
    assert toy_story["Animation"] == toy_story["Comedy"] == 1 and toy_story["Drama"] == 0


def test_recent_items_and_next_item_examples():
    """Left-aligned, padded on the right with the pad id, lengths beside, as user_sequences pads."""
    items = np.array([[3, 1, 4, 9], [2, 9, 9, 9], [9, 9, 9, 9]], np.int32)  # pad id 9
    lengths = np.array([3, 1, 0])
    history, length = data.recent_items(items, lengths, 2, pad_id=9)
    assert history.tolist() == [[1, 4], [2, 9], [9, 9]] and length.tolist() == [2, 1, 0]
    ex = data.next_item_examples(items, lengths, 2, pad_id=9)
    assert list(ex) == ["user", "history", "length", "item"]
    assert ex["user"].tolist() == [0, 0]
    assert ex["history"].tolist() == [[3, 9], [3, 1]]
    assert ex["length"].tolist() == [1, 2]
    assert ex["item"].tolist() == [1, 4]


def test_sequence_examples_match_a_loop():
    """The vectorised windows against the plain per-user loop, on random sequences."""
    rng = np.random.default_rng(0)
    pad, window = 50, 4
    lengths = rng.integers(0, 9, 30)
    items = np.where(np.arange(8) < lengths[:, None], rng.integers(0, pad, (30, 8)), pad)
    history, length = data.recent_items(items, lengths, window, pad_id=pad)
    ex = data.next_item_examples(items, lengths, window, pad_id=pad)
    k = 0
    for u, n in enumerate(lengths):
        last = list(items[u, max(0, n - window):n])
        assert history[u].tolist() == last + [pad] * (window - len(last)) and length[u] == len(last)
        for t in range(1, n):
            before = list(items[u, max(0, t - window):t])
            assert (ex["user"][k], ex["item"][k], ex["length"][k]) == (u, items[u, t], len(before))
            assert ex["history"][k].tolist() == before + [pad] * (window - len(before))
            k += 1
    assert k == len(ex["user"]) == len(ex["history"]) == len(ex["length"]) == len(ex["item"])
    # a window as long as the sequences gives back user_sequences' own rows
    np.testing.assert_array_equal(data.recent_items(items, lengths, 8, pad_id=pad)[0], items)


def test_sequence_windows_by_hand():
    """Lengths 7 and 2, T = 3: user 0 → [3..6], [0..3]; user 1 → [10, 11]; each item but the first a target once."""
    items = np.array([[0, 1, 2, 3, 4, 5, 6], [10, 11, 99, 99, 99, 99, 99]], np.int32)
    out = data.sequence_windows(items, np.array([7, 2]), 3, pad_id=99)
    np.testing.assert_array_equal(out["history"], [[3, 4, 5, 6], [0, 1, 2, 3], [10, 11, 99, 99]])
    np.testing.assert_array_equal(out["length"], [4, 4, 2])
    assert int((out["length"] - 1).sum()) == (7 - 1) + (2 - 1)
