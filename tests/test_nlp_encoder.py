"""The `encoder` backend: offline loading with checksum verification, contract-valid claims on real
sentences, deterministic training, and (when onnxruntime is installed) the ONNX runtimes."""

import shutil

import pytest

from peacewatch.contracts import Claim
from peacewatch.nlp.codebook import default_codebook
from peacewatch.nlp.encoder import (
    MODEL_SHA256,
    EncoderAnalyzer,
    EncoderError,
    TokenEncoder,
    default_model_dir,
    file_sha256,
    load_heads,
    verify_model_dir,
)
from peacewatch.nlp.gloss import glossary_sha256
from peacewatch.nlp.splits import load_split


@pytest.fixture(scope="module")
def analyzer():
    return EncoderAnalyzer(default_codebook(), runtime="torch")


def test_the_packaged_model_passes_the_checksum():
    model_dir = verify_model_dir()
    assert model_dir == default_model_dir()
    assert file_sha256(model_dir / "model.safetensors") == MODEL_SHA256


def test_a_corrupted_copy_fails_with_a_clear_error(tmp_path):
    source = default_model_dir()
    copy = tmp_path / "model"
    shutil.copytree(source, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(EncoderError, match="failed the checksum.*expected 53aa5117"):
        verify_model_dir(copy)
    with pytest.raises(EncoderError, match="failed the checksum"):
        TokenEncoder("torch", model_dir=copy)
    weights.unlink()
    with pytest.raises(EncoderError, match="weights not found"):
        verify_model_dir(copy)


@pytest.mark.parametrize("layers", [0, 7])
def test_a_layer_count_the_encoder_does_not_have_fails_with_a_clear_error(layers):
    with pytest.raises(EncoderError, match=f"the encoder has 6 layers: cannot keep {layers}"):
        TokenEncoder("torch", layers=layers)


def test_heads_from_an_earlier_version_fail_with_a_clear_error(tmp_path):
    from safetensors.numpy import load_file, save_file

    from peacewatch.nlp.encoder import ARTEFACTS_DIR

    shutil.copytree(ARTEFACTS_DIR, tmp_path / "old")
    heads_file = tmp_path / "old" / "heads.safetensors"
    arrays = {k: v for k, v in load_file(str(heads_file)).items() if k not in ("t_piece", "t_idf")}
    save_file(arrays, str(heads_file))
    with pytest.raises(EncoderError, match=r"incomplete: .*heads.safetensors has no t_idf, t_piece .*peacewatch nlp train"):
        EncoderAnalyzer(default_codebook(), runtime="torch", artefacts_dir=tmp_path / "old")


def test_loads_offline_and_records_its_identity(analyzer, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    codebook = default_codebook()
    assert analyzer.model_id == "encoder"
    assert analyzer.model_version.startswith("encoder-")
    assert analyzer.codebook.sha256 == codebook.sha256
    heads, version = load_heads()
    assert version == analyzer.model_version
    assert heads.meta["codebook_sha256"] == codebook.sha256
    assert heads.meta["base_model_sha256"] == MODEL_SHA256


@pytest.mark.parametrize(
    "text, expected",
    [
        # reported speech: the spokesman holds Russia's stance; "Kyiv" is an object
        ("Kremlin spokesman Dmitry Peskov said a truce would only give Kyiv time to regroup and rearm.",
         ("russia", "ceasefire_first", "against")),
        # aliases: "Washington" is the United States, the White House too
        ("Washington confirmed that intelligence sharing with Kyiv had resumed.", ("united_states", "military_aid", "favor")),
        # negation inside a negative proposition: rejecting troops is favor on no_foreign_troops
        ("Lavrov said Moscow would not accept troops from NATO countries in Ukraine under any flag.",
         ("russia", "no_foreign_troops", "favor")),
        # negation that reverses the stance
        ("Zelensky said Ukraine will never recognise Crimea as Russian territory.",
         ("ukraine", "recognize_annexation", "against")),
    ],
)
def test_analyze_finds_the_expected_claims(analyzer, text, expected):
    topics, claims = analyzer.analyze(text)
    assert expected in {(c.actor, c.position, c.stance) for c in claims}
    _check_contract(analyzer, text, topics, claims)


def _check_contract(analyzer, text, topics, claims):
    codebook = analyzer.codebook
    assert set(topics) <= set(codebook.topic_ids)
    pairs = [(c.actor, c.position) for c in claims]
    assert len(pairs) == len(set(pairs)), "at most one claim per actor and position"
    for claim in claims:
        Claim.model_validate(claim.model_dump())
        assert claim.actor in codebook.actors and claim.position in codebook.positions
        assert claim.stance in codebook.stances and 0.0 <= claim.confidence <= 1.0
        assert claim.evidence and claim.evidence in " ".join(text.split())


def test_article_level_claims_and_headlines(analyzer):
    text = (
        "Kremlin rejects truce plan\n\n"
        "Russia's foreign minister Sergei Lavrov met his Turkish counterpart in Ankara on Monday. "
        "Lavrov said Moscow would not accept troops from NATO countries in Ukraine under any flag. "
        "Russia would never accept a European contingent on Ukrainian soil, he said.\n\n"
        "The weather in Ankara was mild."
    )
    topics, claims = analyzer.analyze(text)
    _check_contract(analyzer, text, topics, claims)
    assert all(c.evidence != "Kremlin rejects truce plan" for c in claims)
    found = {(c.actor, c.position, c.stance) for c in claims}
    assert ("russia", "no_foreign_troops", "favor") in found
    assert analyzer.analyze("The weather in Geneva was mild on Tuesday.")[1] == []
    assert analyzer.analyze("") == ([], [])


def test_training_is_deterministic(tmp_path):
    from peacewatch.nlp.train import train

    train_split = load_split("train")
    passages = train_split[:12] + [p for p in train_split if p["language"] != "en"][:2]  # Cyrillic: read through the gloss
    dev = load_split("dev")[:6]
    config = {"members": 2, "epochs": 3, "hidden": 16, "seed": 5}
    first = train(tmp_path / "a", train_passages=passages, dev_passages=dev, config=config, echo=False)
    second = train(tmp_path / "b", train_passages=passages, dev_passages=dev, config=config, echo=False)
    other = train(tmp_path / "c", train_passages=passages, dev_passages=dev, config={**config, "seed": 6},
                  echo=False)
    for name in ("heads.safetensors", "meta.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "heads.safetensors").read_bytes() != (tmp_path / "c" / "heads.safetensors").read_bytes()
    assert first == second and other["config"]["seed"] == 6
    assert first["gloss_sha256"] == glossary_sha256()
    # the smoke model loads and answers the contract
    smoke = EncoderAnalyzer(default_codebook(), runtime="torch", artefacts_dir=tmp_path / "a")
    text = "Peskov said Russia would never accept a ceasefire."
    _check_contract(smoke, text, *smoke.analyze(text))


@pytest.mark.slow
def test_a_model_trained_on_fewer_layers_runs_them_in_every_runtime(tmp_path, monkeypatch):
    from peacewatch.nlp.train import train

    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("PEACEWATCH_MODEL_CACHE", str(tmp_path / "cache"))
    passages = load_split("train")[:12]
    meta = train(tmp_path / "m", train_passages=passages, dev_passages=load_split("dev")[:6],
                 config={"members": 1, "epochs": 2, "hidden": 16, "layers": 2}, echo=False)
    assert meta["config"]["layers"] == 2
    text = "Peskov said Russia would never accept a ceasefire.\n\nZelensky said Kyiv wanted guarantees first."
    torch_analyzer = EncoderAnalyzer(default_codebook(), runtime="torch", artefacts_dir=tmp_path / "m")
    assert len(torch_analyzer.encoder.model.encoder.layer) == 2
    onnx_analyzer = EncoderAnalyzer(default_codebook(), runtime="onnx", artefacts_dir=tmp_path / "m")
    exports = [p.parent.name for p in (tmp_path / "cache").rglob("encoder.onnx")]
    assert len(exports) == 1 and "-layers-2-" in exports[0]  # never mistaken for the 6-layer export
    for sentence in ("Peskov said Russia would never accept a ceasefire.", "Kyiv wants guarantees first."):
        (states_torch,), _, _ = torch_analyzer.encoder.encode([sentence])
        (states_onnx,), _, _ = onnx_analyzer.encoder.encode([sentence])
        assert abs(states_torch - states_onnx).max() < 1e-3
    _check_contract(onnx_analyzer, text, *onnx_analyzer.analyze(text))


def test_shipped_artefacts_fit_the_budget():
    from peacewatch.nlp.encoder import ARTEFACTS_DIR

    total = sum(p.stat().st_size for p in ARTEFACTS_DIR.parent.rglob("*") if p.is_file())
    assert total <= 5 * 1024 * 1024


@pytest.mark.slow
def test_onnx_runtimes_agree_with_torch(analyzer, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    monkeypatch.setenv("PEACEWATCH_MODEL_CACHE", str(tmp_path / "cache"))
    text = "Lavrov said Moscow would not accept troops from NATO countries in Ukraine under any flag."
    expected = {(c.actor, c.position, c.stance) for c in analyzer.analyze(text)[1]}
    for runtime in ("onnx", "onnx-int8"):
        onnx = EncoderAnalyzer(default_codebook(), runtime=runtime)
        assert {(c.actor, c.position, c.stance) for c in onnx.analyze(text)[1]} == expected
    assert (tmp_path / "cache").is_dir() and list((tmp_path / "cache").rglob("*.onnx"))


def test_a_syndicated_copy_reuses_the_encoded_sentences(analyzer, monkeypatch):
    """The second copy of a story costs no encoder pass for the sentences it shares, and gives the same claims."""
    text = ("Peskov said Moscow would not accept a ceasefire before a full settlement was agreed. "
            "Zelensky told reporters Kyiv was ready for an immediate 30-day truce.")
    first = analyzer.analyze(text)
    passes = []
    original = analyzer.encoder._forward
    monkeypatch.setattr(analyzer.encoder, "_forward", lambda *a: passes.append(a[0].shape) or original(*a))
    assert analyzer.analyze(text) == first and passes == []
    edited = text + " The Kremlin repeated that Ukraine must never join NATO."
    analyzer.analyze(edited)
    assert [shape[0] for shape in passes] == [1]  # only the new sentence is encoded


def test_the_sentence_gate_keeps_claim_sentences_from_the_encoder_only(analyzer, monkeypatch):
    """The trained gate decides which candidate sentences are encoded: a sentence that names an actor but
    carries no position is skipped, a claim sentence is not; `+nogate` encodes both."""
    gate = analyzer.heads.meta["gate"]
    assert analyzer.gate is not None and 0 < gate["threshold"] < 1
    # it skips work, at a dev cost within the tolerance it was tuned for
    assert gate["kept_dev_sentences"] < 0.9
    assert analyzer.heads.meta["dev_claim_micro_f1"] >= gate["dev_claim_micro_f1_ungated"] - gate["tolerance"]
    idle = "Zelensky visited a children's hospital in Kharkiv on Tuesday and thanked the doctors."
    claim = "Peskov said Moscow would not accept a ceasefire before a full settlement was agreed."
    encoded: list[str] = []
    original = analyzer.encoder.encode
    monkeypatch.setattr(analyzer.encoder, "encode", lambda sentences, **kw: encoded.extend(sentences) or original(sentences, **kw))
    _topics, claims = analyzer.analyze(f"{idle} {claim}")
    assert encoded == [claim]
    assert ("russia", "ceasefire_first", "against") in {(c.actor, c.position, c.stance) for c in claims}

    ungated = EncoderAnalyzer(default_codebook(), runtime="torch", gate=False)
    assert ungated.gate is None and ungated.model_version == analyzer.model_version
    encoded.clear()
    unfiltered = ungated.encoder.encode
    monkeypatch.setattr(ungated.encoder, "encode", lambda sentences, **kw: encoded.extend(sentences) or unfiltered(sentences, **kw))
    ungated.analyze(f"{idle} {claim}")
    assert encoded == [idle, claim]


def test_the_backend_string_selects_the_gate(monkeypatch):
    from peacewatch.config import ConfigError
    from peacewatch.nlp.analyze import load_analyzer

    assert load_analyzer("encoder:torch").gate is not None
    assert load_analyzer("encoder:torch+nogate").gate is None
    monkeypatch.setenv("PEACEWATCH_ENCODER_GATE", "0")
    assert load_analyzer("encoder:torch").gate is None
    with pytest.raises(ConfigError, match=r"unknown encoder option \+prefilter"):
        load_analyzer("encoder:torch+prefilter")


def test_the_inference_shortcuts_match_the_features_the_heads_were_trained_on(analyzer):
    """Topics and the gate score sparse bags of words at inference; training used dense feature rows."""
    import numpy as np

    from peacewatch.nlp.encoder import topic_features
    from peacewatch.nlp.gate import gate_features

    paragraph = ("Ukrainian and Russian negotiators agreed in Istanbul to exchange 1,000 prisoners each. "
                 "Kremlin aide Vladimir Medinsky said Moscow wanted a ceasefire only after Kyiv withdrew its troops.")
    vectors = analyzer.encoder.encode([paragraph])[2]
    heads = analyzer.heads
    pieces = analyzer.encoder.word_pieces(paragraph)
    dense = (topic_features(analyzer.featurizer, paragraph, vectors) @ heads.a["t_w"] + heads.piece_logits(pieces)
             + heads.a["t_b"])
    assert np.allclose(heads.paragraph_topic_probs(analyzer.featurizer, paragraph, vectors, pieces),
                       1 / (1 + np.exp(-dense)), atol=1e-5)
    sentences = [paragraph, "The weather in Geneva was mild."]
    dense_gate = gate_features(analyzer.featurizer, sentences) @ analyzer.gate.weights + analyzer.gate.bias
    assert np.allclose(analyzer.gate.scores(analyzer.featurizer, sentences), 1 / (1 + np.exp(-dense_gate)), atol=1e-5)


def test_the_folded_word_piece_weights_give_the_logits_of_the_mean_embedding_features():
    """Training fits the topic head on standardised mean embeddings of a passage's word pieces and stores one
    weight row per piece instead; inference must get the same logits from those rows."""
    import numpy as np

    from peacewatch.nlp.encoder import Heads
    from peacewatch.nlp.train import _piece_features, _piece_means

    rng = np.random.default_rng(3)
    embeddings, weights = rng.normal(size=(40, 6)), rng.normal(size=(6, 3))
    idf = rng.uniform(1.0, 4.0, size=40)
    passages = [rng.integers(0, 40, size=n) for n in (1, 5, 17)] + [np.zeros(0, dtype=np.int64)]
    means = _piece_means(passages, idf, embeddings)
    mean, std, scale = np.nanmean(means, 0), np.nanstd(means, 0) + 1e-6, 0.05
    dense = _piece_features(means, mean, std, scale) @ weights
    folded = Heads({"t_piece": _piece_features(embeddings, mean, std, scale) @ weights, "t_idf": idf,
                    "t_b": np.zeros(3)}, {"members": 0, "positions": []})
    assert np.allclose([folded.piece_logits(ids) for ids in passages], dense, atol=1e-6)
    assert not dense[-1].any()  # a passage without word pieces adds nothing


def test_word_pieces_are_the_tokenizers_whether_or_not_the_words_were_seen_before():
    """The topic head's word pieces come from a per-word memory; they must be what the tokenizer gives the
    whole paragraph (and its gloss, for Cyrillic text), the first time and every time after."""
    from peacewatch.nlp.encoder import TokenEncoder
    from peacewatch.nlp.gloss import gloss_text

    encoder = TokenEncoder("torch")
    paragraphs = ["Zelensky said on Tuesday: \"No deal without security guarantees.\" Kyiv's allies agreed.",
                  "Песков заявил, что Москва не согласится на прекращение огня.",
                  "Kyiv's allies agreed; Moscow did not.", ""]
    for paragraph in paragraphs + paragraphs:
        glossed = gloss_text(paragraph)
        whole = paragraph + (" " + glossed if glossed else "")
        assert encoder.word_pieces(paragraph).tolist() == encoder.tokenizer(whole, add_special_tokens=False)["input_ids"]
    assert gloss_text(paragraphs[1])  # the Cyrillic paragraph was read with its gloss


def test_a_sentence_reads_the_same_whatever_batch_it_is_encoded_in():
    """Sentences are encoded in padded batches, shortest first: a sentence's token states and vector must not
    depend on the other sentences of its article."""
    import numpy as np

    sentences = [
        "Peskov said Moscow would not accept a ceasefire before a full settlement.",
        "No.",
        "Zelensky told reporters in Kyiv that Ukraine would never recognise the occupied regions as Russian, "
        "whatever the United States proposed at the next round of talks in Istanbul or Riyadh.",
        "Rubio said Washington was ready to ease some sanctions.",
        "Кремль заявил, что Украина никогда не должна вступать в НАТО.",
        "EU leaders met in Brussels.",
        "The Kremlin repeated that Ukraine must never join NATO, and that Western troops on Ukrainian soil would "
        "be legitimate targets.",
        "Talks resumed.",
        "Sybiha said Kyiv wanted security guarantees before any truce.",
        "China called for restraint.",
    ]
    encoder = TokenEncoder("torch", gloss=True)
    states, offsets, vectors = encoder.encode(sentences)
    for i, sentence in enumerate(sentences):
        alone = TokenEncoder("torch", gloss=True).encode([sentence])  # a fresh encoder: nothing cached
        assert states[i].shape == alone[0][0].shape
        assert np.allclose(states[i], alone[0][0], atol=2e-4)
        assert np.array_equal(offsets[i], alone[1][0])
        assert np.allclose(vectors[i], alone[2][0], atol=1e-5)
