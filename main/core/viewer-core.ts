/**
 * The viewer core: settings, joined channels, player sessions on the gateway, and the
 * IPC contract's calls and events. Plain Node; the Electron glue and browser mode both
 * drive it through the ViewerCore interface.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type EventName,
  type EventPayload,
  type InvokeName,
  type InvokeResponse,
  invokeContract,
  isInvokeName,
  type LiveSync,
  type PlayerReport,
  type Settings,
} from '../../common/ipc-contract';
import { effectiveLiveSync } from '../../common/live-sync';
import { startSwarm } from '../p2p/swarm';
import { MemorySegmentCache } from './cache/segment-cache';
import { ChannelRegistry, type JoinedChannel } from './channel-registry';
import { ChannelSession } from './channel-session';
import { Gateway } from './gateway/gateway';
import { GatewayStream, type StreamSink, sameCodecs } from './gateway/gateway-stream';
import { keyframesOnly } from './gateway/keyframe-filter';
import { ComClient } from './manifest/com-client';
import { KeyPins } from './manifest/key-pins';
import { ChannelReporter } from './report/channel-reporter';
import { ReportQueue } from './report/report-queue';
import { sessionStats } from './session-stats';
import { SettingsStore } from './settings-store';
import type { CoreEventListener, ViewerCore, ViewerCoreOptions } from './viewer-core-api';
import { attachWsIpc } from './ws-ipc';

/** One gateway response of a player session and the channel stream feeding it now. */
interface PlayerOutput {
  sink: StreamSink;
  readerId: string;
  stream: GatewayStream;
  /** Stream timestamp at the player's media time zero (it carries over a channel switch). */
  zeroTs: number | null;
}

/** Media time between the old channel's last frame and the new one's first, after a switch. */
const SPLICE_FRAME_MS = 40;

/** How often each joined channel files a quality report. */
const REPORT_PERIOD_MS = 10_000;

interface PlayerSession {
  id: string;
  channel: string;
  joined: JoinedChannel;
  /** Gateway responses playing this session; each is fed by one channel's stream at a time. */
  outputs: Set<PlayerOutput>;
  firstTs: number | null;
  burstEndTs: number | null;
  lastAnchorTs: number | null;
  report: PlayerReport | null;
  unsubscribe: () => void;
}

export class Core implements ViewerCore {
  private readonly listeners = new Set<CoreEventListener>();
  private readonly channels: ChannelRegistry;
  private readonly players = new Map<string, PlayerSession>();
  private gateway!: Gateway;
  private embeddedUrl: string | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  private reportTimer: NodeJS.Timeout | null = null;
  private preview: { channel: string; stream: GatewayStream } | null = null;
  private readonly reports: ReportQueue;
  private current: PlayerSession | null = null;
  private serverUrl = '';

  constructor(
    private readonly opts: ViewerCoreOptions,
    private readonly settings: SettingsStore,
    private readonly pins: KeyPins,
  ) {
    this.reports = new ReportQueue({ log: opts.log, ...opts.reports });
    this.channels = new ChannelRegistry({
      create: (channel) => this.createChannel(channel),
      cacheBudget: () => this.settings.get().cacheMB * 1024 * 1024,
      p2pEnabled: () => this.settings.get().p2pEnabled,
      dropping: (j) => {
        if (this.preview?.channel === j.session.channel) this.preview.stream.close();
      },
      warmTtlMs: opts.warmTtlMs,
      log: opts.log,
    });
  }

  get gatewayUrl(): string {
    return this.gateway.baseUrl;
  }

  get server(): string {
    return this.serverUrl;
  }

  async start(): Promise<void> {
    await this.resolveServer();
    this.gateway = new Gateway(
      {
        stream: (id, req, res) => this.openStream(id, req, res),
        preview: (channel, req, res) => this.openPreview(channel, req, res),
        ipc: this.opts.mode === 'web' ? (ws) => attachWsIpc(ws, this, this.opts.log) : undefined,
        rendererDir: this.opts.rendererDir,
      },
      this.opts.log,
    );
    await this.gateway.start();
    this.settings.onChange((s) => {
      this.emit('settings.changed', s);
      void this.resolveServer();
      this.applySettings(s);
    });
    this.statsTimer = setInterval(() => {
      this.emitStats();
      this.channels.expireWarm();
    }, 1000);
    this.reportTimer = setInterval(() => this.fileReports(), this.opts.reports?.periodMs ?? REPORT_PERIOD_MS);
    this.reportTimer.unref();
  }

  /** Each joined channel's quality report for the period just ended, into the outbox. */
  private fileReports(): void {
    for (const j of this.channels.values()) this.fileReport(j);
  }

  /**
   * A played channel's report for the period just ended. Pre-joined channels nobody plays are
   * not viewers and file none; a player's last period is filed as it leaves (`leaving`).
   */
  private fileReport(j: JoinedChannel, leaving?: PlayerSession): void {
    if (!this.settings.get().qualityReports || (j.players === 0 && !leaving)) return;
    let latest: PlayerReport | null = leaving?.report ?? null;
    for (const p of this.players.values()) if (p.joined === j && p.report) latest = p.report;
    const report = j.reporter.sample(latest);
    if (report) this.reports.add(j.session.logServers, report);
  }

  /** The server to use: CLI override, then settings, else the entry point's local server. */
  private async resolveServer(): Promise<void> {
    const wanted = this.opts.serverUrl ?? this.settings.get().serverUrl;
    if (wanted) {
      this.serverUrl = wanted.replace(/\/+$/, '');
      return;
    }
    if (!this.opts.localServerUrl) throw new Error('no server address configured and no local server');
    this.embeddedUrl ??= await this.opts.localServerUrl();
    this.serverUrl = this.embeddedUrl;
  }

  onEvent(listener: CoreEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    for (const l of this.listeners) {
      try {
        l(event, payload);
      } catch (err) {
        this.opts.log.error('event listener failed', { event, error: String(err) });
      }
    }
  }

  async invoke(name: string, request: unknown): Promise<unknown> {
    if (typeof name !== 'string' || !isInvokeName(name)) throw new Error(`unknown call "${String(name)}"`);
    const parsed = invokeContract[name].request.safeParse(request ?? {});
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ');
      this.opts.log.warn('invalid request from the renderer', { name, why });
      throw new Error(`invalid ${name} request: ${why}`);
    }
    return this.dispatch(name, parsed.data);
  }

  private async dispatch(name: InvokeName, req: unknown): Promise<InvokeResponse<InvokeName>> {
    switch (name) {
      case 'app.info':
        return {
          version: this.opts.version,
          mode: this.opts.mode,
          serverUrl: this.serverUrl,
          embeddedServer: this.embeddedUrl !== null && this.serverUrl === this.embeddedUrl,
          open: {
            players: this.players.size,
            streams: [...this.players.values()].reduce((n, p) => n + p.outputs.size, 0),
            channels: this.channels.size,
          },
        };
      case 'channels.list':
        return { channels: await new ComClient(this.serverUrl).listChannels() };
      case 'channels.prejoin':
        return { channels: this.prejoin((req as { channels: string[] }).channels) };
      case 'player.open':
        return this.openPlayer((req as { channel: string }).channel);
      case 'player.switch': {
        const r = req as { sessionId: string; channel: string };
        return this.switchPlayer(r.sessionId, r.channel);
      }
      case 'player.close':
        this.closePlayer((req as { sessionId: string }).sessionId);
        return {};
      case 'player.report': {
        const r = req as PlayerReport;
        const p = this.players.get(r.sessionId);
        if (p) p.report = r;
        return {};
      }
      case 'settings.get':
        return this.settings.get();
      case 'settings.set':
        return this.settings.update(req as Parameters<SettingsStore['update']>[0]);
      default: {
        const never: never = name;
        throw new Error(`unhandled call ${String(never)}`);
      }
    }
  }

  /** A channel's session, cache and reporter, as the registry joins it. */
  private createChannel(channel: string): Pick<JoinedChannel, 'session' | 'cache' | 'reporter'> {
    const cache = new MemorySegmentCache(this.settings.get().cacheMB * 1024 * 1024);
    const log = this.opts.log;
    const session: ChannelSession = new ChannelSession({
      serverUrl: this.serverUrl,
      channel,
      cache,
      log,
      hints: this.opts.hints,
      // The embedded server gets a new port every launch and lives in this process: no pin.
      pins: this.serverUrl === this.embeddedUrl ? undefined : this.pins,
      swarm: (info, store, events) => {
        const s = this.settings.get();
        // A pre-joined channel meets no peers and uploads nothing until it is opened.
        if (!s.p2pEnabled || !this.channels.played(channel)) return null;
        return startSwarm(info, store, events, {
          role: 'viewer',
          log,
          uploadCapKbps: s.uploadCapKbps,
          rateControl: this.opts.rateControl,
          latestSeq: () => session.latestSeq,
          ...this.opts.hints,
        });
      },
      policy: () => {
        const s = this.settings.get();
        // A warm channel fetches for the latency its player will have once opened (with peers).
        const warm = !this.channels.played(channel);
        const sync = warm
          ? effectiveLiveSync(s.liveSync, s.latencyMode, s.p2pEnabled)
          : this.liveSyncOf(session);
        return {
          p2p: s.p2pEnabled && s.latencyMode === 'normal',
          latencyTargetMs: sync.targetLatencyS * 1000,
          downloadCapKbps: s.downloadCapKbps,
        };
      },
    });
    return {
      session,
      cache,
      reporter: new ChannelReporter(session, { version: this.opts.version, mode: this.opts.mode }),
    };
  }

  /** Applies changed settings to what is running, without a restart. */
  private applySettings(s: Settings): void {
    for (const j of this.channels.values()) {
      // Warm channels keep their small cache and stay without a swarm.
      this.channels.fit(j);
      j.session.setUploadCap(s.uploadCapKbps);
    }
    // The latency mode and P2P switch change the player's thresholds: send fresh timelines.
    for (const p of this.players.values()) {
      p.lastAnchorTs = null;
      this.emitTimeline(p);
    }
  }

  /** The live-sync thresholds in force for a channel: settings, latency mode, and whether peers are in use. */
  liveSyncOf(session: ChannelSession): LiveSync {
    const s = this.settings.get();
    return effectiveLiveSync(s.liveSync, s.latencyMode, s.p2pEnabled && session.hasSwarm);
  }

  /** The warm set (channels.prejoin), with each channel's preview URL. */
  prejoin(channels: readonly string[]): Array<{ channel: string; previewUrl: string }> {
    return this.channels
      .prejoin(channels)
      .map((channel) => ({ channel, previewUrl: `${this.gateway.baseUrl}preview/${channel}.flv` }));
  }

  /** Joined channels as they stand (diagnostics and tests). */
  joinedChannels(): ReturnType<ChannelRegistry['describe']> {
    return this.channels.describe();
  }

  openPlayer(channel: string): { sessionId: string; channel: string; streamUrl: string } {
    const id = randomBytes(8).toString('hex');
    const joined = this.channels.join(channel);
    this.channels.attach(joined);
    const player: PlayerSession = {
      id,
      channel,
      joined,
      outputs: new Set(),
      firstTs: null,
      burstEndTs: null,
      lastAnchorTs: null,
      report: null,
      unsubscribe: () => undefined,
    };
    this.watch(player);
    this.players.set(id, player);
    this.current = player;
    this.opts.log.info('player session opened', { sessionId: id, channel });
    return { sessionId: id, channel, streamUrl: `${this.gateway.baseUrl}stream/${id}.flv` };
  }

  /** A player lets go of its channel (closed, or switched away), filing its last report. */
  private release(p: PlayerSession): void {
    this.fileReport(p.joined, p);
    p.unsubscribe();
    this.channels.detach(p.joined);
  }

  /** Status and timeline events of the player's channel, from now on. */
  private watch(p: PlayerSession): void {
    let last = '';
    const session = p.joined.session;
    const onChange = () => {
      const snap = session.snapshot();
      const key = `${snap.state}|${snap.message}`;
      if (key !== last) {
        last = key;
        this.emit('session.status', {
          sessionId: p.id,
          channel: p.channel,
          state: snap.state,
          message: snap.message,
        });
      }
      this.emitTimeline(p);
    };
    p.unsubscribe = session.onChange(onChange);
    queueMicrotask(onChange);
  }

  /**
   * Next / previous channel on the same player: when the new channel's codec configuration is
   * the old one's, the gateway response goes on with the new channel's data (no new request,
   * no new MediaSource in the page); the answer says from which media time the player shows it.
   */
  switchPlayer(id: string, channel: string): { spliced: boolean; switchAtS: number | null } {
    const p = this.players.get(id);
    const [out] = p ? [...p.outputs] : [];
    if (!p || !out || p.outputs.size !== 1 || p.firstTs === null || channel === p.channel) {
      return { spliced: false, switchAtS: null };
    }
    const target = this.channels.join(channel);
    const oldVersion = out.stream.writtenInitVersion;
    const oldInit = oldVersion === null ? undefined : p.joined.session.init(oldVersion);
    const newVersion = target.session.latestInitVersion;
    const newInit = newVersion === null ? undefined : target.session.init(newVersion);
    if (!oldInit || !newInit || !sameCodecs(oldInit, newInit)) {
      this.channels.leave(target);
      return { spliced: false, switchAtS: null };
    }
    const lastTs = out.stream.detach();
    if (lastTs === null || out.zeroTs === null) {
      this.channels.leave(target);
      return { spliced: false, switchAtS: null };
    }
    // The new channel's first tag follows the old one's last, one frame duration on.
    const continueAfterTs = lastTs + SPLICE_FRAME_MS;
    const switchAtMs = continueAfterTs - out.zeroTs;
    this.release(p);
    this.channels.attach(target);
    p.channel = channel;
    p.joined = target;
    p.firstTs = null;
    p.burstEndTs = null;
    p.lastAnchorTs = null;
    p.report = null;
    this.watch(p);
    out.stream = this.feed(p, out, continueAfterTs);
    this.opts.log.info('player session switched', { sessionId: id, channel, switchAtMs });
    return { spliced: true, switchAtS: switchAtMs / 1000 };
  }

  /**
   * A gateway stream of the player's channel into the output. After a switch it continues the
   * output's timeline from `continueAfterTs`, and the new channel's time zero sits that much
   * media time before its first tag.
   */
  private feed(p: PlayerSession, out: PlayerOutput, continueAfterTs: number | null): GatewayStream {
    return new GatewayStream(p.joined.session, p.joined.cache, out.sink, this.opts.log, {
      readerId: out.readerId,
      continueAfterTs: continueAfterTs ?? undefined,
      minStartBufferMs: () => this.liveSyncOf(p.joined.session).targetLatencyS * 1000,
      onStart: (firstTs, burstEndTs) => {
        out.zeroTs ??= firstTs;
        const mediaMs = continueAfterTs === null ? 0 : continueAfterTs - out.zeroTs;
        p.firstTs = firstTs - mediaMs;
        p.burstEndTs = continueAfterTs === null ? burstEndTs : null;
        p.lastAnchorTs = null;
        this.emitTimeline(p);
      },
      onSkip: (ms) => {
        // The player closes the gap: its time zero moves on in both timelines.
        if (out.zeroTs !== null) out.zeroTs += ms;
        if (p.firstTs === null) return;
        p.firstTs += ms;
        p.lastAnchorTs = null;
        this.emitTimeline(p);
      },
    });
  }

  closePlayer(id: string): void {
    const p = this.players.get(id);
    if (!p) return;
    this.players.delete(id);
    for (const o of p.outputs) o.stream.close();
    this.release(p);
    if (this.current === p) this.current = [...this.players.values()].pop() ?? null;
    this.emit('session.status', { sessionId: id, channel: p.channel, state: 'closed', message: null });
    this.opts.log.info('player session closed', { sessionId: id, channel: p.channel });
  }

  closeAllPlayers(reason: string): void {
    this.channels.coolAll();
    if (this.players.size === 0) return;
    this.opts.log.info('closing every player session', { reason, sessions: this.players.size });
    for (const id of [...this.players.keys()]) this.closePlayer(id);
  }

  private emitTimeline(p: PlayerSession): void {
    if (p.firstTs === null) return;
    const anchors = p.joined.session.anchors();
    const newest = anchors[anchors.length - 1]?.ts ?? null;
    if (newest === p.lastAnchorTs) return;
    p.lastAnchorTs = newest;
    this.emit('session.timeline', {
      sessionId: p.id,
      firstTs: p.firstTs,
      burstEndTs: p.burstEndTs,
      anchors,
      clockOffsetMs: p.joined.session.clockOffsetMs,
      liveSync: this.liveSyncOf(p.joined.session),
    });
  }

  /** A joined (warm or playing) channel's keyframes, video only, for the list's preview tile. */
  private openPreview(channel: string, req: IncomingMessage, res: ServerResponse): void {
    const j = this.channels.get(channel);
    if (!j) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return void res.end('channel not joined: pre-join it first\n');
    }
    res.writeHead(200, { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-store' });
    if (req.method === 'HEAD') return void res.end();
    // One preview at a time: the list shows one tile, and a page that drops a preview without
    // closing its request (mpegts.js in Chrome defers the abort) must not hold a connection.
    this.preview?.stream.close();
    const stream = new GatewayStream(
      j.session,
      j.cache,
      keyframesOnly({ write: (b) => res.write(b), backlog: () => res.writableLength, end: () => res.end() }),
      this.opts.log,
      { readerId: `preview-${randomBytes(4).toString('hex')}`, minStartBufferMs: 0 },
    );
    this.preview = { channel, stream };
    res.on('close', () => {
      stream.close();
      if (this.preview?.stream === stream) this.preview = null;
    });
  }

  private openStream(id: string, req: IncomingMessage, res: ServerResponse): void {
    const p = this.players.get(id);
    if (!p) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return void res.end('no such player session\n');
    }
    res.writeHead(200, { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-store' });
    if (req.method === 'HEAD') return void res.end();
    res.socket?.setNoDelay(true);
    const sink: StreamSink = {
      write: (bytes) => res.write(bytes),
      backlog: () => res.writableLength,
      end: () => res.end(),
    };
    const readerId = `${id}-${randomBytes(3).toString('hex')}`;
    const out = { sink, readerId, zeroTs: null } as Omit<PlayerOutput, 'stream'> as PlayerOutput;
    out.stream = this.feed(p, out, null);
    p.outputs.add(out);
    res.on('close', () => {
      out.stream.close();
      p.outputs.delete(out);
    });
  }

  /** Byte counters and state of one player session (the CLI's stats lines use it too). */
  statsOf(p: PlayerSession | null): EventPayload<'stats'> {
    return sessionStats(
      p && { id: p.id, channel: p.channel, session: p.joined.session },
      this.settings.get(),
    );
  }

  /** The player session's timeline and stream position, for the headless player. */
  player(id: string): { session: ChannelSession; firstTs: number | null } | null {
    const p = this.players.get(id);
    return p ? { session: p.joined.session, firstTs: p.firstTs } : null;
  }

  currentStats(): EventPayload<'stats'> {
    return this.statsOf(this.current);
  }

  private emitStats(): void {
    if (this.listeners.size) this.emit('stats', this.currentStats());
  }

  async close(): Promise<void> {
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.reportTimer) clearInterval(this.reportTimer);
    for (const id of [...this.players.keys()]) this.closePlayer(id);
    this.channels.closeAll();
    await this.reports.close();
    await this.gateway?.close();
    await this.pins.flush();
  }
}

export async function startViewerCore(opts: ViewerCoreOptions): Promise<Core> {
  const settings = await SettingsStore.open(opts.dataDir, opts.log);
  const core = new Core(opts, settings, await KeyPins.open(opts.dataDir, opts.log));
  try {
    await core.start();
  } catch (err) {
    await core.close().catch(() => undefined);
    throw err;
  }
  return core;
}
