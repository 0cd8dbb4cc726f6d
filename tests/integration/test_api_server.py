"""The API handler served over real HTTP on loopback behaves as through API Gateway."""

import httpx
import pytest

from devtools.api_server import ApiServer, forget_configuration


@pytest.fixture
def api(deployed, monkeypatch):
    for name, value in deployed.env_overrides()["Parameters"].items():
        monkeypatch.setenv(name, value)
    with ApiServer() as server:  # reads the variables afresh (forget_configuration)
        yield server
    forget_configuration()


def test_track_get_delete_over_http(api, deployed):
    with httpx.Client(base_url=api.url) as http:
        created = http.post("/v1/jobs", json={"provider": "hingnet", "video_id": "video_http_1"})
        assert created.status_code == 201
        assert created.headers["content-type"].startswith("application/json")
        again = http.post("/v1/jobs", json={"provider": "hingnet", "video_id": "video_http_1"})
        assert again.status_code == 200
        assert http.get("/v1/jobs/hingnet/video_http_1").json()["id"] == "video_http_1"
        assert http.delete("/v1/jobs/hingnet/video_http_1").json()["tracking"]["active"] is False
        bad = http.post("/v1/jobs", content=b"{oops", headers={"content-type": "application/json"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
        assert http.get("/nowhere").status_code == 404
    assert [item["video_id"] for item in deployed.items()] == ["video_http_1"]
