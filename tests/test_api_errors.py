"""How the API answers what it cannot serve: every error in the {"code", "detail", "fields"}
envelope the schema documents (config/api.py). Found by tests/market/api/test_api_schemathesis.py.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOT_FOUND = {"code": "not_found", "detail": "Nothing is found at this address.", "fields": {}}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing-here/",
        "/api/v1/orders/abc/",
        "/api/v1/orders/-1/",
        "/api/v1/vehicles/1.5/",
        "/api/v1/vehicles/x/list/",
    ],
)
def test_an_address_no_endpoint_matches_is_a_json_404(api_client: APIClient, path: str):
    response = api_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


def test_a_page_address_no_view_matches_is_still_a_page(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_api_address_without_its_slash_still_redirects(api_client: APIClient):
    response = api_client.get("/api/v1/instruments")

    assert (response.status_code, response["Location"]) == (301, "/api/v1/instruments/")


@pytest.mark.parametrize("format", ["bogus", "client_order_id", "json"])
def test_a_format_parameter_naming_no_renderer_is_ignored(api_client: APIClient, format: str):
    response = api_client.get("/api/v1/instruments/", {"format": format})

    assert (response.status_code, response.json()) == (200, [])


def test_errors_in_nested_input_are_named_by_their_path(api_client: APIClient):
    api_client.force_authenticate(UserFactory())

    response = api_client.post(
        "/api/v1/vehicles/",
        {
            "make": "Honda",
            "model": "Accord",
            "year": 2003,
            "vin": "1HGCM82633A004352",
            "specs": [{"name": "Engine", "value": "2.4 L"}, {"name": "Gearbox"}],
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "This field is required.",
        "fields": {"specs.1.value": ["This field is required."]},
    }


def test_the_schema_states_the_bounds_that_query_parsing_enforces(api_client: APIClient):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]

    def query_schema(path: str, name: str) -> dict:
        parameters = paths[path]["get"]["parameters"]
        return next(p["schema"] for p in parameters if p["in"] == "query" and p["name"] == name)

    book = query_schema("/api/v1/instruments/{symbol}/book/", "depth")
    trades = query_schema("/api/v1/instruments/{symbol}/trades/", "limit")
    bars = query_schema("/api/v1/instruments/{symbol}/bars/", "minutes")
    assert (book["minimum"], book["maximum"], book["default"]) == (1, 50, 10)
    assert (trades["minimum"], trades["maximum"], trades["default"]) == (1, 200, 50)
    assert (bars["minimum"], bars["maximum"], bars["default"]) == (1, 390, 30)


@pytest.mark.parametrize("path", ["/api/v1/orders/", "/api/v1/vehicles/{vehicle_id}/list/"])
def test_endpoints_taking_json_integers_document_json_bodies_only(api_client: APIClient, path: str):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]

    assert list(paths[path]["post"]["requestBody"]["content"]) == ["application/json"]


def test_every_operation_with_a_body_documents_415(api_client: APIClient):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]
    with_a_body = {
        (method, path): operation["responses"]
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }

    assert len(with_a_body) == 6
    assert [key for key, responses in with_a_body.items() if "415" not in responses] == []


def test_a_body_without_a_content_type_is_a_415_in_the_envelope(api_client: APIClient):
    # Schemathesis sent one to the sign-up and log-in operations, which take forms too.
    response = api_client.generic(
        "POST", "/api/v1/auth/token/", b"username=a&password=b", content_type=""
    )

    assert response.status_code == 415
    assert response.json() == {
        "code": "unsupported_media_type",
        "detail": 'Unsupported media type "" in request.',
        "fields": {},
    }
