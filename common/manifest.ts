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

export type InitEntry = z.infer<typeof initEntrySchema>;
export type SegmentEntry = z.infer<typeof segmentEntrySchema>;
export type Manifest = z.infer<typeof manifestSchema>;
export type SignedManifest = z.infer<typeof signedManifestSchema>;

/**
 * The bytes that are signed: the manifest serialised with its keys in schema order. A verifier
 * re-serialises the parsed object the same way, so whitespace or key order on the wire cannot
 * change what is verified, and any changed value fails.
 */
export function manifestSigningBytes(m: Manifest): Uint8Array {
  const ordered: Manifest = {
    v: m.v,
    channel: m.channel,
    stream: m.stream,
    live: m.live,
    targetDurationMs: m.targetDurationMs,
    generatedAt: m.generatedAt,
    inits: m.inits.map((i) => ({ version: i.version, size: i.size, sha256: i.sha256 })),
    segments: m.segments.map((s) => ({
      seq: s.seq,
      initVersion: s.initVersion,
      startTs: s.startTs,
      durationMs: s.durationMs,
      size: s.size,
      sha256: s.sha256,
      keyframeOffset: s.keyframeOffset,
      originTime: s.originTime,
    })),
  };
  return new TextEncoder().encode(JSON.stringify(ordered));
}

/** URL paths of a channel's resources below the origin/CDN base URL. */
export const originPaths = {
  manifest: (channel: string) => `/live/${channel}/manifest.json`,
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
