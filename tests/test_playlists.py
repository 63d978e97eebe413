"""Playlists (spec 7.22) through the official SDK's `playlist` namespace: CRUD, manual ordering, smart date
filters, referenceId uniqueness, and the errors each mapped status becomes."""

from __future__ import annotations

import httpx
import pytest
from fastpix_python import Fastpix, errors

from tests.api_helpers import create_media, error_of, invalid_fields


def media_ids(api: httpx.Client, url: str, count: int) -> list[str]:
    return [create_media(api, url)["id"] for _ in range(count)]


def test_manual_playlist_crud_and_order(fp: Fastpix, api: httpx.Client, file_server: str) -> None:
    a, b, c = media_ids(api, f"{file_server}/clip.mp4", 3)
    created = fp.playlist.create_a_playlist(name="Best of", reference_id="best-of", type_="manual",
                                            description="the good ones").data
    assert (created.name, created.reference_id, created.type, created.media_count) == ("Best of", "best-of",
                                                                                        "manual", 0)
    pid = created.id

    added = fp.playlist.add_media_to_playlist(playlist_id=pid, media_ids=[b, a]).data
    assert [m.id for m in added.media_list] == [b, a]
    fp.playlist.add_media_to_playlist(playlist_id=pid, media_ids=[c, a])  # a is in already: kept where it was
    assert [m.id for m in fp.playlist.get_playlist_by_id(playlist_id=pid).data.media_list] == [b, a, c]

    reordered = fp.playlist.change_media_order_in_playlist(playlist_id=pid, media_ids=[c, b, a]).data
    assert [m.id for m in reordered.media_list] == [c, b, a]
    assert reordered.media_list[0].status in ("Created", "Downloading", "Downloaded", "Validating", "In Queue",
                                              "Processing", "Ready")

    remaining = fp.playlist.delete_media_from_playlist(playlist_id=pid, media_ids=[b]).data
    assert [m.id for m in remaining.media_list] == [c, a] and remaining.media_count == 2

    renamed = fp.playlist.update_a_playlist(playlist_id=pid, name="Better of", description="fewer").data
    assert (renamed.name, renamed.description) == ("Better of", "fewer")

    fp.manage_videos.delete_media(media_id=c)  # a deleted media leaves every playlist
    fetched = fp.playlist.get_playlist_by_id(playlist_id=pid).data
    assert [m.id for m in fetched.media_list] == [a] and fetched.name == "Better of"

    listed = fp.playlist.get_all_playlists(limit=10, offset=1)
    assert [(p.id, p.media_count) for p in listed.data] == [(pid, 1)]
    assert listed.pagination.total_records == 1

    assert fp.playlist.delete_a_playlist(playlist_id=pid).success is True
    with pytest.raises(errors.NotFoundError):
        fp.playlist.get_playlist_by_id(playlist_id=pid)


def test_smart_playlist_selects_media_by_creation_date(fp: Fastpix, api: httpx.Client, file_server: str) -> None:
    first, second = media_ids(api, f"{file_server}/clip.mp4", 2)
    newest = fp.playlist.create_a_playlist(
        name="Recent", reference_id="recent", type_="smart", play_order="createdDate DESC",
        metadata={"created_date": {"start_date": "2000-01-01", "end_date": "2999-12-31"}},
    ).data
    assert [m.id for m in newest.media_list] == [second, first]
    assert newest.metadata.created_date.start_date == "2000-01-01"

    oldest = fp.playlist.create_a_playlist(
        name="Oldest", reference_id="oldest", type_="smart", play_order="createdDate ASC", limit=1,
        metadata={"created_date": {"start_date": "2000-01-01"}},
    ).data
    assert [m.id for m in oldest.media_list] == [first]

    third = create_media(api, f"{file_server}/clip.mp4")["id"]  # a smart playlist takes new media on its own
    assert [m.id for m in fp.playlist.get_playlist_by_id(playlist_id=newest.id).data.media_list] == [third, second,
                                                                                                     first]
    past = fp.playlist.create_a_playlist(name="Past", reference_id="past", type_="smart",
                                         metadata={"created_date": {"end_date": "2001-01-01"}}).data
    assert past.media_list == [] and past.media_count == 0

    # a smart playlist's media are chosen by its dates, not by hand
    response = api.patch(f"/on-demand/playlists/{past.id}/media", json={"mediaIds": [first]})
    assert error_of(response, 400)["message"] == "Not a manual playlist"


def test_playlist_errors(fp: Fastpix, api: httpx.Client, file_server: str) -> None:
    [media_id] = media_ids(api, f"{file_server}/clip.mp4", 1)
    playlist = fp.playlist.create_a_playlist(name="One", reference_id="ref-1", type_="manual").data
    with pytest.raises(errors.DuplicateReferenceIDErrorResponse):
        fp.playlist.create_a_playlist(name="Two", reference_id="ref-1", type_="manual")

    # what the SDK cannot send wrongly, raw HTTP can
    assert invalid_fields(api.post("/on-demand/playlists", json={"name": "x", "referenceId": "y", "type": "smart"})) \
        == ["body"]
    assert invalid_fields(api.post("/on-demand/playlists", json={
        "name": "x", "referenceId": "y", "type": "smart", "metadata": {"createdDate": {"startDate": "yesterday"}},
    })) == ["metadata.createdDate.startDate"]
    assert invalid_fields(api.get("/on-demand/playlists/not-a-uuid")) == ["playlistId"]
    assert error_of(api.get(f"/on-demand/playlists/{media_id}"), 404)["message"] == "Playlist not found"

    url = f"/on-demand/playlists/{playlist.id}/media"
    assert error_of(api.patch(url, json={"mediaIds": [playlist.id]}), 404)["message"] == "Media not found"
    assert invalid_fields(api.patch(url, json={"mediaIds": [media_id, media_id]})) == ["mediaIds"]
    assert invalid_fields(api.patch(url, json={"mediaIds": []})) == ["mediaIds"]
    api.patch(url, json={"mediaIds": [media_id.upper()]}).raise_for_status()  # ids in either case
    assert invalid_fields(api.put(url, json={"mediaIds": [playlist.id]})) == ["mediaIds"]  # not a permutation
    assert invalid_fields(api.request("DELETE", url, json={"mediaIds": [playlist.id]})) == ["mediaIds"]
    with pytest.raises(errors.NotFoundError):
        fp.playlist.delete_a_playlist(playlist_id=media_id)
