"""The official Azure SDK for Python (azure-ai-textanalytics 5.4.0) against the gateway.

The SDK calls `POST {endpoint}/language/:analyze-text?api-version=2023-04-01` and asks for
offsets in Unicode code points, which are Python string indices, so offsets are checked against
`str.index` of the input.
"""

import math

import pytest
from azure.ai.textanalytics import PiiEntityCategory, TextAnalyticsClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError


def only_result(results):
    assert len(results) == 1, results
    result = results[0]
    assert not result.is_error, f"{result.id}: {result.error}"
    return result


def assert_scores_sum_to_one(scores):
    for value in (scores.positive, scores.neutral, scores.negative):
        assert 0.0 <= value <= 1.0, scores
    assert math.isclose(scores.positive + scores.neutral + scores.negative, 1.0, abs_tol=0.02), scores


def test_detect_language(client):
    docs = [
        {"id": "fr", "text": "Bonjour, je voudrais réserver une table pour deux personnes ce soir, s'il vous plaît."},
        {"id": "en", "text": "Hello, I would like to book a table for two people tonight, please."},
    ]
    results = client.detect_language(docs)
    assert [r.id for r in results] == ["fr", "en"]
    french, english = results
    assert not french.is_error, french.error
    assert not english.is_error, english.error

    assert french.primary_language.iso6391_name == "fr"
    assert french.primary_language.name == "French"
    assert french.primary_language.confidence_score > 0.5

    assert english.primary_language.iso6391_name == "en"
    assert english.primary_language.name == "English"
    assert english.primary_language.confidence_score > 0.5
    assert english.warnings == []


def test_analyze_sentiment_labels(client):
    results = client.analyze_sentiment(["I love this", "I hate this"])
    assert len(results) == 2
    positive, negative = results
    for result in results:
        assert not result.is_error, result.error
        assert_scores_sum_to_one(result.confidence_scores)
        assert len(result.sentences) >= 1

    assert positive.sentiment == "positive"
    assert positive.confidence_scores.positive > positive.confidence_scores.negative
    assert negative.sentiment == "negative"
    assert negative.confidence_scores.negative > negative.confidence_scores.positive


def test_analyze_sentiment_sentence_offsets(client):
    # A non-ASCII first sentence so that code-point offsets differ from UTF-8 and UTF-16 ones.
    text = "The café was wonderful ☕ and the staff were lovely. The service at the bar was terribly slow."
    result = only_result(client.analyze_sentiment([text]))
    assert result.sentiment in {"positive", "negative", "neutral", "mixed"}
    assert_scores_sum_to_one(result.confidence_scores)
    assert len(result.sentences) == 2, [s.text for s in result.sentences]

    first, second = result.sentences
    assert first.offset == 0
    assert text[first.offset : first.offset + first.length] == first.text
    assert first.text.startswith("The café was wonderful ☕")

    expected_offset = text.index("The service at the bar")
    assert second.offset == expected_offset
    assert text[second.offset : second.offset + second.length] == second.text
    assert second.text.rstrip() == "The service at the bar was terribly slow."

    for sentence in result.sentences:
        assert sentence.sentiment in {"positive", "negative", "neutral"}
        assert_scores_sum_to_one(sentence.confidence_scores)
    assert first.sentiment == "positive"
    assert second.sentiment == "negative"


def test_extract_key_phrases(client):
    text = (
        "The battery range of electric cars has improved a lot in recent years. Modern electric "
        "vehicles can drive more than 400 kilometers on a single charge, and fast charging stations "
        "are becoming common along highways."
    )
    result = only_result(client.extract_key_phrases([text]))
    assert result.key_phrases, "no key phrases"
    assert all(isinstance(p, str) and p for p in result.key_phrases)
    assert any("battery" in p.lower() for p in result.key_phrases), result.key_phrases


def assert_redacted(original, redacted, entities):
    assert len(redacted) == len(original)
    masked = set()
    for entity in entities:
        masked.update(range(entity.offset, entity.offset + entity.length))
    for i, (before, after) in enumerate(zip(original, redacted)):
        if i in masked:
            assert after == "*", f"position {i} ({before!r}) not masked in {redacted!r}"
        else:
            assert after == before, f"position {i} changed: {before!r} -> {after!r} in {redacted!r}"


def test_recognize_entities(client):
    text = "Satya Nadella visited Berlin on Monday to meet engineers from Microsoft."
    result = only_result(client.recognize_entities([text]))
    found = {(e.category, e.text) for e in result.entities}
    for expected in (("Person", "Satya Nadella"), ("Location", "Berlin"), ("DateTime", "Monday"),
                     ("Organization", "Microsoft")):
        assert expected in found, f"{expected} missing from {sorted(found)}"
    for entity in result.entities:
        assert text[entity.offset : entity.offset + entity.length] == entity.text
        assert 0.0 < entity.confidence_score <= 1.0
    berlin = next(e for e in result.entities if e.text == "Berlin")
    assert berlin.subcategory == "GPE"
    monday = next(e for e in result.entities if e.text == "Monday")
    assert monday.subcategory == "Date"


def test_recognize_entities_quantities_and_offsets(client):
    text = "Zoë paid €4.2 million — 35% more than in 2023 — for the 3rd café in Zürich."
    result = only_result(client.recognize_entities([text]))
    found = {(e.category, e.subcategory, e.text) for e in result.entities}
    assert ("Quantity", "Percentage", "35%") in found, sorted(found)
    assert ("Quantity", "Ordinal", "3rd") in found, sorted(found)
    assert ("Location", "GPE", "Zürich") in found, sorted(found)
    for entity in result.entities:
        assert entity.offset == text.index(entity.text)


def test_recognize_entities_other_language_is_a_document_error(client):
    results = client.recognize_entities([{"id": "1", "text": "Angela Merkel besuchte Paris.", "language": "de"}])
    assert results[0].is_error
    assert results[0].error.code in {"UnsupportedLanguageCode", "InvalidArgument"}, results[0].error


def test_recognize_pii_people_organisations_addresses(client):
    text = ("Maria Lopez works for Contoso Pharmaceuticals in Seattle; write to her at "
            "1600 Pennsylvania Avenue NW, Washington, DC 20500.")
    result = only_result(client.recognize_pii_entities([text]))
    found = {(e.category, e.text) for e in result.entities}
    assert ("Person", "Maria Lopez") in found, sorted(found)
    assert ("Organization", "Contoso Pharmaceuticals") in found, sorted(found)
    assert ("Address", "1600 Pennsylvania Avenue NW, Washington, DC 20500") in found, sorted(found)
    assert "Maria Lopez" not in result.redacted_text
    assert_redacted(text, result.redacted_text, result.entities)


def test_recognize_pii_entities(client):
    email = "john.doe@example.com"
    phone = "(206) 555-0142"
    card = "4111 1111 1111 1111"
    text = f"Please email {email} or call {phone}. My credit card number is {card}."
    result = only_result(client.recognize_pii_entities([text]))

    by_category = {}
    for entity in result.entities:
        by_category.setdefault(entity.category, []).append(entity)
        assert text[entity.offset : entity.offset + entity.length] == entity.text
        assert 0.0 < entity.confidence_score <= 1.0

    for category, value in (("Email", email), ("PhoneNumber", phone), ("CreditCardNumber", card)):
        assert category in by_category, f"{category} missing from {[(e.category, e.text) for e in result.entities]}"
        matches = [e for e in by_category[category] if e.text == value]
        assert matches, f"{category}: {[e.text for e in by_category[category]]} != {value!r}"
        entity = matches[0]
        assert entity.offset == text.index(value)
        assert entity.length == len(value)

    assert result.redacted_text != text
    for value in (email, phone, card):
        assert value not in result.redacted_text
    assert_redacted(text, result.redacted_text, result.entities)


def test_recognize_pii_entities_non_ascii_offsets(client):
    email = "jane@example.com"
    text = f"Café ☕ — mail {email} 🙂 merci"
    result = only_result(client.recognize_pii_entities([text]))
    emails = [e for e in result.entities if e.category == "Email"]
    assert len(emails) == 1, [(e.category, e.text) for e in result.entities]
    entity = emails[0]
    assert entity.text == email
    assert entity.offset == text.index(email) == 14
    assert entity.length == len(email)
    assert result.redacted_text == text.replace(email, "*" * len(email))
    assert_redacted(text, result.redacted_text, result.entities)


def test_recognize_pii_entities_categories_filter(client):
    email = "john.doe@example.com"
    text = f"Please email {email} or call (206) 555-0142. My credit card number is 4111 1111 1111 1111."
    result = only_result(client.recognize_pii_entities([text], categories_filter=[PiiEntityCategory.EMAIL]))
    assert [(e.category, e.text) for e in result.entities] == [("Email", email)]
    assert result.entities[0].offset == text.index(email)
    assert result.redacted_text == text.replace(email, "*" * len(email))


def test_per_document_error(client):
    sentence = "The weather was pleasant and we enjoyed a long walk by the river. "
    long_text = sentence * (5200 // len(sentence) + 1)
    assert len(long_text) > 5120
    docs = [
        {"id": "long", "text": long_text, "language": "en"},
        {"id": "short", "text": "The food was great and the staff were friendly.", "language": "en"},
    ]
    results = client.analyze_sentiment(docs)
    assert [r.id for r in results] == ["long", "short"]
    long_result, short_result = results

    assert long_result.is_error
    assert long_result.error.code in {"InvalidDocument", "InvalidArgument"}, long_result.error
    assert long_result.error.message

    assert not short_result.is_error, short_result.error
    assert short_result.sentiment == "positive"
    assert_scores_sum_to_one(short_result.confidence_scores)
    assert len(short_result.sentences) == 1


def test_bad_key_is_rejected(endpoint):
    bad = TextAnalyticsClient(endpoint, AzureKeyCredential("0" * 32))
    with bad:
        with pytest.raises(ClientAuthenticationError) as caught:
            bad.detect_language(["Hello world, this is a test."])
    assert caught.value.status_code == 401
