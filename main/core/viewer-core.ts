/**
 * The viewer core: settings, joined channels, player sessions on the gateway, and the
 * IPC contract's calls and events. Plain Node; the Electron glue and browser mode both
 * drive it through the ViewerCore interface.
 */
import { everyBeat } from '../../common/heartbeat';
import {
  type EventName,
  type EventPayload,
  type InvokeName,
  type InvokeResponse,
  invokeContract,
  isInvokeName,
  type LatencyMode,
  type LiveSync,
  type PlayerReport,
  type Settings,
} from '../../common/ipc-contract';
import { effectiveLiveSync } from '../../common/live-sync';
import { startSwarm } from '../p2p/swarm';
import { PROMISED_SEGMENTS } from '../p2p/wire';
import { MemorySegmentCache } from './cache/segment-cache';
import { ChannelRegistry, type JoinedChannel } from './channel-registry';
import { ChannelSession } from './channel-session';
import { Gateway } from './gateway/gateway';
import { PreviewFeed } from './gateway/preview-feed';
import { KeyPins } from './manifest/key-pins';
import { ServerLink } from './manifest/server-link';
import { sameOrigin } from './manifest/server-watch';
import type { PlayerSession } from './player/player-session';
import { PlayerSessions } from './player/player-sessions';
import { ChannelReporter } from './report/channel-reporter';
import { ReportQueue } from './report/report-queue';
import { sessionStats } from './session-stats';
import { SettingsStore } from './settings-store';
import type { CoreEventListener, ViewerCore, ViewerCoreOptions } from './viewer-core-api';
import { attachWsIpc } from './ws-ipc';

/** How often each joined channel files a quality report. */
const REPORT_PERIOD_MS = 10_000;

export class Core implements ViewerCore {
  private readonly listeners = new Set<CoreEventListener>();
  private readonly channels: ChannelRegistry;
  private cdnOnly: boolean | null = null;
  private readonly players: PlayerSessions;
  private gateway!: Gateway;
  private embeddedUrl: string | null = null;
  private stopStats: (() => void) | null = null;
  private stopReports: (() => void) | null = null;
  private readonly previews: PreviewFeed;
  private readonly reports: ReportQueue;
  private serverUrl = '';
  private serverLink: ServerLink | null = null;

  constructor(
    private readonly opts: ViewerCoreOptions,
    private readonly settings: SettingsStore,
    private readonly pins: KeyPins,
  ) {
    this.reports = new ReportQueue({ log: opts.log, ...opts.reports });
    this.previews = new PreviewFeed(opts.log);
    this.channels = new ChannelRegistry({
      create: (channel) => this.createChannel(channel),
      cacheBudget: () => this.settings.get().cacheMB * 1024 * 1024,
      p2pEnabled: () => this.settings.get().p2pEnabled,
      dropping: (j) => {
        this.previews.drop(j.session.channel);
      },
      warmTtlMs: opts.warmTtlMs,
      log: opts.log,
    });
    this.players = new PlayerSessions({
      channels: this.channels,
      log: opts.log,
      emit: (event, payload) => this.emit(event, payload),
      gatewayUrl: () => this.gateway.baseUrl,
      liveSync: (p) => this.liveSyncOfPlayer(p),
      fileLastReport: (j, p) => this.fileReport(j, p),
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
        stream: (id, req, res) => this.players.openStream(id, req, res),
        preview: (channel, req, res) => this.previews.open(channel, this.channels.get(channel), req, res),
        ipc: this.opts.mode === 'web' ? (ws) => attachWsIpc(ws, this, this.opts.log) : undefined,
        rendererDir: this.opts.rendererDir,
      },
      this.opts.log,
    );
    await this.gateway.start();
    this.serverLink = new ServerLink(
      () => this.serverUrl,
      (status) => {
        this.opts.log.info('server reachability', { ...status });
        this.emit('server.status', status);
      },
      (url) => this.heardFrom(url),
    );
    this.serverLink.start();
    this.settings.onChange((s) => {
      this.emit('settings.changed', s);
      void this.resolveServer().finally(() => this.serverLink?.poke());
      this.applySettings(s);
    });
    this.stopStats = everyBeat(1000, () => {
      this.emitStats();
      this.channels.expireWarm();
    });
    this.stopReports = everyBeat(this.opts.reports?.periodMs ?? REPORT_PERIOD_MS, () => this.fileReports(), {
      keepAlive: false,
    });
  }

  /** When a joined channel last got a manifest from `url`'s server itself (not a CDN in front). */
  private heardFrom(url: string): number | null {
    let at: number | null = null;
    for (const j of this.channels.values()) {
      const a = j.session.lastOriginAnswer;
      if (a && (at === null || a.at > at) && sameOrigin(a.base, url)) at = a.at;
    }
    return at;
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

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
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
        return { channels: await this.link().listChannels() };
      case 'golive.info':
        return this.link().goLiveInfo(this.embeddedUrl !== null && this.serverUrl === this.embeddedUrl);
      case 'golive.room':
        return this.link().goLiveRoom((req as { channel: string }).channel);
      case 'server.status':
        return this.link().status;
      case 'app.openLogFolder':
        return this.opts.openLogFolder ? this.opts.openLogFolder() : { opened: false, path: null };
      case 'channels.prejoin':
        return { channels: this.prejoin((req as { channels: string[] }).channels) };
      case 'player.open': {
        const r = req as { channel: string; latencyMode?: LatencyMode; warm?: boolean };
        return this.openPlayer(r.channel, r.latencyMode, r.warm === true);
      }
      case 'player.commit':
        return { committed: this.commitPlayer((req as { sessionId: string }).sessionId) };
      case 'player.switch': {
        const r = req as { sessionId: string; channel: string };
        return this.switchPlayer(r.sessionId, r.channel);
      }
      case 'player.close':
        this.closePlayer((req as { sessionId: string }).sessionId);
        return {};
      case 'player.report':
        this.players.setReport(req as PlayerReport);
        return {};
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
    const cache = new MemorySegmentCache(this.settings.get().cacheMB * 1024 * 1024, PROMISED_SEGMENTS);
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
        const sync = warm ? this.warmLiveSync(session) : this.liveSyncOf(session);
        this.noteCdnOnly();
        return {
          p2p: this.withPeers(channel),
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
    this.players.resendTimelines();
  }

  /** The live-sync thresholds in force for a channel: settings, latency mode, whether peers are in use, the sub-room's size. */
  liveSyncOf(session: ChannelSession): LiveSync {
    const s = this.settings.get();
    return effectiveLiveSync(
      s.liveSync,
      this.latencyModeOf(session.channel),
      s.p2pEnabled && session.hasSwarm,
      session.subRoomViewers,
    );
  }

  /** A player's thresholds: a warm one plays for the latency it will have once opened (with peers). */
  private liveSyncOfPlayer(p: PlayerSession): LiveSync {
    return p.warm ? this.warmLiveSync(p.joined.session) : this.liveSyncOf(p.joined.session);
  }

  /** A warm channel's thresholds: the settings', as if opened with peers (when P2P is on). */
  private warmLiveSync(session: ChannelSession): LiveSync {
    const s = this.settings.get();
    return effectiveLiveSync(s.liveSync, s.latencyMode, s.p2pEnabled, session.subRoomViewers);
  }

  /** The server link, once start() has made it (calls arrive only after start). */
  private link(): ServerLink {
    if (!this.serverLink) throw new Error('the core is not started');
    return this.serverLink;
  }

  /** Whether a channel fetches from peers (P2P on and the normal latency mode). */
  private withPeers(channel: string): boolean {
    return this.settings.get().p2pEnabled && this.latencyModeOf(channel) === 'normal';
  }

  /** Tells the entry point whether some played channel fetches without peers: first pass, then changes. */
  private noteCdnOnly(): void {
    if (!this.opts.onCdnOnly) return;
    const cdnOnly = this.channels
      .values()
      .some((j) => this.channels.played(j.session.channel) && !this.withPeers(j.session.channel));
    if (cdnOnly === this.cdnOnly) return;
    this.cdnOnly = cdnOnly;
    this.opts.onCdnOnly(cdnOnly);
  }

  /** The setting's latency mode, unless a player opened this channel with its own. */
  private latencyModeOf(channel: string): LatencyMode {
    return this.players.latencyModeOverride(channel) ?? this.settings.get().latencyMode;
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

  /** A player session on the channel (player-sessions.ts); a warm one waits for commitPlayer. */
  openPlayer(
    channel: string,
    latencyMode?: LatencyMode,
    warm = false,
  ): { sessionId: string; channel: string; streamUrl: string } {
    return this.players.open(channel, latencyMode, warm);
  }

  commitPlayer(id: string): boolean {
    return this.players.commit(id);
  }

  switchPlayer(id: string, channel: string): { spliced: boolean; switchAtS: number | null } {
    return this.players.switch(id, channel);
  }

  closePlayer(id: string): void {
    this.players.close(id);
  }

  closeAllPlayers(reason: string): void {
    this.channels.coolAll();
    this.players.closeAll(reason);
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
    return this.players.player(id);
  }

  currentStats(): EventPayload<'stats'> {
    return this.statsOf(this.players.current);
  }

  private emitStats(): void {
    if (this.listeners.size) this.emit('stats', this.currentStats());
  }

  async close(): Promise<void> {
    this.stopStats?.();
    this.stopReports?.();
    this.serverLink?.close();
    this.players.closeAll('core closing');
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
