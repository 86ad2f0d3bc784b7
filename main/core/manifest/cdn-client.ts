/**
 * The origin/CDN: signed manifests (verified here, before anything in them is trusted, with
 * blocking reload), init data and segments (streamed as they arrive).
 */
import type { KeyObject } from 'node:crypto';
import { MAX_INIT_BYTES, type Manifest, originPaths } from '../../../common/manifest';
import { asOriginError, OriginError, readErrorAnswer, request, transportFor } from './origin-http';
import { verifySignedManifestBody } from './signed-manifest';

const ORIGIN_TIME_HEADER = 'swarmcast-origin-time';
const START_TS_HEADER = 'swarmcast-start-ts';

export class CdnClient {
  readonly base: string;

  constructor(baseUrl: string) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  /**
   * The manifest; with `after`, held by the origin until a segment after it exists. `previous`
   * is the last one verified (its entries are not checked again).
   */
  async manifest(
    channel: string,
    key: KeyObject,
    after: number | null,
    previous: Manifest | null,
    signal?: AbortSignal,
  ): Promise<Manifest> {
    const q = after === null ? '' : `?after=${after}`;
    const res = await request(this.base + originPaths.manifest(channel) + q, signal);
    return verifySignedManifestBody(res.body, key, channel, previous);
  }

  async init(channel: string, stream: string, version: number, signal?: AbortSignal): Promise<Uint8Array> {
    const res = await request(
      this.base + originPaths.init(channel, stream, version),
      signal,
      {},
      MAX_INIT_BYTES,
    );
    return new Uint8Array(res.body.buffer, res.body.byteOffset, res.body.length);
  }

  /**
   * Fetches a segment, handing over its bytes as they arrive (the live-edge segment streams
   * while the origin is still cutting it, one FLV tag at a time). Resolves with the
   * origin-time headers. Over node:http(s) with keep-alive rather than fetch: the live edge
   * arrives in dozens of small chunks a second, and web streams cost several times more CPU
   * per chunk.
   */
  segment(
    channel: string,
    stream: string,
    seq: number,
    onChunk: (chunk: Uint8Array) => void,
    signal?: AbortSignal,
    maxBytes = 64 * 1024 * 1024,
  ): Promise<{ originTime: number | null; startTs: number | null; size: number }> {
    const url = new URL(this.base + originPaths.segment(channel, stream, seq));
    const { agent, send } = transportFor(url);
    return new Promise((resolve, reject) => {
      const req = send(url, { agent, signal, headers: { accept: '*/*' } }, (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) return readErrorAnswer(res, reject);
        const header = (name: string) => {
          const v = Number(res.headers[name] ?? Number.NaN);
          return Number.isFinite(v) ? v : null;
        };
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy(new OriginError(`segment ${seq} exceeds ${maxBytes} bytes`, status));
            return;
          }
          onChunk(chunk);
        });
        res.on('end', () => {
          if (!res.complete) return reject(new OriginError(`segment ${seq} ended early`, status));
          resolve({ originTime: header(ORIGIN_TIME_HEADER), startTs: header(START_TS_HEADER), size });
        });
        res.on('error', reject);
      });
      req.on('error', (err) => {
        reject(signal?.aborted ? err : asOriginError(err, url.host));
      });
      req.end();
    });
  }
}
