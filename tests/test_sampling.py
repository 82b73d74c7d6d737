"""NegativeSampler and bpr_loss(negatives=...): frequencies against count^exponent within binomial
standard errors, no seen pair when an unseen one has mass, and the uniform path bit for bit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from recsys_lite import models

N_USERS, N_ITEMS = 6, 12


def _interactions(seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(u, i) for u in range(N_USERS) for i in range(N_ITEMS) if rng.random() < 0.15 + 0.05 * i]
    rows += [(0, 11), (0, 11), (5, 0)]  # a repeated pair counts once
    frame = pd.DataFrame(rows, columns=["user", "item"])
    return frame[frame.item != 3]  # an item nobody has: weight 0


def _within_binomial(draws, probabilities, n_sigma=5.0):
    """Every item's frequency within n_sigma binomial standard errors √(p(1 − p)/N) of p."""
    n = draws.size
    freq = np.bincount(np.asarray(draws).ravel(), minlength=len(probabilities)) / n
    se = np.sqrt(probabilities * (1 - probabilities) / n)
    assert np.all(np.abs(freq - probabilities) <= n_sigma * se + 1e-12), (freq, probabilities)


@pytest.mark.parametrize("exponent", [1.0, 0.5, 0.0])
def test_popularity_frequencies_match_count_to_the_exponent(exponent):
    frame = _interactions()
    counts = np.bincount(frame.drop_duplicates().item, minlength=N_ITEMS).astype(float)
    expected = np.where(counts > 0, counts ** exponent, 0.0)
    expected /= expected.sum()
    sampler = models.NegativeSampler.popularity(frame, N_USERS, N_ITEMS, exponent=exponent, skip_seen=False)
    assert np.allclose(sampler.probabilities(), expected, rtol=1e-6)
    draws = jax.jit(sampler.sample)(jax.random.key(1), jnp.zeros(200_000, jnp.int32))
    assert draws.dtype.kind == "i" and draws.shape == (200_000,)
    _within_binomial(draws, expected)
    assert not np.any(np.asarray(draws) == 3)  # zero weight, never drawn


def test_skip_seen_never_draws_a_seen_pair_and_follows_the_masked_weights():
    frame = pd.concat([_interactions(), pd.DataFrame({"user": [4] * N_ITEMS, "item": range(N_ITEMS)})])
    sampler = models.NegativeSampler.popularity(frame, N_USERS, N_ITEMS, exponent=1.0, skip_seen=True)
    seen = np.zeros((N_USERS, N_ITEMS), bool)
    seen[frame.user, frame.item] = True
    weights = np.asarray(sampler.weights, float)
    users = jnp.repeat(jnp.arange(N_USERS), 40_000).reshape(N_USERS, 40_000)  # a 2-D batch of users
    draws = np.asarray(jax.jit(sampler.sample)(jax.random.key(2), users))
    assert draws.shape == (N_USERS, 40_000)
    for u in range(N_USERS):
        masked = np.where(seen[u], 0.0, weights)
        if masked.sum() > 0:
            assert not seen[u, draws[u]].any(), u
            _within_binomial(draws[u], masked / masked.sum())
        else:  # user 4 has seen everything: the unmasked distribution
            assert u == 4
            _within_binomial(draws[u], weights / weights.sum())


def test_skip_seen_is_exact_when_most_redraws_fail():
    """A user who has seen 90% of the mass: after the redraws about 0.9^16 ≈ 19% of the pairs are still seen and
    take the exact masked draw, a few rows per batch (the cheap path)."""
    rows = [(0, 0)] * 1 + [(u, 0) for u in range(1, 10)] + [(u, 1) for u in range(1, 10)] + [(9, 2), (9, 3)]
    frame = pd.DataFrame(rows, columns=["user", "item"])  # counts: item 0 → 10, 1 → 9, 2 → 1, 3 → 1
    sampler = models.NegativeSampler.popularity(frame, 10, 4, exponent=1.0, skip_seen=True)
    users = jnp.zeros(100, jnp.int32)  # user 0 has seen item 0: mass 10/21
    user = jnp.full(100, 1, jnp.int32)  # user 1 has seen items 0, 1: mass 19/21 ≈ 0.9
    draw = jax.jit(jax.vmap(sampler.sample, in_axes=(0, None)))
    keys = jax.random.split(jax.random.key(4), 400)
    for who, masked in ((users, np.array([0, 9, 1, 1.0])), (user, np.array([0, 0, 1, 1.0]))):
        draws = np.asarray(draw(keys, who))
        assert not np.isin(draws, np.flatnonzero(masked == 0)).any()
        _within_binomial(draws, masked / masked.sum())


def test_uniform_sampler_and_bpr_loss_keep_the_old_draw_bit_for_bit():
    key = jax.random.key(3)
    users = jnp.array([0, 1, 2, 3, 4, 5, 0, 1])
    sampler = models.NegativeSampler.uniform(N_ITEMS)
    assert np.array_equal(sampler.sample(key, users), jax.random.randint(key, users.shape, 0, N_ITEMS))
    mf = models.BiasedMF.init(jax.random.key(0), N_USERS, N_ITEMS, 4)
    mf = jax.tree.map(lambda a: a + 0.1 * jnp.arange(a.size, dtype=a.dtype).reshape(a.shape) / a.size, mf)
    batch = {"user": users, "item": jnp.array([1, 2, 3, 4, 5, 6, 7, 8])}
    old = models.bpr_loss(mf, batch, key, reg=0.1)
    assert np.array_equal(old, models.bpr_loss(mf, batch, key, reg=0.1, negatives=sampler))
    # and the old formula, written out: j = randint(key), −mean log σ(s_ui − s_uj) + λ/2 mean(‖p‖² + ‖q_i‖² + ‖q_j‖²)
    j = jax.random.randint(key, (8,), 0, N_ITEMS)
    p, qi, qj = mf.user_embedding.table[users], mf.item_embedding.table[batch["item"]], mf.item_embedding.table[j]
    diff = np.sum(p * (qi - qj), -1) + mf.item_bias[batch["item"]] - mf.item_bias[j]
    ref = np.mean(np.log1p(np.exp(-np.asarray(diff, float)))) + 0.05 * np.mean(
        np.sum(p ** 2, -1) + np.sum(qi ** 2, -1) + np.sum(qj ** 2, -1))
    assert abs(float(old) - ref) / abs(ref) < 1e-5
    # a popularity sampler changes the negatives, under jit and grad too
    pop = models.NegativeSampler.popularity(_interactions(), N_USERS, N_ITEMS)
    loss = jax.jit(lambda m, b, k: models.bpr_loss(m, b, k, negatives=pop))
    assert np.isfinite(loss(mf, batch, key))
    grads = jax.grad(lambda m: models.bpr_loss(m, batch, key, negatives=pop))(mf)
    assert np.all(np.isfinite(grads.item_embedding.table))


SAMPLER = models.NegativeSampler.popularity(_interactions(), N_USERS, N_ITEMS)
MF = models.BiasedMF.init(jax.random.key(0), N_USERS, N_ITEMS, 2)
BATCH = {"user": jnp.array([0, 1]), "item": jnp.array([2, 3])}


@pytest.mark.parametrize("call, error, words", [
    (lambda: models.NegativeSampler.uniform(0), ValueError, "`n_items` must be a positive integer; got 0"),
    (lambda: models.NegativeSampler.popularity(_interactions().values, N_USERS, N_ITEMS), TypeError,
     "`interactions` must be a pandas DataFrame"),
    (lambda: models.NegativeSampler.popularity(_interactions()[["user"]], N_USERS, N_ITEMS), ValueError,
     r"`interactions` lacks the column\(s\) \['item'\]"),
    (lambda: models.NegativeSampler.popularity(_interactions(), N_USERS, 5), ValueError,
     r"`interactions\['item'\]` holds ids out of range.*< 5"),
    (lambda: models.NegativeSampler.popularity(_interactions(), N_USERS, N_ITEMS, exponent=-0.5), ValueError,
     "`exponent` must be a finite number >= 0.*-0.5"),
    (lambda: models.NegativeSampler.popularity(_interactions(), N_USERS, N_ITEMS, exponent="1"), TypeError,
     "`exponent` must be a number"),
    (lambda: models.NegativeSampler.popularity(_interactions(), N_USERS, N_ITEMS, skip_seen=1), TypeError,
     "`skip_seen` must be True or False"),
    (lambda: SAMPLER.sample(None, jnp.array([0])), TypeError, "`key` must be a PRNG key"),
    (lambda: SAMPLER.sample(jax.random.key(0), jnp.array([N_USERS])), ValueError,
     "`users` holds ids out of range"),
    (lambda: SAMPLER.sample(jax.random.key(0), jnp.array([0.5])), TypeError, "`users` must hold integer ids"),
    (lambda: models.bpr_loss(MF, BATCH, jax.random.key(0), negatives="popularity"), TypeError,
     "`negatives` must be None or a NegativeSampler.*str 'popularity'"),
    (lambda: models.bpr_loss(MF, BATCH, jax.random.key(0), negatives=models.NegativeSampler.uniform(7)), ValueError,
     "`negatives` draws from 7 items; the model has 12"),
    (lambda: models.bpr_loss(models.BiasedMF.init(jax.random.key(0), 9, N_ITEMS, 2), BATCH, jax.random.key(0),
                             negatives=SAMPLER), ValueError, "`negatives` knows 6 users' seen items; the model has 9"),
])
def test_sampler_refuses_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()
