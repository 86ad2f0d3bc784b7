/**
 * The COM service, asked first: the channel list, and a channel's info (CDN base URL, the
 * origin's key, the signed manifest, tracker and sub-room, ICE servers).
 */
import type { KeyObject } from 'node:crypto';
import * as z from 'zod';
import {
  type ComChannelInfo,
  channelInfoPath,
  channelInfoSchema,
  type SubRoomHints,
} from '../../../common/com';
import {
  type ChannelSummary,
  channelSummarySchema,
  type IngestInfo,
  ingestInfoSchema,
  type Manifest,
  originPaths,
} from '../../../common/manifest';
import { ROOMS_PATH, type RoomSummary, roomSummarySchema } from '../../../common/quality-report';
import { type HttpAnswer, OriginError, readJson, request } from './origin-http';
import { loadPublicKey, verifySignedManifest } from './signed-manifest';

export interface ChannelInfo {
  /** The COM answer as it came (tracker, ICE servers, seeds, CDN base URL). */
  com: ComChannelInfo;
  publicKey: KeyObject;
  manifest: Manifest;
  /** Origin clock minus local clock (ms), estimated from this exchange. */
  clockOffsetMs: number;
  rttMs: number;
}

export class ComClient {
  readonly base: string;

  /** `seedSecret`: a seed server's bearer token for a seed ticket (SWARMCAST_SEED_SECRET). */
  constructor(
    serverUrl: string,
    private readonly seedSecret?: string,
  ) {
    this.base = serverUrl.replace(/\/+$/, '');
  }

  async listChannels(signal?: AbortSignal): Promise<ChannelSummary[]> {
    const body = await readJson(await request(this.base + originPaths.channels, signal));
    const parsed = z.object({ channels: z.array(channelSummarySchema).max(10_000) }).safeParse(body);
    if (!parsed.success) throw new OriginError('malformed channel list', 200);
    return parsed.data.channels;
  }

  /** Where a streamer publishes on this server (the RTMP host is the server's own host). */
  async ingestInfo(signal?: AbortSignal): Promise<IngestInfo> {
    const body = await readJson(await request(this.base + originPaths.ingestInfo, signal));
    const parsed = ingestInfoSchema.safeParse(body);
    if (!parsed.success) throw new OriginError('malformed ingest info', 200);
    return parsed.data;
  }

  /** A channel's room summary from this server's log service, or null when it has none yet. */
  async roomSummary(channel: string, signal?: AbortSignal): Promise<RoomSummary | null> {
    let res: HttpAnswer;
    try {
      res = await request(this.base + ROOMS_PATH + channel, signal);
    } catch (err) {
      if (err instanceof OriginError && (err.status === 404 || err.status === 405)) return null;
      throw err;
    }
    const parsed = roomSummarySchema.safeParse(await readJson(res));
    if (!parsed.success) throw new OriginError('malformed room summary', 200);
    return parsed.data;
  }

  /** Asks the COM service for a channel: CDN base URL, key, manifest, tracker and sub-room. */
  async channelInfo(channel: string, hints: SubRoomHints = {}, signal?: AbortSignal): Promise<ChannelInfo> {
    const sent = Date.now();
    const auth: Record<string, string> =
      hints.role === 'seed' && this.seedSecret ? { authorization: `Bearer ${this.seedSecret}` } : {};
    const body = await readJson(await request(this.base + channelInfoPath(channel, hints), signal, auth));
    const received = Date.now();
    const info = channelInfoSchema.safeParse(body);
    if (!info.success) {
      throw new OriginError(
        `malformed channel info: ${info.error.issues[0]?.path.join('.')} ${info.error.issues[0]?.message}`,
        200,
      );
    }
    const publicKey = loadPublicKey(info.data.publicKey);
    const manifest = verifySignedManifest(info.data.manifest, publicKey, channel);
    return {
      com: info.data,
      publicKey,
      manifest,
      clockOffsetMs: info.data.serverTime - (sent + received) / 2,
      rttMs: received - sent,
    };
  }
}
