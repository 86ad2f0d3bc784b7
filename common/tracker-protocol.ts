/**
 * The tracker's WebSocket protocol: one JSON object per text frame, a discriminated union on
 * `type` in each direction, every string and list capped. Shared by the tracker
 * (server/tracker) and the viewer's client (main/p2p/tracker-client.ts).
 *
 * client → tracker: join (must come first), heartbeat, neighbours, signal, leave
 * tracker → client: welcome, neighbours, signal (relayed), error
 */
import * as z from 'zod';
import { CHANNEL_ID_PATTERN } from './manifest';

/** Largest frame either side accepts (bytes of UTF-8 JSON). */
export const MAX_FRAME_BYTES = 16 * 1024;
/**
 * Largest SDP text. A signal frame carries the SDP plus a small envelope and must itself fit in
 * MAX_FRAME_BYTES, so the SDP cap leaves 1 KiB for the envelope. (A data-channel-only SDP from
 * libdatachannel is about 0.5–2 KiB.)
 */
export const MAX_SDP_CHARS = MAX_FRAME_BYTES - 1024;
export const MAX_CANDIDATE_CHARS = 1024;
export const MAX_MID_CHARS = 64;
export const MAX_NEIGHBOURS_WANT = 32;
export const MAX_EXCLUDE = 64;
export const MAX_HINT_CHARS = 64;
export const MAX_ERROR_CHARS = 512;
export const DEFAULT_HEARTBEAT_MS = 5000;

export const PEER_ID_PATTERN = /^[a-z0-9]{16,32}$/;
export const SUB_ROOM_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const peerIdSchema = z.string().regex(PEER_ID_PATTERN);
export const subRoomSchema = z.string().regex(SUB_ROOM_PATTERN);
export const channelIdSchema = z.string().regex(CHANNEL_ID_PATTERN);
/** ISP / region hints: short printable ASCII. */
export const hintSchema = z
  .string()
  .min(1)
  .max(MAX_HINT_CHARS)
  .regex(/^[\x20-\x7e]+$/);
export const roleSchema = z.enum(['viewer', 'seed']);

export const signalDataSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.enum(['offer', 'answer']), sdp: z.string().min(1).max(MAX_SDP_CHARS) }),
  z.object({
    kind: z.literal('candidate'),
    candidate: z.string().max(MAX_CANDIDATE_CHARS),
    mid: z.string().max(MAX_MID_CHARS),
  }),
]);

/**
 * A join ticket from the COM (base64url payload "." base64url signature). Room for the longest
 * channel, sub-room, ISP and region the ticket may name.
 */
export const MAX_TICKET_CHARS = 1024;
export const ticketSchema = z
  .string()
  .max(MAX_TICKET_CHARS)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);

export const joinSchema = z.object({
  type: z.literal('join'),
  channel: channelIdSchema,
  subRoom: subRoomSchema,
  peerId: peerIdSchema,
  role: roleSchema,
  /** The COM's ticket for exactly this channel, sub-room, peer id and role (a tracker inside a server requires it). */
  ticket: ticketSchema.optional(),
  isp: hintSchema.optional(),
  region: hintSchema.optional(),
});

export const clientMessageSchema = z.discriminatedUnion('type', [
  joinSchema,
  z.object({
    type: z.literal('heartbeat'),
    /** Newest segment the peer holds, verified. */
    latestSeq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    uploadKbps: z.number().min(0).max(100_000_000).optional(),
  }),
  z.object({
    type: z.literal('neighbours'),
    want: z.number().int().min(1).max(MAX_NEIGHBOURS_WANT),
    exclude: z.array(peerIdSchema).max(MAX_EXCLUDE).optional(),
  }),
  z.object({ type: z.literal('signal'), to: peerIdSchema, data: signalDataSchema }),
  z.object({ type: z.literal('leave') }),
]);

export const peerInfoSchema = z.object({
  peerId: peerIdSchema,
  role: roleSchema,
  isp: hintSchema.optional(),
  region: hintSchema.optional(),
});

/** Machine-readable reason in an error message (the text is for people). */
export const errorCodeSchema = z.enum([
  'bad-frame',
  'not-joined',
  'already-joined',
  'duplicate-peer',
  'rate-limited',
  'not-in-sub-room',
  'timeout',
  'no-ticket',
  'bad-ticket',
]);

export const serverMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('welcome'),
    peerId: peerIdSchema,
    subRoom: subRoomSchema,
    heartbeatMs: z.number().int().min(10).max(600_000),
  }),
  z.object({ type: z.literal('neighbours'), peers: z.array(peerInfoSchema).max(MAX_NEIGHBOURS_WANT) }),
  z.object({ type: z.literal('signal'), from: peerIdSchema, data: signalDataSchema }),
  z.object({
    type: z.literal('error'),
    message: z.string().max(MAX_ERROR_CHARS),
    code: errorCodeSchema.optional(),
  }),
]);

export type PeerRole = z.infer<typeof roleSchema>;
export type SignalData = z.infer<typeof signalDataSchema>;
export type JoinMessage = z.infer<typeof joinSchema>;
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type ServerMessage = z.infer<typeof serverMessageSchema>;
export type PeerInfo = z.infer<typeof peerInfoSchema>;
export type TrackerErrorCode = z.infer<typeof errorCodeSchema>;

export type Parsed<T> = { ok: true; message: T } | { ok: false; error: string };

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

function frameText(frame: string | Uint8Array): string | null {
  if (typeof frame === 'string') {
    // UTF-8 is at most 3 bytes per UTF-16 unit: only long strings need measuring.
    if (frame.length * 3 <= MAX_FRAME_BYTES) return frame;
    return utf8Encoder.encode(frame).length > MAX_FRAME_BYTES ? null : frame;
  }
  return frame.byteLength > MAX_FRAME_BYTES ? null : utf8Decoder.decode(frame);
}

function parseWith<T>(schema: z.ZodType<T>, frame: string | Uint8Array): Parsed<T> {
  const text = frameText(frame);
  if (text === null) return { ok: false, error: `frame larger than ${MAX_FRAME_BYTES} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: 'frame is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    return { ok: false, error: `invalid message${where}: ${issue?.message ?? 'schema mismatch'}` };
  }
  return { ok: true, message: parsed.data };
}

/** Size-checks, JSON-parses and schema-checks a frame from a client. Never throws. */
export function parseClientMessage(frame: string | Uint8Array): Parsed<ClientMessage> {
  return parseWith(clientMessageSchema, frame);
}

/** Size-checks, JSON-parses and schema-checks a frame from the tracker. Never throws. */
export function parseServerMessage(frame: string | Uint8Array): Parsed<ServerMessage> {
  return parseWith(serverMessageSchema, frame);
}

export function encodeMessage(message: ClientMessage | ServerMessage): string {
  return JSON.stringify(message);
}
