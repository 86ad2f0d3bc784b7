/**
 * The log server's aggregates of viewers' quality reports, per channel, as Prometheus metrics:
 * counters (bytes by source, CDN bytes saved, stalls, watch time, errors), histograms (start-up
 * time, latency) and gauges over a sliding window (viewers reporting now, P2P share, stalls per
 * viewer-hour). Bounded: at most `maxChannels` channel labels and `maxViewers` viewers tracked;
 * reports past the bounds are refused, not silently merged.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { QualityReport, RoomSummary } from '../../common/quality-report';

export interface ReportBookOptions {
  registry: Registry;
  now?: () => number;
  /** Channel labels kept (default 256): a report for a new channel past this is refused. */
  maxChannels?: number;
  /** Viewers tracked for the viewer gauge (default 200,000). */
  maxViewers?: number;
  /** A viewer counts as watching this long after its last report (default 30 s). */
  activeMs?: number;
  /** Window of the share and stall-rate gauges (default 60 s). */
  windowMs?: number;
  /** Channels this server knows (the embedded log server asks the origin); default: any. */
  knownChannel?: (channel: string) => boolean;
}

/** One slice of the sliding window: sums of the reports received in it. */
interface Slice {
  at: number;
  cdn: number;
  peer: number;
  seed: number;
  stalls: number;
  watchedS: number;
}

interface ChannelBook {
  slices: Slice[];
  /** Bytes from other viewers since start. */
  savedTotal: number;
}

const SLICE_MS = 5000;

export type AddResult = { ok: true } | { ok: false; why: string };

export class ReportBook {
  private readonly now: () => number;
  private readonly maxChannels: number;
  private readonly maxViewers: number;
  private readonly activeMs: number;
  private readonly windowMs: number;
  private readonly channels = new Map<string, ChannelBook>();
  /** viewer id → channel and when it last reported (insertion order = oldest first). */
  private readonly viewers = new Map<string, { channel: string; at: number }>();
  private readonly bytes: Counter<'channel' | 'source'>;
  private readonly saved: Counter<'channel'>;
  private readonly upload: Counter<'channel'>;
  private readonly stalls: Counter<'channel'>;
  private readonly stallSeconds: Counter<'channel'>;
  private readonly watchSeconds: Counter<'channel'>;
  private readonly errors: Counter<'channel'>;
  private readonly startup: Histogram<'channel'>;
  private readonly latency: Histogram<'channel'>;

  constructor(private readonly opts: ReportBookOptions) {
    this.now = opts.now ?? Date.now;
    this.maxChannels = opts.maxChannels ?? 256;
    this.maxViewers = opts.maxViewers ?? 200_000;
    this.activeMs = opts.activeMs ?? 30_000;
    this.windowMs = opts.windowMs ?? 60_000;
    const registers = [opts.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    this.bytes = counter('swarmcast_bytes_received_total', 'Bytes viewers received, by source', [
      'channel',
      'source',
    ]);
    this.saved = counter('swarmcast_cdn_bytes_saved_total', 'Bytes viewers got from other viewers', [
      'channel',
    ]);
    this.upload = counter('swarmcast_upload_bytes_total', 'Bytes viewers uploaded to other viewers', [
      'channel',
    ]);
    this.stalls = counter('swarmcast_stalls_total', 'Playback stalls', ['channel']);
    this.stallSeconds = counter('swarmcast_stall_seconds_total', 'Seconds spent stalled', ['channel']);
    this.watchSeconds = counter('swarmcast_watch_seconds_total', 'Seconds watched (not stalled)', [
      'channel',
    ]);
    this.errors = counter('swarmcast_player_errors_total', 'Errors viewers saw (bad data, banned peers)', [
      'channel',
    ]);
    this.startup = new Histogram({
      name: 'swarmcast_startup_seconds',
      help: 'Time to first frame',
      labelNames: ['channel'],
      buckets: [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30],
      registers,
    });
    this.latency = new Histogram({
      name: 'swarmcast_latency_seconds',
      help: 'Distance behind the live edge, one observation per report',
      labelNames: ['channel'],
      buckets: [0.5, 1, 1.5, 2, 3, 5, 8, 13, 20, 30, 60],
      registers,
    });
    const book = this;
    new Gauge({
      name: 'swarmcast_viewers',
      help: 'Viewers that reported in the last 30 s',
      labelNames: ['channel'],
      registers,
      collect() {
        this.reset();
        for (const channel of book.channels.keys()) this.set({ channel }, 0);
        for (const [channel, n] of book.activeViewers()) this.set({ channel }, n);
      },
    });
    new Gauge({
      name: 'swarmcast_p2p_share',
      help: 'Share of received bytes that came from other viewers over the last minute',
      labelNames: ['channel'],
      registers,
      collect() {
        this.reset();
        for (const [channel, w] of book.windows()) {
          const total = w.cdn + w.peer + w.seed;
          if (total > 0) this.set({ channel }, w.peer / total);
        }
      },
    });
    new Gauge({
      name: 'swarmcast_stalls_per_viewer_hour',
      help: 'Stalls per hour of viewing over the last minute',
      labelNames: ['channel'],
      registers,
      collect() {
        this.reset();
        for (const [channel, w] of book.windows()) {
          if (w.watchedS > 0) this.set({ channel }, w.stalls / (w.watchedS / 3600));
        }
      },
    });
  }

  /** Adds one validated report. */
  add(r: QualityReport): AddResult {
    const now = this.now();
    let ch = this.channels.get(r.channel);
    if (!ch) {
      if (this.opts.knownChannel && !this.opts.knownChannel(r.channel))
        return { ok: false, why: 'unknown channel' };
      if (this.channels.size >= this.maxChannels) return { ok: false, why: 'too many channels' };
      ch = { slices: [], savedTotal: 0 };
      this.channels.set(r.channel, ch);
    }
    const seen = this.viewers.get(r.viewer);
    if (seen) this.viewers.delete(r.viewer);
    else if (this.viewers.size >= this.maxViewers) this.prune(now);
    if (seen || this.viewers.size < this.maxViewers)
      this.viewers.set(r.viewer, { channel: r.channel, at: now });

    const labels = { channel: r.channel };
    this.bytes.inc({ ...labels, source: 'cdn' }, r.bytes.cdn);
    this.bytes.inc({ ...labels, source: 'peer' }, r.bytes.peer);
    this.bytes.inc({ ...labels, source: 'seed' }, r.bytes.seed);
    this.saved.inc(labels, r.bytes.peer);
    this.upload.inc(labels, r.uploadBytes);
    this.stalls.inc(labels, r.stalls);
    this.stallSeconds.inc(labels, r.stallS);
    this.watchSeconds.inc(labels, r.watchS);
    let errors = 0;
    for (const n of Object.values(r.errors)) errors += n;
    this.errors.inc(labels, errors);
    if (r.startupMs !== null) this.startup.observe(labels, r.startupMs / 1000);
    if (r.latencyS !== null) this.latency.observe(labels, r.latencyS);

    let slice = ch.slices[ch.slices.length - 1];
    if (!slice || now - slice.at >= SLICE_MS) {
      slice = { at: now, cdn: 0, peer: 0, seed: 0, stalls: 0, watchedS: 0 };
      ch.slices.push(slice);
      while (ch.slices.length > 0 && now - ch.slices[0]!.at > this.windowMs) ch.slices.shift();
    }
    ch.savedTotal += r.bytes.peer;
    slice.cdn += r.bytes.cdn;
    slice.peer += r.bytes.peer;
    slice.seed += r.bytes.seed;
    slice.stalls += r.stalls;
    slice.watchedS += r.watchS + r.stallS;
    return { ok: true };
  }

  /**
   * One channel as its streamer's Go-live view shows it: viewers that reported lately, the
   * share of bytes from other viewers over the window, and the bytes viewers got from each
   * other since the server started (what the CDN did not have to send).
   */
  roomSummary(channel: string): RoomSummary | null {
    const ch = this.channels.get(channel);
    if (!ch) return null;
    const w = this.windows().get(channel);
    const total = w ? w.cdn + w.peer + w.seed : 0;
    return {
      channel,
      reportingViewers: this.activeViewers().get(channel) ?? 0,
      p2pShare: w && total > 0 ? w.peer / total : null,
      cdnBytesSaved: ch.savedTotal,
      at: this.now(),
    };
  }

  /** Viewers that reported within the active time, by channel. */
  activeViewers(): Map<string, number> {
    this.prune(this.now());
    const out = new Map<string, number>();
    for (const v of this.viewers.values()) out.set(v.channel, (out.get(v.channel) ?? 0) + 1);
    return out;
  }

  /** Window sums per channel. */
  private windows(): Map<string, Omit<Slice, 'at'>> {
    const now = this.now();
    const out = new Map<string, Omit<Slice, 'at'>>();
    for (const [channel, ch] of this.channels) {
      const w = { cdn: 0, peer: 0, seed: 0, stalls: 0, watchedS: 0 };
      for (const s of ch.slices) {
        if (now - s.at > this.windowMs) continue;
        w.cdn += s.cdn;
        w.peer += s.peer;
        w.seed += s.seed;
        w.stalls += s.stalls;
        w.watchedS += s.watchedS;
      }
      out.set(channel, w);
    }
    return out;
  }

  /** Forgets viewers silent for longer than the active time (oldest first, so it stops early). */
  private prune(now: number): void {
    for (const [id, v] of this.viewers) {
      if (now - v.at <= this.activeMs) break;
      this.viewers.delete(id);
    }
  }
}
