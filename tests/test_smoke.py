from tests.conftest import settled, wait_for


def test_create_media_from_url_is_ingested(api, file_server):
    response = api.post("/on-demand", json={"inputs": [{"type": "video", "url": f"{file_server}/clip.mp4"}],
                                            "accessPolicy": "public"})
    assert response.status_code == 201, response.text
    media = wait_for(api, response.json()["data"]["id"], settled)
    assert media["status"] == "In Queue", media
    assert media["duration"] == "2.00"
