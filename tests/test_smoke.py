import pytest


@pytest.mark.django_db
def test_home_page_renders(client):
    response = client.get("/")

    assert response.status_code == 200
    assert b"Market" in response.content


@pytest.mark.django_db
def test_api_schema_is_served(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert b"openapi" in response.content


@pytest.mark.django_db
def test_admin_login_page_renders(client):
    response = client.get("/admin/login/")

    assert response.status_code == 200


@pytest.mark.django_db
def test_health_endpoint_answers_without_auth_or_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/api/v1/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
