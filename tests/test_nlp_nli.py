"""The `nli` backend, run on tiny NLI models built here (no download, a few seconds in all).

Two kinds of model: a randomly initialised BERT (for the contract and batching), and a hand-wired one whose
"entailment" logit wins exactly when one marker token is in the input (for the label mapping): its
attention averages all tokens, one hidden unit carries "the marker was seen", and the classifier reads it.
"""

from __future__ import annotations

import re

import pytest
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

from peacewatch.config import ConfigError
from peacewatch.contracts import AnalyzeResult
from peacewatch.nlp.codebook import load_codebook
from peacewatch.nlp.nli import (
    STANCE_TEMPLATES,
    TOPIC_TEMPLATE,
    NLIAnalyzer,
    NLIModelError,
    Thresholds,
    load_nli_analyzer,
)
from peacewatch.nlp.text import split_sentences

TEXT = (
    "Kremlin spokesman Dmitry Peskov said Ukraine must never join NATO. "
    "Zelensky said Kyiv will never recognise Crimea as Russian territory.\n\n"
    "The weather in Geneva was mild on Tuesday. "
    "Turkish Foreign Minister Hakan Fidan said Ankara backs a 30-day ceasefire. "
    "Macron said European peacekeepers could deploy after a truce, and Paris will keep sending air defence."
)
MNLI = {0: "contradiction", 1: "neutral", 2: "entailment"}
ZERO = Thresholds(stance=0.0, neutral=0.0, margin=0.0, topic=0.0)
HIDDEN = 32


def words(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text.lower())


@pytest.fixture(scope="module")
def codebook():
    return load_codebook()


@pytest.fixture(scope="module")
def vocab(codebook):
    """Word-level vocabulary from the codebook, the hypothesis templates and the test text."""
    texts = [TEXT, TOPIC_TEMPLATE, *STANCE_TEMPLATES.values(), *codebook.topics.values()]
    for position in codebook.positions.values():
        texts += [position.proposition, position.description, *position.keywords]
    for actor in codebook.actors.values():
        texts += [actor.name, *actor.aliases]
    tokens = sorted({w for text in texts for w in words(text)})
    return {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *tokens])}


def save_tokenizer(path, vocab):
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        model_max_length=128,
    ).save_pretrained(path)


def tiny_model(vocab, id2label, seed=0):
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=128, num_labels=len(id2label), id2label=id2label,
        label2id={label: i for i, label in id2label.items()}, initializer_range=0.5,
    )
    return BertForSequenceClassification(config).eval()


def wire_marker(model, marker_id, entailment, contradiction):
    """Make the logit at index `entailment` win iff token `marker_id` is in the input, else `contradiction`."""
    eye = torch.eye(HIDDEN)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        # Every token is a zero-mean +-1 pattern; only the marker has a non-zero unit 0 (and -1 in unit 1).
        pattern = torch.tensor([0.0, 0.0] + [1.0, -1.0] * ((HIDDEN - 2) // 2))
        embeddings = model.bert.embeddings
        embeddings.word_embeddings.weight[:] = pattern
        embeddings.word_embeddings.weight[marker_id, :2] = torch.tensor([1.0, -1.0])
        embeddings.LayerNorm.weight.fill_(1.0)
        for layer in model.bert.encoder.layer:
            # Zero queries and keys: uniform attention over the real (unpadded) tokens, i.e. their mean.
            layer.attention.self.value.weight.copy_(eye)
            layer.attention.output.dense.weight.copy_(eye)
            layer.attention.output.LayerNorm.weight.fill_(1.0)
            layer.output.LayerNorm.weight.fill_(1.0)  # the feed-forward block adds nothing
        model.bert.pooler.dense.weight[0, 0] = 1000.0  # tanh(...) ~ 1 with the marker, 0 without
        model.classifier.weight[entailment, 0] = 12.0
        model.classifier.bias[contradiction] = 2.0
    return model


def save_model(path, vocab, model):
    save_tokenizer(path, vocab)
    model.save_pretrained(path)
    return path


def index_of(id2label, name):
    return next(i for i, label in id2label.items() if label.lower() == name)


def marker_for(hypothesis: str, others: list[str], avoid: str) -> str:
    """A word of `hypothesis` found in no other hypothesis and not in `avoid`."""
    taken = {w for text in [*others, avoid] for w in words(text)}
    unique = sorted(w for w in words(hypothesis) if w.isalpha() and w not in taken)
    assert unique, f"no marker word in {hypothesis!r}"
    return unique[0]


@pytest.fixture
def random_model(tmp_path, vocab):
    model = tiny_model(vocab, {0: "entailment", 1: "neutral", 2: "contradiction"})
    return save_model(tmp_path / "tiny-nli", vocab, model)


def test_loads_a_local_model_and_answers_the_contract(random_model, codebook):
    analyzer = NLIAnalyzer(codebook, random_model, thresholds=ZERO, batch_size=4)
    assert analyzer.model_id == "nli"
    assert analyzer.model_version.startswith("tiny-nli-")
    topics, claims = analyzer.analyze(TEXT)
    AnalyzeResult(id="x", topics=topics, claims=claims)  # validates against the contract
    assert topics == list(codebook.topics)  # a zero threshold keeps every topic
    sentences = split_sentences(TEXT)
    expected = {(c.actor, c.position) for c in analyzer.candidates(sentences)}
    assert {("russia", "ukraine_nato_ban"), ("ukraine", "recognize_annexation"), ("other", "ceasefire_first"),
            ("europe", "no_foreign_troops"), ("europe", "military_aid")} <= expected
    assert sorted((c.actor, c.position) for c in claims) == sorted(expected)  # one claim per actor x position
    for claim in claims:
        assert claim.actor in codebook.actors and claim.position in codebook.positions
        assert claim.stance in codebook.stances and 0.0 <= claim.confidence <= 1.0
        assert claim.evidence in sentences
    assert analyzer.analyze("") == ([], [])
    assert analyzer.analyze("The weather in Geneva was mild on Tuesday.")[1] == []


def test_candidates_use_holder_attribution_and_the_prefilter(random_model, codebook):
    analyzer = NLIAnalyzer(codebook, random_model)
    found = analyzer.candidates(split_sentences(TEXT))
    by_sentence = {c.sentence: c for c in found}
    assert by_sentence["Zelensky said Kyiv will never recognise Crimea as Russian territory."].actor == "ukraine"
    assert all("weather" not in c.sentence for c in found)
    # The catch-all actor is named as the text names it, the others by their codebook name.
    fidan = [c for c in found if c.actor == "other"]
    assert fidan and all(c.subject == "Hakan Fidan" for c in fidan)
    assert {c.subject for c in found if c.actor == "russia"} == {"Russia"}
    # Without the prefilter every position is asked about.
    everything = NLIAnalyzer(codebook, random_model, prefilter=False).candidates(split_sentences(TEXT))
    assert len(everything) == 4 * len(codebook.positions) > len(found)


@pytest.mark.parametrize("stance", ["favor", "against", "neutral"])
@pytest.mark.parametrize(
    "id2label",
    [
        {0: "ENTAILMENT", 1: "Neutral", 2: "Contradiction"},
        MNLI,
        {0: "neutral", 1: "Entailment", 2: "CONTRADICTION"},
    ],
    ids=["e-n-c", "c-n-e", "n-e-c"],
)
def test_stance_follows_the_models_label_mapping(tmp_path, vocab, codebook, id2label, stance):
    others = [t for s, t in STANCE_TEMPLATES.items() if s != stance]
    propositions = " ".join(p.proposition for p in codebook.positions.values())
    marker = marker_for(STANCE_TEMPLATES[stance], others, avoid=f"{TEXT} {propositions}")
    entailment, contradiction = index_of(id2label, "entailment"), index_of(id2label, "contradiction")
    model = wire_marker(tiny_model(vocab, id2label), vocab[marker], entailment, contradiction)
    analyzer = NLIAnalyzer(codebook, save_model(tmp_path / "wired", vocab, model))

    topics, claims = analyzer.analyze(TEXT)
    expected = {(c.actor, c.position) for c in analyzer.candidates(split_sentences(TEXT))}
    assert expected and {(c.actor, c.position) for c in claims} == expected
    assert {c.stance for c in claims} == {stance}
    assert all(c.confidence > 0.9 for c in claims)
    assert topics == []  # no topic hypothesis has the marker: contradiction wins

    # The same weights under a mapping that swaps entailment and contradiction: the marked hypothesis is
    # now contradicted, so its stance must disappear (the other two tie and fail the margin).
    swapped = {i: ("entailment" if i == contradiction else "contradiction" if i == entailment else label)
               for i, label in id2label.items()}
    model = wire_marker(tiny_model(vocab, swapped), vocab[marker], entailment, contradiction)
    analyzer = NLIAnalyzer(codebook, save_model(tmp_path / "swapped", vocab, model))
    assert all(c.stance != stance for c in analyzer.analyze(TEXT)[1])


def test_topics_are_multi_label_zero_shot(tmp_path, vocab, codebook):
    hypotheses = {t: TOPIC_TEMPLATE.format(description=d) for t, d in codebook.topics.items()}
    stance_text = " ".join([*STANCE_TEMPLATES.values(), *(p.proposition for p in codebook.positions.values())])
    others = [h for t, h in hypotheses.items() if t != "humanitarian"]
    marker = marker_for(hypotheses["humanitarian"], others, avoid=f"{TEXT} {stance_text}")
    model = wire_marker(tiny_model(vocab, MNLI), vocab[marker], 2, 0)
    analyzer = NLIAnalyzer(codebook, save_model(tmp_path / "topics", vocab, model))
    assert analyzer.analyze(TEXT) == (["humanitarian"], [])


def test_a_model_without_an_entailment_label_fails_clearly(tmp_path, vocab, codebook):
    path = save_model(tmp_path / "sentiment", vocab, tiny_model(vocab, {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}))
    with pytest.raises(NLIModelError, match="has no 'entailment' label") as error:
        NLIAnalyzer(codebook, path)
    assert isinstance(error.value, ConfigError) and "LABEL_0" in str(error.value)


def test_a_missing_model_fails_clearly_without_downloading(tmp_path, codebook):
    with pytest.raises(NLIModelError, match="local_files_only"):
        NLIAnalyzer(codebook, tmp_path / "nowhere")
    with pytest.raises(NLIModelError, match="cannot load"):
        NLIAnalyzer(codebook, "peacewatch-test/no-such-nli-model")


def test_batching_gives_the_same_result_as_batch_size_one(random_model, codebook):
    one = NLIAnalyzer(codebook, random_model, thresholds=ZERO, batch_size=1)
    many = NLIAnalyzer(codebook, random_model, thresholds=ZERO, batch_size=5)
    sentences = split_sentences(TEXT)
    pairs = one.stance_pairs(one.candidates(sentences)) + one.topic_pairs(one.chunks(sentences))
    assert len(pairs) > 10
    torch.testing.assert_close(one.logits(pairs), many.logits(pairs), rtol=1e-4, atol=1e-5)
    (topics_one, claims_one), (topics_many, claims_many) = one.analyze(TEXT), many.analyze(TEXT)
    assert topics_one == topics_many
    key = lambda c: (c.actor, c.position, c.stance, c.evidence)  # noqa: E731
    assert sorted(map(key, claims_one)) == sorted(map(key, claims_many))
    confidence = {key(c): c.confidence for c in claims_many}
    assert all(abs(c.confidence - confidence[key(c)]) <= 0.002 for c in claims_one)
    assert one.model_version == many.model_version  # the batch size does not change results


def test_factory_reads_the_nlp_settings(random_model, codebook):
    analyzer = load_nli_analyzer(codebook, {
        "backend": "nli", "nli_model": str(random_model), "nli_batch_size": 3, "nli_max_length": 64,
        "nli_thresholds": {"stance": 0.4, "topic": 0.7},
    })
    assert (analyzer.batch_size, analyzer.max_length) == (3, 64)
    assert analyzer.thresholds == Thresholds(stance=0.4, topic=0.7)
    default = load_nli_analyzer(codebook, {"nli_model": str(random_model)})
    assert default.model_version != analyzer.model_version  # thresholds and max length are part of the version
    assert default.model_version == load_nli_analyzer(codebook, {"nli_model": str(random_model)}).model_version


@pytest.mark.parametrize(
    "nlp, message",
    [
        ({"backend": "nli"}, "nlp.nli_model: required"),
        ({"nli_thresholds": {"stanse": 0.5}}, "nlp.nli_thresholds.stanse: unknown threshold"),
        ({"nli_thresholds": {"topic": 1.5}}, "nlp.nli_thresholds.topic: must be a number between 0 and 1"),
        ({"nli_batch_size": 0}, "nlp.nli_batch_size: must be a positive integer"),
        ({"nli_batchsize": 8}, "nlp.nli_batchsize: unknown setting"),
    ],
)
def test_factory_rejects_bad_settings(random_model, codebook, nlp, message):
    settings = nlp if nlp.get("backend") == "nli" else {"nli_model": str(random_model), **nlp}
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_nli_analyzer(codebook, settings)


def test_long_texts_are_truncated_and_chunked_for_topics(random_model, codebook):
    analyzer = NLIAnalyzer(codebook, random_model, thresholds=ZERO, max_length=16, topic_max_chunks=3)
    long_text = " ".join([TEXT] * 20)
    chunks = analyzer.chunks(split_sentences(long_text))
    assert len(chunks) == 3 and all(chunk in long_text for chunk in chunks)
    # Pairs longer than the model takes are cut (the premise first, the hypothesis only if it alone is too long).
    topics, claims = analyzer.analyze(long_text)
    assert topics and claims
    encoded = analyzer._encode([long_text], ["Russia supports the proposition: " + "peace " * 30])
    assert encoded["input_ids"].shape[1] == 16


def test_factory_reads_config_and_resolves_the_model_folder_against_it(tmp_path, vocab, codebook, monkeypatch):
    from peacewatch.config import settings

    config = tmp_path / "config"
    save_model(config / "models" / "tiny-nli", vocab, tiny_model(vocab, MNLI))
    (config / "peacewatch.yaml").write_text(
        "nlp:\n  backend: nli\n  nli_model: models/tiny-nli\n  nli_batch_size: 2\n", encoding="utf-8"
    )
    monkeypatch.setenv("PEACEWATCH_CONFIG_DIR", str(config))
    settings.cache_clear()
    try:
        analyzer = load_nli_analyzer(codebook)
    finally:
        settings.cache_clear()  # the next reader sees the real config once monkeypatch restores the environment
    assert analyzer.batch_size == 2 and analyzer.model_version.startswith("tiny-nli-")
