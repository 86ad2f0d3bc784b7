/**
 * Follows one channel's signed manifest: asks the COM for channel info (CDN base URL, key,
 * first manifest, swarm details), then reloads the manifest from the CDN by blocking reload,
 * fetches and checks each new init version, and says what state the channel is in (joining,
 * live, offline, unreachable, error) with a retry back-off.
 */
import type { KeyObject } from 'node:crypto';
import type { SubRoomHints } from '../../../common/com';
import type { SessionState } from '../../../common/ipc-contract';
import type { CoreLog } from '../../../common/logger';
import { type Manifest, originPaths } from '../../../common/manifest';
import { sha256Hex } from '../../../common/sha256';
import { CdnClient } from './cdn-client';
import { type ChannelInfo, ComClient } from './com-client';
import type { KeyPins } from './key-pins';
import { followManifestStream, ManifestStreamSilent } from './manifest-stream';
import { OriginError } from './origin-http';
import { ManifestRejected } from './signed-manifest';

export interface FollowerEvents {
  /** Channel info arrived (once): the swarm can start. */
  joined(info: ChannelInfo): void;
  /** A verified manifest; `newStream` when the channel restarted with another stream. */
  manifest(m: Manifest, newStream: boolean): void;
  state(state: SessionState, message: string | null): void;
}

export interface FollowerOptions {
  serverUrl: string;
  channel: string;
  /** Origin keys pinned per server (trust on first use); none = trust what the COM says. */
  pins?: KeyPins;
  hints?: SubRoomHints;
  /** A seed server's bearer token for its seed ticket. */
  seedSecret?: string;
  log: CoreLog;
  /** First retry delay after an error; doubles up to 10 s. */
  retryBaseMs?: number;
}

/** The stream is given up as silent after this long without a line (the origin writes one at least every 10 s). */
const STREAM_IDLE_MS = 15_000;
/** After a stream that gave nothing (an origin or CDN without it), reloads for this long before trying again. */
const STREAM_RETRY_MS = 5 * 60_000;

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class ManifestFollower {
  private readonly com: ComClient;
  private cdn_: CdnClient | null = null;
  private readonly abort = new AbortController();
  private key: KeyObject | null = null;
  private stream_: string | null = null;
  private latest: number | null = null;
  private live = false;
  /** The newest manifest's generation time: an older one is a replay and is refused. */
  private generatedAt = Number.NEGATIVE_INFINITY;
  /** The last manifest applied: the next one's unchanged entries are its entries. */
  private last: Manifest | null = null;
  private readonly inits = new Map<number, Uint8Array>();
  private latestInitVersion_: number | null = null;
  private closed = false;
  private answeredAt: number | null = null;
  /** When the manifest stream may be tried (again). */
  private streamFrom = 0;
  clockOffsetMs = 0;

  constructor(
    private readonly opts: FollowerOptions,
    private readonly events: FollowerEvents,
  ) {
    this.com = new ComClient(opts.serverUrl, opts.seedSecret);
    void this.run();
  }

  get cdn(): CdnClient | null {
    return this.cdn_;
  }

  /** Where the last manifest reload was answered, and when (Date.now ms); null before one. */
  get lastAnswer(): { base: string; at: number } | null {
    return this.cdn_ && this.answeredAt !== null ? { base: this.cdn_.base, at: this.answeredAt } : null;
  }

  get stream(): string | null {
    return this.stream_;
  }

  get latestInitVersion(): number | null {
    return this.latestInitVersion_;
  }

  /** Verified init data by version. */
  init(version: number): Uint8Array | undefined {
    return this.inits.get(version);
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.abort.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private failState(err: unknown): void {
    const channel = this.opts.channel;
    if (err instanceof OriginError && err.status === 0) {
      this.events.state('unreachable', `The server cannot be reached (${err.message}). Retrying…`);
    } else if (err instanceof OriginError && err.status === 404) {
      this.events.state('offline', `Channel "${channel}" is not on the air.`);
    } else {
      this.events.state('error', `The channel cannot be played: ${describe(err)}. Retrying…`);
    }
  }

  private async run(): Promise<void> {
    const base = this.opts.retryBaseMs ?? 1000;
    let delay = base;
    const channel = this.opts.channel;
    while (!this.closed) {
      try {
        if (!this.key) {
          const info = await this.com.channelInfo(channel, this.opts.hints, this.abort.signal);
          if (this.opts.pins?.check(this.opts.serverUrl, info.com.publicKey) === 'changed') {
            this.events.state(
              'error',
              "The server's signing key has changed since this app last used it, so its video cannot be trusted. " +
                "If the operator replaced the key on purpose, remove this server from pinned-keys.json in the app's data folder.",
            );
            await this.sleep(30_000);
            continue;
          }
          this.key = info.publicKey;
          this.clockOffsetMs = info.clockOffsetMs;
          this.cdn_ = new CdnClient(info.com.originBaseUrl);
          // The swarm first: whether peers are in use sets the latency target the start depends on.
          this.events.joined(info);
          await this.apply(info.manifest);
        } else if (this.live && Date.now() >= this.streamFrom) {
          await this.followStream();
        } else {
          const after = this.live ? (this.latest ?? -1) : null;
          const m = await this.cdn_!.manifest(channel, this.key, after, this.last, this.abort.signal);
          this.answeredAt = Date.now();
          await this.apply(m);
          if (!m.live) await this.sleep(1000);
        }
        delay = base;
      } catch (err) {
        if (this.closed) return;
        if (err instanceof ManifestRejected)
          this.opts.log.warn('manifest rejected', { channel, reason: err.message });
        else this.opts.log.warn('channel request failed', { channel, error: describe(err) });
        this.failState(err);
        await this.sleep(delay);
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  /**
   * Follows the origin's manifest stream until it ends (it is opened again where it left off).
   * One answered with an error status or left silent before its first line (an origin or a
   * CDN without it, a proxy that holds its lines) is left for STREAM_RETRY_MS and the blocking
   * reloads take over, reporting what the server says; one that broke off after lines is opened
   * again at once; a server that cannot be reached is reported as for a reload.
   */
  private async followStream(): Promise<void> {
    const channel = this.opts.channel;
    let lines = 0;
    try {
      await followManifestStream(
        `${this.cdn_!.base}${originPaths.manifestStream(channel)}?after=${this.latest ?? -1}`,
        {
          key: this.key!,
          channel,
          previous: () => this.last,
          signal: this.abort.signal,
          idleMs: STREAM_IDLE_MS,
          each: (m) => {
            lines++;
            this.answeredAt = Date.now();
            return this.apply(m);
          },
        },
      );
      // Ended without a line (an origin that could not hold it): reloads, not a loop of requests.
      if (lines === 0) this.streamFrom = Date.now() + STREAM_RETRY_MS;
    } catch (err) {
      if (this.closed || err instanceof ManifestRejected) throw err;
      // The server cannot be reached: reported, and retried, as a failed reload is.
      const unreachable =
        err instanceof OriginError && err.status === 0 && !(err instanceof ManifestStreamSilent);
      if (unreachable && lines === 0) throw err;
      if (lines > 0) {
        this.opts.log.info('manifest stream broke off; opening it again', { channel, error: describe(err) });
        return;
      }
      this.opts.log.info('no manifest stream here; reloading the manifest instead', {
        channel,
        error: describe(err),
      });
      this.streamFrom = Date.now() + STREAM_RETRY_MS;
    }
  }

  private async apply(m: Manifest): Promise<void> {
    const newStream = this.stream_ !== null && this.stream_ !== m.stream;
    if (!newStream && m.generatedAt < this.generatedAt)
      throw new ManifestRejected(
        `manifest older than the last one seen (${m.generatedAt} < ${this.generatedAt})`,
      );
    this.generatedAt = m.generatedAt;
    this.last = m;
    if (this.stream_ !== m.stream) {
      if (newStream)
        this.opts.log.info('channel restarted with a new stream', { channel: m.channel, stream: m.stream });
      this.stream_ = m.stream;
      this.inits.clear();
      this.latestInitVersion_ = null;
      this.latest = null;
    }
    // Init data is fetched while the segments start coming (one round trip less to the first frame).
    const initFetches = m.inits
      .filter((i) => !this.inits.has(i.version))
      .map(async (i) => {
        const data = await this.cdn_!.init(m.channel, m.stream, i.version, this.abort.signal);
        if (data.length !== i.size || sha256Hex(data) !== i.sha256) {
          throw new ManifestRejected(`init version ${i.version} does not match its signed hash`);
        }
        this.inits.set(i.version, data);
        if (this.latestInitVersion_ === null || i.version > this.latestInitVersion_)
          this.latestInitVersion_ = i.version;
      });
    this.live = m.live;
    const last = m.segments[m.segments.length - 1];
    if (last) this.latest = last.seq;
    this.events.manifest(m, newStream);
    await Promise.all(initFetches);
    if (m.live && m.segments.length > 0) this.events.state('live', null);
    else if (!m.live)
      this.events.state('offline', `Channel "${m.channel}" is offline. Waiting for the broadcast…`);
  }
}
