"""What an image file says about itself: Content Credentials, declared AI source, generator settings, camera.

Read beside the pixel verdict and never mixed into the model's score. C2PA
manifests are read and validated by the official c2pa-python; EXIF, XMP and
PNG text by Pillow (XMP through defusedxml). Every read is bounded in size,
and every failure becomes a sentence in the answer, never an exception.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from functools import lru_cache
from pathlib import Path

import c2pa
from defusedxml import ElementTree as SafeET
from PIL import Image

# an XMP packet is a few KB; Photoshop's with a long history reaches a few hundred KB
MAX_XMP_BYTES = 1_000_000
# a camera's EXIF with maker notes stays under 64 KB (one JPEG segment); PNG and WebP allow more
MAX_EXIF_BYTES = 256_000
# generators write a handful of text chunks; beyond this the file is odd and we say so
MAX_TEXT_ENTRIES = 100
PROMPT_CHARS = 200  # a prompt is shortened to this many characters: enough to recognise it
MAX_ACTIONS = 20  # a manifest's actions list beyond this is cut, with a note
NO_METADATA_NOTE = ("Most sites strip metadata on upload: a file that declares nothing is not "
                    "evidence of a real photo.")
UNREADABLE_CREDENTIALS = "Could not read the Content Credentials"
# what C2PA readers fetch over the network is off: a server must not be sent to addresses a file names
C2PA_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
C2PA_FORMATS = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp",
                "GIF": "image/gif"}
# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/), in a reader's words
SOURCE_TYPES = {
    "trainedAlgorithmicMedia": "created by a generative AI model",
    "compositeWithTrainedAlgorithmicMedia": "edited or combined with generative AI",
    "algorithmicMedia": "made by an algorithm without training data",
    "algorithmicallyEnhanced": "enhanced by an algorithm",
    "compositeSynthetic": "combined with synthetic elements",
    "digitalCapture": "captured by a digital camera",
    "computationalCapture": "captured by a camera with computational processing",
    "negativeFilm": "scanned from a film negative",
    "positiveFilm": "scanned from a slide",
    "print": "scanned from a print",
    "humanEdits": "edited by a person",
    "compositeCapture": "combined from several captures",
    "digitalCreation": "made on a computer without a model",
    "screenCapture": "a screenshot",
    "virtualRecording": "recorded in a virtual environment",
    "composite": "combined from several sources",
    "dataDrivenMedia": "made from data",
}
AI_SOURCE_TYPES = {"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"}
# EXIF Software / XMP CreatorTool / PNG Software values that name an image generator
GENERATOR_NAMES = re.compile(
    r"stable diffusion|automatic1111|comfyui|novelai|midjourney|dall[-·. ]?e|firefly|imagen|"
    r"invokeai|fooocus|leonardo\.ai|flux\b|sdxl", re.IGNORECASE)
EXIF_MAKE, EXIF_MODEL, EXIF_SOFTWARE = 0x010F, 0x0110, 0x0131


def _short(text: str, limit: int = PROMPT_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _source_name(value: str) -> str:
    """The IPTC code at the end of a digital source type URI."""
    return str(value).rstrip("/").rsplit("/", 1)[-1]


@lru_cache(maxsize=4)
def _c2pa_context(pem: str) -> c2pa.Context:
    """The C2PA reading settings, network fetches off, with these trusted roots (PEM); made once per process."""
    settings = {**C2PA_SETTINGS, "trust": {"trust_anchors": pem}} if pem else C2PA_SETTINGS
    return c2pa.Context.from_dict(settings)


@lru_cache(maxsize=4)
def trust_anchors(path: str) -> str:
    """The PEM text of DFD_C2PA_TRUST_ANCHORS (read once), or "" when unset; ValueError saying what to fix."""
    if not path:
        return ""
    try:
        pem = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"DFD_C2PA_TRUST_ANCHORS={path!r} cannot be read ({e}); "
                         "give a PEM file of trusted C2PA signing roots, or leave it empty.") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ValueError(f"DFD_C2PA_TRUST_ANCHORS={path!r} holds no PEM certificate; "
                         "give a PEM file of trusted C2PA signing roots, or leave it empty.")
    return pem


def _action_json(action: dict) -> dict:
    source = _source_name(action.get("digitalSourceType", "")) or None
    agent = action.get("softwareAgent")
    if isinstance(agent, dict):
        agent = agent.get("name")
    name = str(action.get("action", "unknown"))
    words = name.removeprefix("c2pa.").replace("_", " ")
    return {
        "action": name,
        "description": SOURCE_TYPES.get(source, words),
        "digital_source_type": source,
        "software": _short(agent, 80) if agent else None,
    }


def _claim_generator(manifest: dict) -> str | None:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict) and info[0].get("name"):
        return _short(f"{info[0]['name']} {info[0].get('version', '')}".strip(), 120)
    generator = manifest.get("claim_generator")
    return _short(generator, 120) if generator else None


def _signer(manifest: dict) -> str | None:
    info = manifest.get("signature_info") or {}
    name, issuer = info.get("common_name"), info.get("issuer")
    if name and issuer and name != issuer:
        return _short(f"{name} ({issuer})", 120)
    return _short(name or issuer, 120) if (name or issuer) else None


def content_credentials(data: bytes, image_format: str | None, trust_pem: str = "") -> dict:
    """Read and validate a C2PA manifest embedded in the bytes against trust_pem's roots; never raises."""
    out = {"state": "none", "signer": None, "signed_at": None, "claim_generator": None, "actions": [],
           "ai_declared": False, "problems": []}
    mime = C2PA_FORMATS.get(image_format or "")
    # every embedded manifest sits in a JUMBF superbox; without its box type there is nothing to read
    if mime is None or b"jumb" not in data:
        return out
    try:
        with c2pa.Reader(mime, io.BytesIO(data), None, _c2pa_context(trust_pem)) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError.ManifestNotFound:
        return out
    except Exception as e:  # C2paError on a damaged manifest; anything else must not fail the request either
        out.update(state="unreadable", problems=[f"{UNREADABLE_CREDENTIALS}: {_short(e, 160)}."])
        return out
    manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
    codes = {s.get("code") for s in store.get("validation_status", []) if isinstance(s, dict)}
    state = str(store.get("validation_state", "")).lower()
    if state == "trusted":
        out["state"] = "trusted"
    elif state == "valid":
        out["state"] = "untrusted" if "signingCredential.untrusted" in codes else "valid"
    else:
        out["state"] = "invalid"
    failures = (store.get("validation_results") or {}).get("activeManifest", {}).get("failure", [])
    out["problems"] = [_short(f.get("explanation") or f.get("code"), 160) for f in failures[:5]
                       if f.get("code") != "signingCredential.untrusted"]
    actions = []
    for assertion in manifest.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            actions += [a for a in (assertion.get("data") or {}).get("actions", []) if isinstance(a, dict)]
    if len(actions) > MAX_ACTIONS:
        out["problems"].append(f"The manifest lists {len(actions)} actions; the first {MAX_ACTIONS} are shown.")
    out["actions"] = [_action_json(a) for a in actions[:MAX_ACTIONS]]
    out["ai_declared"] = any(a["digital_source_type"] in AI_SOURCE_TYPES for a in out["actions"])
    out["claim_generator"] = _claim_generator(manifest)
    out["signer"] = _signer(manifest)
    out["signed_at"] = (manifest.get("signature_info") or {}).get("time")
    return out


def _xmp_fields(packet: bytes | str) -> dict:
    """DigitalSourceType and CreatorTool from an XMP packet, as element or attribute."""
    root = SafeET.fromstring(packet.encode() if isinstance(packet, str) else packet.strip(b"\0 \r\n\t"))
    found = {}
    for element in root.iter():
        pairs = [(element.tag, (element.text or "").strip())]
        pairs += list(element.attrib.items())
        for name, value in pairs:
            local = str(name).rsplit("}", 1)[-1]
            if local == "DigitalSourceType" and not value:
                value = next((v for k, v in element.attrib.items() if k.endswith("}resource")), "")
            if local in ("DigitalSourceType", "CreatorTool") and value and local not in found:
                found[local] = value
    return found


def _a1111(text: str) -> dict:
    """AUTOMATIC1111's `parameters`: the prompt, then 'Negative prompt: ...', then 'Steps: ..., Model: ...'."""
    lines = text.strip().split("\n")
    settings = lines.pop() if lines and lines[-1].startswith("Steps:") else ""
    prompt = "\n".join(lines).split("\nNegative prompt:", 1)[0]
    if prompt.startswith("Negative prompt:"):
        prompt = ""
    values = dict(re.findall(r"(?:^|, )([\w /-]+): ((?:\"[^\"]*\")|[^,]*)", settings))
    tool = "Stable Diffusion web UI (AUTOMATIC1111)"
    if values.get("Version"):
        tool += f" {values['Version']}"
    return {"tool": tool, "model": values.get("Model") or values.get("Model hash"), "prompt": _short(prompt) or None}


def _comfyui(prompt_json: str | None, workflow_json: str | None) -> dict:
    """ComfyUI's `prompt` graph: the checkpoint loader's model and the first text encoder's text."""
    model = prompt = None
    try:
        graph = json.loads(prompt_json) if prompt_json else {}
    except ValueError:
        graph = {}
    nodes = [n for n in graph.values() if isinstance(n, dict)] if isinstance(graph, dict) else []
    for node in nodes:
        inputs = node.get("inputs") if isinstance(node.get("inputs"), dict) else {}
        kind = str(node.get("class_type", ""))
        if model is None and isinstance(inputs.get("ckpt_name") or inputs.get("unet_name"), str):
            model = inputs.get("ckpt_name") or inputs.get("unet_name")
        if prompt is None and "TextEncode" in kind and isinstance(inputs.get("text"), str):
            prompt = inputs["text"]
    if not nodes and not workflow_json:
        return {}
    return {"tool": "ComfyUI", "model": _short(model, 120) if model else None,
            "prompt": _short(prompt) if prompt else None}


def _generator(text: dict) -> tuple[dict | None, str | None]:
    """Generator settings from PNG text chunks (or EXIF UserComment): (settings, where found)."""
    if isinstance(text.get("parameters"), str) and text["parameters"].strip():
        return _a1111(text["parameters"]), "PNG text 'parameters'"
    if "prompt" in text or "workflow" in text:
        found = _comfyui(text.get("prompt"), text.get("workflow"))
        if found:
            return found, "PNG text 'prompt'/'workflow'"
    return None, None


def _user_comment(raw) -> str | None:
    """EXIF UserComment: an 8-byte charset code, then the text (A1111 writes its parameters here in JPEGs)."""
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, bytes) or len(raw) < 9:
        return None
    code, body = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        for encoding in ("utf-16-be", "utf-16-le"):
            text = body.decode(encoding, "replace")
            if text.startswith(("Steps:", "parameters")) or "\nSteps:" in text or "Negative prompt:" in text:
                return text
        return body.decode("utf-16-be", "replace")
    return body.decode("utf-8", "replace")


def file_metadata(img: Image.Image) -> dict:
    """EXIF camera and software, XMP declared source, PNG generator text; never raises."""
    out = {"declared_source": None, "generator": None, "camera": None, "software": None, "problems": []}
    info = img.info

    exif_bytes = info.get("exif") or b""
    if len(exif_bytes) > MAX_EXIF_BYTES:
        out["problems"].append(f"The EXIF block is {len(exif_bytes) / 1e6:.1f} MB, over the "
                               f"{MAX_EXIF_BYTES // 1000} KB limit; it was not read.")
    elif exif_bytes:
        try:
            exif = img.getexif()
            make, model = exif.get(EXIF_MAKE), exif.get(EXIF_MODEL)
            if make or model:
                out["camera"] = {"make": _short(make, 60) if make else None,
                                 "model": _short(model, 60) if model else None}
            if exif.get(EXIF_SOFTWARE):
                out["software"] = _short(exif[EXIF_SOFTWARE], 80)
            comment = _user_comment(exif.get_ifd(0x8769).get(0x9286))
            if comment and ("Steps:" in comment or "Negative prompt:" in comment):
                out["generator"], out["generator_from"] = _a1111(comment), "EXIF UserComment"
        except Exception as e:  # Pillow raises many types on a malformed IFD
            out["problems"].append(f"Could not read the EXIF block ({_short(e, 100)}).")

    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
    if xmp:
        if len(xmp) > MAX_XMP_BYTES:
            out["problems"].append(f"The XMP packet is {len(xmp) / 1e6:.1f} MB, over the "
                                   f"{MAX_XMP_BYTES // 1_000_000} MB limit; it was not read.")
        else:
            try:
                fields = _xmp_fields(xmp)
            except Exception as e:  # malformed XML, or entities defusedxml refuses
                fields = {}
                out["problems"].append(f"Could not read the XMP packet ({_short(e, 100)}).")
            source = _source_name(fields.get("DigitalSourceType", "")) if "DigitalSourceType" in fields else None
            if source:
                out["declared_source"] = {"code": _short(source, 80),
                                          "description": SOURCE_TYPES.get(source, "a source type this page does not know"),
                                          "from": "XMP (IPTC DigitalSourceType)"}
            if fields.get("CreatorTool") and not out["software"]:
                out["software"] = _short(fields["CreatorTool"], 80)

    text = {k: v for k, v in info.items() if isinstance(k, str) and isinstance(v, str)} if img.format == "PNG" else {}
    if len(text) > MAX_TEXT_ENTRIES:
        out["problems"].append(f"The file holds {len(text)} text chunks, more than any generator writes; "
                               "only the known keys were read.")
    if isinstance(text.get("Software"), str) and not out["software"]:
        out["software"] = _short(text["Software"], 80)
    generator, where = _generator(text)
    if generator:
        out["generator"], out["generator_from"] = generator, where
    return out


def read(data: bytes, trust_pem: str = "") -> dict:
    """The provenance object of the API: what the file declares, each part read independently; never raises.

    trust_pem: PEM roots whose Content Credentials count as trusted (see trust_anchors()).
    """
    image_format = None
    meta = {"declared_source": None, "generator": None, "camera": None, "software": None, "problems": []}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # Pillow warns on a corrupt EXIF block and reads on: say so
            with Image.open(io.BytesIO(data)) as img:
                image_format = img.format
                meta = file_metadata(img)
        for message in dict.fromkeys(str(w.message).strip() for w in caught[:3]):
            meta["problems"].append(f"Part of the metadata is damaged ({_short(message, 100)}).")
    except Exception as e:  # the pixel decoder has already accepted these bytes; this only guards odd headers
        meta["problems"].append(f"Could not read the file's metadata ({_short(e, 100)}).")
    credentials = content_credentials(data, image_format, trust_pem)
    generator_from = meta.pop("generator_from", None)
    declared_by = []
    if credentials["ai_declared"]:
        declared_by.append("Content Credentials")
    if meta["declared_source"] and meta["declared_source"]["code"] in AI_SOURCE_TYPES:
        declared_by.append(meta["declared_source"]["from"])
    if meta["generator"]:
        declared_by.append(generator_from)
    if meta["software"] and GENERATOR_NAMES.search(meta["software"]):
        declared_by.append("software name")
    found = credentials["state"] != "none" or any(meta[k] for k in ("declared_source", "generator", "camera", "software"))
    return {
        "declares_ai": bool(declared_by),
        "declared_by": declared_by,
        "content_credentials": credentials,
        "declared_source": meta["declared_source"],
        "generator": meta["generator"],
        "camera": meta["camera"],
        "software": meta["software"],
        "nothing_declared": not found,
        "problems": meta["problems"],
        "note": NO_METADATA_NOTE,
    }
