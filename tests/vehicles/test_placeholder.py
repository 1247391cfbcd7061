from __future__ import annotations

import xml.dom.minidom

import pytest
from django.urls import reverse

from tests.factories import VehicleFactory, VehiclePhotoFactory
from vehicles.placeholder import placeholder_colours, placeholder_svg


@pytest.mark.django_db
def test_placeholder_is_a_cached_svg_showing_year_make_and_model(client):
    vehicle = VehicleFactory(make="Porsche", model="911", year=1989)

    response = client.get(reverse("vehicles:placeholder", args=[vehicle.pk]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert "max-age=86400" in response["Cache-Control"]
    assert "public" in response["Cache-Control"]
    assert response["ETag"]
    svg = response.content.decode()
    assert "Porsche" in svg
    assert "911" in svg
    assert "1989" in svg
    xml.dom.minidom.parseString(svg)


@pytest.mark.django_db
def test_placeholder_answers_304_when_the_browser_has_it(client, vehicle):
    url = reverse("vehicles:placeholder", args=[vehicle.pk])
    etag = client.get(url)["ETag"]

    response = client.get(url, headers={"if-none-match": etag})

    assert response.status_code == 304


@pytest.mark.django_db
def test_placeholder_of_an_unknown_vehicle_is_404(client):
    assert client.get(reverse("vehicles:placeholder", args=[999_999])).status_code == 404


def test_placeholder_colours_follow_the_vin():
    same = placeholder_colours("1HGCM82633A004352")

    assert placeholder_colours("1hgcm82633a004352") == same
    assert placeholder_colours("1M8GDM9AXKP042788") != same
    assert same.start.startswith("#")
    assert len(same.start) == 7


def test_placeholder_escapes_text_and_shortens_long_names():
    svg = placeholder_svg(vin="1HGCM82633A004352", year=2003, make="<script>&", model="M" * 60)

    assert "<script>" not in svg
    assert "&lt;script&gt;&amp;" in svg
    assert "M" * 29 + "…" in svg
    xml.dom.minidom.parseString(svg)


@pytest.mark.django_db
def test_vehicle_page_shows_the_placeholder_only_without_photos(client, vehicle):
    placeholder_url = reverse("vehicles:placeholder", args=[vehicle.pk])

    before = client.get(vehicle.get_absolute_url()).content.decode()
    VehiclePhotoFactory(vehicle=vehicle)
    after = client.get(vehicle.get_absolute_url()).content.decode()

    assert placeholder_url in before
    assert placeholder_url not in after
