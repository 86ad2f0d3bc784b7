/**
 * The viewer's tracker client (plain Node, ws): joins a sub-room, sends heartbeats, asks for
 * neighbour suggestions and exchanges WebRTC signalling with other members through the tracker.
 * The connection is re-established with exponential backoff (and the sub-room re-joined) until
 * close(); with a `reroute`, each reconnect first asks the COM where the sub-room is now (its
 * tracker shard may have died and the sub-room moved), and keeps the old route when the COM
 * cannot answer. Every inbound frame is validated with common/tracker-protocol.ts; a bad frame is
 * logged and ignored. Outbound messages are validated too, so a bug here cannot get the peer
 * disconnected for a malformed frame.
 */
import WebSocket from 'ws';
import { everyBeat } from '../../common/heartbeat';
import type { CoreLog } from '../../common/logger';
import {
  type ClientMessage,
  clientMessageSchema,
  encodeMessage,
  MAX_EXCLUDE,
  MAX_FRAME_BYTES,
  MAX_NEIGHBOURS_WANT,
  PEER_ID_PATTERN,
  type PeerInfo,
  type PeerRole,
  parseServerMessage,
  type SignalData,
} from '../../common/tracker-protocol';

export type { PeerInfo, SignalData } from '../../common/tracker-protocol';

/** Where to join: the tracker, the sub-room and the ticket for it (a rejoin's answer). */
export interface TrackerRoute {
  url: string;
  subRoom: string;
  ticket: string;
}

export interface TrackerClientOptions {
  /** Tracker URL from the channel info (ws:// or wss://). */
  url: string;
  channel: string;
  subRoom: string;
  peerId: string;
  role: PeerRole;
  /** The COM's join ticket for this peer id and role (servers require it). */
  ticket?: string;
  isp?: string;
  region?: string;
  log: CoreLog;
  /** Figures for each heartbeat. */
  stats?: () => { latestSeq?: number | null; uploadKbps?: number | null };
  /** Reconnect backoff: first delay and ceiling (default 500 ms, 10 s), with jitter. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** connect() rejects when no welcome came within this long (default 10 s); retries go on. */
  connectTimeoutMs?: number;
  /** A neighbours request unanswered this long drops the connection (default 5 s). */
  requestTimeoutMs?: number;
  random?: () => number;
  /** Asked before each reconnect, with the ticket held: the route to use now (null or a throw: keep the old one). */
  reroute?: (ticket: string | undefined) => Promise<TrackerRoute | null>;
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

interface PendingRequest {
  resolve(peers: PeerInfo[]): void;
  reject(err: Error): void;
}

/** Largest frame accepted from the tracker at the WebSocket layer; the protocol cap applies after. */
const MAX_WS_PAYLOAD = 1024 * 1024;

export class TrackerClient {
  private ws: WebSocket | null = null;
  private joined = false;
  private closed = false;
  private attempt = 0;
  private heartbeatMs = 5000;
  private lastPong = 0;
  private stopHeartbeat: (() => void) | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private requestTimer: NodeJS.Timeout | null = null;
  private readonly pending: PendingRequest[] = [];
  private readonly signalListeners = new Set<(from: string, data: SignalData) => void>();
  private readonly connectedListeners = new Set<() => void>();
  private readonly waiters = new Set<Waiter>();
  private readonly log: CoreLog;
  private route: { url: string; subRoom: string; ticket?: string };
  private rerouting = false;

  constructor(private readonly opts: TrackerClientOptions) {
    if (!PEER_ID_PATTERN.test(opts.peerId)) throw new Error(`invalid peer id "${opts.peerId}"`);
    const protocol = new URL(opts.url).protocol;
    if (protocol !== 'ws:' && protocol !== 'wss:') throw new Error(`tracker URL must be ws(s): ${opts.url}`);
    this.log = opts.log;
    this.route = { url: opts.url, subRoom: opts.subRoom, ticket: opts.ticket };
  }

  /** The tracker and sub-room joined (or being joined) now. */
  get current(): { url: string; subRoom: string } {
    return { url: this.route.url, subRoom: this.route.subRoom };
  }

  /** True between the tracker's welcome and the loss of the connection. */
  get connected(): boolean {
    return this.joined;
  }

  /**
   * Connects and joins (the first call starts the connection loop); resolves on the welcome, at
   * once when already joined. Rejects after connectTimeoutMs without a welcome, or on close();
   * reconnection goes on regardless until close().
   */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('tracker client is closed'));
    if (this.joined) return Promise.resolve();
    const timeoutMs = this.opts.connectTimeoutMs ?? 10_000;
    const promise = new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no welcome from the tracker within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
    if (!this.ws && !this.reconnectTimer && !this.rerouting) this.open();
    return promise;
  }

  /** Asks for up to `want` (1–32) neighbour suggestions, not counting those in `exclude`. */
  neighbours(want: number, exclude: readonly string[] = []): Promise<PeerInfo[]> {
    const ws = this.ws;
    if (!this.joined || !ws) return Promise.reject(new Error('not connected to the tracker'));
    const msg: ClientMessage = {
      type: 'neighbours',
      want: Math.max(1, Math.min(MAX_NEIGHBOURS_WANT, Math.floor(want))),
      exclude: exclude.filter((p) => PEER_ID_PATTERN.test(p)).slice(-MAX_EXCLUDE),
    };
    return new Promise<PeerInfo[]>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.send(msg);
      // The tracker answers in order; silence means the connection is dead: start over.
      if (!this.requestTimer) this.armRequestTimer();
    });
  }

  /** Sends signalling to a member of our sub-room; false when not connected or not sendable. */
  signal(to: string, data: SignalData): boolean {
    if (!this.joined) return false;
    const checked = clientMessageSchema.safeParse({ type: 'signal', to, data });
    if (!checked.success) {
      this.log.warn('tracker: signal not sent (invalid)', { to, error: checked.error.issues[0]?.message });
      return false;
    }
    return this.send(checked.data);
  }

  /** Signalling from other members. Returns an unsubscribe function. */
  onSignal(cb: (from: string, data: SignalData) => void): () => void {
    this.signalListeners.add(cb);
    return () => this.signalListeners.delete(cb);
  }

  /** Called on every welcome: the first join and each re-join after a reconnect. */
  onConnected(cb: () => void): () => void {
    this.connectedListeners.add(cb);
    return () => this.connectedListeners.delete(cb);
  }

  /** Leaves the sub-room and stops reconnecting. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    this.failPending(new Error('tracker client closed'));
    this.settle(new Error('tracker client closed'));
    const ws = this.ws;
    this.ws = null;
    this.joined = false;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    if (ws.readyState !== WebSocket.OPEN) {
      ws.terminate();
      return;
    }
    ws.send(encodeMessage({ type: 'leave' }));
    await new Promise<void>((done) => {
      const timer = setTimeout(() => {
        ws.terminate();
        done();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(timer);
        done();
      });
      ws.close(1000, 'leave');
    });
  }

  private open(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.route.url, {
      maxPayload: MAX_WS_PAYLOAD,
      perMessageDeflate: false,
      handshakeTimeout: this.opts.connectTimeoutMs ?? 10_000,
    });
    this.ws = ws;
    ws.on('open', () => {
      if (this.ws !== ws) return;
      this.lastPong = Date.now();
      const join: ClientMessage = {
        type: 'join',
        channel: this.opts.channel,
        subRoom: this.route.subRoom,
        peerId: this.opts.peerId,
        role: this.opts.role,
      };
      if (this.route.ticket !== undefined) join.ticket = this.route.ticket;
      if (this.opts.isp !== undefined) join.isp = this.opts.isp;
      if (this.opts.region !== undefined) join.region = this.opts.region;
      const checked = clientMessageSchema.safeParse(join);
      if (!checked.success) {
        this.log.error('tracker: invalid join', { error: checked.error.issues[0]?.message });
        this.settle(new Error(`invalid join: ${checked.error.issues[0]?.message ?? ''}`));
        void this.close();
        return;
      }
      this.send(checked.data);
    });
    ws.on('message', (data, isBinary) => {
      if (this.ws !== ws) return;
      try {
        this.onFrame(data, isBinary);
      } catch (err) {
        this.log.error('tracker: message handling failed', { err: String(err) });
      }
    });
    ws.on('pong', () => {
      this.lastPong = Date.now();
    });
    ws.on('error', (err) => {
      if (this.ws === ws) this.log.debug('tracker: connection error', { err: err.message });
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const wasJoined = this.joined;
      this.joined = false;
      this.clearTimers();
      this.failPending(new Error('tracker connection lost'));
      if (this.closed) return;
      const delay = this.backoff();
      const fields = { code, reason: reason.toString(), retryInMs: delay };
      if (wasJoined) this.log.warn('tracker: connection lost, reconnecting', fields);
      else this.log.debug('tracker: connection failed, retrying', fields);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        void this.reopen();
      }, delay);
      this.reconnectTimer.unref?.();
    });
  }

  /** A reconnect: through the COM first when it can reroute us, else to the same tracker. */
  private async reopen(): Promise<void> {
    const reroute = this.opts.reroute;
    if (reroute) {
      // connect() must not open a second socket while the COM is asked.
      this.rerouting = true;
      try {
        const next = await reroute(this.route.ticket);
        if (next && !this.closed) {
          const protocol = new URL(next.url).protocol;
          if (protocol !== 'ws:' && protocol !== 'wss:')
            throw new Error(`tracker URL must be ws(s): ${next.url}`);
          if (next.url !== this.route.url || next.subRoom !== this.route.subRoom) {
            this.log.info('tracker: the COM moved us', { url: next.url, subRoom: next.subRoom });
          }
          this.route = { url: next.url, subRoom: next.subRoom, ticket: next.ticket };
        }
      } catch (err) {
        this.log.debug('tracker: COM did not reroute; retrying the same tracker', { err: String(err) });
      } finally {
        this.rerouting = false;
      }
    }
    if (!this.closed && !this.ws && !this.reconnectTimer) this.open();
  }

  private onFrame(data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) return this.log.warn('tracker: binary frame ignored');
    const bytes = Buffer.isBuffer(data)
      ? data
      : Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.from(data);
    const parsed = parseServerMessage(bytes);
    if (!parsed.ok) return this.log.warn('tracker: bad frame ignored', { error: parsed.error });
    const msg = parsed.message;
    switch (msg.type) {
      case 'welcome': {
        if (msg.peerId !== this.opts.peerId) {
          this.log.warn('tracker: welcome for another peer id ignored', { peerId: msg.peerId });
          return;
        }
        this.joined = true;
        this.attempt = 0;
        this.heartbeatMs = msg.heartbeatMs;
        this.startHeartbeat();
        this.log.info('tracker: joined', { subRoom: msg.subRoom, heartbeatMs: msg.heartbeatMs });
        this.settle(null);
        for (const cb of this.connectedListeners) {
          try {
            cb();
          } catch (err) {
            this.log.error('tracker: onConnected listener failed', { err: String(err) });
          }
        }
        return;
      }
      case 'neighbours': {
        const req = this.pending.shift();
        if (!req) return this.log.debug('tracker: unrequested neighbours ignored');
        this.armRequestTimer();
        req.resolve(msg.peers.filter((p) => p.peerId !== this.opts.peerId));
        return;
      }
      case 'signal':
        for (const cb of this.signalListeners) {
          try {
            cb(msg.from, msg.data);
          } catch (err) {
            this.log.error('tracker: onSignal listener failed', { err: String(err) });
          }
        }
        return;
      case 'error':
        this.log.warn('tracker: error from tracker', { code: msg.code, message: msg.message });
        return;
      default: {
        const never: never = msg;
        this.log.warn('tracker: unknown message', { msg: String(never) });
      }
    }
  }

  private send(msg: ClientMessage): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    const text = encodeMessage(msg);
    if (Buffer.byteLength(text) > MAX_FRAME_BYTES) {
      this.log.warn('tracker: message too large, not sent', { type: msg.type });
      return false;
    }
    ws.send(text);
    return true;
  }

  private startHeartbeat(): void {
    this.stopHeartbeat?.();
    this.stopHeartbeat = everyBeat(this.heartbeatMs, () => this.heartbeat(), { keepAlive: false });
  }

  private heartbeat(): void {
    const ws = this.ws;
    if (!ws || !this.joined) return;
    if (Date.now() - this.lastPong > 3 * this.heartbeatMs) {
      this.log.warn('tracker: no answer to pings, reconnecting');
      ws.terminate();
      return;
    }
    const msg: ClientMessage = { type: 'heartbeat' };
    try {
      const s = this.opts.stats?.() ?? {};
      if (typeof s.latestSeq === 'number' && Number.isSafeInteger(s.latestSeq) && s.latestSeq >= 0) {
        msg.latestSeq = s.latestSeq;
      }
      if (typeof s.uploadKbps === 'number' && Number.isFinite(s.uploadKbps) && s.uploadKbps >= 0) {
        msg.uploadKbps = Math.min(100_000_000, Math.round(s.uploadKbps * 10) / 10);
      }
    } catch (err) {
      this.log.debug('tracker: stats provider failed', { err: String(err) });
    }
    this.send(msg);
    ws.ping();
  }

  private armRequestTimer(): void {
    if (this.requestTimer) clearTimeout(this.requestTimer);
    this.requestTimer = null;
    if (this.pending.length === 0) return;
    this.requestTimer = setTimeout(() => {
      this.requestTimer = null;
      this.log.warn('tracker: no answer to a neighbours request, reconnecting');
      this.failPending(new Error('tracker did not answer'));
      this.ws?.terminate();
    }, this.opts.requestTimeoutMs ?? 5000);
    this.requestTimer.unref?.();
  }

  private failPending(err: Error): void {
    if (this.requestTimer) clearTimeout(this.requestTimer);
    this.requestTimer = null;
    for (const req of this.pending.splice(0)) req.reject(err);
  }

  /** Settles every pending connect(). */
  private settle(err: Error | null): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  private backoff(): number {
    const min = this.opts.reconnectMinMs ?? 500;
    const max = this.opts.reconnectMaxMs ?? 10_000;
    const base = Math.min(max, min * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    return Math.round(base * (0.5 + 0.5 * (this.opts.random ?? Math.random)()));
  }

  private clearTimers(): void {
    this.stopHeartbeat?.();
    this.stopHeartbeat = null;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.requestTimer) clearTimeout(this.requestTimer);
    this.requestTimer = null;
  }
}
