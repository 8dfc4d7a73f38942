"""The OpenAPI document comes from the same schemas that validate requests, covers every
endpoint, and has a readable page that needs no script."""

from __future__ import annotations

import re

from app.api import schemas


def spec_of(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_every_api_route_is_documented(app):
    spec = spec_of(app)
    documented = {
        (re.sub(r"{(\w+)}", r"<\1>", path), method.upper())
        for path, item in spec["paths"].items() for method in item if method != "parameters"
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"<\1>", rule.rule)
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
    assert len(documented) == 77


def test_every_operation_has_a_summary_and_the_error_body(app):
    spec = spec_of(app)
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["summary"], (method, path)
            assert operation["responses"]["default"] == {
                "$ref": "#/components/responses/DEFAULT_ERROR"}
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert sorted(spec["components"]["schemas"]["ErrorDetail"]["required"]) == [
        "code", "fields", "message"]


def test_the_document_is_the_validating_schema(app):
    spec = spec_of(app)
    body = spec["components"]["schemas"]["SetStockIn"]
    assert set(body["properties"]) == set(schemas.SetStockIn().fields)
    assert body["properties"]["quantity"] == {"type": "integer", "minimum": 0,
                                              "maximum": 1_000_000_000,
                                              "description": "The exact on-hand quantity"}
    assert "quantity" in body["required"]
    operation = spec["paths"]["/api/v1/store/inventory/set"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SetStockIn"}
    assert [p["name"] for p in operation["parameters"]] == ["Idempotency-Key"]


def test_auth_is_documented_and_the_public_read_needs_none(app):
    spec = spec_of(app)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}]
    public = spec["paths"]["/api/v1/public/products/{product_id}/availability"]["get"]
    assert public["security"] == []


def test_docs_page_lists_every_operation_without_scripts(app):
    response = app.test_client().get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for path in spec_of(app)["paths"]:
        assert path in html
    body = html.split("</head>", 1)[1]
    assert "<script" not in body and "style=" not in body
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert 'id="schema-StockChangeOut"' in html


def test_the_activity_reads_are_documented_with_their_filters(app):
    spec = spec_of(app)
    path = spec["paths"]["/api/v1/stores/{store_id}/activity"]
    names = {p["name"] for p in path["get"]["parameters"] + path.get("parameters", [])}
    assert {"store_id", "kind", "actor_id", "object_type", "object_id", "product_id", "from",
            "to", "cursor", "limit"} <= names
    admin = spec["paths"]["/api/v1/admin/activity"]["get"]
    assert "store_id" in {p["name"] for p in admin["parameters"]}
    item = spec["components"]["schemas"]["ActivityOut"]
    assert {"action", "changes", "object_label", "actor_name"} <= set(item["required"])


def test_a_stock_change_is_sent_with_exactly_its_documented_fields(app):
    """A stock change's body is sent without a pass through StockChangeOut, so it must
    carry exactly the schema's fields, and each entry exactly EntryStateOut's."""
    from app.api.common import changed
    from app.services.stock.engine import EntryState, StockChange

    change = StockChange("reserve", (EntryState(1, 2, 3, 4, 10, 3, 7),), (5,), (6,),
                         details={"order_ref": "A-1"})
    with app.test_request_context():
        response, status, headers = changed(change)
        body = response.get_json()
        assert status == 200 and headers == {}
        assert set(body) == set(schemas.StockChangeOut().fields)
        assert set(body["entries"][0]) == set(schemas.EntryStateOut().fields)
        assert body == schemas.StockChangeOut().dump(body)
        assert body["entries"][0]["available_quantity"] == 7
        assert changed(StockChange("reserve", replayed=True))[2] == {
            "Idempotent-Replayed": "true"}
