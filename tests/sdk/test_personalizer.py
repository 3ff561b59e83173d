"""Personalizer with the official clients (azure-ai-personalizer 1.0.0b1), unchanged, pointed at the gateway:
a loop learns online which drink each kind of customer wants (the best action depends on the context) and,
after a few hundred rank and reward rounds, chooses it at least 70% of the time; exclusions, deferred
activation, multi-slot rank and reward, the service configuration, the policy and the model go through the
SDK's own calls."""

import time

import pytest
from azure.ai.personalizer import PersonalizerAdministrationClient, PersonalizerClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError

ACTIONS = [
    {"id": "espresso", "features": [{"temperature": "hot", "caffeine": "high"}]},
    {"id": "green-tea", "features": [{"temperature": "hot", "caffeine": "low"}]},
    {"id": "lemonade", "features": [{"temperature": "cold", "caffeine": "none"}]},
]
# Who is asking, and what they reward.
CUSTOMERS = [
    ({"customer": {"type": "night-shift"}, "weather": "cold"}, "espresso"),
    ({"customer": {"type": "yoga"}, "weather": "mild"}, "green-tea"),
    ({"customer": {"type": "kid"}, "weather": "hot"}, "lemonade"),
]


@pytest.fixture
def clients(cogway):
    key = AzureKeyCredential(cogway.create_key("sdk-personalizer", ["decision"]))
    with PersonalizerClient(cogway.endpoint, key) as client, PersonalizerAdministrationClient(
        cogway.endpoint, key
    ) as admin:
        yield client, admin


def fast_updates(admin, **changes):
    config = admin.get_service_configuration()
    config.update({"modelExportFrequency": "PT1S", **changes})
    return admin.update_service_configuration(config)


def play(client, rounds, pause_every=40):
    """Ranks and rewards `rounds` times; returns how often the best action was chosen."""
    best_chosen = 0
    for i in range(rounds):
        context, best = CUSTOMERS[i % len(CUSTOMERS)]
        answer = client.rank({"contextFeatures": [context], "actions": ACTIONS})
        chosen = answer["rewardActionId"]
        client.reward(answer["eventId"], {"value": 1.0 if chosen == best else 0.0})
        best_chosen += chosen == best
        if (i + 1) % pause_every == 0:
            time.sleep(1.5)  # the loop learns once a second (modelExportFrequency PT1S)
    return best_chosen / rounds


def test_learns_the_best_action_for_each_context(clients):
    client, admin = clients
    assert fast_updates(admin)["modelExportFrequency"] == "PT1S"
    untrained = admin.get_model_properties()
    play(client, 360)
    time.sleep(1.5)
    share = play(client, 120)
    print(f"best action chosen {share:.0%} of the last 120 rounds")
    assert share >= 0.7, f"the best action was chosen {share:.0%} of the time after 360 rounds"
    assert admin.get_model_properties()["lastModifiedTime"] >= untrained["lastModifiedTime"]


def test_rank_answers_a_distribution_and_honours_exclusions(clients):
    client, _ = clients
    answer = client.rank(
        {"contextFeatures": [CUSTOMERS[0][0]], "actions": ACTIONS, "excludedActions": ["lemonade"], "eventId": "order-1"}
    )
    assert answer["eventId"] == "order-1"
    probabilities = {a["id"]: a["probability"] for a in answer["ranking"]}
    assert set(probabilities) == {"espresso", "green-tea", "lemonade"}
    assert probabilities["lemonade"] == 0 and answer["rewardActionId"] != "lemonade"
    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert answer["ranking"][0]["id"] == answer["rewardActionId"]
    with pytest.raises(HttpResponseError) as raised:
        client.rank({"contextFeatures": [CUSTOMERS[0][0]], "actions": ACTIONS, "eventId": "order-1"})
    assert raised.value.status_code == 400


def test_deferred_activation_and_multi_slot(clients):
    client, _ = clients
    deferred = client.rank({"contextFeatures": [CUSTOMERS[1][0]], "actions": ACTIONS, "deferActivation": True})
    assert client.activate(deferred["eventId"]) is None
    assert client.reward(deferred["eventId"], {"value": 0.5}) is None
    slots = client.rank_multi_slot(
        {
            "contextFeatures": [CUSTOMERS[2][0]],
            "actions": ACTIONS,
            "slots": [
                {"id": "main", "features": [{"size": "large"}], "baselineAction": "espresso"},
                {"id": "side", "positionFeatures": [{"size": "small"}], "baselineAction": "lemonade",
                 "excludedActions": ["green-tea"]},
            ],
        }
    )
    chosen = {s["id"]: s["rewardActionId"] for s in slots["slots"]}
    assert set(chosen) == {"main", "side"} and chosen["main"] != chosen["side"]
    assert chosen["side"] != "green-tea"
    assert client.reward_multi_slot(slots["eventId"], {"reward": [{"slotId": "main", "value": 1.0}]}) is None
    assert client.activate_multi_slot(slots["eventId"]) is None


def test_configuration_policy_and_model(clients):
    client, admin = clients
    config = fast_updates(admin, explorationPercentage=0.0, learningMode="Apprentice")
    assert admin.get_service_configuration()["learningMode"] == "Apprentice"
    # An apprentice loop answers the baseline: the first action.
    assert client.rank({"actions": ACTIONS})["rewardActionId"] == "espresso"
    config["explorationPercentage"] = 3
    with pytest.raises(HttpResponseError) as raised:
        admin.update_service_configuration(config)
    assert raised.value.status_code == 400

    policy = admin.update_policy({"name": "slower", "arguments": "--cb_explore_adf --epsilon 0.1 -l 0.1"})
    assert admin.get_policy() == policy
    with pytest.raises(HttpResponseError) as raised:
        admin.update_policy({"name": "cats", "arguments": "--cats 4 --bandwidth 1"})
    assert raised.value.error.code == "InvalidPolicyConfiguration"
    assert "--cb_explore_adf" in admin.reset_policy()["arguments"]

    exported = b"".join(admin.export_model())
    assert exported.startswith(b"CGWPZ001")
    admin.import_model(exported)
    with pytest.raises(HttpResponseError) as raised:
        admin.import_model(b"not a model")
    assert raised.value.status_code == 400
    admin.reset_model()
    assert "dateRange" in admin.get_log_properties()
    admin.delete_logs()


def test_bad_requests(clients):
    client, _ = clients
    too_many = [{"id": f"a{i}", "features": [{"n": i}]} for i in range(51)]
    with pytest.raises(HttpResponseError) as raised:
        client.rank({"actions": too_many})
    assert raised.value.error.code == "InvalidRankRequest"
    with pytest.raises(HttpResponseError) as raised:
        client.reward("some-event", {"value": 2.0})
    assert raised.value.error.code == "InvalidRewardRequest"


def test_many_loops_and_hostile_features(cogway):
    """More loops than the server keeps parsed (64) are each created and reloaded without a hang, and
    absurd feature values are ranked and learned like any other."""
    clients = []
    for i in range(66):
        client = PersonalizerClient(cogway.endpoint, AzureKeyCredential(cogway.create_key(f"sdk-loop-{i}", ["decision"])))
        clients.append(client)
        assert client.rank({"actions": ACTIONS})["rewardActionId"] in {"espresso", "green-tea", "lemonade"}
    hostile = {"contextFeatures": [{"x": 1e39, "y": -1e300, "deep": {"a": {"b": {"c": [1, "two", True]}}}}],
               "actions": [{"id": "a", "features": [{"z": 1e20}]}, {"id": "b"}]}
    for client in clients[:3]:
        answer = client.rank(hostile)
        client.reward(answer["eventId"], {"value": 1.0})
        assert client.rank({"actions": ACTIONS})["eventId"]
    for client in clients:
        client.close()
