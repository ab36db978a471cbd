"""What a file says about itself, in POST /api/v1/score: each fixture's provenance, and bad metadata.

The Content Credentials fixtures are signed with a throwaway test
certificate, so their signature checks out but their signer is untrusted;
one test signs an image afresh to show the committed files are not special.
Every bad-metadata row must still score the pixels and answer 200 with a
sentence saying what could not be read.
"""

from __future__ import annotations

import io
import json
import struct

import pytest
from PIL import Image, PngImagePlugin
from harness import provenance_images
from harness.servers import FIXTURES
from test_api import schema_validator

from backend import provenance


SCORE = "/api/v1/score"
PROVENANCE = FIXTURES / "provenance"
PIXEL_VERDICTS = {"fake", "real", "uncertain", "no_face"}


def score(client, data: bytes, filename: str = "image"):
    response = client.post(SCORE, data={"image": (io.BytesIO(data), filename)})
    body = response.get_json()
    assert response.status_code == 200, body
    schema_validator("Score").validate(body)
    assert body["verdict"] in PIXEL_VERDICTS  # the pixel verdict is always there, declared or not
    return body


# file, declares_ai, credentials state, declared source, generator (tool start, model, prompt start), camera
FIXTURE_TABLE = [
    ("c2pa_signed.jpg", True, "untrusted", None, None, None),
    ("c2pa_tampered.jpg", True, "invalid", None, None, None),
    ("a1111_parameters.png", True, "none", None,
     ("Stable Diffusion web UI (AUTOMATIC1111) v1.7.0", "sd_xl_base_1.0", "portrait of an admiral"), None),
    ("comfyui_prompt.png", True, "none", None,
     ("ComfyUI", "flux1-dev-fp8.safetensors", "an elderly woman in a naval uniform"), None),
    ("iptc_ai.jpg", True, "none", "trainedAlgorithmicMedia", None, None),
    ("camera_exif.jpg", False, "none", None, None, {"make": "Canon", "model": "Canon EOS 5D Mark IV"}),
    ("none.jpg", False, "none", None, None, None),
]


@pytest.mark.parametrize(("name", "declares_ai", "state", "source", "generator", "camera"), FIXTURE_TABLE,
                         ids=[row[0] for row in FIXTURE_TABLE])
def test_each_fixture_says_what_made_it(client, name, declares_ai, state, source, generator, camera):
    declared = score(client, (PROVENANCE / name).read_bytes(), name)["provenance"]
    assert declared["declares_ai"] is declares_ai
    assert declared["content_credentials"]["state"] == state
    assert (declared["declared_source"] or {}).get("code") == source
    if generator is None:
        assert declared["generator"] is None
    else:
        tool, model, prompt = generator
        assert declared["generator"]["tool"] == tool
        assert declared["generator"]["model"] == model
        assert declared["generator"]["prompt"].startswith(prompt)
    assert declared["camera"] == camera
    assert declared["nothing_declared"] is (name == "none.jpg")
    assert declared["problems"] == []
    assert "not evidence of a real photo" in declared["note"]


@pytest.mark.parametrize("name", ["c2pa_signed.jpg", "c2pa_tampered.jpg"])
def test_content_credentials_name_signer_generator_and_ai_action(client, name):
    credentials = score(client, (PROVENANCE / name).read_bytes())["provenance"]["content_credentials"]
    assert credentials["signer"] == "Test signer (Deepfake check tests)"
    assert credentials["claim_generator"] == "Deepfake check test fixtures 1.0"
    assert credentials["actions"] == [{
        "action": "c2pa.created", "description": "created by a generative AI model",
        "digital_source_type": "trainedAlgorithmicMedia", "software": "Test image generator",
    }]
    assert credentials["ai_declared"] is True
    if name == "c2pa_tampered.jpg":
        assert any("hash" in p.lower() for p in credentials["problems"]), credentials["problems"]
    else:
        assert credentials["problems"] == []


def test_an_image_signed_here_reads_as_untrusted_and_one_changed_byte_as_invalid(client):
    signed = provenance_images.signed_jpeg()  # a fresh test root and signer, made in this test
    assert score(client, signed)["provenance"]["content_credentials"]["state"] == "untrusted"
    tampered = score(client, provenance_images.tampered(signed))["provenance"]["content_credentials"]
    assert tampered["state"] == "invalid"


def _with_app11_cut(data: bytes, keep: float) -> bytes:
    """The JPEG with its C2PA APP11 segment cut to `keep` of its payload: the image still decodes."""
    at = data.index(b"\xff\xeb")
    length = struct.unpack(">H", data[at + 2:at + 4])[0]
    payload = data[at + 4:at + 2 + length]
    cut = payload[: int(len(payload) * keep)]
    return data[:at] + b"\xff\xeb" + struct.pack(">H", len(cut) + 2) + cut + data[at + 2 + length:]


def _with_jumbf_zeroed(data: bytes) -> bytes:
    at = data.index(b"jumb") + 100
    return data[:at] + b"\0" * 32 + data[at + 32:]


def _png(text=(), xmp: str | None = None, exif: bytes | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in text:
        info.add_text(key, value)
    if xmp is not None:
        info.add_itxt("XML:com.adobe.xmp", xmp)
    small = provenance_images.base().resize((64, 75))
    return provenance_images.encode(small, "PNG", pnginfo=info, **({"exif": exif} if exif else {}))


def _jpeg_with_exif(exif: bytes) -> bytes:
    return provenance_images.encode(provenance_images.base(), "JPEG", exif=exif)


def _full_exif() -> bytes:
    """A JPEG-sized EXIF block (60 KB) with the camera fields in it."""
    exif = Image.Exif()
    exif.update({0x010F: "Nikon", 0x0110: "D850", 0x010E: "x" * 60_000})
    return exif.tobytes()


SIGNED = (PROVENANCE / "c2pa_signed.jpg").read_bytes()
BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
                  '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><x>&c;</x>')

# bad metadata, where its problem is reported (credentials or file), a phrase of the sentence, and
# what must still be read from the same file
BAD_METADATA = [
    ("C2PA cut to half", _with_app11_cut(SIGNED, 0.5), "credentials", "could not read the content credentials", {}),
    ("C2PA cut to its header", _with_app11_cut(SIGNED, 0.02), "credentials", "could not read the content credentials", {}),
    ("C2PA boxes zeroed", _with_jumbf_zeroed(SIGNED), "credentials", "could not read the content credentials", {}),
    ("XMP of 10 MB", _png(xmp="<x:xmpmeta xmlns:x='adobe:ns:meta/'>" + "a" * 10_000_000 + "</x:xmpmeta>"),
     "file", "the xmp packet is 10.0 mb, over the 1 mb limit", {}),
    ("XMP entity bomb", provenance_images.xmp_jpeg(BILLION_LAUGHS), "file", "could not read the xmp packet", {}),
    ("XMP not XML", provenance_images.xmp_jpeg("<x:xmpmeta <<< "), "file", "could not read the xmp packet", {}),
    ("PNG with 5000 text chunks", _png([(f"key{n}", "value") for n in range(4999)]
                                       + [("parameters", provenance_images.A1111_PARAMETERS)]),
     "file", "holds 5000 text chunks", {"generator": "sd_xl_base_1.0"}),
    ("PNG with a 2 MB EXIF block", _png(exif=b"MM\0*\0\0\0\x08" + b"\0" * 2_000_000),
     "file", "the exif block is 2.0 mb, over the 256 kb limit", {}),
    ("JPEG with a full 60 KB EXIF block", _jpeg_with_exif(_full_exif()), None, None, {"camera": "D850"}),
    ("JPEG with a corrupt EXIF block", _jpeg_with_exif(b"Exif\0\0II*\0\xff\xff\xff\x7f" + b"\x13" * 5000),
     "file", "part of the metadata is damaged", {}),
]


@pytest.mark.parametrize(("data", "where", "phrase", "still_read"), [row[1:] for row in BAD_METADATA],
                         ids=[row[0] for row in BAD_METADATA])
def test_bad_metadata_is_a_sentence_in_the_answer_never_an_error(client, data, where, phrase, still_read):
    declared = score(client, data)["provenance"]
    problems = {"credentials": declared["content_credentials"]["problems"], "file": declared["problems"]}
    if where is None:
        assert problems == {"credentials": [], "file": []}
    else:
        assert any(phrase in p.lower() for p in problems[where]), problems
    if where == "credentials":
        assert declared["content_credentials"]["state"] == "unreadable"
        assert declared["declares_ai"] is False  # unreadable credentials declare nothing
    if "generator" in still_read:
        assert declared["generator"]["model"] == still_read["generator"]
        assert declared["declares_ai"] is True
    if "camera" in still_read:
        assert declared["camera"]["model"] == still_read["camera"]


@pytest.mark.parametrize(
    ("text", "tool", "model", "prompt"),
    [
        ("a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler a, Model: dreamshaper_8",
         "Stable Diffusion web UI (AUTOMATIC1111)", "dreamshaper_8", "a cat"),
        ("a cat on a mat\nSteps: 20, Model hash: 6ce0161689", "Stable Diffusion web UI (AUTOMATIC1111)", "6ce0161689",
         "a cat on a mat"),
        ("x" * 1000 + "\nSteps: 1", "Stable Diffusion web UI (AUTOMATIC1111)", None, "x" * 199 + "…"),
    ],
    ids=["with negative prompt", "model hash only", "long prompt shortened"],
)
def test_automatic1111_parameters_are_summarised(text, tool, model, prompt):
    declared = provenance.read(_png([("parameters", text)]))
    assert declared["generator"] == {"tool": tool, "model": model, "prompt": prompt}


@pytest.mark.parametrize(
    ("software", "declares_ai"),
    [("Adobe Photoshop 25.0", False), ("NovelAI", True), ("Midjourney v6", True), ("GIMP 2.10", False)],
)
def test_software_naming_a_generator_declares_ai(software, declares_ai):
    exif = Image.Exif()
    exif[0x0131] = software
    declared = provenance.read(_jpeg_with_exif(exif.tobytes()))
    assert declared["software"] == software
    assert declared["declares_ai"] is declares_ai


def test_comfyui_prompt_that_is_not_json_still_names_the_tool_from_its_workflow():
    declared = provenance.read(_png([("prompt", "{not json"), ("workflow", json.dumps({"nodes": []}))]))
    assert declared["generator"] == {"tool": "ComfyUI", "model": None, "prompt": None}



def test_a_signer_under_the_configured_trust_anchors_reads_as_trusted(make_app, tmp_path):
    signer, root = provenance_images.test_signer()
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(root)
    client = make_app(C2PA_TRUST_ANCHORS=str(anchors)).test_client()
    assert score(client, provenance_images.signed_jpeg(signer=signer))["provenance"]["content_credentials"]["state"] == "trusted"
    # a signer under another root stays untrusted
    assert score(client, SIGNED)["provenance"]["content_credentials"]["state"] == "untrusted"


@pytest.mark.parametrize(("content", "phrase"), [(None, "cannot be read"), ("not a certificate", "holds no PEM certificate")],
                         ids=["missing file", "not PEM"])
def test_an_unusable_trust_anchors_file_stops_the_server_at_start(make_app, tmp_path, content, phrase):
    anchors = tmp_path / "anchors.pem"
    if content is not None:
        anchors.write_text(content)
    with pytest.raises(ValueError, match=phrase):
        make_app(C2PA_TRUST_ANCHORS=str(anchors))
