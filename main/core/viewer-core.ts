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
  MAX_PREJOINED,
  type PlayerReport,
  type Settings,
} from '../../common/ipc-contract';
import { effectiveLiveSync } from '../../common/live-sync';
import { startSwarm } from '../p2p/swarm';
import { MemorySegmentCache } from './cache/segment-cache';
import { ChannelSession } from './channel-session';
import { Gateway } from './gateway/gateway';
import { GatewayStream } from './gateway/gateway-stream';
import { keyframesOnly } from './gateway/keyframe-filter';
import { ComClient } from './manifest/com-client';
import { KeyPins } from './manifest/key-pins';
import { ChannelReporter } from './report/channel-reporter';
import { ReportQueue } from './report/report-queue';
import { sessionStats } from './session-stats';
import { SettingsStore } from './settings-store';
import type { CoreEventListener, ViewerCore, ViewerCoreOptions } from './viewer-core-api';
import { attachWsIpc } from './ws-ipc';

interface JoinedChannel {
  session: ChannelSession;
  cache: MemorySegmentCache;
  /** Holders: each player session, and the warm (pre-join) hold. */
  refs: number;
  /** Player sessions open on it; without one it has no swarm (no peers, no upload). */
  players: number;
  /** Pre-joined and not opened: the hold expires at this time unless renewed. */
  warmUntil: number | null;
  reporter: ChannelReporter;
}

/** A pre-joined channel's cache: its newest GOPs, not the full play-and-share budget. */
const WARM_CACHE_BYTES = 16 * 1024 * 1024;

/** A pre-join not renewed for this long is dropped (bounds what a forgotten hover costs). */
const WARM_TTL_MS = 60_000;

/** How often each joined channel files a quality report. */
const REPORT_PERIOD_MS = 10_000;

interface PlayerSession {
  id: string;
  channel: string;
  joined: JoinedChannel;
  streams: Set<GatewayStream>;
  firstTs: number | null;
  burstEndTs: number | null;
  lastAnchorTs: number | null;
  report: PlayerReport | null;
  unsubscribe: () => void;
}

export class Core implements ViewerCore {
  private readonly listeners = new Set<CoreEventListener>();
  private readonly channels = new Map<string, JoinedChannel>();
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
      this.expireWarm();
    }, 1000);
    this.reportTimer = setInterval(() => this.fileReports(), this.opts.reports?.periodMs ?? REPORT_PERIOD_MS);
    this.reportTimer.unref();
  }

  /** Each joined channel's quality report for the period just ended, into the outbox. */
  private fileReports(): void {
    for (const j of this.channels.values()) this.fileReport(j);
  }

  private fileReport(j: JoinedChannel): void {
    if (!this.settings.get().qualityReports) return;
    let latest: PlayerReport | null = null;
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
            streams: [...this.players.values()].reduce((n, p) => n + p.streams.size, 0),
            channels: this.channels.size,
          },
        };
      case 'channels.list':
        return { channels: await new ComClient(this.serverUrl).listChannels() };
      case 'channels.prejoin':
        return { channels: this.prejoin((req as { channels: string[] }).channels) };
      case 'player.open':
        return this.openPlayer((req as { channel: string }).channel);
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

  private join(channel: string): JoinedChannel {
    let j = this.channels.get(channel);
    if (!j) {
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
          if (!s.p2pEnabled || (this.channels.get(channel)?.players ?? 0) === 0) return null;
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
          const warm = (this.channels.get(channel)?.players ?? 0) === 0;
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
      j = {
        session,
        cache,
        refs: 0,
        players: 0,
        warmUntil: null,
        reporter: new ChannelReporter(session, { version: this.opts.version, mode: this.opts.mode }),
      };
      this.channels.set(channel, j);
    }
    j.refs++;
    return j;
  }

  /** Applies changed settings to what is running, without a restart. */
  private applySettings(s: Settings): void {
    for (const j of this.channels.values()) {
      j.cache.setBudget(s.cacheMB * 1024 * 1024);
      j.session.setP2pEnabled(s.p2pEnabled);
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

  /**
   * The warm set (channels.prejoin): joins what is new in it with a small cache and no swarm,
   * renews what stays, drops what left. Channels already playing need no warming.
   */
  prejoin(channels: readonly string[]): Array<{ channel: string; previewUrl: string }> {
    const want = [...new Set(channels)].slice(0, MAX_PREJOINED);
    const until = Date.now() + (this.opts.warmTtlMs ?? WARM_TTL_MS);
    for (const j of [...this.channels.values()]) {
      if (j.warmUntil !== null && !want.includes(j.session.channel)) this.cool(j);
    }
    for (const channel of want) {
      const j = this.channels.get(channel);
      if (j && j.warmUntil !== null) {
        j.warmUntil = until;
        continue;
      }
      // A channel playing now gets the hold too: the one just switched away from stays warm.
      const warm = this.join(channel);
      warm.warmUntil = until;
      if (warm.players === 0) warm.cache.setBudget(Math.min(WARM_CACHE_BYTES, this.cacheBudget()));
      this.opts.log.info('channel pre-joined', { channel, playing: warm.players > 0 });
    }
    return want.map((channel) => ({ channel, previewUrl: `${this.gateway.baseUrl}preview/${channel}.flv` }));
  }

  /** Joined channels as they stand (diagnostics and tests). */
  joinedChannels(): Array<{
    channel: string;
    warm: boolean;
    players: number;
    hasSwarm: boolean;
    cacheBytes: number;
    cacheBudget: number;
  }> {
    return [...this.channels.values()].map((j) => ({
      channel: j.session.channel,
      warm: j.warmUntil !== null,
      players: j.players,
      hasSwarm: j.session.hasSwarm,
      cacheBytes: j.cache.totalBytes,
      cacheBudget: j.cache.budgetBytes,
    }));
  }

  /** Releases the warm hold (the pointer left, the hold expired, or a player took over). */
  private cool(j: JoinedChannel): void {
    if (j.warmUntil === null) return;
    j.warmUntil = null;
    this.leave(j);
  }

  private cacheBudget(): number {
    return this.settings.get().cacheMB * 1024 * 1024;
  }

  private expireWarm(): void {
    const now = Date.now();
    for (const j of [...this.channels.values()]) if (j.warmUntil !== null && j.warmUntil < now) this.cool(j);
  }

  private leave(j: JoinedChannel): void {
    if (--j.refs > 0) return;
    if (this.preview?.channel === j.session.channel) this.preview.stream.close();
    this.fileReport(j);
    j.session.close();
    this.channels.delete(j.session.channel);
  }

  openPlayer(channel: string): { sessionId: string; channel: string; streamUrl: string } {
    const id = randomBytes(8).toString('hex');
    const joined = this.join(channel);
    joined.players++;
    if (joined.players === 1) {
      // A pre-joined channel becomes a played one: full cache and its swarm. The warm hold
      // stays until the renderer's next warm set (it lists the played channel no more).
      joined.cache.setBudget(this.cacheBudget());
      joined.session.setP2pEnabled(this.settings.get().p2pEnabled);
    }
    const player: PlayerSession = {
      id,
      channel,
      joined,
      streams: new Set(),
      firstTs: null,
      burstEndTs: null,
      lastAnchorTs: null,
      report: null,
      unsubscribe: () => undefined,
    };
    let last = '';
    const onChange = () => {
      const snap = joined.session.snapshot();
      const key = `${snap.state}|${snap.message}`;
      if (key !== last) {
        last = key;
        this.emit('session.status', { sessionId: id, channel, state: snap.state, message: snap.message });
      }
      this.emitTimeline(player);
    };
    player.unsubscribe = joined.session.onChange(onChange);
    this.players.set(id, player);
    this.current = player;
    this.opts.log.info('player session opened', { sessionId: id, channel });
    queueMicrotask(onChange);
    return { sessionId: id, channel, streamUrl: `${this.gateway.baseUrl}stream/${id}.flv` };
  }

  closePlayer(id: string): void {
    const p = this.players.get(id);
    if (!p) return;
    this.players.delete(id);
    for (const s of p.streams) s.close();
    p.unsubscribe();
    p.joined.players--;
    if (p.joined.players === 0 && p.joined.warmUntil !== null) {
      // Still warm (next or previous channel now): no peers, no upload, a small cache.
      p.joined.session.setP2pEnabled(false);
      p.joined.cache.setBudget(Math.min(WARM_CACHE_BYTES, this.cacheBudget()));
    }
    this.leave(p.joined);
    if (this.current === p) this.current = [...this.players.values()].pop() ?? null;
    this.emit('session.status', { sessionId: id, channel: p.channel, state: 'closed', message: null });
    this.opts.log.info('player session closed', { sessionId: id, channel: p.channel });
  }

  closeAllPlayers(reason: string): void {
    for (const j of [...this.channels.values()]) this.cool(j);
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
    const stream: GatewayStream = new GatewayStream(
      p.joined.session,
      p.joined.cache,
      {
        write: (bytes) => res.write(bytes),
        backlog: () => res.writableLength,
        end: () => res.end(),
      },
      this.opts.log,
      {
        readerId: `${id}-${p.streams.size}`,
        minStartBufferMs: () => this.liveSyncOf(p.joined.session).targetLatencyS * 1000,
        onStart: (firstTs, burstEndTs) => {
          p.firstTs = firstTs;
          p.burstEndTs = burstEndTs;
          p.lastAnchorTs = null;
          this.emitTimeline(p);
        },
        onSkip: (ms) => {
          if (p.firstTs === null) return;
          p.firstTs += ms;
          p.lastAnchorTs = null;
          this.emitTimeline(p);
        },
      },
    );
    p.streams.add(stream);
    res.on('close', () => {
      stream.close();
      p.streams.delete(stream);
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
    for (const j of this.channels.values()) j.session.close();
    this.channels.clear();
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
