"""The official Azure SDK for Python (azure-ai-translation-text 1.0.1) against the gateway's
Translator v3.0 routes at the root: `POST /translate`, `/breaksentence`, `/transliterate`,
`/dictionary/lookup` and `GET /languages`, each with `api-version=3.0`.

The client gets the gateway's base URL as its endpoint (an address without "cognitiveservices" is
used as is) and an `AzureKeyCredential`; with no region the SDK sends only
`Ocp-Apim-Subscription-Key`. English-Spanish and English-Catalan go through Apertium, Chinese to
English through the neural model.
"""

import pytest
from azure.ai.translation.text import TextTranslationClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError


@pytest.fixture(scope="module")
def translator(cogway):
    key = cogway.create_key("sdk-translation-test", ["translation"])
    with TextTranslationClient(endpoint=cogway.endpoint, credential=AzureKeyCredential(key)) as c:
        yield c


# ---------------------------------------------------------------------------------------------
# Helpers


def only_item(items):
    assert len(items) == 1, items
    return items[0]


def translated_text(item, to: str) -> str:
    texts = [t.text for t in item.translations if t.to == to]
    assert len(texts) == 1, f"no single translation to {to!r} in {item}"
    assert texts[0].strip(), f"empty translation to {to!r}: {item}"
    return texts[0]


# ---------------------------------------------------------------------------------------------
# Tests


def test_translate_english_to_spanish(translator):
    item = only_item(translator.translate(["The red car is very fast."], to_language=["es"], from_language="en"))
    assert item.detected_language is None, f"no detection was asked for: {item}"
    spanish = translated_text(item, "es")
    assert "coche" in spanish, spanish


def test_translate_to_two_targets_detects_english(translator):
    item = only_item(translator.translate(["The red car is very fast."], to_language=["es", "ca"]))
    assert item.detected_language is not None, item
    assert item.detected_language.language == "en", item.detected_language
    assert 0.0 < item.detected_language.score <= 1.0, item.detected_language
    assert [t.to for t in item.translations] == ["es", "ca"], item
    assert "coche" in translated_text(item, "es"), item
    translated_text(item, "ca")  # non-empty


def test_translate_chinese_to_english(translator):
    item = only_item(translator.translate(["我们明天早上九点在火车站见面。"], to_language=["en"], from_language="zh-Hans"))
    english = translated_text(item, "en")
    assert "train station" in english.lower(), english


def test_get_supported_languages(translator):
    languages = translator.get_supported_languages()
    assert languages.translation, languages
    for code, name in (("en", "English"), ("es", "Spanish")):
        assert code in languages.translation, sorted(languages.translation)
        assert languages.translation[code].name == name, languages.translation[code]
    assert languages.dictionary and "en" in languages.dictionary, languages.dictionary
    assert languages.transliteration and "ja" in languages.transliteration, languages.transliteration


def test_find_sentence_boundaries(translator):
    item = only_item(translator.find_sentence_boundaries(["How are you? I am fine. Thanks."], language="en"))
    assert item.sent_len == [13, 11, 7], item


def test_transliterate_russian_to_latin(translator):
    item = only_item(translator.transliterate(["Москва"], language="ru", from_script="Cyrl", to_script="Latn"))
    assert item.text == "Moskva", item
    assert item.script == "Latn", item


def test_lookup_dictionary_entries(translator):
    item = only_item(translator.lookup_dictionary_entries(["house"], from_language="en", to_language="es"))
    assert item.normalized_source == "house", item
    targets = {t.normalized_target: t for t in item.translations}
    assert "casa" in targets, sorted(targets)
    assert targets["casa"].pos_tag == "NOUN", targets["casa"]


def test_translate_to_unknown_language_is_rejected(translator):
    with pytest.raises(HttpResponseError) as caught:
        translator.translate(["Hello"], to_language=["xx"], from_language="en")
    err = caught.value
    assert err.status_code == 400, f"HTTP {err.status_code}: {err}"
    # azure-core keeps the raw JSON code (an int here) in `error`; the SDK's model in `model`.
    assert err.error is not None, err
    assert str(err.error.code) == "400036", err
    assert err.error.message, err
    if err.model is not None:
        assert str(err.model.error.code) == "400036", err.model
