"""Content Safety with the official clients (azure-ai-contentsafety 1.0.0), unchanged, pointed at the gateway: a
violent threat gets Violence >= 2, a benign sentence 0 in every category, self-harm and hate are told apart,
eight-level output, and a blocklist made through BlocklistClient matches its term (and halts analysis when
asked). Images: real photos (the model store's darknet and group photos) are 0 in every category, a threat
printed in a picture is read and graded as violent, and bad images get 400 InvalidRequestBody."""

import io
import os
from pathlib import Path

import pytest
from azure.ai.contentsafety import BlocklistClient, ContentSafetyClient
from azure.ai.contentsafety.models import (
    AddOrUpdateTextBlocklistItemsOptions,
    AnalyzeImageOptions,
    ImageCategory,
    ImageData,
    AnalyzeTextOptions,
    AnalyzeTextOutputType,
    RemoveTextBlocklistItemsOptions,
    TextBlocklist,
    TextBlocklistItem,
    TextCategory,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def models_dir() -> Path:
    if os.environ.get("COGWAY_MODELS_DIR"):
        return Path(os.environ["COGWAY_MODELS_DIR"])
    return Path(os.environ.get("COGWAY_CACHE") or Path.home() / ".cache" / "cogway") / "models"


def drawn(text: str) -> bytes:
    """A white picture with `text` printed large in black, as PNG."""
    image = Image.new("RGB", (900, 240), "white")
    ImageDraw.Draw(image).text((40, 80), text, font=ImageFont.truetype(FONT, 56), fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def clients(cogway):
    key = AzureKeyCredential(cogway.create_key("sdk-content-safety", ["decision"]))
    with ContentSafetyClient(cogway.endpoint, key) as safety, BlocklistClient(cogway.endpoint, key) as blocklists:
        yield safety, blocklists


def severity(result, category):
    return next(item.severity for item in result.categories_analysis if item.category == category)


def test_a_threat_is_violent_and_a_greeting_is_not(clients):
    safety, _ = clients
    threat = safety.analyze_text(AnalyzeTextOptions(text="I am going to find you and kill you."))
    assert severity(threat, TextCategory.VIOLENCE) >= 2
    assert {item.category for item in threat.categories_analysis} == {"Hate", "SelfHarm", "Sexual", "Violence"}
    benign = safety.analyze_text(AnalyzeTextOptions(text="Thanks for the lovely dinner, see you on Tuesday!"))
    assert [item.severity for item in benign.categories_analysis] == [0, 0, 0, 0]


def test_categories_and_eight_levels(clients):
    safety, _ = clients
    result = safety.analyze_text(
        AnalyzeTextOptions(
            text="I want to kill myself tonight.",
            categories=[TextCategory.SELF_HARM, TextCategory.HATE],
            output_type=AnalyzeTextOutputType.EIGHT_SEVERITY_LEVELS,
        )
    )
    assert [item.category for item in result.categories_analysis] == ["Hate", "SelfHarm"]
    assert severity(result, TextCategory.SELF_HARM) >= 5
    assert severity(result, TextCategory.HATE) == 0
    hate = safety.analyze_text(AnalyzeTextOptions(text="All immigrants are vermin."))
    assert severity(hate, TextCategory.HATE) in (4, 6)


def test_blocklist_matches_its_term(clients):
    safety, blocklists = clients
    created = blocklists.create_or_update_text_blocklist(
        blocklist_name="product-names", options=TextBlocklist(blocklist_name="product-names", description="unreleased")
    )
    assert created.blocklist_name == "product-names"
    added = blocklists.add_or_update_blocklist_items(
        blocklist_name="product-names",
        options=AddOrUpdateTextBlocklistItemsOptions(
            blocklist_items=[TextBlocklistItem(text="Project Falcon"), TextBlocklistItem(text="k*ll", description="x")]
        ),
    )
    ids = {item.text: item.blocklist_item_id for item in added.blocklist_items}
    assert set(ids) == {"Project Falcon", "k*ll"}
    assert [b.blocklist_name for b in blocklists.list_text_blocklists()] == ["product-names"]
    assert {i.text for i in blocklists.list_text_blocklist_items(blocklist_name="product-names")} == set(ids)
    assert blocklists.get_text_blocklist_item(blocklist_name="product-names", blocklist_item_id=ids["k*ll"]).text == "k*ll"

    result = safety.analyze_text(
        AnalyzeTextOptions(text="The launch of project falcon is on Monday.", blocklist_names=["product-names"])
    )
    assert [m.blocklist_item_text for m in result.blocklists_match] == ["Project Falcon"]
    assert result.blocklists_match[0].blocklist_item_id == ids["Project Falcon"]
    halted = safety.analyze_text(
        AnalyzeTextOptions(text="I will k*ll you", blocklist_names=["product-names"], halt_on_blocklist_hit=True)
    )
    assert [m.blocklist_item_text for m in halted.blocklists_match] == ["k*ll"]
    assert halted.categories_analysis == []

    blocklists.remove_blocklist_items(
        blocklist_name="product-names", options=RemoveTextBlocklistItemsOptions(blocklist_item_ids=[ids["k*ll"]])
    )
    again = safety.analyze_text(AnalyzeTextOptions(text="I will k*ll you", blocklist_names=["product-names"]))
    assert again.blocklists_match == []
    blocklists.delete_text_blocklist(blocklist_name="product-names")
    with pytest.raises(ResourceNotFoundError):
        blocklists.get_text_blocklist(blocklist_name="product-names")


def test_bad_requests(clients):
    safety, blocklists = clients
    with pytest.raises(HttpResponseError) as raised:
        safety.analyze_text(AnalyzeTextOptions(text="x" * 10_001))
    assert raised.value.status_code == 400 and raised.value.error.code == "InvalidRequestBody"
    with pytest.raises(ResourceNotFoundError):
        safety.analyze_text(AnalyzeTextOptions(text="hello", blocklist_names=["no-such-list"]))
    with pytest.raises(HttpResponseError) as raised:
        blocklists.create_or_update_text_blocklist(
            blocklist_name="bad name!", options=TextBlocklist(blocklist_name="bad name!")
        )
    assert raised.value.status_code == 400


PHOTOS = [
    ("darknet-photos", "dog.jpg"),
    ("darknet-photos", "eagle.jpg"),
    ("darknet-photos", "giraffe.jpg"),
    ("darknet-photos", "horses.jpg"),
    ("darknet-photos", "person.jpg"),
    ("darknet-photos", "kite.jpg"),
    ("face-photos", "group.jpg"),
]


@pytest.mark.parametrize("model,name", PHOTOS)
def test_real_photos_are_safe(clients, model, name):
    safety, _ = clients
    photo = (models_dir() / model / name).read_bytes()
    result = safety.analyze_image(AnalyzeImageOptions(image=ImageData(content=photo)))
    assert [(item.category, item.severity) for item in result.categories_analysis] == [
        ("Hate", 0),
        ("SelfHarm", 0),
        ("Sexual", 0),
        ("Violence", 0),
    ]


def test_a_printed_threat_is_violent(clients):
    safety, _ = clients
    threat = safety.analyze_image(AnalyzeImageOptions(image=ImageData(content=drawn("I am going to kill you"))))
    assert severity(threat, ImageCategory.VIOLENCE) >= 2
    assert severity(threat, ImageCategory.SEXUAL) == 0
    greeting = safety.analyze_image(
        AnalyzeImageOptions(
            image=ImageData(content=drawn("Have a lovely weekend")),
            categories=[ImageCategory.VIOLENCE, ImageCategory.HATE],
        )
    )
    assert [(item.category, item.severity) for item in greeting.categories_analysis] == [("Hate", 0), ("Violence", 0)]


def test_bad_images(clients):
    safety, _ = clients
    tiny = io.BytesIO()
    Image.new("RGB", (30, 30), "white").save(tiny, format="PNG")
    for image in (ImageData(content=b"not an image"), ImageData(content=tiny.getvalue()), ImageData()):
        with pytest.raises(HttpResponseError) as raised:
            safety.analyze_image(AnalyzeImageOptions(image=image))
        assert raised.value.status_code == 400 and raised.value.error.code == "InvalidRequestBody"
    with pytest.raises(HttpResponseError) as raised:
        safety.analyze_image(AnalyzeImageOptions(image=ImageData(content=drawn("hello")), output_type="EightSeverityLevels"))
    assert raised.value.status_code == 400
