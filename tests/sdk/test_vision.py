"""The official Azure SDK for Python (azure-ai-vision-imageanalysis 1.0.0) against the gateway's
Image Analysis 4.0 route, `POST /computervision/imageanalysis:analyze?api-version=2023-10-01`.

The client gets the gateway's base URL as its endpoint and an `AzureKeyCredential`. Photos come
from the model store's `darknet-photos` (Debian's darknet package); the text image is drawn here
with Pillow and DejaVu Sans.
"""

import io
import os
from pathlib import Path

import pytest
from azure.ai.vision.imageanalysis import ImageAnalysisClient
from azure.ai.vision.imageanalysis.models import VisualFeatures
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def models_dir() -> Path:
    if os.environ.get("COGWAY_MODELS_DIR"):
        return Path(os.environ["COGWAY_MODELS_DIR"])
    cache = Path(os.environ.get("COGWAY_CACHE") or Path.home() / ".cache" / "cogway")
    return cache / "models"


def photo(name: str) -> bytes:
    return (models_dir() / "darknet-photos" / name).read_bytes()


@pytest.fixture(scope="module")
def vision(cogway):
    key = cogway.create_key("sdk-vision-test", ["vision"])
    with ImageAnalysisClient(endpoint=cogway.endpoint, credential=AzureKeyCredential(key)) as c:
        yield c


def text_png(lines: list[str], size=(900, 260)) -> bytes:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 48)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 110 * i), line, font=font, fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_objects_people_and_tags_of_a_photo(vision):
    result = vision.analyze(
        image_data=photo("dog.jpg"),
        visual_features=[VisualFeatures.TAGS, VisualFeatures.OBJECTS, VisualFeatures.PEOPLE],
    )
    assert (result.metadata.width, result.metadata.height) == (768, 576)
    objects = {o.tags[0].name for o in result.objects.list}
    assert {"dog", "bicycle"} <= objects, objects
    for o in result.objects.list:
        box = o.bounding_box
        assert box.x >= 0 and box.y >= 0 and box.x + box.width <= 768 and box.y + box.height <= 576, o
    assert "dog" in [t.name for t in result.tags.list]
    assert result.people.list == []


def test_people(vision):
    result = vision.analyze(image_data=photo("person.jpg"), visual_features=[VisualFeatures.PEOPLE])
    people = result.people.list
    assert len(people) == 1 and people[0].confidence > 0.5, people
    assert result.objects is None and result.tags is None


def test_read_drawn_text(vision):
    result = vision.analyze(
        image_data=text_png(["HELLO 2026", "Invoice 42 total 19.99"]), visual_features=[VisualFeatures.READ]
    )
    lines = [line for block in result.read.blocks for line in block.lines]
    assert [line.text for line in lines] == ["HELLO 2026", "Invoice 42 total 19.99"]
    words = [w for line in lines for w in line.words]
    assert [w.text for w in words] == ["HELLO", "2026", "Invoice", "42", "total", "19.99"]
    for w in words:
        assert len(w.bounding_polygon) == 4
        assert all(0 <= p.x <= 900 and 0 <= p.y <= 260 for p in w.bounding_polygon), w
        assert 0.5 < w.confidence <= 1.0


def test_smart_crops(vision):
    result = vision.analyze(
        image_data=photo("giraffe.jpg"), visual_features=[VisualFeatures.SMART_CROPS], smart_crops_aspect_ratios=[0.9, 1.33]
    )
    crops = result.smart_crops.list
    assert [c.aspect_ratio for c in crops] == [0.9, 1.33]
    for c in crops:
        assert abs(c.bounding_box.width / c.bounding_box.height - c.aspect_ratio) < 0.02


def test_caption_is_refused_not_invented(vision):
    with pytest.raises(HttpResponseError) as err:
        vision.analyze(image_data=photo("dog.jpg"), visual_features=[VisualFeatures.CAPTION])
    assert err.value.status_code == 400
    assert "NotSupportedVisualFeature" in str(err.value)


def test_a_bad_key_is_refused(cogway):
    with ImageAnalysisClient(endpoint=cogway.endpoint, credential=AzureKeyCredential("0" * 32)) as bad:
        with pytest.raises(ClientAuthenticationError):
            bad.analyze(image_data=photo("dog.jpg"), visual_features=[VisualFeatures.TAGS])
