"""Custom Vision with the official SDK (azure-cognitiveservices-vision-customvision 3.1.1), unchanged,
pointed at the gateway: the quickstart's flow (domains, project, tags, a base64 batch of labelled images,
train and poll the iteration, publish, classify with the prediction client), then the ONNX export run by
ONNX Runtime, which must give the same top class as the prediction route.

The images are drawn here: discs, stripes and triangles in varied colours, sizes and places."""

import io
import json
import random
import time

import numpy as np
import onnxruntime
import pytest
import requests
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (
    CustomVisionErrorException,
    ImageFileCreateBatch,
    ImageFileCreateEntry,
)
from msrest.authentication import ApiKeyCredentials
from PIL import Image, ImageDraw

SHAPES = ["disc", "stripes", "triangle"]


def drawing(shape: str, rng: random.Random) -> bytes:
    w, h = rng.randint(180, 300), rng.randint(180, 300)
    image = Image.new("RGB", (w, h), (rng.randint(225, 255), rng.randint(225, 255), rng.randint(215, 245)))
    draw = ImageDraw.Draw(image)
    colour = (rng.randint(20, 230), rng.randint(20, 230), rng.randint(20, 230))
    if shape == "disc":
        r = rng.randint(40, min(w, h) // 2 - 10)
        cx, cy = rng.randint(r, w - r), rng.randint(r, h - r)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif shape == "stripes":
        y = rng.randint(0, 10)
        while y < h:
            band = rng.randint(8, 22)
            draw.rectangle((0, y, w, y + band), fill=colour)
            y += band * 2
    else:
        side = rng.randint(90, min(w, h) - 10)
        x, y = rng.randint(5, w - side - 5), rng.randint(5, h - side - 5)
        draw.polygon([(x, y + side), (x + side, y + side), (x + side // 2, y)], fill=colour)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def clients(cogway):
    key = cogway.create_key("sdk-custom-vision", ["vision"])
    trainer = CustomVisionTrainingClient(cogway.endpoint, ApiKeyCredentials(in_headers={"Training-key": key}))
    predictor = CustomVisionPredictionClient(cogway.endpoint, ApiKeyCredentials(in_headers={"Prediction-key": key}))
    return trainer, predictor


@pytest.fixture(scope="module")
def published(clients):
    trainer, _ = clients
    domain = next(d for d in trainer.get_domains() if d.type == "Classification" and d.name == "General (compact)")
    assert domain.exportable and "ONNX" in domain.exportable_platforms
    project = trainer.create_project("shapes", domain_id=domain.id, classification_type="Multiclass")
    tags = {name: trainer.create_tag(project.id, name) for name in SHAPES}
    rng = random.Random(16)
    entries = [
        ImageFileCreateEntry(name=f"{shape}{i}.png", contents=drawing(shape, rng), tag_ids=[tags[shape].id])
        for i in range(8)
        for shape in SHAPES
    ]
    summary = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    assert summary.is_batch_successful, [(i.source_url, i.status) for i in summary.images]
    assert {t.name: t.image_count for t in trainer.get_tags(project.id)} == {s: 8 for s in SHAPES}

    iteration = trainer.train_project(project.id)
    deadline = time.time() + 120
    while iteration.status != "Completed":
        assert iteration.status == "Training" and time.time() < deadline, iteration.status
        time.sleep(1)
        iteration = trainer.get_iteration(project.id, iteration.id)
    trainer.publish_iteration(project.id, iteration.id, "shapes-v1", "/subscriptions/x/resourceGroups/y/providers/Microsoft.CognitiveServices/accounts/z")
    return trainer, project, tags, iteration


def test_the_sdk_trains_publishes_and_classifies_new_drawings(clients, published):
    _, predictor = clients
    _, project, tags, iteration = published
    rng = random.Random(2026)
    for shape in SHAPES * 3:
        result = predictor.classify_image(project.id, "shapes-v1", drawing(shape, rng))
        best = result.predictions[0]
        assert (best.tag_name, best.tag_id) == (shape, tags[shape].id), [(p.tag_name, p.probability) for p in result.predictions]
        assert best.probability > 0.5 and result.iteration == iteration.id
        assert abs(sum(p.probability for p in result.predictions) - 1) < 1e-3


def test_the_onnx_export_gives_the_prediction_routes_top_class(clients, published):
    _, predictor = clients
    trainer, project, _, iteration = published
    export = trainer.export_iteration(project.id, iteration.id, "ONNX")
    deadline = time.time() + 120
    while export.status != "Done":
        assert export.status == "Exporting" and time.time() < deadline, export.status
        time.sleep(1)
        export = next(e for e in trainer.get_exports(project.id, iteration.id) if e.platform == "ONNX")
    download = requests.get(export.download_uri, timeout=120)  # a link: no key
    assert download.status_code == 200, download.text
    session = onnxruntime.InferenceSession(download.content, providers=["CPUExecutionProvider"])
    tags = json.loads(session.get_modelmeta().custom_metadata_map["tags"])
    assert sorted(tags) == sorted(SHAPES)

    rng = random.Random(7)
    for shape in SHAPES * 2:
        png = drawing(shape, rng)
        # The export takes the centre crop the gateway takes: shorter side to 256, the central 224.
        image = Image.open(io.BytesIO(png)).convert("RGB")
        scale = 256 / min(image.size)
        image = image.resize((max(224, round(image.width * scale)), max(224, round(image.height * scale))), Image.BILINEAR)
        left, top = (image.width - 224) // 2, (image.height - 224) // 2
        pixels = np.asarray(image.crop((left, top, left + 224, top + 224)), dtype=np.float32)
        label, probabilities = session.run(["classLabel", "probabilities"], {"image": pixels.transpose(2, 0, 1)[None]})
        served = predictor.classify_image(project.id, "shapes-v1", png).predictions
        assert label[0] == served[0].tag_name == shape, (label, [(p.tag_name, p.probability) for p in served])
        assert abs(float(probabilities[0].max()) - served[0].probability) < 0.1


def test_mistakes_get_clear_errors(clients, published):
    trainer, project, tags, _ = published
    with pytest.raises(CustomVisionErrorException) as refused:
        trainer.create_tag(project.id, "disc")
    assert refused.value.response.status_code == 409
    with pytest.raises(CustomVisionErrorException) as refused:
        trainer.create_project("multi", classification_type="Multilabel")
    assert refused.value.response.status_code == 400
    two_tags = ImageFileCreateEntry(name="both.png", contents=drawing("disc", random.Random(1)), tag_ids=[tags["disc"].id, tags["stripes"].id])
    with pytest.raises(CustomVisionErrorException) as refused:
        trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=[two_tags]))
    assert refused.value.response.status_code == 400
