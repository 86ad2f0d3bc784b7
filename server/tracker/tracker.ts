/**
 * The tracker: who is watching which sub-room, neighbour suggestions, and the relay of WebRTC
 * offers/answers/candidates between members of one sub-room. WebSocket (ws), JSON frames as
 * common/tracker-protocol.ts defines them.
 *
 * A connection must join first; every frame is size-, JSON- and schema-checked and counted
 * against a per-connection token bucket. A connection that breaks a rule (malformed or oversized
 * frame, flooding, not joining first, a taken peer id) gets one error frame and is closed, with
 * one log line; nobody else is touched. A connection silent for 3 heartbeat periods is dropped.
 *
 * Attach it to an http.Server (`attach`, upgrade path /tracker) or run it alone (`startTracker`).
 */

import type { KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { TokenBucket } from '../../common/token-bucket';
import {
  type ClientMessage,
  DEFAULT_HEARTBEAT_MS,
  encodeMessage,
  type JoinMessage,
  MAX_FRAME_BYTES,
  type PeerInfo,
  type PeerRole,
  parseClientMessage,
  type ServerMessage,
  type TrackerErrorCode,
} from '../../common/tracker-protocol';
import { AddressLimit } from '../address-limits';
import { checkTicket } from '../com/join-ticket';
import { listen, urlHost } from '../http-lifecycle';
import type { Logger } from '../log';
import { chooseNeighbours, type RandomSource } from './neighbours';

export const TRACKER_PATH = '/tracker';
/** Silence longer than this many heartbeat periods drops a connection. */
export const HEARTBEAT_MISSES = 3;
/** A relayed frame is dropped when the receiver has this much unsent data queued. */
const MAX_BUFFERED_BYTES = 512 * 1024;

export interface TrackerOptions {
  log: Logger;
  /** Heartbeat period announced to clients (default 5000 ms). */
  heartbeatMs?: number;
  /** Per-connection rate limit: sustained messages per second (default 20)… */
  ratePerSecond?: number;
  /** …and burst (default 40). */
  burst?: number;
  random?: RandomSource;
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
  /** Upgrade path when attached to an http.Server (default /tracker). */
  path?: string;
  /** Open connections one address may hold (default 64) and all together (default 100,000). */
  maxConnectionsPerAddress?: number;
  maxConnections?: number;
  /** Apply the per-address cap to loopback too (tests; default: loopback is exempt). */
  limitLoopback?: boolean;
  /**
   * The key join tickets are signed with (the server's). When set, a join needs a ticket for
   * exactly its channel, sub-room, peer id and role; without one, anyone may join (a tracker
   * on its own in tests).
   */
  ticketKey?: KeyObject;
  /** Wall clock for ticket expiry (default Date.now). */
  wallClock?: () => number;
  /** Told of every accepted join (a shard reports joins to the shared registry). */
  joined?: (member: { channel: string; subRoom: string; peerId: string; role: PeerRole }) => void;
}

interface Member {
  readonly peerId: string;
  readonly role: PeerRole;
  readonly isp?: string;
  readonly region?: string;
  readonly channel: string;
  readonly subRoom: string;
  readonly conn: Connection;
  latestSeq?: number;
  uploadKbps?: number;
}

interface Connection {
  readonly ws: WebSocket;
  readonly bucket: TokenBucket;
  log: Logger;
  lastSeen: number;
  member: Member | null;
  closed: boolean;
}

/** What a sub-room holds now; the COM service reads it for sub-room assignment and seed lists. */
export interface SubRoomOccupancy {
  viewers: number;
  seeds: string[];
  isps: ReadonlyMap<string, number>;
  regions: ReadonlyMap<string, number>;
}

function publicInfo(m: Member): PeerInfo {
  const info: PeerInfo = { peerId: m.peerId, role: m.role };
  if (m.isp !== undefined) info.isp = m.isp;
  if (m.region !== undefined) info.region = m.region;
  return info;
}

function frameBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

const MAX_COUNTED_CHANNELS = 1000;

export class Tracker {
  readonly heartbeatMs: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: RandomSource;
  private readonly path: string;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly slots: AddressLimit;
  /** channel → sub-room → peer id → member */
  private readonly rooms = new Map<string, Map<string, Map<string, Member>>>();
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly opts: TrackerOptions) {
    this.slots = new AddressLimit({
      perAddress: opts.maxConnectionsPerAddress ?? 64,
      total: opts.maxConnections ?? 100_000,
      exemptLoopback: !opts.limitLoopback,
    });
    this.log = opts.log;
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
    this.path = opts.path ?? TRACKER_PATH;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
    this.sweep = setInterval(() => this.dropSilent(), Math.max(10, Math.floor(this.heartbeatMs / 2)));
    this.sweep.unref();
  }

  /** Takes over the upgrade if it is for the tracker's path; returns false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://tracker.invalid').pathname;
    } catch {
      return false;
    }
    if (pathname !== this.path) return false;
    const release = this.slots.acquire(req.socket.remoteAddress);
    if (!release) {
      this.log.warn(
        { remote: req.socket.remoteAddress },
        'tracker connection refused: too many from this address',
      );
      socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nRetry-After: 30\r\n\r\n');
      return true;
    }
    socket.once('close', release);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
    return true;
  }

  /**
   * Serves WebSocket upgrades on the tracker path of `server`. Other upgrades are left to other
   * listeners, or refused when there are none. Returns a function that detaches.
   */
  attach(server: Server): () => void {
    const listener = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.handleUpgrade(req, socket, head)) return;
      if (server.listenerCount('upgrade') <= 1) socket.destroy();
    };
    server.on('upgrade', listener);
    return () => server.off('upgrade', listener);
  }

  /** Sub-rooms of a channel and what they hold. */
  occupancy(channel: string): Map<string, SubRoomOccupancy> {
    const out = new Map<string, SubRoomOccupancy>();
    for (const [subRoom, members] of this.rooms.get(channel) ?? []) {
      const isps = new Map<string, number>();
      const regions = new Map<string, number>();
      const seeds: string[] = [];
      let viewers = 0;
      for (const m of members.values()) {
        if (m.role === 'seed') {
          seeds.push(m.peerId);
          continue;
        }
        viewers++;
        if (m.isp !== undefined) isps.set(m.isp, (isps.get(m.isp) ?? 0) + 1);
        if (m.region !== undefined) regions.set(m.region, (regions.get(m.region) ?? 0) + 1);
      }
      out.set(subRoom, { viewers, seeds, isps, regions });
    }
    return out;
  }

  /** Joins per channel since start (the metrics' counter); channels past the cap count as "_other". */
  readonly joins = new Map<string, number>();
  /** Signalling messages relayed since start. */
  signalsRelayed = 0;

  /** Channels with members now. */
  channelsWithMembers(): string[] {
    return [...this.rooms.keys()];
  }

  /** Number of open connections (joined or not). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Members joined now, all sub-rooms together. */
  get memberCount(): number {
    let n = 0;
    for (const subRooms of this.rooms.values()) for (const room of subRooms.values()) n += room.size;
    return n;
  }

  /**
   * Closes the connections of one sub-room's members (1012, service restart) but keeps serving:
   * they reconnect through the COM, which sends them where the sub-room is now (a shard whose
   * sub-room was moved elsewhere while it was thought dead does this). Returns how many.
   */
  disconnectSubRoom(channel: string, subRoom: string, reason: string): number {
    const members = [...(this.rooms.get(channel)?.get(subRoom)?.values() ?? [])];
    for (const m of members) {
      const conn = m.conn;
      if (conn.closed) continue;
      conn.closed = true;
      this.removeMember(conn);
      conn.ws.close(1012, reason.slice(0, 100));
      setTimeout(() => conn.ws.terminate(), 1000).unref();
    }
    return members.length;
  }

  async close(): Promise<void> {
    clearInterval(this.sweep);
    for (const conn of this.connections) {
      conn.closed = true;
      conn.ws.terminate();
    }
    this.connections.clear();
    this.rooms.clear();
    await new Promise<void>((ok) => this.wss.close(() => ok()));
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const conn: Connection = {
      ws,
      bucket: new TokenBucket((this.opts.ratePerSecond ?? 20) / 1000, this.opts.burst ?? 40, this.now()),
      log: this.log.child({ remote: `${req.socket.remoteAddress}:${req.socket.remotePort}` }),
      lastSeen: this.now(),
      member: null,
      closed: false,
    };
    this.connections.add(conn);
    ws.on('message', (data, isBinary) => {
      try {
        this.onFrame(conn, data, isBinary);
      } catch (err) {
        conn.log.error({ err: String(err) }, 'tracker message handler failed');
        this.kick(conn, 'bad-frame', 'internal error');
      }
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // ws closes the socket itself after a protocol error (e.g. a frame over maxPayload: 1009).
      if (conn.closed) return;
      conn.closed = true;
      conn.log.warn({ reason: err.message, code: err.code }, 'peer disconnected: bad websocket frame');
      this.removeMember(conn);
    });
    ws.on('close', () => {
      this.connections.delete(conn);
      if (conn.closed) return;
      conn.closed = true;
      if (conn.member) conn.log.info('peer left (connection closed)');
      this.removeMember(conn);
    });
  }

  private onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closed) return;
    conn.lastSeen = this.now();
    if (!conn.bucket.take(1, this.now()))
      return this.kick(conn, 'rate-limited', 'message rate limit exceeded');
    if (isBinary) return this.kick(conn, 'bad-frame', 'binary frames are not accepted');
    const parsed = parseClientMessage(frameBytes(data));
    if (!parsed.ok) return this.kick(conn, 'bad-frame', parsed.error);
    const msg = parsed.message;
    if (msg.type === 'join') return this.join(conn, msg);
    const member = conn.member;
    if (!member) return this.kick(conn, 'not-joined', 'the first message must be join');
    this.onMessage(member, msg);
  }

  private onMessage(member: Member, msg: Exclude<ClientMessage, JoinMessage>): void {
    const conn = member.conn;
    switch (msg.type) {
      case 'heartbeat':
        if (msg.latestSeq !== undefined) member.latestSeq = msg.latestSeq;
        if (msg.uploadKbps !== undefined) member.uploadKbps = msg.uploadKbps;
        return;
      case 'neighbours': {
        const room = this.room(member.channel, member.subRoom);
        const peers = chooseNeighbours(member, room.values(), msg.want, msg.exclude ?? [], this.random);
        this.send(conn, { type: 'neighbours', peers: peers.map(publicInfo) });
        return;
      }
      case 'signal': {
        const target = this.room(member.channel, member.subRoom).get(msg.to);
        if (!target || target === member) {
          conn.log.debug({ to: msg.to }, 'signal refused: not in this sub-room');
          this.send(conn, {
            type: 'error',
            code: 'not-in-sub-room',
            message: `peer ${msg.to} is not in sub-room ${member.subRoom}`,
          });
          return;
        }
        if (target.conn.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
          target.conn.log.debug('signal dropped: receiver is not reading');
          return;
        }
        this.send(target.conn, { type: 'signal', from: member.peerId, data: msg.data });
        this.signalsRelayed++;
        return;
      }
      case 'leave':
        conn.closed = true;
        conn.log.info('peer left');
        this.removeMember(conn);
        conn.ws.close(1000, 'bye');
        return;
      default: {
        const never: never = msg;
        throw new Error(`unhandled message ${String(never)}`);
      }
    }
  }

  private join(conn: Connection, msg: JoinMessage): void {
    if (conn.member) return this.kick(conn, 'already-joined', 'join was already sent on this connection');
    // The ticket's ISP and region (the COM looked them up from the viewer's address) win over
    // what the join claims; the claim counts only where the ticket names none.
    let isp = msg.isp;
    let region = msg.region;
    if (this.opts.ticketKey) {
      if (msg.ticket === undefined) return this.kick(conn, 'no-ticket', 'join needs a ticket from the COM');
      const t = checkTicket(this.opts.ticketKey, msg.ticket, (this.opts.wallClock ?? Date.now)());
      if (!t.ok) return this.kick(conn, 'bad-ticket', t.why);
      const p = t.payload;
      if (p.c !== msg.channel || p.s !== msg.subRoom || p.p !== msg.peerId || p.r !== msg.role) {
        return this.kick(conn, 'bad-ticket', 'the ticket is for another channel, sub-room, peer id or role');
      }
      isp = p.i ?? isp;
      region = p.g ?? region;
    }
    const room = this.room(msg.channel, msg.subRoom);
    if (room.has(msg.peerId)) {
      return this.kick(conn, 'duplicate-peer', `peer id ${msg.peerId} is already in this sub-room`);
    }
    const member: Member = {
      peerId: msg.peerId,
      role: msg.role,
      isp,
      region,
      channel: msg.channel,
      subRoom: msg.subRoom,
      conn,
    };
    room.set(msg.peerId, member);
    conn.member = member;
    conn.log = conn.log.child({
      peer: msg.peerId,
      channel: msg.channel,
      subRoom: msg.subRoom,
      role: msg.role,
    });
    conn.log.info({ isp, region, members: room.size }, 'peer joined');
    // Any client may name any channel: the counter keeps at most MAX_COUNTED_CHANNELS labels.
    const key =
      this.joins.has(msg.channel) || this.joins.size < MAX_COUNTED_CHANNELS ? msg.channel : '_other';
    this.joins.set(key, (this.joins.get(key) ?? 0) + 1);
    this.send(conn, {
      type: 'welcome',
      peerId: msg.peerId,
      subRoom: msg.subRoom,
      heartbeatMs: this.heartbeatMs,
    });
    this.opts.joined?.({ channel: msg.channel, subRoom: msg.subRoom, peerId: msg.peerId, role: msg.role });
  }

  private room(channel: string, subRoom: string): Map<string, Member> {
    let subRooms = this.rooms.get(channel);
    if (!subRooms) {
      subRooms = new Map();
      this.rooms.set(channel, subRooms);
    }
    let room = subRooms.get(subRoom);
    if (!room) {
      room = new Map();
      subRooms.set(subRoom, room);
    }
    return room;
  }

  private removeMember(conn: Connection): void {
    const m = conn.member;
    if (!m) return;
    conn.member = null;
    const subRooms = this.rooms.get(m.channel);
    const room = subRooms?.get(m.subRoom);
    if (!subRooms || !room || room.get(m.peerId) !== m) return;
    room.delete(m.peerId);
    if (room.size === 0) subRooms.delete(m.subRoom);
    if (subRooms.size === 0) this.rooms.delete(m.channel);
  }

  private send(conn: Connection, msg: ServerMessage): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(encodeMessage(msg));
  }

  /** One error frame, one log line, close; the member leaves its sub-room at once. */
  private kick(conn: Connection, code: TrackerErrorCode, message: string): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.log.warn({ code, reason: message }, 'peer disconnected');
    this.removeMember(conn);
    this.send(conn, { type: 'error', code, message: message.slice(0, 500) });
    conn.ws.close(code === 'timeout' ? 1001 : 1008, code);
    // Do not wait 30 s for a misbehaving peer to finish the closing handshake.
    setTimeout(() => conn.ws.terminate(), 1000).unref();
  }

  private dropSilent(): void {
    const limit = this.now() - HEARTBEAT_MISSES * this.heartbeatMs;
    for (const conn of this.connections) {
      if (conn.closed || conn.lastSeen >= limit) continue;
      this.kick(conn, 'timeout', `silent for more than ${HEARTBEAT_MISSES} heartbeat periods`);
    }
  }
}

export interface StartTrackerOptions {
  port?: number;
  host?: string;
  log: Logger;
  heartbeatMs?: number;
}

export interface RunningTracker {
  tracker: Tracker;
  port: number;
  /** ws:// URL of the tracker for clients on this machine. */
  url: string;
  close(): Promise<void>;
}

/** The tracker alone on its own port (`swarmcast tracker`): upgrades on /tracker, GET /healthz. */
export async function startTracker(opts: StartTrackerOptions): Promise<RunningTracker> {
  const host = opts.host ?? '127.0.0.1';
  const tracker = new Tracker({ log: opts.log, heartbeatMs: opts.heartbeatMs });
  const http = createServer((req, res) => {
    const ok = req.url === '/healthz';
    res.writeHead(ok ? 200 : 404, { 'Content-Type': 'text/plain' });
    res.end(ok ? 'ok' : 'not found');
  });
  tracker.attach(http);
  const port = await listen(http, opts.port ?? 0, host);
  const local = urlHost(host);
  opts.log.info({ port }, 'tracker ready');
  return {
    tracker,
    port,
    url: `ws://${local}:${port}${TRACKER_PATH}`,
    async close() {
      await tracker.close();
      http.closeAllConnections();
      await new Promise<void>((ok) => http.close(() => ok()));
    },
  };
}
