// What an image file says about itself, read in the browser from the bytes
// the extension already fetched: Content Credentials (C2PA) detected and
// summarised, IPTC DigitalSourceType in XMP, AUTOMATIC1111/ComfyUI settings
// in PNG text, EXIF camera and software. The same object, field for field, as
// the scoring server's `provenance` (backend/provenance.py), except that the
// browser does not validate the C2PA signature: its state is 'present', and
// the server, when one is set, says valid, untrusted or invalid. Full
// validation (@contentauth/c2pa-web) needs a wasm module and web workers of
// its own, beyond what this extension loads; see the README.
//
// EXIF, XMP and PNG text come from exifr; the manifest's CBOR from cborg. The
// JUMBF boxes that carry the manifest are walked here: a box is a length and
// a type, and no small library reads just those.

import exifr from 'exifr/dist/full.esm.mjs';
import { decode as decodeCbor } from 'cborg';

// the same limits and words as backend/provenance.py (the parity test holds them together)
const MAX_XMP_CHARS = 1_000_000; // an XMP packet is a few KB; more is not metadata
const MAX_TEXT_ENTRIES = 100; // generators write a handful of PNG text chunks
const PROMPT_CHARS = 200; // a prompt is shortened to this: enough to recognise it
const MAX_ACTIONS = 20; // a manifest's actions list beyond this is cut, with a note
const MAX_BOXES = 2000; // JUMBF boxes walked at most: a real manifest has tens
const MAX_DEPTH = 8; // JUMBF nesting: store > manifest > assertions > assertion > content
const MAX_SEGMENTS = 10000; // JPEG segments or PNG chunks looked at before giving up
export const NO_METADATA_NOTE =
  'Most sites strip metadata on upload: a file that declares nothing is not ' +
  'evidence of a real photo.';
const UNREADABLE_CREDENTIALS = 'Could not read the Content Credentials';
export const SOURCE_TYPES = {
  trainedAlgorithmicMedia: 'created by a generative AI model',
  compositeWithTrainedAlgorithmicMedia: 'edited or combined with generative AI',
  algorithmicMedia: 'made by an algorithm without training data',
  algorithmicallyEnhanced: 'enhanced by an algorithm',
  compositeSynthetic: 'combined with synthetic elements',
  digitalCapture: 'captured by a digital camera',
  computationalCapture: 'captured by a camera with computational processing',
  negativeFilm: 'scanned from a film negative',
  positiveFilm: 'scanned from a slide',
  print: 'scanned from a print',
  humanEdits: 'edited by a person',
  compositeCapture: 'combined from several captures',
  digitalCreation: 'made on a computer without a model',
  screenCapture: 'a screenshot',
  virtualRecording: 'recorded in a virtual environment',
  composite: 'combined from several sources',
  dataDrivenMedia: 'made from data',
};
const AI_SOURCE_TYPES = new Set([
  'trainedAlgorithmicMedia',
  'compositeWithTrainedAlgorithmicMedia',
]);
const GENERATOR_NAMES =
  /stable diffusion|automatic1111|comfyui|novelai|midjourney|dall[-·. ]?e|firefly|imagen|invokeai|fooocus|leonardo\.ai|flux\b|sdxl/i;
// PNG header fields exifr puts beside the text chunks in its `ihdr` block
const IHDR_FIELDS = new Set([
  'ImageWidth',
  'ImageHeight',
  'BitDepth',
  'ColorType',
  'Compression',
  'Filter',
  'Interlace',
]);
const EXIFR_OPTIONS = {
  tiff: true,
  ifd0: true,
  exif: true,
  gps: false,
  interop: false,
  ifd1: false,
  makerNote: false,
  userComment: true,
  xmp: { parse: false }, // raw: its size is checked before it is parsed
  iptc: false,
  icc: false,
  jfif: false,
  ihdr: true,
  mergeOutput: false,
  translateValues: false,
  reviveValues: false,
  silentErrors: true,
};

/** Whitespace collapsed, cut to `limit` characters with an ellipsis. */
function short(text, limit = PROMPT_CHARS) {
  const chars = Array.from(String(text).split(/\s+/).filter(Boolean).join(' '));
  return chars.length <= limit
    ? chars.join('')
    : chars
        .slice(0, limit - 1)
        .join('')
        .trimEnd() + '…';
}

function sourceName(value) {
  return String(value ?? '')
    .replace(/\/+$/, '')
    .split('/')
    .pop();
}

// ---------- Content Credentials: find the JUMBF manifest store, summarise it

function u16(b, at) {
  return (b[at] << 8) | b[at + 1];
}

function u32(b, at) {
  return (
    ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3]
  );
}

function fourcc(b, at) {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** JPEG: the C2PA store is spread over APP11 segments ('JP', instance, sequence, box). */
function jpegStore(b) {
  const instances = new Map();
  let at = 2;
  for (let n = 0; n < MAX_SEGMENTS && at + 4 <= b.length; n += 1) {
    if (b[at] !== 0xff) break;
    const marker = b[at + 1];
    if (marker === 0xd9 || marker === 0xda) break; // end, or the image data
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    const length = u16(b, at + 2);
    const payload = b.subarray(at + 4, at + 2 + length);
    if (marker === 0xeb && payload[0] === 0x4a && payload[1] === 0x50) {
      const instance = u16(payload, 2);
      const box = payload.subarray(8);
      if (!instances.has(instance)) {
        instances.set(instance, [box]);
      } else {
        // later packets repeat the box's length and type before their data
        instances.get(instance).push(box.subarray(8));
      }
    }
    at += 2 + length;
  }
  for (const parts of instances.values()) {
    const store = concat(parts);
    if (fourcc(store, 4) === 'jumb') return store;
  }
  return null;
}

/** PNG: the store is one 'caBX' chunk. */
function pngStore(b) {
  let at = 8;
  for (let n = 0; n < MAX_SEGMENTS && at + 8 <= b.length; n += 1) {
    const length = u32(b, at);
    const type = fourcc(b, at + 4);
    if (type === 'caBX') return b.subarray(at + 8, at + 8 + length);
    if (type === 'IEND') break;
    at += 12 + length;
  }
  return null;
}

/** WebP: the store is one 'C2PA' RIFF chunk. */
function webpStore(b) {
  let at = 12;
  for (let n = 0; n < MAX_SEGMENTS && at + 8 <= b.length; n += 1) {
    const length =
      b[at + 4] | (b[at + 5] << 8) | (b[at + 6] << 16) | (b[at + 7] << 24);
    if (fourcc(b, at) === 'C2PA') return b.subarray(at + 8, at + 8 + length);
    at += 8 + length + (length & 1);
  }
  return null;
}

function findStore(b) {
  if (b[0] === 0xff && b[1] === 0xd8) return jpegStore(b);
  if (b[0] === 0x89 && fourcc(b, 1) === 'PNG\r') return pngStore(b);
  if (fourcc(b, 0) === 'RIFF' && fourcc(b, 8) === 'WEBP') return webpStore(b);
  return null;
}

/** The boxes in b[start, end): { type, label?, children?, data }. Throws on a box that overruns. */
function readBoxes(b, start, end, depth, budget) {
  if (depth > MAX_DEPTH) throw new Error('boxes nested too deep');
  const boxes = [];
  let at = start;
  while (at + 8 <= end) {
    if ((budget.left -= 1) < 0) throw new Error('too many boxes');
    let size = u32(b, at);
    const type = fourcc(b, at + 4);
    let header = 8;
    if (size === 1) {
      size = u32(b, at + 8) * 2 ** 32 + u32(b, at + 12);
      header = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < header || at + size > end) {
      throw new Error(`a ${type || 'JUMBF'} box runs past the end of the data`);
    }
    const data = b.subarray(at + header, at + size);
    const box = { type, data };
    if (type === 'jumb') {
      box.children = readBoxes(b, at + header, at + size, depth + 1, budget);
      const description = box.children[0];
      if (description?.type === 'jumd' && description.data[16] & 0x02) {
        const label = description.data.subarray(17);
        const nul = label.indexOf(0);
        box.label = new TextDecoder().decode(
          nul < 0 ? label : label.subarray(0, nul),
        );
      }
    }
    boxes.push(box);
    at += size;
  }
  return boxes;
}

function cborOf(superbox) {
  const content = superbox?.children?.find((c) => c.type === 'cbor');
  if (!content) return null;
  const tags = [];
  tags[0] = (value) => value; // date/time strings
  tags[1] = (value) => value; // epoch times
  return decodeCbor(content.data, { tags });
}

function actionJson(action) {
  const source = sourceName(action.digitalSourceType) || null;
  let agent = action.softwareAgent;
  if (agent && typeof agent === 'object') agent = agent.name;
  const name = String(action.action ?? 'unknown');
  const words = name.replace(/^c2pa\./, '').replace(/_/g, ' ');
  return {
    action: name,
    description: SOURCE_TYPES[source] ?? words,
    digital_source_type: source,
    software: agent ? short(agent, 80) : null,
  };
}

function claimGenerator(claim) {
  let info = claim?.claim_generator_info;
  if (Array.isArray(info)) info = info[0];
  if (info && typeof info === 'object' && info.name) {
    return short(`${info.name} ${info.version ?? ''}`.trim(), 120);
  }
  return claim?.claim_generator ? short(claim.claim_generator, 120) : null;
}

/** The C2PA manifest, detected and summarised (not validated); never throws. */
export function contentCredentials(bytes) {
  const out = {
    state: 'none',
    signer: null,
    signed_at: null,
    claim_generator: null,
    actions: [],
    ai_declared: false,
    problems: [],
  };
  try {
    const storeBytes = findStore(bytes);
    if (!storeBytes) return out;
    const [store] = readBoxes(storeBytes, 0, storeBytes.length, 0, {
      left: MAX_BOXES,
    });
    if (store?.label !== 'c2pa') return out;
    const manifests = store.children.filter((c) => c.type === 'jumb');
    // the active manifest is the last one in the store
    const manifest = manifests.at(-1);
    if (!manifest) throw new Error('the store holds no manifest');
    const parts = manifest.children.filter((c) => c.type === 'jumb');
    const claimBox = parts.find((c) => /^c2pa\.claim(\.v\d+)?$/.test(c.label));
    const assertions = parts.find((c) => c.label === 'c2pa.assertions');
    if (!claimBox) throw new Error('the manifest has no claim');
    let actions = [];
    for (const assertion of assertions?.children ?? []) {
      if (assertion.label?.startsWith('c2pa.actions')) {
        const list = cborOf(assertion)?.actions;
        if (Array.isArray(list)) {
          actions = actions.concat(
            list.filter((a) => a && typeof a === 'object'),
          );
        }
      }
    }
    out.state = 'present';
    out.claim_generator = claimGenerator(cborOf(claimBox));
    if (actions.length > MAX_ACTIONS) {
      out.problems.push(
        `The manifest lists ${actions.length} actions; the first ${MAX_ACTIONS} are shown.`,
      );
    }
    out.actions = actions.slice(0, MAX_ACTIONS).map(actionJson);
    out.ai_declared = out.actions.some((a) =>
      AI_SOURCE_TYPES.has(a.digital_source_type),
    );
  } catch (error) {
    return {
      ...out,
      state: 'unreadable',
      actions: [],
      claim_generator: null,
      problems: [`${UNREADABLE_CREDENTIALS}: ${short(error.message, 160)}.`],
    };
  }
  return out;
}

// ---------- EXIF, XMP and PNG text, through exifr

/** AUTOMATIC1111's `parameters`: the prompt, then 'Negative prompt: ...', then 'Steps: ..., Model: ...'. */
function a1111(text) {
  const lines = text.trim().split('\n');
  const settings = lines.at(-1)?.startsWith('Steps:') ? lines.pop() : '';
  let prompt = lines.join('\n').split('\nNegative prompt:')[0];
  if (prompt.startsWith('Negative prompt:')) prompt = '';
  const values = {};
  for (const [, key, value] of settings.matchAll(
    /(?:^|, )([\w /-]+): ((?:"[^"]*")|[^,]*)/g,
  )) {
    values[key] ??= value;
  }
  let tool = 'Stable Diffusion web UI (AUTOMATIC1111)';
  if (values.Version) tool += ` ${values.Version}`;
  return {
    tool,
    model: values.Model || values['Model hash'] || null,
    prompt: short(prompt) || null,
  };
}

/** ComfyUI's `prompt` graph: the checkpoint loader's model and the first text encoder's text. */
function comfyui(promptJson, workflowJson) {
  let graph = {};
  try {
    graph = promptJson ? JSON.parse(promptJson) : {};
  } catch {
    graph = {};
  }
  const nodes =
    graph && typeof graph === 'object' && !Array.isArray(graph)
      ? Object.values(graph).filter((n) => n && typeof n === 'object')
      : [];
  let model = null;
  let prompt = null;
  for (const node of nodes) {
    const inputs =
      node.inputs && typeof node.inputs === 'object' ? node.inputs : {};
    const checkpoint = inputs.ckpt_name || inputs.unet_name;
    if (model === null && typeof checkpoint === 'string') model = checkpoint;
    if (
      prompt === null &&
      String(node.class_type ?? '').includes('TextEncode') &&
      typeof inputs.text === 'string'
    ) {
      prompt = inputs.text;
    }
  }
  if (!nodes.length && !workflowJson) return null;
  return {
    tool: 'ComfyUI',
    model: model ? short(model, 120) : null,
    prompt: prompt ? short(prompt) : null,
  };
}

function generatorFromText(text) {
  if (typeof text.parameters === 'string' && text.parameters.trim()) {
    return [a1111(text.parameters), "PNG text 'parameters'"];
  }
  if ('prompt' in text || 'workflow' in text) {
    const found = comfyui(text.prompt, text.workflow);
    if (found) return [found, "PNG text 'prompt'/'workflow'"];
  }
  return [null, null];
}

function userComment(raw) {
  if (typeof raw === 'string') return raw;
  if (!(raw instanceof Uint8Array) || raw.length < 9) return null;
  const code = new TextDecoder('latin1').decode(raw.subarray(0, 7));
  const body = raw.subarray(8);
  if (code === 'UNICODE') {
    for (const encoding of ['utf-16be', 'utf-16le']) {
      const text = new TextDecoder(encoding).decode(body);
      if (/^(Steps:|parameters)|\nSteps:|Negative prompt:/.test(text))
        return text;
    }
    return new TextDecoder('utf-16be').decode(body);
  }
  return new TextDecoder().decode(body);
}

/** The XMP namespaces' first DigitalSourceType and CreatorTool, whatever their prefix. */
function xmpFields(parsed) {
  const found = {};
  for (const [prefix, fields] of Object.entries(parsed ?? {})) {
    if (prefix === 'xmlns' || !fields || typeof fields !== 'object') continue;
    for (const name of ['DigitalSourceType', 'CreatorTool']) {
      let value = fields[name];
      if (value && typeof value === 'object')
        value = value.value ?? value.resource;
      if (typeof value === 'string' && value && !(name in found))
        found[name] = value;
    }
  }
  return found;
}

async function fileMetadata(bytes) {
  const out = {
    declared_source: null,
    generator: null,
    generator_from: null,
    camera: null,
    software: null,
    problems: [],
  };
  let parsed;
  try {
    parsed = (await exifr.parse(bytes, EXIFR_OPTIONS)) ?? {};
  } catch (error) {
    out.problems.push(
      `Could not read the file's metadata (${short(error.message, 100)}).`,
    );
    return out;
  }
  const ifd0 = parsed.ifd0 ?? {};
  if (ifd0.Make || ifd0.Model) {
    out.camera = {
      make: ifd0.Make ? short(ifd0.Make, 60) : null,
      model: ifd0.Model ? short(ifd0.Model, 60) : null,
    };
  }
  if (ifd0.Software) out.software = short(ifd0.Software, 80);
  const comment = userComment(parsed.exif?.UserComment);
  if (comment && /Steps:|Negative prompt:/.test(comment)) {
    out.generator = a1111(comment);
    out.generator_from = 'EXIF UserComment';
  }

  const xmp = typeof parsed.xmp === 'string' ? parsed.xmp : '';
  if (xmp.length > MAX_XMP_CHARS) {
    out.problems.push(
      `The XMP packet is ${(xmp.length / 1e6).toFixed(1)} MB, over the 1 MB limit; it was not read.`,
    );
  } else if (xmp) {
    const fields = xmpFields(exifr.segmentParsers.get('xmp').parse(xmp));
    if (!Object.keys(fields).length && !/<rdf:RDF/.test(xmp)) {
      out.problems.push('Could not read the XMP packet (not XMP).');
    }
    if (fields.DigitalSourceType) {
      const code = sourceName(fields.DigitalSourceType);
      out.declared_source = {
        code: short(code, 80),
        description:
          SOURCE_TYPES[code] ?? 'a source type this page does not know',
        from: 'XMP (IPTC DigitalSourceType)',
      };
    }
    if (fields.CreatorTool && !out.software)
      out.software = short(fields.CreatorTool, 80);
  }

  const text = {};
  for (const [key, value] of Object.entries(parsed.ihdr ?? {})) {
    if (!IHDR_FIELDS.has(key) && typeof value === 'string') text[key] = value;
  }
  const entries = Object.keys(text).length;
  if (entries > MAX_TEXT_ENTRIES) {
    out.problems.push(
      `The file holds ${entries} text chunks, more than any generator writes; only the known keys were read.`,
    );
  }
  if (typeof text.Software === 'string' && !out.software)
    out.software = short(text.Software, 80);
  const [generator, where] = generatorFromText(text);
  if (generator) {
    out.generator = generator;
    out.generator_from = where;
  }
  return out;
}

/** The provenance object for the image bytes (Uint8Array or ArrayBuffer); never throws. */
export async function readProvenance(input) {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const meta = await fileMetadata(bytes);
  const credentials = contentCredentials(bytes);
  const declaredBy = [];
  if (credentials.ai_declared) declaredBy.push('Content Credentials');
  if (meta.declared_source && AI_SOURCE_TYPES.has(meta.declared_source.code)) {
    declaredBy.push(meta.declared_source.from);
  }
  if (meta.generator) declaredBy.push(meta.generator_from);
  if (meta.software && GENERATOR_NAMES.test(meta.software))
    declaredBy.push('software name');
  const found =
    credentials.state !== 'none' ||
    Boolean(
      meta.declared_source || meta.generator || meta.camera || meta.software,
    );
  return {
    declares_ai: declaredBy.length > 0,
    declared_by: declaredBy,
    content_credentials: credentials,
    declared_source: meta.declared_source,
    generator: meta.generator,
    camera: meta.camera,
    software: meta.software,
    nothing_declared: !found,
    problems: meta.problems,
    note: NO_METADATA_NOTE,
  };
}
