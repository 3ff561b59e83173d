"""Conversational language understanding: a travel project written here (20 labelled utterances, learned
origin and destination entities, a list entity for the travel class, a prebuilt date) is imported, trained,
deployed, exported and deleted through the official authoring client, and the official runtime client
(both azure-ai-language-conversations 1.1.0, unchanged) analyses new sentences with cities it never saw."""

import pytest
import requests
from azure.ai.language.conversations import ConversationAnalysisClient
from azure.ai.language.conversations.authoring import ConversationAuthoringClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

PROJECT = "travel"

TRAINING = [
    ("Book a flight from Paris to Berlin", "BookFlight", [("Origin", "Paris"), ("Destination", "Berlin")]),
    ("I want to fly to Madrid from Rome", "BookFlight", [("Destination", "Madrid"), ("Origin", "Rome")]),
    ("flights from Oslo to Vienna on Monday", "BookFlight", [("Origin", "Oslo"), ("Destination", "Vienna")]),
    ("get me a ticket to London", "BookFlight", [("Destination", "London")]),
    ("I need to travel from Tokyo to Boston in economy", "BookFlight", [("Origin", "Tokyo"), ("Destination", "Boston")]),
    ("reserve a business class seat to Chicago", "BookFlight", [("Destination", "Chicago")]),
    ("can you book me on a plane from Berlin to Oslo", "BookFlight", [("Origin", "Berlin"), ("Destination", "Oslo")]),
    ("fly me to Rome next week", "BookFlight", [("Destination", "Rome")]),
    ("What's the weather in Paris?", "CheckWeather", []),
    ("will it rain in London tomorrow", "CheckWeather", []),
    ("how hot is it in Madrid today", "CheckWeather", []),
    ("is it going to snow in Oslo this weekend", "CheckWeather", []),
    ("weather forecast for Boston", "CheckWeather", []),
    ("do I need an umbrella in Vienna", "CheckWeather", []),
    ("cancel my booking", "CancelBooking", []),
    ("I want to cancel the flight to Tokyo", "CancelBooking", [("Destination", "Tokyo")]),
    ("please cancel my reservation", "CancelBooking", []),
    ("drop my trip to Chicago, I can't go", "CancelBooking", [("Destination", "Chicago")]),
    ("tell me a joke", "None", []),
    ("what's your name", "None", []),
]


def project_file():
    utterances = []
    for text, intent, entities in TRAINING:
        labels = [{"category": c, "offset": text.index(words), "length": len(words)} for c, words in entities]
        utterances.append({"text": text, "language": "en-us", "intent": intent, "entities": labels, "dataset": "Train"})
    return {
        "projectFileVersion": "2023-04-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {"projectKind": "Conversation", "projectName": PROJECT, "language": "en-us",
                     "settings": {"confidenceThreshold": 0.0}, "multilingual": False, "description": "Travel"},
        "assets": {
            "projectKind": "Conversation",
            "intents": [{"category": c} for c in ("BookFlight", "CheckWeather", "CancelBooking", "None")],
            "entities": [
                {"category": "Origin", "compositionSetting": "combineComponents"},
                {"category": "Destination", "compositionSetting": "combineComponents"},
                {"category": "Class", "compositionSetting": "combineComponents", "list": {"sublists": [
                    {"listKey": "Economy", "synonyms": [{"language": "en-us", "values": ["economy", "coach"]}]},
                    {"listKey": "Business", "synonyms": [{"language": "en-us", "values": ["business", "business class"]}]},
                ]}},
                {"category": "TravelDate", "compositionSetting": "combineComponents", "prebuilts": [{"category": "DateTime"}]},
            ],
            "utterances": utterances,
        },
    }


@pytest.fixture(scope="module")
def deployed(cogway):
    key = cogway.create_key("sdk-clu", ["language"])
    authoring = ConversationAuthoringClient(cogway.endpoint, AzureKeyCredential(key))
    assert authoring.begin_import_project(PROJECT, project_file(), polling_interval=0).result()["status"] == "succeeded"
    trained = authoring.begin_train(PROJECT, {"modelLabel": "v1", "trainingMode": "standard"}, polling_interval=0).result()
    assert trained["result"]["modelLabel"] == "v1" and trained["result"]["trainingStatus"]["status"] == "succeeded"
    deployment = authoring.begin_deploy_project(PROJECT, "production", {"trainedModelLabel": "v1"}, polling_interval=0).result()
    assert deployment["deploymentName"] == "production"
    exported = authoring.begin_export_project(PROJECT, string_index_type="Utf16CodeUnit", polling_interval=0).result()
    document = requests.get(exported["resultUrl"], headers={"Ocp-Apim-Subscription-Key": key}, timeout=30).json()
    assert len(document["assets"]["utterances"]) == len(TRAINING)
    assert [p["projectName"] for p in authoring.list_projects()] == [PROJECT]
    yield key
    authoring.begin_delete_project(PROJECT, polling_interval=0).result()
    with pytest.raises(ResourceNotFoundError):
        authoring.get_project(PROJECT)


def analyze(client, text):
    task = {
        "kind": "Conversation",
        "analysisInput": {"conversationItem": {"participantId": "1", "id": "1", "modality": "text", "language": "en", "text": text}},
        "parameters": {"projectName": PROJECT, "deploymentName": "production", "verbose": True, "stringIndexType": "TextElement_V8"},
    }
    result = client.analyze_conversation(task)
    assert result["kind"] == "ConversationResult" and result["result"]["query"] == text
    prediction = result["result"]["prediction"]
    for entity in prediction["entities"]:
        assert text[entity["offset"]:entity["offset"] + entity["length"]] == entity["text"]
    return prediction


@pytest.fixture(scope="module")
def client(cogway, deployed):
    return ConversationAnalysisClient(cogway.endpoint, AzureKeyCredential(deployed))


def test_new_sentences_and_new_cities_get_their_intent_and_entities(client):
    prediction = analyze(client, "I need a flight from Lisbon to Warsaw next Friday in business class")
    assert prediction["topIntent"] == "BookFlight", prediction
    assert {i["category"] for i in prediction["intents"]} == {"BookFlight", "CheckWeather", "CancelBooking", "None"}
    found = {(e["category"], e["text"]) for e in prediction["entities"]}
    assert {("Origin", "Lisbon"), ("Destination", "Warsaw")} <= found, prediction["entities"]
    travel_class = [e for e in prediction["entities"] if e["category"] == "Class"]
    assert travel_class and travel_class[0]["extraInformation"][0]["key"] == "Business", prediction["entities"]
    assert any(e["category"] == "TravelDate" and "Friday" in e["text"] for e in prediction["entities"]), prediction["entities"]

    prediction = analyze(client, "Is it going to be sunny in Toronto on Sunday?")
    assert prediction["topIntent"] == "CheckWeather", prediction
    prediction = analyze(client, "Please cancel my trip to Denver")
    assert prediction["topIntent"] == "CancelBooking", prediction
    assert ("Destination", "Denver") in {(e["category"], e["text"]) for e in prediction["entities"]}, prediction
    prediction = analyze(client, "Fly me from Prague to Dublin in coach")
    assert prediction["topIntent"] == "BookFlight", prediction
    found = {(e["category"], e["text"]) for e in prediction["entities"]}
    assert {("Origin", "Prague"), ("Destination", "Dublin"), ("Class", "coach")} <= found, prediction["entities"]


def test_mistakes_get_clear_errors(client):
    task = {
        "kind": "Conversation",
        "analysisInput": {"conversationItem": {"participantId": "1", "id": "1", "text": "hello"}},
        "parameters": {"projectName": "no-such-project", "deploymentName": "production"},
    }
    with pytest.raises(ResourceNotFoundError):
        client.analyze_conversation(task)
    task["parameters"]["projectName"] = PROJECT
    task["analysisInput"]["conversationItem"]["text"] = "x" * 501
    with pytest.raises(HttpResponseError) as refused:
        client.analyze_conversation(task)
    assert refused.value.status_code == 400
