/**
 * The origin's HTTP API, shaped so that any CDN can sit in front of it:
 *   GET  /api/channels                         live channel list
 *   GET  /api/origin-key                       the manifest-signing public key
 *   GET  /api/ingest                           where to publish: RTMP port, whether keys are needed
 *   GET  /live/:ch/manifest.json[?after=N]     signed manifest; with `after`, a blocking reload
 *   GET  /live/:ch/manifests.ndjson[?after=N]  each new signed manifest as a line of one response
 *   GET  /live/:ch/:stream/init-:v.flv         init data (immutable)
 *   GET  /live/:ch/:stream/:seq.flv            a segment (immutable)
 *   GET  /live/:ch.flv                         plain HTTP-FLV from the latest keyframe
 *   POST /ingest/:streamKey                    HTTP push of FLV (ffmpeg -f flv http://…)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlvDemuxer, FlvError } from '../../common/flv';
import type { IngestInfo } from '../../common/manifest';
import { AddressLimit } from '../address-limits';
import type { Logger } from '../log';
import type { Channel } from './channel';
import type { Origin } from './origin';
import type { Segment } from './segmenter';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const SEQ_PATTERN = /^(0|[1-9][0-9]{0,15})$/;
export const DEFAULT_BLOCKING_TIMEOUT_MS = 10_000;
/** A request for the segment after the one being cut is held this many segment durations at most. */
const PRELOAD_HOLD_SEGMENTS = 3;
/** A manifest stream ends after this long (the viewer opens the next one where it left off). */
export const MANIFEST_STREAM_MAX_MS = 10 * 60_000;

export interface HttpApiOptions {
  /** Longest a blocking manifest reload is held. */
  blockingTimeoutMs?: number;
  /** An HTTP push that sends nothing for this long is ended, freeing its channel (ms). */
  ingestIdleMs?: number;
  /** Viewers of a channel right now (the tracker's count), for the channel list. */
  viewerCount?: (channel: string) => number;
  /** Blocking reloads one address may have held at once (default 64; more are answered at once). */
  maxHeldReloadsPerAddress?: number;
  /** HTTP-FLV subscribers per address (default 16) and in all (default 10,000). */
  maxFlvPerAddress?: number;
  maxFlvTotal?: number;
  /** Apply the per-address caps to loopback too (tests; default: loopback is exempt). */
  limitLoopback?: boolean;
  /** For the app's Go-live view: the RTMP port (null: no RTMP ingest) and whether stream keys are set. */
  ingest?: () => IngestInfo;
}

/** What the origin served, by kind, in body bytes: its egress, which is what a CDN would carry. */
export interface OriginTraffic {
  segment: number;
  manifest: number;
  init: number;
  flv: number;
}

const DEFAULT_INGEST_IDLE_MS = 10_000;

/**
 * A JSON answer. `cors`: browsers on other origins may read it (players' API); never for
 * ingest, which only publishers use.
 */
function sendJson(res: ServerResponse, status: number, body: unknown, cache = 'no-store', cors = true): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': cache,
    ...(cors ? { 'Access-Control-Allow-Origin': '*' } : {}),
  });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string, cors = true): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: message }, 'no-store', cors);
}

/** Headers that tell a client, before the manifest does, where a segment sits on the wall clock. */
export const ORIGIN_TIME_HEADER = 'swarmcast-origin-time';
export const START_TS_HEADER = 'swarmcast-start-ts';

function segmentHeaders(originTime: number, startTs: number): Record<string, string> {
  return {
    [ORIGIN_TIME_HEADER]: String(originTime),
    [START_TS_HEADER]: String(startTs),
    'Access-Control-Expose-Headers': `${ORIGIN_TIME_HEADER}, ${START_TS_HEADER}`,
  };
}

function sendBytes(
  res: ServerResponse,
  data: Uint8Array,
  etag: string,
  req: IncomingMessage,
  extra: Record<string, string> = {},
): number {
  const tag = `"${etag}"`;
  const headers = {
    'Content-Type': 'video/x-flv',
    'Cache-Control': IMMUTABLE,
    ETag: tag,
    'Access-Control-Allow-Origin': '*',
    ...extra,
  };
  if (req.headers['if-none-match'] === tag) {
    res.writeHead(304, headers);
    res.end();
    return 0;
  }
  res.writeHead(200, { ...headers, 'Content-Length': data.length });
  if (req.method === 'HEAD') {
    res.end();
    return 0;
  }
  res.end(data);
  return data.length;
}

const AFTER_ERROR = 'after must be a segment number (or -1)';

/** A manifest request's `after`: a segment number or -1; null when it is neither. */
function parseAfter(text: string): number | null {
  return /^-?\d{1,16}$/.test(text) && Number(text) >= -1 ? Number(text) : null;
}

/** `after` is past what the channel has by more than a few segments: a seq of an earlier stream. */
function fromOlderStream(ch: Channel, after: number): boolean {
  return after > (ch.latestSeq ?? -1) + 3;
}

export class OriginHttpApi {
  private readonly blockingTimeoutMs: number;
  private readonly ingestIdleMs: number;
  private readonly log: Logger;
  private readonly viewerCount: ((channel: string) => number) | undefined;
  private readonly ingestInfo: (() => IngestInfo) | undefined;
  readonly sent: OriginTraffic = { segment: 0, manifest: 0, init: 0, flv: 0 };
  private readonly heldReloads: AddressLimit;
  private readonly flvViewers: AddressLimit;
  /** Ends each HTTP push in progress (graceful shutdown). */
  private readonly pushes = new Set<() => void>();
  /** Ends each manifest stream open now (graceful shutdown). */
  private readonly manifestStreams = new Set<() => void>();

  constructor(
    private readonly origin: Origin,
    opts: HttpApiOptions = {},
  ) {
    this.viewerCount = opts.viewerCount;
    this.ingestInfo = opts.ingest;
    const exemptLoopback = !opts.limitLoopback;
    this.heldReloads = new AddressLimit({
      perAddress: opts.maxHeldReloadsPerAddress ?? 64,
      total: 100_000,
      exemptLoopback,
    });
    this.flvViewers = new AddressLimit({
      perAddress: opts.maxFlvPerAddress ?? 16,
      total: opts.maxFlvTotal ?? 10_000,
      exemptLoopback,
    });
    this.blockingTimeoutMs = opts.blockingTimeoutMs ?? DEFAULT_BLOCKING_TIMEOUT_MS;
    this.ingestIdleMs = opts.ingestIdleMs ?? DEFAULT_INGEST_IDLE_MS;
    this.log = origin.log.child({ part: 'http' });
  }

  /**
   * Shutting down: HTTP pushes end (their publishers see 503), blocking reloads are answered
   * now and HTTP-FLV viewers are closed, so that only short requests remain to drain.
   */
  drain(): void {
    for (const stop of [...this.pushes]) stop();
    for (const stop of [...this.manifestStreams]) stop();
    for (const ch of this.origin.channels.values()) ch.drain('the server is shutting down');
  }

  /** Handles the request if it is one of the origin's; returns false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://origin.invalid');
    const parts = url.pathname.split('/').filter(Boolean);
    const method = req.method ?? 'GET';
    if (parts[0] === 'ingest' && parts.length === 2) {
      if (method !== 'POST' && method !== 'PUT') sendError(res, 405, 'publish with POST or PUT', false);
      else this.ingest(req, res, decodeURIComponent(parts[1]!));
      return true;
    }
    if (parts[0] !== 'live' && parts[0] !== 'api') return false;
    if (method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Max-Age': '86400',
      });
      res.end();
      return true;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendError(res, 405, 'method not allowed');
      return true;
    }
    if (parts[0] === 'api') return this.api(parts, res);
    this.live(parts, url, req, res);
    return true;
  }

  private api(parts: string[], res: ServerResponse): boolean {
    if (parts[1] === 'channels' && parts.length === 2) {
      const count = this.viewerCount;
      const channels = this.origin.summaries().map((c) => (count ? { ...c, viewers: count(c.id) } : c));
      sendJson(res, 200, { channels }, 'public, max-age=2');
    } else if (parts[1] === 'ingest' && parts.length === 2 && this.ingestInfo) {
      sendJson(res, 200, this.ingestInfo(), 'no-cache');
    } else if (parts[1] === 'origin-key' && parts.length === 2) {
      sendJson(
        res,
        200,
        { algorithm: 'Ed25519', format: 'spki-der-base64', publicKey: this.origin.publicKey },
        'public, max-age=300',
      );
    } else {
      return false;
    }
    return true;
  }

  private live(parts: string[], url: URL, req: IncomingMessage, res: ServerResponse): void {
    if (parts.length === 2 && parts[1]!.endsWith('.flv')) {
      return this.httpFlv(parts[1]!.slice(0, -4), req, res);
    }
    const ch = parts[1] ? this.origin.channels.get(parts[1]) : undefined;
    if (!ch) return sendError(res, 404, `no channel "${parts[1] ?? ''}"`);
    if (parts.length === 3 && parts[2] === 'manifest.json') return void this.manifest(ch, url, req, res);
    if (parts.length === 3 && parts[2] === 'manifests.ndjson')
      return void this.manifestStream(ch, url, req, res);
    if (parts.length !== 4) return sendError(res, 404, 'not found');
    if (parts[2] !== ch.stream) return sendError(res, 404, `stream ${parts[2]} is over; reload the manifest`);
    const file = parts[3]!;
    const init = /^init-(\d{1,9})\.flv$/.exec(file);
    if (init) {
      const data = ch.getInit(Number(init[1]));
      if (!data) return sendError(res, 404, `init version ${init[1]} is not in the live window`);
      this.sent.init += sendBytes(res, data.data, data.sha256, req);
      return;
    }
    const seqText = file.endsWith('.flv') ? file.slice(0, -4) : '';
    if (!SEQ_PATTERN.test(seqText) || !Number.isSafeInteger(Number(seqText))) {
      return sendError(res, 400, `bad segment name "${file}"`);
    }
    const seq = Number(seqText);
    const seg = ch.getSegment(seq);
    if (!seg && this.streamPartial(ch, seq, req, res)) return;
    if (!seg && ch.live && seq === ch.nextCutSeq) return void this.holdNext(ch, seq, req, res);
    if (!seg) return this.outsideWindow(ch, seq, res);
    this.sendSegment(seg, req, res);
  }

  private sendSegment(seg: Segment, req: IncomingMessage, res: ServerResponse): void {
    this.sent.segment += sendBytes(
      res,
      seg.data,
      seg.sha256,
      req,
      segmentHeaders(seg.originTime, seg.startTs),
    );
  }

  private outsideWindow(ch: Channel, seq: number, res: ServerResponse): void {
    const first = ch.segments[0]?.seq;
    const window = first === undefined ? 'the window is empty' : `the window is ${first}..${ch.latestSeq}`;
    sendError(res, 404, `segment ${seq} is outside the live window (${window})`);
  }

  /**
   * The segment after the one being cut, asked for ahead by a viewer at the live edge: held
   * until the cut begins it, then streamed like the edge, so the boundary between two segments
   * costs that viewer no request round trip (as an LL-HLS blocking preload hint). Answered 404
   * if it has not begun within a few segment durations.
   */
  private async holdNext(ch: Channel, seq: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const release = this.heldReloads.acquire(req.socket.remoteAddress);
    if (!release) return this.outsideWindow(ch, seq, res);
    const abort = new AbortController();
    res.on('close', () => {
      abort.abort();
      release();
    });
    const started = await ch.waitForSegmentAfter(
      seq - 1,
      PRELOAD_HOLD_SEGMENTS * ch.targetDurationMs,
      abort.signal,
      true,
    );
    release();
    if (res.destroyed) return;
    const seg = ch.getSegment(seq);
    if (seg) return this.sendSegment(seg, req, res);
    if (started && this.streamPartial(ch, seq, req, res)) return;
    this.outsideWindow(ch, seq, res);
  }

  /**
   * The segment at the live edge, while it is being cut: its bytes so far at once, the rest as
   * the tags arrive (chunked), as LL-DASH serves a CMAF chunk. The final bytes are the same as
   * the finished segment's, so the URL stays immutable for a CDN.
   */
  private streamPartial(ch: Channel, seq: number, req: IncomingMessage, res: ServerResponse): boolean {
    const follow = ch.followPartial(seq, {
      data: (chunk) => {
        this.sent.segment += chunk.length;
        res.write(chunk);
      },
      end: () => res.end(),
    });
    if (!follow) return false;
    res.writeHead(200, {
      'Content-Type': 'video/x-flv',
      'Cache-Control': IMMUTABLE,
      'Access-Control-Allow-Origin': '*',
      ...segmentHeaders(follow.originTime, follow.startTs),
    });
    res.socket?.setNoDelay(true);
    if (req.method === 'HEAD') {
      follow.stop();
      res.end();
      return true;
    }
    for (const c of follow.chunks) {
      this.sent.segment += c.length;
      res.write(c);
    }
    res.on('close', follow.stop);
    return true;
  }

  private async manifest(ch: Channel, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const afterText = url.searchParams.get('after');
    const send = (cache: string) => {
      const body = this.origin.signedManifestBody(ch);
      this.sent.manifest += Buffer.byteLength(body);
      sendJson(res, 200, body, cache);
    };
    if (afterText === null) return send('public, max-age=1');
    const after = parseAfter(afterText);
    if (after === null) return sendError(res, 400, AFTER_ERROR);
    // A seq far ahead of ours comes from an older stream of this channel: answer at once.
    if (fromOlderStream(ch, after) || !ch.live) return send('no-cache');
    // One address holding too many reloads open gets answers at once (it polls instead).
    const release = this.heldReloads.acquire(req.socket.remoteAddress);
    if (!release) return send('no-cache');
    const abort = new AbortController();
    res.on('close', () => {
      abort.abort();
      release();
    });
    const found = await ch.waitForSegmentAfter(after, this.blockingTimeoutMs, abort.signal);
    release();
    if (res.destroyed) return;
    // A response that holds the awaited segment may be reused by a CDN for the same URL.
    send(found ? 'public, max-age=6' : 'no-cache');
  }

  /**
   * The manifest as a stream: one held response that carries each new signed manifest as a
   * line (the same bytes as manifest.json), from the first with a segment after `after` on; the
   * manifest again when nothing new came for a blocking reload's time (the viewer hears that the
   * server is there); ends after the manifest that says the channel is off the air, after
   * MANIFEST_STREAM_MAX_MS, or on shutdown. A viewer following it gets each manifest as a line
   * on a socket it already has, instead of a blocking reload a second (a request, its headers,
   * its URL). Counted with the blocking reloads against the per-address cap.
   */
  private async manifestStream(
    ch: Channel,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const asked = parseAfter(url.searchParams.get('after') ?? '-1');
    if (asked === null) return sendError(res, 400, AFTER_ERROR);
    const release = this.heldReloads.acquire(req.socket.remoteAddress);
    if (!release) {
      res.setHeader('Retry-After', '60');
      return sendError(res, 429, 'too many held manifest requests from this address');
    }
    const abort = new AbortController();
    let open = true;
    const stop = () => {
      if (!open) return;
      open = false;
      abort.abort();
      release();
      this.manifestStreams.delete(stop);
      res.end();
    };
    this.manifestStreams.add(stop);
    res.on('close', stop);
    res.writeHead(200, {
      'Content-Type': 'application/x-ndjson',
      'Cache-Control': 'no-store',
      'Access-Control-Allow-Origin': '*',
      // nginx and proxies that honour it pass each line on as it comes.
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    // A seq far ahead of ours comes from an older stream of this channel: the first line at once.
    let after = fromOlderStream(ch, asked) ? -1 : asked;
    const endAt = Date.now() + MANIFEST_STREAM_MAX_MS;
    while (open) {
      const waitedFrom = Date.now();
      const found = ch.live && (await ch.waitForSegmentAfter(after, this.blockingTimeoutMs, abort.signal));
      if (!open) return;
      // Answered "no" at once while live (the channel holds as many waiters as it takes): end,
      // and the viewer goes back to reloads, rather than writing the same line in a loop.
      if (!found && ch.live && Date.now() - waitedFrom < this.blockingTimeoutMs / 2) return stop();
      const body = this.origin.signedManifestBody(ch);
      this.sent.manifest += Buffer.byteLength(body) + 1;
      res.write(`${body}\n`);
      after = ch.latestSeq ?? -1;
      // A reader that stopped reading is not written to for ten minutes.
      if (!ch.live || Date.now() >= endAt || res.writableLength > 1024 * 1024) return stop();
    }
  }

  private httpFlv(channelId: string, req: IncomingMessage, res: ServerResponse): void {
    const ch = this.origin.channels.get(channelId);
    if (!ch?.live) return sendError(res, 404, `channel "${channelId}" is offline`);
    const release = this.flvViewers.acquire(req.socket.remoteAddress);
    if (!release) {
      res.setHeader('Retry-After', '30');
      return sendError(res, 429, 'too many HTTP-FLV streams from this address');
    }
    res.on('close', release);
    res.writeHead(200, {
      'Content-Type': 'video/x-flv',
      'Cache-Control': 'no-store',
      'Access-Control-Allow-Origin': '*',
    });
    if (req.method === 'HEAD') return void res.end();
    res.socket?.setNoDelay(true);
    const unsubscribe = ch.subscribeLive({
      write: (chunk) => {
        this.sent.flv += chunk.length;
        return res.write(chunk);
      },
      bufferedBytes: () => res.writableLength,
      close: (reason) => {
        this.log.info({ channel: channelId, reason }, 'http-flv viewer closed');
        res.end();
      },
    });
    if (!unsubscribe) return void res.end();
    res.on('close', unsubscribe);
  }

  private ingest(req: IncomingMessage, res: ServerResponse, streamKey: string): void {
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const sink = this.origin.resolvePublish(streamKey, 'http');
    if (typeof sink === 'string') {
      this.log.warn({ remote, reason: sink }, 'http publish refused');
      res.setHeader('Connection', 'close');
      sendError(res, sink.includes('already') ? 409 : 403, sink, false);
      req.resume();
      return;
    }
    const log = this.log.child({ publisher: sink.id, remote });
    log.info('http publish started');
    const demuxer = new FlvDemuxer();
    let done = false;
    const finish = (reason: string, status: number | null) => {
      if (done) return;
      done = true;
      sink.end(reason);
      if (status !== null && !res.headersSent) {
        res.setHeader('Connection', 'close');
        if (status === 200) sendJson(res, 200, { ok: true }, 'no-store', false);
        else sendError(res, status, reason, false);
      }
    };
    // A push that stalls without closing would hold its channel for ever: end it when idle.
    req.setTimeout(this.ingestIdleMs, () => {
      const msg = `no data for ${this.ingestIdleMs / 1000} s: publish ended`;
      log.warn({ reason: msg }, 'http publisher idle');
      finish(msg, 408);
      setTimeout(() => req.destroy(), 100).unref();
    });
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      try {
        for (const tag of demuxer.push(chunk)) sink.write(tag);
      } catch (err) {
        const msg = err instanceof FlvError ? err.message : `ingest failed: ${String(err)}`;
        log.warn({ reason: msg }, 'http publish rejected');
        finish(msg, 400);
        req.unpipe();
        setTimeout(() => req.destroy(), 100).unref();
      }
    });
    req.on('end', () => {
      if (done) return;
      if (demuxer.pendingBytes === 0) return finish('publisher finished', 200);
      const msg = `truncated FLV: the stream ended inside a tag (${demuxer.pendingBytes} bytes dropped)`;
      log.warn({ reason: msg }, 'http publish truncated');
      finish(msg, 400);
    });
    const stop = () => {
      finish('the server is shutting down', 503);
      setTimeout(() => req.destroy(), 100).unref();
    };
    this.pushes.add(stop);
    req.on('close', () => {
      this.pushes.delete(stop);
      if (!done) log.warn({ pendingBytes: demuxer.pendingBytes }, 'http publisher vanished');
      finish(
        demuxer.pendingBytes
          ? `publisher vanished mid-tag (${demuxer.pendingBytes} bytes dropped)`
          : 'publisher vanished',
        null,
      );
    });
  }
}
