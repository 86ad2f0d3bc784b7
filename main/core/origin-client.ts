/**
 * HTTP client for the origin/CDN and the COM endpoint: channel info, signed manifests
 * (verified here, before anything in them is trusted), init data and segments.
 */
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { z } from 'zod';
import { type ComChannelInfo, channelInfoPath, channelInfoSchema, type SubRoomHints } from '../../common/com';
import {
  type ChannelSummary,
  channelSummarySchema,
  type Manifest,
  manifestSigningBytes,
  originPaths,
  signedManifestSchema,
} from '../../common/manifest';

export class OriginError extends Error {
  override name = 'OriginError';
  constructor(
    message: string,
    /** HTTP status, or 0 when the server could not be reached. */
    readonly status: number,
  ) {
    super(message);
  }
}

export class ManifestRejected extends Error {
  override name = 'ManifestRejected';
}

const MAX_MANIFEST_BYTES = 1024 * 1024;
const ORIGIN_TIME_HEADER = 'swarmcast-origin-time';
const START_TS_HEADER = 'swarmcast-start-ts';

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function loadPublicKey(spkiBase64: string): KeyObject {
  const key = createPublicKey({ key: Buffer.from(spkiBase64, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') throw new ManifestRejected('origin key is not Ed25519');
  return key;
}

/** Schema-checks and signature-checks a signed manifest; throws ManifestRejected. */
export function verifySignedManifest(json: unknown, key: KeyObject, channel: string): Manifest {
  const parsed = signedManifestSchema.safeParse(json);
  if (!parsed.success)
    throw new ManifestRejected(`malformed manifest: ${parsed.error.issues[0]?.message ?? ''}`);
  const { manifest, signature } = parsed.data;
  const ok = verify(null, manifestSigningBytes(manifest), key, Buffer.from(signature, 'base64'));
  if (!ok) throw new ManifestRejected('manifest signature does not verify');
  if (manifest.channel !== channel) throw new ManifestRejected(`manifest is for channel ${manifest.channel}`);
  return manifest;
}

async function request(url: string, signal?: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { accept: '*/*' } });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new OriginError(
      `cannot reach ${new URL(url).host}: ${(err as Error).cause ?? (err as Error).message}`,
      0,
    );
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: unknown };
      if (typeof body.error === 'string') message = body.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new OriginError(message, res.status);
  }
  return res;
}

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text.length > MAX_MANIFEST_BYTES) throw new OriginError('response too large', res.status);
  try {
    return JSON.parse(text);
  } catch {
    throw new OriginError('response is not JSON', res.status);
  }
}

export interface ChannelInfo {
  /** The COM answer as it came (tracker, ICE servers, seeds, CDN base URL). */
  com: ComChannelInfo;
  publicKey: KeyObject;
  manifest: Manifest;
  /** Origin clock minus local clock (ms), estimated from this exchange. */
  clockOffsetMs: number;
  rttMs: number;
}

export class OriginClient {
  readonly base: string;

  constructor(serverUrl: string) {
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
    const body = await readJson(await request(this.base + channelInfoPath(channel, hints), signal));
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

  /** The manifest; with `after`, held by the origin until a segment after it exists. */
  async manifest(
    channel: string,
    key: KeyObject,
    after: number | null,
    signal?: AbortSignal,
  ): Promise<Manifest> {
    const q = after === null ? '' : `?after=${after}`;
    const body = await readJson(await request(this.base + originPaths.manifest(channel) + q, signal));
    return verifySignedManifest(body, key, channel);
  }

  async init(channel: string, stream: string, version: number, signal?: AbortSignal): Promise<Uint8Array> {
    const res = await request(this.base + originPaths.init(channel, stream, version), signal);
    return new Uint8Array(await res.arrayBuffer());
  }

  /**
   * Fetches a segment, handing over its bytes as they arrive (the live-edge segment streams
   * while the origin is still cutting it). Resolves with the origin-time headers.
   */
  async segment(
    channel: string,
    stream: string,
    seq: number,
    onChunk: (chunk: Uint8Array) => void,
    signal?: AbortSignal,
    maxBytes = 64 * 1024 * 1024,
  ): Promise<{ originTime: number | null; startTs: number | null; size: number }> {
    const res = await request(this.base + originPaths.segment(channel, stream, seq), signal);
    const originTime = Number(res.headers.get(ORIGIN_TIME_HEADER) ?? Number.NaN);
    const startTs = Number(res.headers.get(START_TS_HEADER) ?? Number.NaN);
    let size = 0;
    if (!res.body) throw new OriginError('empty segment response', res.status);
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.length;
        if (size > maxBytes) throw new OriginError(`segment ${seq} exceeds ${maxBytes} bytes`, res.status);
        onChunk(value);
      }
    } finally {
      reader.releaseLock();
    }
    return {
      originTime: Number.isFinite(originTime) ? originTime : null,
      startTs: Number.isFinite(startTs) ? startTs : null,
      size,
    };
  }
}
