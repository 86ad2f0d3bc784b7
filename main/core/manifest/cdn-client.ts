/**
 * The origin/CDN: signed manifests (verified here, before anything in them is trusted, with
 * blocking reload), init data and segments (streamed as they arrive).
 */
import type { KeyObject } from 'node:crypto';
import { type Manifest, originPaths } from '../../../common/manifest';
import { OriginError, readJson, request } from './origin-http';
import { verifySignedManifest } from './signed-manifest';

const ORIGIN_TIME_HEADER = 'swarmcast-origin-time';
const START_TS_HEADER = 'swarmcast-start-ts';

export class CdnClient {
  readonly base: string;

  constructor(baseUrl: string) {
    this.base = baseUrl.replace(/\/+$/, '');
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
