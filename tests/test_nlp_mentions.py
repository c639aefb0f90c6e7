"""Actor mentions of the `encoder` backend (nlp/features.py): office holders and inflected forms the
codebook's alias list misses (docs/codebook.md 4.9) become candidates; look-alike words do not."""

import pytest

from peacewatch.nlp.codebook import default_codebook
from peacewatch.nlp.features import Featurizer


@pytest.fixture(scope="module")
def featurizer():
    return Featurizer(default_codebook())


def actors(featurizer, sentence):
    return [actor for _, _, actor in featurizer.mentions.find(sentence)]


@pytest.mark.parametrize("sentence, expected", [
    ("Leavitt said the president would not lift sanctions before a deal.", ["united_states"]),
    ("Q: And the aid? BRUCE: The shipments are proceeding.", ["united_states"]),
    ("Председатель Госдумы Вячеслав Володин заявил, что выборы необходимы.", ["russia", "russia"]),
    ("Секретар Радбезу РФ Сергій Шойгу заявив, що війська НАТО мають піти.", ["russia", "nato"]),
    ("Премьер Италии Джорджа Мелони предложила распространить пятую статью на Украину.",
     ["europe", "europe", "ukraine"]),
    ("Британский премьер призвал Кремль согласиться на перемирие.", ["europe", "russia"]),
    ("Foreign Secretary Yvette Cooper said sanctions would stay.", ["europe"]),
    ("In a call with Zelensky, Modi said New Delhi backed an early peaceful outcome.", ["ukraine", "other", "other"]),
    ("Постпред КНР Фу Цун призвал стороны к сдержанности.", ["china", "china"]),
    ("Генсек ОБСЕ призвал к прекращению огня.", ["other"]),
])
def test_office_holders_and_inflected_names_are_mentions(featurizer, sentence, expected):
    assert actors(featurizer, sentence) == expected


@pytest.mark.parametrize("sentence", [
    "Модификация соглашения обсуждалась в Женеве.",  # not Modi
    "Дані про втрати не оприлюднювали.",  # Ukrainian "data", not Denmark
    "Верховный главнокомандующий не выступал.",  # not the Verkhovna Rada
    "Сенатор говорил о коалиции в парламенте.",  # a coalition, not the coalition of the willing
])
def test_look_alike_words_are_not_mentions(featurizer, sentence):
    assert actors(featurizer, sentence) == []


def test_brussels_is_not_the_state_department_spokeswoman(featurizer):
    assert actors(featurizer, "Совещание в Брюсселе закончилось, Брюс ответила на вопросы.") == ["europe", "united_states"]
