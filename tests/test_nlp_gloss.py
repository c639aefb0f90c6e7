"""Russian and Ukrainian sentences reach the English encoder as word-by-word English glosses, while every
token keeps the character span of the original word it stands for."""

import json
import shutil

import pytest

from peacewatch.nlp.encoder import ARTEFACTS_DIR, EncoderAnalyzer, EncoderError, TokenEncoder
from peacewatch.nlp.gloss import GLOSS_DIR, LANGUAGES, gloss, glossaries, sentence_language, transliterate


def test_a_russian_sentence_reads_as_english_with_negation_kept():
    sentence = "Песков заявил, что Москва никогда не согласится на вступление Украины в НАТО."
    glossed = gloss(sentence)
    words = glossed.text.lower().split()
    for expected in ("peskov", "moscow", "never", "not", "ukraine", "nato"):
        assert any(expected in w for w in words), (expected, glossed.text)
    assert "," in glossed.text and glossed.text.endswith(".")


def test_ukrainian_is_told_apart_by_its_letters_and_glossed_from_its_own_dictionary():
    sentence = "Зеленський наголосив, що Україна не визнає окуповані території російськими."
    assert sentence_language(sentence) == "uk"
    assert sentence_language("Лавров заявил, что санкции должны быть сняты.") == "ru"
    text = gloss(sentence).text.lower()
    assert "zelensky" in text and "recognize" in text and "territor" in text


def test_spans_map_back_to_the_original_words():
    sentence = "По словам Лаврова, Киев «не хочет мира»."
    glossed = gloss(sentence)
    for start in range(len(glossed.text)):
        a, b = glossed.original_span(start, start + 1)
        assert 0 <= a < b <= len(sentence)
    kyiv = glossed.text.index("Kyiv")
    assert sentence[slice(*glossed.original_span(kyiv, kyiv + 4))] == "Киев"
    assert glossed.original_span(0, 0) == (0, 0)


def test_latin_text_is_left_alone_and_unknown_words_are_transliterated():
    assert gloss("Peskov said Moscow would never accept it.") is None
    assert transliterate("Щорс") == "shchors"
    assert gloss("Шмыргалюк заявил.").text.startswith("shmyrgalyuk ")


def test_glossary_files_are_clean():
    for language in LANGUAGES:
        lines = [line for line in (GLOSS_DIR / f"{language}.tsv").read_text(encoding="utf-8").splitlines()
                 if line and not line.startswith("#")]
        assert all(line.count("\t") == 1 and line.split("\t")[1].strip() for line in lines), language
        assert len(glossaries()[language]) == len(lines) > 2500, "one gloss per lemma"


def test_the_bag_of_words_of_russian_text_shares_its_english_gloss_words():
    from peacewatch.nlp.features import bow_vector

    russian = bow_vector("Кремль отверг перемирие и потребовал снятия санкций.")
    assert float(russian @ bow_vector("The Kremlin will reject any truce, sanctions or not.")) > 0.1
    assert float(russian @ bow_vector("Prisoner exchange completed in Istanbul.")) == 0.0
    assert float(bow_vector("Peskov said no.") @ bow_vector("Peskov said no.")) == pytest.approx(1.0)


def test_the_bag_of_words_reads_the_same_gloss_as_the_encoder():
    from peacewatch.nlp.gloss import gloss_text

    paragraph = "Песков заявил, что Москва никогда не согласится.\n\nЗеленський наголосив: «Жодних поступок»."
    for text in (paragraph, *paragraph.split("\n\n")):
        assert gloss_text(text) == gloss(text).text
    assert gloss_text("Peskov said no.") is None


@pytest.fixture(scope="module")
def encoder():
    return TokenEncoder("torch", gloss=True)


def test_token_offsets_stay_in_the_original_sentence(encoder):
    sentence = "Песков заявил, что Москва не согласится."
    ids, offsets = encoder.tokenize([sentence])
    tokens = encoder.tokenizer.convert_ids_to_tokens(ids[0])
    assert "moscow" in tokens and "not" in tokens
    by_token = dict(zip(tokens, (tuple(o) for o in offsets[0])))
    assert sentence[slice(*by_token["moscow"])] == "Москва"
    assert sentence[slice(*by_token["not"])] == "не"
    assert tuple(offsets[0][0]) == (0, 0), "special tokens keep an empty span"
    plain = TokenEncoder("torch", gloss=False)
    english = "Moscow will not agree."
    assert encoder.tokenize([english])[0] == plain.tokenize([english])[0]


def test_a_model_trained_on_another_glossary_refuses_to_load(tmp_path):
    artefacts = tmp_path / "encoder"
    shutil.copytree(ARTEFACTS_DIR, artefacts)
    meta = json.loads((artefacts / "meta.json").read_text(encoding="utf-8"))
    meta["gloss_sha256"] = "0" * 64
    (artefacts / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(EncoderError, match="glossary changed"):
        EncoderAnalyzer(runtime="torch", artefacts_dir=artefacts)


def test_the_glossaries_cover_the_training_and_dev_vocabulary():
    from peacewatch.nlp.gloss import CYRILLIC_WORD, gloss_word
    from peacewatch.nlp.splits import load_split

    words = glossed = 0
    for split in ("train", "dev"):
        for passage in load_split(split):
            if passage["language"] not in LANGUAGES:
                continue
            for match in CYRILLIC_WORD.finditer(passage["text"]):
                words += 1
                glossed += gloss_word(match.group(), sentence_language(passage["text"])) != transliterate(match.group())
    assert words > 50_000
    assert glossed / words > 0.99
