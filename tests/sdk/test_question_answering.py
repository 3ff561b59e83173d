"""Question answering with the official client (azure-ai-language-questionanswering 1.1.0), unchanged,
pointed at the gateway: a knowledge base written here (an e-bike's FAQ) is created, filled, given synonyms
and deployed through the authoring client, then asked questions worded differently from its own; and
answers are taken from documents sent with the question."""

import pytest
from azure.ai.language.questionanswering import QuestionAnsweringClient
from azure.ai.language.questionanswering.authoring import AuthoringClient
from azure.ai.language.questionanswering.models import (
    KnowledgeBaseAnswerContext,
    MetadataFilter,
    QueryFilters,
    ShortAnswerOptions,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

PROJECT = "bike-faq"

FAQ = [
    (["How long does the battery last?"], "A full battery lasts about 80 kilometres, or four hours of riding, depending on the assist level.", {"topic": "battery"}),
    (["How long does charging take?"], "Charging from empty to full takes five hours with the supplied charger.", {"topic": "battery"}),
    (["What does the warranty cover?"], "The warranty covers the frame for ten years and the motor and battery for two years.", {"topic": "warranty"}),
    (["How do I reset the display?"], "Hold the power and minus buttons together for ten seconds until the display restarts.", {"topic": "display"}),
    (["Can I ride in the rain?"], "Yes, the bike is water resistant to IPX4, but do not submerge it or wash it with a pressure washer.", {"topic": "care"}),
    (["How much does the bike weigh?"], "The bike weighs 22 kilograms with the battery fitted.", {"topic": "specs"}),
    (["What is the top assisted speed?"], "The motor assists up to 25 km/h, the legal limit in Europe.", {"topic": "specs"}),
    (["How do I return the bike?"], "You can return the bike within 30 days for a full refund; book a pickup from your account page.", {"topic": "orders"}),
    (["Where is my order?"], "Track your delivery from the link in your confirmation email.", {"topic": "orders"}),
    (["How do I fix a flat tyre?"], "Remove the wheel, replace the inner tube, and inflate it to 3.5 bar.", {"topic": "care"}),
]


@pytest.fixture(scope="module")
def key(cogway):
    return cogway.create_key("sdk-qna", ["language"])


@pytest.fixture(scope="module")
def deployed(cogway, key):
    authoring = AuthoringClient(cogway.endpoint, AzureKeyCredential(key))
    project = authoring.create_project(
        PROJECT,
        {"language": "en", "description": "Bike FAQ", "settings": {"defaultAnswer": "Sorry, I do not know that one."}},
    )
    assert project["projectName"] == PROJECT
    edits = [
        {"op": "add", "value": {"id": i + 1, "questions": questions, "answer": answer, "metadata": metadata, "source": "faq.html"}}
        for i, (questions, answer, metadata) in enumerate(FAQ)
    ]
    # A follow-up that only makes sense after the charging answer.
    edits.append({"op": "add", "value": {"id": 50, "questions": ["Can I charge it overnight?"],
                                         "answer": "Yes: the charger stops by itself when the battery is full.",
                                         "dialog": {"isContextOnly": True}}})
    edits.append({"op": "replace", "value": {"id": 2, "questions": FAQ[1][0], "answer": FAQ[1][1], "metadata": FAQ[1][2],
                                             "source": "faq.html",
                                             "dialog": {"prompts": [{"displayOrder": 1, "qnaId": 50, "displayText": "Overnight charging"}]}}})
    updated = list(authoring.begin_update_qnas(PROJECT, edits, polling_interval=0).result())
    assert len(updated) == len(FAQ) + 1
    authoring.update_synonyms(PROJECT, {"value": [{"alterations": ["guarantee", "warranty"]}, {"alterations": ["screen", "display"]}]})
    assert [s["alterations"] for s in authoring.list_synonyms(PROJECT)] == [["guarantee", "warranty"], ["screen", "display"]]
    deployment = authoring.begin_deploy_project(PROJECT, "production", polling_interval=0).result()
    assert deployment["deploymentName"] == "production"
    yield authoring
    authoring.begin_delete_project(PROJECT, polling_interval=0).result()
    with pytest.raises(ResourceNotFoundError):
        authoring.get_project_details(PROJECT)


@pytest.fixture(scope="module")
def client(cogway, key):
    return QuestionAnsweringClient(cogway.endpoint, AzureKeyCredential(key))


def ask(client, question, **options):
    return client.get_answers(question=question, project_name=PROJECT, deployment_name="production", **options).answers


@pytest.mark.parametrize(
    "question, expected",
    [
        ("How many kilometres can I ride on one charge?", 1),
        ("How much time does a full charge need?", 2),
        ("What is the guarantee on the motor?", 3),
        ("My screen is frozen, how do I restart it?", 4),
        ("Is it ok to cycle when it is raining?", 5),
        ("How heavy is it?", 6),
        ("How fast does the motor help me go?", 7),
        ("I want my money back, how do I send it back?", 8),
    ],
)
def test_paraphrased_questions_find_their_answers(client, deployed, question, expected):
    answers = ask(client, question)
    assert answers[0].qna_id == expected, [(a.qna_id, a.confidence, a.answer) for a in answers]
    assert 0.3 <= answers[0].confidence <= 1 and answers[0].source == "faq.html"


def test_unrelated_questions_get_the_default_answer(client, deployed):
    answers = ask(client, "What is the capital of Peru?")
    assert [(a.answer, a.confidence, a.qna_id) for a in answers] == [("Sorry, I do not know that one.", 0.0, -1)]


def test_filters_context_short_answers_and_ids(client, deployed):
    # The metadata filter keeps only the care topic.
    answers = ask(client, "How long does the battery last?", filters=QueryFilters(metadata_filter=MetadataFilter(metadata=[("topic", "care")])))
    assert all(a.metadata.get("topic") in (None, "care") for a in answers), answers
    # A context-only follow-up is answered only after the QnA that prompts for it.
    assert ask(client, "Can I charge it overnight?")[0].qna_id != 50
    charging = ask(client, "How long does charging take?")[0]
    assert charging.qna_id == 2 and [p.qna_id for p in charging.dialog.prompts] == [50]
    follow_up = ask(client, "Overnight charging", answer_context=KnowledgeBaseAnswerContext(previous_qna_id=2))[0]
    assert follow_up.qna_id == 50 and follow_up.confidence == 1.0
    # A short answer is a part of the answer, where it says it is.
    answer = ask(client, "How long is the warranty on the frame?", short_answer_options=ShortAnswerOptions(confidence_threshold=0.2))[0]
    span = answer.short_answer
    assert answer.qna_id == 3 and span is not None and "ten years" in span.text, answer
    assert answer.answer[span.offset:span.offset + span.length] == span.text
    # By id.
    assert client.get_answers(qna_id=6, project_name=PROJECT, deployment_name="production").answers[0].answer == FAQ[5][1]


def test_answers_from_documents_sent_with_the_question(client):
    documents = [
        "The Eiffel Tower was built for the 1889 World's Fair in Paris. It is 330 metres tall and was the tallest structure in the world until 1930. Gustave Eiffel's company designed and built it.",
        "The Statue of Liberty was a gift from France to the United States. It was dedicated in 1886 and stands on Liberty Island in New York Harbor.",
    ]
    output = client.get_answers_from_text(question="How high is the Eiffel Tower?", text_documents=documents)
    best = output.answers[0]
    assert best.id == "0" and "330 metres" in best.answer, output.answers
    assert documents[0][best.offset:best.offset + best.length] == best.answer
    # The short answer is the clause that says what the question asks, not the one that repeats it.
    assert "330 metres" in best.short_answer.text, best.short_answer
    output = client.get_answers_from_text(question="When was the statue of liberty inaugurated?", text_documents=documents)
    best = output.answers[0]
    assert best.id == "1" and "1886" in best.answer, output.answers
    span = best.short_answer
    assert "1886" in span.text and best.answer[span.offset:span.offset + span.length] == span.text


def test_mistakes_get_clear_errors(cogway, client, key):
    with pytest.raises(ResourceNotFoundError):
        client.get_answers(question="Anything?", project_name="no-such-project", deployment_name="production")
    with pytest.raises(HttpResponseError) as refused:
        client.get_answers_from_text(question="Why?", text_documents=["x" * 6000])
    assert refused.value.status_code == 400
    authoring = AuthoringClient(cogway.endpoint, AzureKeyCredential(key))
    authoring.create_project("broken", {"language": "en"})
    with pytest.raises(HttpResponseError) as refused:
        authoring.begin_update_qnas("broken", [{"op": "replace", "value": {"id": 99, "answer": "x"}}], polling_interval=0).result()
    assert refused.value.status_code == 404
    authoring.begin_delete_project("broken", polling_interval=0).result()
