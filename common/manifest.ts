/**
 * The signed manifest: the live window of segments an origin publishes for a channel.
 * One definition of the wire shape, shared by the origin (which builds and signs it) and
 * the viewers (which validate and verify it).
 */
import * as z from 'zod';

export const MANIFEST_VERSION = 1;
export const CHANNEL_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const u32 = z.number().int().min(0).max(0xffffffff);
const safeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Largest init data (FLV header, metadata and sequence headers) a manifest may list. */
export const MAX_INIT_BYTES = 16 * 1024 * 1024;

export const initEntrySchema = z.object({
  version: safeInt,
  size: z.number().int().min(13).max(MAX_INIT_BYTES),
  sha256: z.string().regex(SHA256_HEX),
});

export const segmentEntrySchema = z.object({
  seq: safeInt,
  initVersion: safeInt,
  /** FLV timestamp (ms) of the first tag. */
  startTs: u32,
  durationMs: z.number().int().min(0).max(60_000),
  size: z
    .number()
    .int()
    .min(1)
    .max(64 * 1024 * 1024),
  sha256: z.string().regex(SHA256_HEX),
  /** Byte offset of the first video keyframe's tag inside the segment, or null when it has none. */
  keyframeOffset: z.number().int().min(0).nullable(),
  /** Origin wall-clock time (ms since epoch) when the segment's first tag arrived. */
  originTime: safeInt,
});

export const manifestSchema = z.object({
  v: z.literal(MANIFEST_VERSION),
  channel: z.string().regex(CHANNEL_ID_PATTERN),
  /** Changes whenever the origin (re)creates the channel; seqs are unique within one stream. */
  stream: z.string().regex(/^[a-z0-9]{4,32}$/),
  live: z.boolean(),
  targetDurationMs: z.number().int().min(100).max(10_000),
  generatedAt: safeInt,
  inits: z.array(initEntrySchema).max(64),
  segments: z.array(segmentEntrySchema).max(1024),
});

export const signedManifestSchema = z.object({
  manifest: manifestSchema,
  /** Base64 Ed25519 signature over `manifestSigningBytes(manifest)`. */
  signature: z.string().max(200),
});

/**
 * The envelope with its segment list unchecked: `parseSignedManifest` checks it entry by entry.
 * The list is checked as a whole (an array, at most 1024 long), not as an array of unknowns,
 * which zod walks element by element to build a copy: that was half the envelope's cost, paid at
 * every manifest.
 */
const segmentList = z.custom<unknown[]>(
  (v) => Array.isArray(v) && v.length <= 1024,
  'segments must be a list of at most 1024 entries',
);
const signedEnvelopeSchema = z.object({
  manifest: manifestSchema.extend({ segments: segmentList }),
  signature: signedManifestSchema.shape.signature,
});

const SEGMENT_FIELDS = [
  'seq',
  'initVersion',
  'startTs',
  'durationMs',
  'size',
  'sha256',
  'keyframeOffset',
  'originTime',
] as const;

const JITLESS = { jitless: true } as const;

/** Whether `raw` (unchecked JSON) has exactly `known`'s values in every field the schema keeps. */
function sameSegment(raw: unknown, known: SegmentEntry): boolean {
  if (typeof raw !== 'object' || raw === null) return false;
  const r = raw as Record<string, unknown>;
  // Indexed: this runs for every entry of every manifest, in V8's baseline code in a viewer,
  // where for-of allocates per element.
  for (let i = 0; i < SEGMENT_FIELDS.length; i++) {
    const f = SEGMENT_FIELDS[i]!;
    if (r[f] !== known[f]) return false;
  }
  return true;
}

/**
 * `signedManifestSchema.safeParse`, but a segment entry equal field by field to `previous`'s
 * entry of the same seq is that entry, not checked again: a viewer re-reads its whole window
 * (30 entries) every second, and running the schema over the 29 it already checked was a third
 * of all a viewer allocated. The entries it returns are frozen (their signing text is kept).
 */
export function parseSignedManifest(
  json: unknown,
  previous: Manifest | null,
): { success: true; data: SignedManifest } | { success: false; error: string } {
  // Without zod's generated parsers: a viewer parses one envelope and an entry or two a second,
  // and generating them (at its first manifest) made V8 compile zod's code generator with
  // TurboFan before a lean viewer turned it off (3 MB of the compiler's code resident).
  const env = signedEnvelopeSchema.safeParse(json, JITLESS);
  if (!env.success) return { success: false, error: env.error.issues[0]?.message ?? 'invalid' };
  const raw = env.data.manifest.segments;
  const prev = previous?.segments ?? [];
  const firstPrev = prev[0]?.seq ?? 0;
  const segments: SegmentEntry[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i];
    const seq = (r as { seq?: unknown } | null)?.seq;
    const known = typeof seq === 'number' ? prev[seq - firstPrev] : undefined;
    if (known !== undefined && sameSegment(r, known)) {
      segments[i] = known;
      continue;
    }
    const one = segmentEntrySchema.safeParse(r, JITLESS);
    if (!one.success)
      return { success: false, error: `segments[${i}]: ${one.error.issues[0]?.message ?? 'invalid'}` };
    segments[i] = Object.freeze(one.data) as SegmentEntry;
  }
  return {
    success: true,
    data: { manifest: { ...env.data.manifest, segments }, signature: env.data.signature },
  };
}

export type InitEntry = z.infer<typeof initEntrySchema>;
export type SegmentEntry = z.infer<typeof segmentEntrySchema>;
export type Manifest = z.infer<typeof manifestSchema>;
export type SignedManifest = z.infer<typeof signedManifestSchema>;

/**
 * The bytes that are signed: the manifest serialised with its keys in schema order. A verifier
 * re-serialises the parsed object the same way, so whitespace or key order on the wire cannot
 * change what is verified, and any changed value fails.
 *
 * Each entry's text is kept beside the entry object (a viewer re-verifies its window every
 * second, and a verifier reuses the entry objects of the last manifest): one string per new
 * segment rather than a copy of the whole window's objects per manifest.
 */
export function manifestSigningBytes(m: Manifest): Uint8Array {
  return utf8.encode(manifestSigningText(m));
}

/** `manifestSigningBytes` as text (the origin writes it verbatim into its response). */
export function manifestSigningText(m: Manifest): string {
  const head = JSON.stringify({
    v: m.v,
    channel: m.channel,
    stream: m.stream,
    live: m.live,
    targetDurationMs: m.targetDurationMs,
    generatedAt: m.generatedAt,
  });
  let text = `${head.slice(0, -1)},"inits":[`;
  for (let i = 0; i < m.inits.length; i++) text += (i === 0 ? '' : ',') + initText(m.inits[i]!);
  text += '],"segments":[';
  for (let i = 0; i < m.segments.length; i++) text += (i === 0 ? '' : ',') + segmentText(m.segments[i]!);
  return `${text}]}`;
}

const SIGNED_HEAD = '{"manifest":';
const SIGNATURE_HEAD = ',"signature":"';
const SIGNATURE_TAIL = '"}';
const BASE64 = /^[A-Za-z0-9+/]{1,200}={0,2}$/;

/**
 * The origin's response: a SignedManifest whose `manifest` is the signing text itself, verbatim.
 * A verifier can then check the signature over the bytes as they arrived (splitSignedManifest)
 * without serialising the parsed manifest again; any other JSON form of the same envelope (a
 * proxy that re-indents it) still verifies the canonical way.
 */
export function signedManifestJson(signingText: string, signature: string): string {
  if (!BASE64.test(signature)) throw new Error('signature is not base64');
  return `${SIGNED_HEAD}${signingText}${SIGNATURE_HEAD}${signature}${SIGNATURE_TAIL}`;
}

/**
 * A response body in signedManifestJson's form, split into what was signed (the bytes between
 * the envelope's head and its signature, not copied) and the signature; null for any other form.
 * Nothing here is trusted: the caller verifies the signature over `signed`, then parses it.
 */
export function splitSignedManifest(body: Uint8Array): { signed: Uint8Array; signature: string } | null {
  const end = body.length - SIGNATURE_TAIL.length;
  if (end <= SIGNED_HEAD.length || !asciiAt(body, 0, SIGNED_HEAD) || !asciiAt(body, end, SIGNATURE_TAIL))
    return null;
  // The signature is short and base64 (no quote in it): its head is the last one in the body.
  const lowest = Math.max(SIGNED_HEAD.length, end - SIGNATURE_HEAD.length - 200);
  for (let at = end - SIGNATURE_HEAD.length; at >= lowest; at--) {
    if (!asciiAt(body, at, SIGNATURE_HEAD)) continue;
    let signature = '';
    for (let i = at + SIGNATURE_HEAD.length; i < end; i++) signature += String.fromCharCode(body[i]!);
    if (!BASE64.test(signature)) return null;
    return { signed: body.subarray(SIGNED_HEAD.length, at), signature };
  }
  return null;
}

function asciiAt(bytes: Uint8Array, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

const utf8 = new TextEncoder();
const entryTexts = new WeakMap<SegmentEntry, string>();

function initText(i: InitEntry): string {
  return JSON.stringify({ version: i.version, size: i.size, sha256: i.sha256 });
}

function segmentText(s: SegmentEntry): string {
  let t = entryTexts.get(s);
  if (t === undefined) {
    t = JSON.stringify({
      seq: s.seq,
      initVersion: s.initVersion,
      startTs: s.startTs,
      durationMs: s.durationMs,
      size: s.size,
      sha256: s.sha256,
      keyframeOffset: s.keyframeOffset,
      originTime: s.originTime,
    });
    // Only a frozen entry's text is kept: nothing can change it after.
    if (Object.isFrozen(s)) entryTexts.set(s, t);
  }
  return t;
}

/** URL paths of a channel's resources below the origin/CDN base URL. */
export const originPaths = {
  manifest: (channel: string) => `/live/${channel}/manifest.json`,
  /** Each new signed manifest as a line of one held response (NDJSON), from `?after=N` on. */
  manifestStream: (channel: string) => `/live/${channel}/manifests.ndjson`,
  init: (channel: string, stream: string, version: number) =>
    `/live/${channel}/${stream}/init-${version}.flv`,
  segment: (channel: string, stream: string, seq: number) => `/live/${channel}/${stream}/${seq}.flv`,
  httpFlv: (channel: string) => `/live/${channel}.flv`,
  channels: '/api/channels',
  originKey: '/api/origin-key',
  ingestInfo: '/api/ingest',
  ingest: (streamKey: string) => `/ingest/${streamKey}`,
} as const;

/** Summary of a channel as the channel list shows it. */
export const channelSummarySchema = z.object({
  id: z.string().regex(CHANNEL_ID_PATTERN),
  live: z.boolean(),
  demo: z.boolean(),
  latestSeq: safeInt.nullable(),
  bitrateKbps: z.number().min(0),
  /** Viewers watching now (the tracker's count); absent from servers that do not count them. */
  viewers: z.number().int().min(0).max(100_000_000).optional(),
});
export type ChannelSummary = z.infer<typeof channelSummarySchema>;

/** GET /api/ingest: where a streamer publishes (the RTMP host is the server's own host). */
export const ingestInfoSchema = z.object({
  /** RTMP ingest port (path /live, stream key after it); null when the server takes no RTMP. */
  rtmpPort: z.number().int().min(1).max(65535).nullable(),
  /** The server has its own stream keys: the channel name is not a valid key. */
  keysRequired: z.boolean(),
});
export type IngestInfo = z.infer<typeof ingestInfoSchema>;
