from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.factories import UserFactory, VehicleFactory


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Uploaded photos land in a folder of their own per test."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def owner(db):
    return UserFactory()


@pytest.fixture
def stranger(db):
    return UserFactory()


@pytest.fixture
def vehicle(owner):
    return VehicleFactory(owner=owner)


@pytest.fixture
def png_upload():
    def make(name: str = "car.png") -> SimpleUploadedFile:
        buffer = io.BytesIO()
        Image.new("RGB", (64, 40), "navy").save(buffer, format="PNG")
        return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")

    return make
