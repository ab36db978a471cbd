"""POST /api/v1/score-video: tracks over time on videos the tests make, and every bad video refused clearly."""

from __future__ import annotations

import base64
import io
import json
import tempfile
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from backend.video import Track, Tracker
from scoring.classifier import FaceScore
from harness import video as vf

REPO = Path(__file__).resolve().parents[2]
SCORE_VIDEO = "/api/v1/score-video"
OPENAPI = json.loads((REPO / "backend" / "openapi.json").read_text())
VIDEO_SCORE = jsonschema.Draft202012Validator(
    {"$ref": "#/components/schemas/VideoScore", "components": OPENAPI["components"]}
)

MP4 = vf.real_then_fake()
WEBM = vf.real_then_fake("webm", "libvpx")
FRAGMENTED_MP4 = vf.encode(vf.real_then_fake_frames(), options={"movflags": "frag_keyframe+empty_moov"})
# as a browser's MediaRecorder writes WebM: no duration in the header
LIVE_WEBM = vf.encode(vf.real_then_fake_frames(), "webm", "libvpx", options={"live": "1"})


def upload(data: bytes, filename: str = "clip.mp4"):
    return lambda client: client.post(SCORE_VIDEO, data={"video": (io.BytesIO(data), filename)})


def raw(data: bytes, content_type: str = "video/mp4"):
    return lambda client: client.post(SCORE_VIDEO, data=data, content_type=content_type)


def decoded(data_url: str, prefix: str) -> Image.Image:
    assert data_url.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(data_url[len(prefix):])))


@pytest.mark.parametrize(
    "send",
    [upload(MP4), raw(MP4), upload(WEBM, "clip.webm"), raw(FRAGMENTED_MP4), raw(LIVE_WEBM, "video/webm")],
    ids=["H.264 MP4 upload", "H.264 MP4 body", "VP8 WebM upload", "fragmented MP4 body", "WebM without a duration"],
)
def test_real_then_fake_face_gives_two_tracks_and_a_fake_verdict(client, send):
    """Regression pin, not accuracy evidence: the fixture faces are ones the shipped model
    scores right (misjudged ones were swapped out, tests/fixtures/README.md); its error
    rates are in shipped_model/MODEL_CARD.md."""
    response = send(client)
    body = response.get_json()
    assert response.status_code == 200, body
    VIDEO_SCORE.validate(body)
    real, fake = body["tracks"]
    # 2 s of each face, sampled twice a second: four samples each, the fake face from 2 s on
    assert (real["id"], real["frames"], real["first_seen_s"], real["last_seen_s"]) == (1, 4, 0.0, 1.5)
    assert (fake["id"], fake["frames"], fake["first_seen_s"], fake["last_seen_s"]) == (2, 4, 2.0, 3.5)
    assert (real["verdict"], fake["verdict"]) == ("real", "fake")
    assert (body["verdict"], body["score"]) == ("fake", fake["score"])
    # the boxes follow the faces: the real one drifts right, the fake one left
    real_x = [point["box"][0] for point in real["timeline"]]
    fake_x = [point["box"][0] for point in fake["timeline"]]
    assert real_x == sorted(real_x) and fake_x == sorted(fake_x, reverse=True)
    assert body["video"] == {"width": 512, "height": 288, "duration_s": pytest.approx(4.0, abs=0.15),
                             "frames_scored": 8, "sample_every_s": 0.5}


def test_suspicious_frames_are_the_fake_faces_with_thumbnails_and_heatmaps(client):
    frames = upload(MP4)(client).get_json()["suspicious_frames"]
    assert len(frames) == 4  # DFD_VIDEO_THUMBNAILS
    assert {f["track"] for f in frames} == {2}
    assert [f["score"] for f in frames] == sorted((f["score"] for f in frames), reverse=True)
    thumb = decoded(frames[0]["frame"], "data:image/jpeg;base64,")
    assert thumb.size == (320, 180)
    heat = decoded(frames[0]["heatmap"], "data:image/png;base64,")
    assert heat.format == "PNG" and heat.width == heat.height


@pytest.mark.parametrize(
    ("settings", "frames_scored", "real_frames", "fake_frames"),
    [
        ({"VIDEO_SAMPLE_FPS": 1}, 4, 2, 2),
        ({"VIDEO_SAMPLE_FPS": 5}, 20, 10, 10),
        ({"VIDEO_MAX_FRAMES": 4}, 4, 2, 2),  # 4 s over 4 frames: one a second
        ({"VIDEO_THUMBNAILS": 0}, 8, 4, 4),
    ],
    ids=["1 a second", "5 a second", "at most 4 frames", "no thumbnails"],
)
def test_sampling_follows_the_settings(make_app, settings, frames_scored, real_frames, fake_frames):
    body = upload(MP4)(make_app(**settings).test_client()).get_json()
    assert body["video"]["frames_scored"] == frames_scored
    assert [t["frames"] for t in body["tracks"]] == [real_frames, fake_frames]
    assert len(body["suspicious_frames"]) == min(settings.get("VIDEO_THUMBNAILS", 4), frames_scored)


def test_phone_video_is_turned_as_its_display_matrix_says(client):
    body = raw(vf.portrait_phone_video())(client).get_json()
    # stored 288x512 on its side; shown, and boxed, the way up the faces were filmed
    assert (body["video"]["width"], body["video"]["height"]) == (512, 288)
    assert [(t["verdict"], t["frames"]) for t in body["tracks"]] == [("real", 4), ("fake", 4)]
    for track in body["tracks"]:
        x, y, w, h = track["timeline"][0]["box"]
        assert x + w <= 512 and y + h <= 288


def test_a_video_without_faces_says_so(client):
    body = raw(vf.encode(vf.grey_frames(10), size=(64, 48)))(client).get_json()
    assert (body["verdict"], body["score"], body["tracks"], body["suspicious_frames"]) == ("no_face", None, [], [])


def face(box, score=0.5, grey=False) -> FaceScore:
    return FaceScore(box, score, "uncertain", 0.9, grey)


@pytest.mark.parametrize(
    ("samples", "tracks"),
    [
        # (time, boxes) per sample -> the track ids each sample's faces join
        ([(0, [(0, 0, 100, 100)]), (0.5, [(10, 0, 100, 100)])], [[1], [1]]),
        ([(0, [(0, 0, 100, 100)]), (0.5, [(200, 0, 100, 100)])], [[1], [2]]),  # no overlap: a new face
        ([(0, [(0, 0, 100, 100)]), (3.0, [(0, 0, 100, 100)])], [[1], [2]]),  # gone longer than the gap
        ([(0, [(0, 0, 100, 100)]), (1.5, [(0, 0, 100, 100)])], [[1], [1]]),  # back within the gap
        # two faces side by side keep their own tracks, whatever order the detector lists them in
        ([(0, [(0, 0, 100, 100), (150, 0, 100, 100)]), (0.5, [(160, 0, 100, 100), (5, 0, 100, 100)])], [[1, 2], [2, 1]]),
        # two faces that both overlap one track: the better overlap continues it
        ([(0, [(0, 0, 100, 100)]), (0.5, [(60, 0, 100, 100), (10, 0, 100, 100)])], [[1], [2, 1]]),
    ],
    ids=["moved a little", "elsewhere", "long gap", "short gap", "two faces swap order", "best overlap wins"],
)
def test_faces_join_tracks_by_box_overlap(samples, tracks):
    tracker = Tracker(min_iou=0.3, max_gap_s=1.5)
    assert [[t.id for t in tracker.add(t, [face(b) for b in boxes])] for t, boxes in samples] == tracks


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([0.2], 0.2),
        ([0.1, 0.1, 0.1, 0.9], 0.9),  # top quartile of 4 is the highest one
        ([0.1] * 6 + [0.8, 0.6], 0.7),  # of 8, the top two
        ([0.9, 0.1, 0.1, 0.1, 0.1], 0.5),  # of 5, the top two: one spike is tempered
    ],
)
def test_track_score_is_the_mean_of_its_top_quartile(scores, expected):
    track = Track(1, scores=scores)
    assert track.score() == pytest.approx(expected)


def truncated_webm() -> bytes:
    return WEBM[: len(WEBM) // 2]


# (case, request, app settings, status, what the error says)
BAD = [
    ("empty body", raw(b""), {}, 400, "holds no video"),
    ("no video field", lambda c: c.post(SCORE_VIDEO, data={"image": (io.BytesIO(MP4), "clip.mp4")}), {}, 400, "multipart field 'video'"),
    ("text named .mp4", upload(b"Dear diary, today I filmed a cat.\n" * 10), {}, 415, "not a video we read"),
    ("a JPEG", raw((vf.REAL_FACE).read_bytes(), "image/jpeg"), {}, 415, "send MP4, WebM or MOV"),
    ("random bytes", raw(bytes(range(256)) * 8), {}, 415, "not a video we read"),
    ("truncated MP4", upload(MP4[: len(MP4) // 2]), {}, 422, "damaged or truncated"),
    ("truncated fragmented MP4", raw(FRAGMENTED_MP4[: len(FRAGMENTED_MP4) // 2]), {}, 422, "damaged or truncated"),
    ("truncated WebM", upload(truncated_webm(), "clip.webm"), {}, 422, "damaged or truncated"),
    ("MP4 header only", raw(MP4[:64]), {}, 422, "damaged or truncated"),
    ("sound only", upload(vf.audio_only(), "song.m4a"), {}, 422, "no video stream"),
    ("10-hour video", upload(vf.ten_hours()), {}, 413, "lasts 10:00:00, over the 600 s limit"),
    ("over the length setting", raw(MP4), {"VIDEO_MAX_SECONDS": 3}, 413, "over the 3 s limit"),
    ("over the length, no duration in the header", raw(LIVE_WEBM), {"VIDEO_MAX_SECONDS": 3}, 413, "lasts 0:00:04, over the 3 s"),
    ("8K video", upload(vf.eight_k()), {}, 422, "7680x4320, over the 8.3 megapixel limit"),
    ("16000x16000 header", raw(vf.absurd_dimensions(), "video/quicktime"), {}, 422, "16000x16000, over the 8.3 megapixel"),
    ("over the pixel setting", raw(MP4), {"VIDEO_MAX_PIXELS": 320 * 240}, 422, "512x288, over the 0.1 megapixel"),
    ("upload over the limit", upload(MP4), {"VIDEO_MAX_UPLOAD_MB": 0.01}, 413, "over the 0.01 MB limit; send a smaller video"),
    ("body over the limit", raw(MP4), {"VIDEO_MAX_UPLOAD_MB": 0.01}, 413, "over the 0.01 MB limit; send a smaller video"),
]


@pytest.mark.parametrize(("send", "settings", "status", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_videos_get_a_clear_json_error(make_app, send, settings, status, expected):
    response = send(make_app(**settings).test_client())
    body = response.get_json()
    assert response.status_code == status, body
    assert response.mimetype == "application/json"
    assert set(body) == {"error"}
    assert expected in body["error"]
    assert body["error"].endswith(".") and len(body["error"]) < 200


def test_the_server_keeps_serving_after_every_bad_video(client):
    for case, send, settings, status, _ in BAD:
        if not settings:
            assert send(client).status_code == status, case
    assert upload(MP4)(client).get_json()["verdict"] == "fake"


def test_videos_have_their_own_upload_limit(make_app):
    # an image limit far below the video leaves videos alone, and the video limit leaves images alone
    client = make_app(MAX_UPLOAD_MB=0.01, VIDEO_MAX_UPLOAD_MB=1).test_client()
    assert upload(MP4)(client).status_code == 200
    image = client.post("/api/v1/score", data={"image": (io.BytesIO(vf.REAL_FACE.read_bytes() * 2), "a.jpg")})
    assert image.status_code == 413
    assert "send a smaller image" in image.get_json()["error"]


def test_video_scoring_writes_nothing_to_disk(client, monkeypatch):
    opened = []
    for name in ("TemporaryFile", "NamedTemporaryFile", "mkstemp", "mkdtemp"):
        real = getattr(tempfile, name)
        monkeypatch.setattr(tempfile, name, lambda *a, _real=real, _name=name, **k: opened.append(_name) or _real(*a, **k))
    real_open = open

    def watched_open(file, mode="r", *args, **kwargs):
        if any(m in mode for m in "wax+"):
            opened.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", watched_open)
    assert upload(MP4)(client).status_code == 200
    assert opened == []


def test_video_scoring_needs_the_token_when_set(make_app):
    client = make_app(API_TOKEN="s3cret").test_client()
    assert upload(MP4)(client).status_code == 401
    authorised = client.post(SCORE_VIDEO, data=MP4, content_type="video/mp4", headers={"Authorization": "Bearer s3cret"})
    assert authorised.status_code == 200
