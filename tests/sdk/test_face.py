"""Face detection with the official Face SDK (azure-ai-vision-face 1.0.0b2), unchanged, pointed at the
gateway: it calls `POST /face/v1.2-preview.1/detect`. The photo is the model store's group photo
(five people on a staircase, every face visible)."""

import os
from pathlib import Path

import pytest
from azure.ai.vision.face import FaceClient
from azure.ai.vision.face.models import FaceDetectionModel, FaceRecognitionModel
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError


def group_photo() -> bytes:
    cache = Path(os.environ.get("COGWAY_CACHE") or Path.home() / ".cache" / "cogway")
    models = Path(os.environ.get("COGWAY_MODELS_DIR") or cache / "models")
    return (models / "face-photos" / "group.jpg").read_bytes()


@pytest.fixture(scope="module")
def faces(cogway):
    key = cogway.create_key("sdk-face", ["vision"])
    return FaceClient(endpoint=cogway.endpoint, credential=AzureKeyCredential(key))


def test_the_face_sdk_finds_every_face_with_landmarks(faces):
    found = faces.detect(
        group_photo(),
        detection_model=FaceDetectionModel.DETECTION03,
        recognition_model=FaceRecognitionModel.RECOGNITION04,
        return_face_id=True,
        return_face_landmarks=True,
        return_recognition_model=True,
    )
    assert len(found) == 5, found
    areas = [f.face_rectangle.width * f.face_rectangle.height for f in found]
    assert areas == sorted(areas, reverse=True), areas
    for face in found:
        rect, marks = face.face_rectangle, face.face_landmarks
        assert len(face.face_id) == 36 and face.recognition_model == "recognition_04", face
        # The landmarks lie inside their face: pupils above the nose tip, the nose above the mouth.
        for point in (marks.pupil_left, marks.pupil_right, marks.nose_tip, marks.mouth_left, marks.mouth_right):
            assert rect.left <= point.x <= rect.left + rect.width and rect.top <= point.y <= rect.top + rect.height
        assert max(marks.pupil_left.y, marks.pupil_right.y) < marks.nose_tip.y < min(marks.mouth_left.y, marks.mouth_right.y)


def test_attributes_are_refused_not_guessed(faces):
    with pytest.raises(HttpResponseError) as refused:
        faces.detect(
            group_photo(),
            detection_model=FaceDetectionModel.DETECTION01,
            recognition_model=FaceRecognitionModel.RECOGNITION04,
            return_face_id=False,
            return_face_attributes=["age"],
        )
    assert refused.value.status_code == 400
