/**
 * The COM service, asked first: the channel list, and a channel's info (CDN base URL, the
 * origin's key, the signed manifest, tracker and sub-room, ICE servers).
 */
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import {
  type ComChannelInfo,
  channelInfoPath,
  channelInfoSchema,
  type SubRoomHints,
} from '../../../common/com';
import {
  type ChannelSummary,
  channelSummarySchema,
  type Manifest,
  originPaths,
} from '../../../common/manifest';
import { OriginError, readJson, request } from './origin-http';
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
