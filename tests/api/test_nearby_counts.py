"""/api/nearby says what "open now" left out (closed then, no hours given) and which distances
are to a centre rather than to the place (issue 12)."""

from fastapi.testclient import TestClient

from carto import vocab


def test_the_api_counts_what_open_now_left_out(client: TestClient) -> None:
    body = client.get("/api/nearby", params={
        "commune": "34172", "kind": "food_aid", "open_at": "now", "radius_km": 30}).json()
    # No food aid of the demo gives opening hours: none open, every one left out for it.
    assert body["features"] == [] and body["matched"] == 0
    assert body["without_hours"] >= 3 and body["closed"] == 0
    every = client.get("/api/nearby", params={
        "commune": "34172", "kind": "food_aid", "radius_km": 30}).json()
    assert every["matched"] == body["without_hours"] and every["closed"] is None
    approximate = [f["properties"] for f in every["features"]
                   if f["properties"]["distance_approximate"]]
    assert approximate and all(not p["distance_approximate"] for p in (
        f["properties"] for f in every["features"]) if p["location_precision"] == "exact")
    assert all(p["location_precision"] in vocab.APPROXIMATE_PRECISIONS
                               for p in approximate)
