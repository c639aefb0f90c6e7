"""Near-duplicate clustering: syndicated copies of one article become one story.

Each article body is reduced to the set of its word 5-shingles (lower-cased runs of letters and digits of
any script), summarised by a MinHash signature of NUM_PERM 32-bit values (one-permutation MinHash with
densification, see `signatures`). The share of equal positions in two signatures estimates the Jaccard
similarity of the shingle sets. Candidate pairs come from LSH banding (BANDS bands of ROWS values: two
articles are candidates when any band is identical), and a candidate joins the story of its most similar
earlier article when the estimated Jaccard is at least JACCARD_THRESHOLD (0.5).

Why these numbers: agency copy re-published with a new headline, a dateline or a dropped last paragraph
keeps Jaccard >= 0.7 (measured in tests/test_loader.py), while two independently written reports of the
same event share almost no 5-word sequences (Jaccard < 0.1). 16 bands x 4 rows put the LSH S-curve's
midpoint at (1/16)^(1/4) = 0.5: a pair at J = 0.7 becomes a candidate with probability 0.99, at J = 0.2
with probability 0.03. Signatures and band keys of every text version are persisted (article_minhash,
minhash_bands) so that later loads cluster against everything already stored. Changing a hashing constant must change SCHEME;
rows of another scheme are ignored (never compared).

Hashing is deterministic across processes and machines (fixed polynomial word hashes and seeds), never
Python's salted hash(). Everything runs on numpy arrays: no Python object per word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np

from peacewatch.warehouse.db import run

SHINGLE_WORDS = 5
NUM_PERM = 64
BANDS = 16
ROWS = NUM_PERM // BANDS
JACCARD_THRESHOLD = 0.5
SEED = 20250215
MIN_WORDS = 20  # shorter texts (paywall stubs, video captions) are alike by accident: never clustered
MAX_RUN_CANDIDATES = 32  # per band: candidates taken from one LSH bucket of the batch
SCHEME = f"w{SHINGLE_WORDS}-p{NUM_PERM}-b{BANDS}-s{SEED}"

_EMPTY = np.uint32(0xFFFFFFFF)

_rng = np.random.default_rng(SEED)
# Position multipliers combine SHINGLE_WORDS word hashes into one order-sensitive 64-bit shingle hash.
_SHINGLE_MUL = _rng.integers(1, 2**63, size=SHINGLE_WORDS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_BAND_MUL = _rng.integers(1, 2**63, size=ROWS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_DENSIFY_STEP = np.uint32(0x9E3779B1)  # golden-ratio offset per rotation step (Shrivastava & Li 2014)
_BIN_BITS = int(NUM_PERM).bit_length() - 1
assert 1 << _BIN_BITS == NUM_PERM, "NUM_PERM must be a power of two"


_TOKEN_BASE = np.uint64(0x100000001B3)  # odd, so it has an inverse modulo 2^64
_TOKEN_BASE_INV = np.uint64(pow(0x100000001B3, -1, 1 << 64))
_CHUNK_BYTES = 1 << 20  # texts are tokenised in ~1 MB slices: the uint64 temporaries stay small and reused
_powers: tuple[np.ndarray, np.ndarray] | None = None


def _power_tables() -> tuple[np.ndarray, np.ndarray]:
    """B^j and B^-j modulo 2^64 for every byte offset j of a chunk (computed once per process)."""
    global _powers
    if _powers is None:
        power = np.full(_CHUNK_BYTES + 1, _TOKEN_BASE, dtype=np.uint64)
        inverse = np.full(_CHUNK_BYTES + 1, _TOKEN_BASE_INV, dtype=np.uint64)
        power[0] = inverse[0] = 1
        np.multiply.accumulate(power, out=power)
        np.multiply.accumulate(inverse, out=inverse)
        _powers = power, inverse
    return _powers


def _fmix64(z: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: spreads every input bit over the whole word (in place)."""
    z ^= z >> np.uint64(33)
    z *= np.uint64(0xFF51AFD7ED558CCD)
    z ^= z >> np.uint64(33)
    z *= np.uint64(0xC4CEB9FE1A85EC53)
    z ^= z >> np.uint64(33)
    return z


def _word_bytes(data: np.ndarray) -> np.ndarray:
    """Mask of bytes that belong to words: ASCII letters and digits and any non-ASCII character except
    the common Unicode punctuation (U+2000-U+206F dashes and quotes, NBSP, guillemets)."""
    word = ((data >= 48) & (data <= 57)) | ((data >= 97) & (data <= 122)) | ((data >= 65) & (data <= 90))
    word |= data >= 128
    lead = np.nonzero(data[:-2] == 0xE2)[0]
    lead = lead[(data[lead + 1] == 0x80) | (data[lead + 1] == 0x81)]
    for k in range(3):
        word[lead + k] = False
    lead = np.nonzero(data[:-1] == 0xC2)[0]
    lead = lead[(data[lead + 1] == 0xA0) | (data[lead + 1] == 0xAB) | (data[lead + 1] == 0xBB)]
    word[lead] = False
    word[lead + 1] = False
    return word


def _token_hashes(encoded: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the words of each text (in order) and the index of the text each came from.

    Tokenising in numpy instead of `re.findall` avoids one Python object per word, which dominated the
    load time (a 400-word article is ~2 us here instead of ~150 us).
    """
    hashes: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    power, inverse = _power_tables()
    first = 0
    while first < len(encoded):
        last, size = first, 0
        while last < len(encoded) and size + len(encoded[last]) + 1 <= _CHUNK_BYTES:
            size += len(encoded[last]) + 1
            last += 1
        if last == first:  # one text longer than a chunk: cut it (its tail is rarely decisive)
            encoded = [*encoded[:first], encoded[first][: _CHUNK_BYTES - 1], *encoded[first + 1 :]]
            continue
        data = np.frombuffer(b"\0".join(encoded[first:last]) + b"\0", dtype=np.uint8)
        starts_of_text = np.concatenate(([0], np.cumsum([len(e) + 1 for e in encoded[first:last]])[:-1]))
        word = _word_bytes(data)
        edge = np.diff(word.astype(np.int8), prepend=np.int8(0))
        tok_start = np.nonzero(edge == 1)[0]
        tok_end = np.nonzero(edge == -1)[0]  # the text is \0-terminated, so every word ends
        # Polynomial hash of each word from prefix sums: sum(b_j * B^j) over the word, times B^-start.
        prefix = np.zeros(len(data) + 1, dtype=np.uint64)
        np.cumsum(data * power[: len(data)], out=prefix[1:])
        token = (prefix[tok_end] - prefix[tok_start]) * inverse[tok_start]
        token += (tok_end - tok_start).astype(np.uint64)  # length, so that "a" and "a\0" differ
        hashes.append(_fmix64(token))
        # Tokens are in text order: text i owns those starting in [start_i, start_i+1).
        per_text = np.diff(np.searchsorted(tok_start, starts_of_text), append=len(tok_start))
        owners.append(np.repeat(np.arange(first, last), per_text))
        first = last
    return np.concatenate(hashes), np.concatenate(owners)


def signatures(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures (len(texts) x NUM_PERM, uint32) and a mask of the texts that have one.

    One-permutation MinHash with rotation densification (Li, Owen & Zhang 2012; Shrivastava & Li 2014):
    each shingle is hashed once, the top bits pick one of NUM_PERM bins and each bin keeps its minimum;
    empty bins borrow from the next non-empty bin. Equal positions estimate Jaccard like classic
    k-permutation MinHash, at 1/NUM_PERM of the hashing cost (which is what makes >= 5k articles/s).
    Texts with fewer than MIN_WORDS words get no signature (mask False) and never cluster with anything.
    """
    n = len(texts)
    sigs = np.full((n, NUM_PERM), _EMPTY, dtype=np.uint32)
    has_words = np.zeros(n, dtype=bool)
    if n == 0:
        return sigs, has_words
    tokens, owner = _token_hashes([(t or "").lower().encode("utf-8") for t in texts])
    counts = np.bincount(owner, minlength=n)
    has_words[:] = counts >= MIN_WORDS
    keep = has_words[owner]
    tokens, owner = tokens[keep], owner[keep]
    if not len(tokens):
        return sigs, has_words

    # Shingle i covers tokens[i : i + SHINGLE_WORDS]; keep those inside one text.
    span = len(tokens) - (SHINGLE_WORDS - 1)
    combined = tokens[:span] * _SHINGLE_MUL[0]
    for k in range(1, SHINGLE_WORDS):
        combined += tokens[k : k + span] * _SHINGLE_MUL[k]
    inside = owner[:span] == owner[SHINGLE_WORDS - 1 :]
    z = _fmix64(combined[inside])
    doc = owner[:span][inside]

    # Per (text, bin) minimum of the low 32 bits: the top bits pick the bin. np.minimum.at into the
    # signature matrix (initialised to _EMPTY) is 5x faster than sorting (text | bin | value) keys.
    slot = doc * NUM_PERM + (z >> np.uint64(64 - _BIN_BITS)).astype(np.int64)
    np.minimum.at(sigs.reshape(-1), slot, (z & np.uint64(0xFFFFFFFF)).astype(np.uint32))

    # Densify: an empty bin takes the value of the nearest non-empty bin to its right, offset by the
    # distance, so two texts agree on a borrowed bin only when they agree on the bin it came from.
    sparse = np.nonzero(has_words & (sigs == _EMPTY).any(axis=1))[0]
    if len(sparse):
        original = sigs[sparse]
        filled = original.copy()
        for distance in range(1, NUM_PERM):
            empty = filled == _EMPTY
            if not empty.any():
                break
            donor = np.roll(original, -distance, axis=1)
            take = empty & (donor != _EMPTY)
            filled[take] = donor[take] + np.uint32((distance * int(_DENSIFY_STEP)) & 0xFFFFFFFF)
        sigs[sparse] = filled
    return sigs, has_words


def band_keys(sigs: np.ndarray) -> np.ndarray:
    """One 64-bit key per LSH band (rows x BANDS, uint64): equal keys make a candidate pair."""
    grouped = sigs.reshape(len(sigs), BANDS, ROWS).astype(np.uint64)
    keys = np.zeros((len(sigs), BANDS), dtype=np.uint64)
    for r in range(ROWS):
        keys += grouped[:, :, r] * _BAND_MUL[r]
    return keys ^ (keys >> np.uint64(29))


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity between signature a (NUM_PERM,) and each row of b (k x NUM_PERM)."""
    return (np.atleast_2d(b) == a).mean(axis=1)


def jaccard(text_a: str, text_b: str) -> float:
    """Exact Jaccard similarity of two texts' word 5-shingle sets, tokenised exactly like signatures()."""

    def shingle_set(text: str) -> set[tuple[int, ...]]:
        tokens, _ = _token_hashes([text.lower().encode("utf-8")])
        words = [int(t) for t in tokens]
        if len(words) < SHINGLE_WORDS:
            return {tuple(words)} if words else set()
        return {tuple(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}

    a, b = shingle_set(text_a), shingle_set(text_b)
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass
class Clustering:
    """Story ids and signatures of one batch of articles, ready to be written by the loader."""

    story_ids: list[str]
    signatures: np.ndarray
    has_signature: np.ndarray
    new_story_ids: set[str] = field(default_factory=set)
    # Articles whose signature equals that of the earlier article whose story they joined: storing their
    # band keys would only lengthen buckets (a boilerplate body stored thousands of times) and never find
    # a candidate the earlier article does not.
    redundant: np.ndarray | None = None


def cluster(
    con: duckdb.DuckDBPyConnection,
    article_ids: Sequence[str],
    sigs: np.ndarray,
    has_sig: np.ndarray,
    fixed_story_ids: Sequence[str | None],
) -> Clustering:
    """Assign a story to each article of a batch (given in publication order), from the signatures
    (and mask) that `signatures()` computed for their bodies.

    An article with a `fixed_story_id` (a stored article whose text changed) keeps its story but still
    serves as a match for later articles. Any other article joins the story of its most similar earlier
    article, stored or earlier in this batch, when the estimated Jaccard is >= JACCARD_THRESHOLD;
    otherwise it founds a story whose id is its own article_id.
    """
    n = len(article_ids)
    keys = band_keys(sigs)
    signed = np.nonzero(has_sig)[0]
    pair_i: list[np.ndarray] = []  # batch index of the later article
    pair_j: list[np.ndarray] = []  # its candidate: stored article s -> s, batch article b -> n_stored + b

    # Stored candidates: one join of the batch's band keys against minhash_bands.
    stored_story: list[str] = []
    blobs: list[bytes] = []
    if len(signed):
        con.register("batch_band_keys", {
            "idx": np.repeat(signed.astype(np.int32), BANDS),
            "band": np.tile(np.arange(BANDS, dtype=np.int16), len(signed)),
            "bucket": keys[signed].ravel(),
        })
        try:
            rows = run(con, "minhash_candidates", {"scheme": SCHEME}).fetchall()
        finally:
            con.unregister("batch_band_keys")
        position: dict[tuple[str, int], int] = {}
        found_i, found_j = [], []
        for idx, article_id, version, signature, story_id in rows:
            key = (article_id, version)  # every stored text version of an article can be matched
            if key not in position:
                position[key] = len(stored_story)
                stored_story.append(story_id)
                blobs.append(bytes(signature))
            found_i.append(idx)
            found_j.append(position[key])
        pair_i.append(np.asarray(found_i, dtype=np.int64))
        pair_j.append(np.asarray(found_j, dtype=np.int64))
    n_stored = len(stored_story)
    candidates = np.vstack([np.frombuffer(b"".join(blobs), dtype="<u4").reshape(-1, NUM_PERM), sigs])

    # Candidates within the batch: runs of equal (band, key) after one sort; every member of a run is a
    # candidate of each later member.
    if len(signed) > 1:
        flat_band = np.tile(np.arange(BANDS), len(signed))
        flat_key = keys[signed].ravel()
        flat_idx = np.repeat(signed, BANDS)
        order = np.lexsort((flat_idx, flat_key, flat_band))
        flat_band, flat_key, flat_idx = flat_band[order], flat_key[order], flat_idx[order]
        same = (flat_key[1:] == flat_key[:-1]) & (flat_band[1:] == flat_band[:-1])
        starts = np.nonzero(np.concatenate(([True], ~same)))[0]
        ends = np.concatenate((starts[1:], [len(flat_idx)]))
        shared = ends - starts > 1
        later, earlier = [], []
        for start, end in zip(starts[shared].tolist(), ends[shared].tolist()):
            members = flat_idx[start:end].tolist()
            for k in range(1, len(members)):
                # The nearest MAX_RUN_CANDIDATES earlier members suffice: a pathological run (hundreds of
                # identical texts) must not become a quadratic number of pairs.
                window = members[max(0, k - MAX_RUN_CANDIDATES) : k]
                later.extend([members[k]] * len(window))
                earlier.extend(window)
        pair_i.append(np.asarray(later, dtype=np.int64))
        pair_j.append(np.asarray(earlier, dtype=np.int64) + n_stored)

    story_ids: list[str] = [fixed or article_id for fixed, article_id in zip(fixed_story_ids, article_ids)]
    new_stories = {article_ids[i] for i in range(n) if not fixed_story_ids[i]}
    redundant = np.zeros(n, dtype=bool)
    if pair_i:
        pi, pj = np.concatenate(pair_i), np.concatenate(pair_j)
        unique = np.unique(pi * (n_stored + n) + pj)
        pi, pj = unique // (n_stored + n), unique % (n_stored + n)
        sims = (candidates[pj] == sigs[pi]).mean(axis=1)
        keep = sims >= JACCARD_THRESHOLD
        pi, pj, sims = pi[keep], pj[keep], sims[keep]
        # Best candidate first per article; on equal similarity a stored (older) article, then the earliest.
        order = np.lexsort((pj, -sims, pi))
        pi, pj, best = pi[order].tolist(), pj[order].tolist(), (sims[order] == 1.0).tolist()
        previous = -1
        for i, j, identical in zip(pi, pj, best):
            if i == previous:
                continue
            previous = i
            if fixed_story_ids[i]:
                continue  # an updated article never changes story
            story_ids[i] = stored_story[j] if j < n_stored else story_ids[j - n_stored]
            new_stories.discard(article_ids[i])
            redundant[i] = identical
    return Clustering(story_ids, sigs, has_sig, new_stories, redundant)
