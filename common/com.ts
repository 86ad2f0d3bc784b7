/**
 * The COM service's channel info: the answer to GET /api/channels/:id, the first thing a viewer
 * asks. Everything a viewer needs to join a channel's swarm: where to fetch manifests and
 * segments, the key that signs them, the latest signed manifest, NAT-traversal servers, log
 * servers, the seed servers of its sub-room, and the tracker of the sub-room it was put in.
 */
import * as z from 'zod';
import { signedManifestSchema } from './manifest';
import {
  channelIdSchema,
  hintSchema,
  peerIdSchema,
  roleSchema,
  subRoomSchema,
  ticketSchema,
} from './tracker-protocol';

export const MAX_URL_CHARS = 512;
export const MAX_ICE_SERVERS = 16;
export const MAX_ICE_URLS = 8;
export const MAX_LOG_SERVERS = 16;
export const MAX_SEEDS = 32;

const url = (protocols: readonly string[]) =>
  z
    .string()
    .max(MAX_URL_CHARS)
    .refine(
      (text) => {
        try {
          return protocols.includes(new URL(text).protocol);
        } catch {
          return false;
        }
      },
      `must be a ${protocols.join(' or ')} URL`,
    );

export const httpUrlSchema = url(['http:', 'https:']);
export const wsUrlSchema = url(['ws:', 'wss:']);

/** An RTCIceServer: STUN ("penetration") servers, and TURN relays with their credentials. */
export const iceServerSchema = z.object({
  urls: z
    .array(
      z
        .string()
        .max(256)
        .regex(/^(stun|stuns|turn|turns):[^\s]+$/),
    )
    .min(1)
    .max(MAX_ICE_URLS),
  username: z.string().max(256).optional(),
  credential: z.string().max(256).optional(),
});

export const channelInfoSchema = z.object({
  channel: channelIdSchema,
  live: z.boolean(),
  /** The origin's Ed25519 manifest-signing key, SPKI DER in base64. */
  publicKey: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9+/]+={0,2}$/),
  /** CDN/origin base URL: manifests, init data and segments are fetched below it. */
  originBaseUrl: httpUrlSchema,
  /** The latest signed manifest, as the origin serves it. */
  manifest: signedManifestSchema,
  iceServers: z.array(iceServerSchema).max(MAX_ICE_SERVERS),
  logServers: z.array(httpUrlSchema).max(MAX_LOG_SERVERS),
  /** Peer ids of the seed servers in the viewer's sub-room. */
  seeds: z.array(peerIdSchema).max(MAX_SEEDS),
  /**
   * The tracker and sub-room to join; `viewers`: the sub-room's viewers as the COM counted them
   * when it placed this one (itself included): the normal-mode latency target follows it.
   */
  tracker: z.object({
    url: wsUrlSchema,
    subRoom: subRoomSchema,
    viewers: z.number().int().min(1).max(10_000_000).optional(),
  }),
  /** The peer id the COM gave this viewer, and its ticket to join the sub-room with it. */
  peer: z.object({ id: peerIdSchema, role: roleSchema, ticket: ticketSchema }),
  /**
   * The server's wall clock when it answered (ms since the epoch): viewers estimate their clock
   * offset from it (the manifest's generatedAt is cached per segment, so it can be a second old).
   */
  serverTime: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /**
   * Where a viewer whose tracker went away asks again (POST {ticket}): it keeps its peer id and
   * gets the tracker its sub-room is on now (another shard when the old one died). Absent from
   * older servers; the viewer then retries the same tracker.
   */
  rejoinUrl: httpUrlSchema.optional(),
});

/** POST body of a rejoin: the ticket the viewer holds (its peer id, role and last sub-room). */
export const rejoinRequestSchema = z.object({ ticket: ticketSchema }).strict();
export type RejoinRequest = z.infer<typeof rejoinRequestSchema>;

/** The answer to a rejoin: where to join now, under the same peer id, with a fresh ticket. */
export const rejoinAnswerSchema = z.object({
  tracker: z.object({ url: wsUrlSchema, subRoom: subRoomSchema }),
  peer: z.object({ id: peerIdSchema, role: roleSchema, ticket: ticketSchema }),
});
export type RejoinAnswer = z.infer<typeof rejoinAnswerSchema>;

/** Largest rejoin request body the COM reads. */
export const MAX_REJOIN_BODY_BYTES = 4096;

export type IceServer = z.infer<typeof iceServerSchema>;
export type ComChannelInfo = z.infer<typeof channelInfoSchema>;

/** Query hints a viewer may add to the channel-info request (the tracker uses them for neighbour choice). */
export const subRoomHintsSchema = z.object({
  isp: hintSchema.optional(),
  region: hintSchema.optional(),
  /** A seed server asks for a seed ticket (with the seed secret as a bearer token). */
  role: roleSchema.optional(),
});
export type SubRoomHints = z.infer<typeof subRoomHintsSchema>;

/** Path of the rejoin request (POST) below the COM's base URL. */
export function rejoinPath(channel: string): string {
  return `/api/channels/${encodeURIComponent(channel)}/rejoin`;
}

/** Path and query of the channel-info request. */
export function channelInfoPath(channel: string, hints: SubRoomHints = {}): string {
  const q = new URLSearchParams();
  if (hints.isp) q.set('isp', hints.isp);
  if (hints.region) q.set('region', hints.region);
  if (hints.role === 'seed') q.set('role', 'seed');
  const query = q.toString();
  return `/api/channels/${encodeURIComponent(channel)}${query ? `?${query}` : ''}`;
}
