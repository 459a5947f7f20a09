"""The API document is valid OpenAPI 3, and every date a schema accepts is one PostgreSQL takes."""
from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from tests.helpers import auth, post_report, report_json, storage_snapshot

ODD_DATES = [
    ("0513-10-18T12:28:47+21:46", "UTC offset"),   # an offset no civil zone has
    ("0001-01-01T00:00:00+08:00", "years 1 and 9999"),  # moving it to UTC underflows
    ("9999-12-31T23:30:00-05:00", "years 1 and 9999"),  # and this one overflows
]


def _document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_openapi_document_validates_as_openapi_3(client):
    document = _document(client)
    validate(document)  # raises on any violation of the OpenAPI 3.0 schema
    assert document["openapi"].startswith("3.0")


def test_no_swagger_2_form_parameters_remain(client):
    for path, item in _document(client)["paths"].items():
        operations = [op for key, op in item.items() if key != "parameters"]
        parameters = item.get("parameters", []) + [
            parameter for op in operations for parameter in op.get("parameters", [])]
        for parameter in parameters:
            assert parameter["in"] in ("query", "path", "header", "cookie"), (path, parameter)


def test_submission_body_declares_report_and_photos(client):
    document = _document(client)
    body = document["paths"]["/api/v1/reports"]["post"]["requestBody"]
    schema_ref = body["content"]["multipart/form-data"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    # Photos may come as parts or as finished resumable uploads named in the report.
    assert set(schema["required"]) == {"report"}
    assert schema["properties"]["photos"]["items"]["format"] == "binary"


@pytest.mark.parametrize("value,reason", ODD_DATES)
@pytest.mark.parametrize("path,name", [
    ("/api/v1/reports", "observed_to"),
    ("/api/v1/reports", "observed_from"),
    ("/api/v1/hotspots/candidates", "to"),
    ("/api/v1/hotspots/hexbins", "from"),
])
def test_odd_dates_in_queries_are_422_naming_the_field(client, coordinator, path, name,
                                                       value, reason):
    response = client.get(path, query_string={name: value}, headers=auth(coordinator[2]))
    assert response.status_code == 422, response.get_json()
    assert reason in response.get_json()["errors"][name][0]


@pytest.mark.parametrize("value,reason", ODD_DATES)
def test_odd_dates_in_promotion_are_422(client, coordinator, value, reason):
    response = client.post("/api/v1/hotspots/candidates/anything/promote",
                           json={"site": {"name": "x"}, "to": value},
                           headers=auth(coordinator[2]))
    assert response.status_code == 422, response.get_json()
    assert reason in response.get_json()["errors"]["to"][0]


@pytest.mark.parametrize("value,reason", ODD_DATES)
def test_odd_dates_in_ogc_datetime_are_400_or_422_never_500(client, coordinator, value,
                                                            reason):
    response = client.get("/ogc/collections/reports/items", query_string={"datetime": value},
                          headers=auth(coordinator[2]))
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert reason in str(response.get_json()["errors"])


@pytest.mark.parametrize("value,reason", ODD_DATES)
def test_odd_observed_at_is_refused_and_nothing_is_written(app, client, volunteer, value,
                                                           reason):
    from tests.imagegen import jpeg_bytes

    before = storage_snapshot(app)
    response = post_report(client, volunteer[2], report_json(observed_at=value),
                           [(jpeg_bytes(seed=7), "a.jpg")])
    assert response.status_code == 422
    assert reason in response.get_json()["errors"]["report.observed_at"][0]
    assert storage_snapshot(app) == before


@pytest.mark.parametrize("request_args", [
    ("post", "/api/v1/auth/token", {"json": {"email": "a\x00@example.org", "password": "x"}},
     "email"),
    ("get", "/api/v1/sites", {"query_string": {"q": "dye\x00works"}}, "q"),
])
def test_nul_characters_are_422_naming_the_field(client, coordinator, request_args):
    method, path, kwargs, field = request_args
    response = getattr(client, method)(path, headers=auth(coordinator[2]), **kwargs)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["errors"] == {field: ["must not contain NUL characters"]}


def test_nul_in_a_report_claim_is_422_and_nothing_is_written(app, client, volunteer):
    from tests.imagegen import jpeg_bytes

    before = storage_snapshot(app)
    response = post_report(client, volunteer[2], report_json(description="dark\x00water"),
                           [(jpeg_bytes(seed=8), "a.jpg")])
    assert response.status_code == 422
    assert "report.description" in response.get_json()["errors"]
    assert storage_snapshot(app) == before
