/**
 * The COM service: GET /api/channels/:id[?isp=…&region=…] answers the channel info of
 * common/com.ts. It asks the origin (in-process) for the key, the live flag and the signed
 * manifest, puts the viewer in a sub-room (sub-rooms.ts) and names that sub-room's tracker,
 * the ICE servers (our STUN server by default, TURN when configured), log servers and the
 * seed servers present in the sub-room.
 *
 * URLs in the answer must be reachable by the viewer: they come from the configured public URL,
 * or else from the request's Host header (http://HOST, ws://HOST/tracker, stun:HOSTNAME:PORT).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type ComChannelInfo,
  type IceServer,
  MAX_LOG_SERVERS,
  MAX_SEEDS,
  type SubRoomHints,
  subRoomHintsSchema,
} from '../../common/com';
import { CHANNEL_ID_PATTERN } from '../../common/manifest';
import type { PeerRole } from '../../common/tracker-protocol';
import type { Logger } from '../log';
import { sendError } from '../origin/http-api';
import type { Origin } from '../origin/origin';
import type { ManifestSigner } from '../origin/signing-key';
import { type SubRoomOccupancy, TRACKER_PATH } from '../tracker/tracker';
import { mintTicket, TICKET_TTL_MS } from './join-ticket';
import { assignSubRoom, EMPTY_ROOM, type RoomState, type SubRoomPolicy } from './sub-rooms';
import { checkTurnSecretOptions, turnRestCredentials } from './turn-credentials';

/** A TURN relay with fixed credentials (coturn --lt-cred-mech --user=…). */
export interface StaticTurnOptions {
  urls: readonly string[];
  username: string;
  credential: string;
}

/**
 * A TURN relay sharing a secret with us (coturn --use-auth-secret --static-auth-secret=…): each
 * answer carries freshly minted credentials that expire after `ttlSeconds` (turn-credentials.ts).
 */
export interface SharedSecretTurnOptions {
  urls: readonly string[];
  secret: string;
  /** Credential lifetime; default 6 h, long enough to outlast a typical viewing session. */
  ttlSeconds?: number;
}

export type TurnOptions = StaticTurnOptions | SharedSecretTurnOptions;

/** Lifetime of minted TURN credentials (a viewer re-asks the COM when it reloads the channel). */
export const DEFAULT_TURN_TTL_SECONDS = 6 * 60 * 60;

export interface ComOptions {
  origin: Origin;
  /** Signs join tickets (the server's key; its tracker checks them). */
  signer: ManifestSigner;
  /**
   * Bearer token a seed server shows to get a seed ticket. Without one, only requests from
   * loopback (seeds on the server's own machine) get them.
   */
  seedSecret?: string;
  log: Logger;
  /** Public base URL of this server (http[s]://host[:port][/prefix]); default: from the Host header. */
  publicUrl?: string;
  /** Tracker base URLs (ws[s]://…) sub-rooms are spread over; default: this server's /tracker. */
  trackerUrls?: readonly string[];
  /** ICE servers to hand out; default: our STUN server, when `stunPort` is a number. */
  iceServers?: readonly IceServer[];
  /** Port of the in-process STUN server (null: none). */
  stunPort?: number | null;
  turn?: TurnOptions;
  logServers?: readonly string[];
  /** With no `logServers`, name this server itself (its base URL) as the log server. */
  ownLogServer?: boolean;
  /** Viewers per sub-room before a new one is opened (default Infinity: one sub-room). */
  subRoomSize?: number;
  /** Live sub-room membership (the in-process tracker); without it only recent assignments count. */
  occupancy?: (channel: string) => ReadonlyMap<string, SubRoomOccupancy>;
  /** An assigned viewer counts towards its sub-room this long before it shows up at the tracker. */
  pendingMs?: number;
  now?: () => number;
}

interface Pending {
  subRoom: string;
  at: number;
  isp?: string;
  region?: string;
}

interface RoomBook {
  /** Sub-room ids and trackers; the counts are refreshed before each assignment. */
  state: RoomState;
  /** Viewers sent to a sub-room that the tracker may not count yet. */
  pending: Pending[];
  /** Viewer count per sub-room at the last refresh: growth there retires pending entries. */
  lastLive: Map<string, number>;
}

const HOST_PATTERN =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
const DEFAULT_PENDING_MS = 15_000;

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function toWs(httpUrl: string): string {
  return httpUrl.replace(/^http/, 'ws');
}

function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

function addCounts(into: Record<string, number>, from: ReadonlyMap<string, number> | undefined): void {
  for (const [k, n] of from ?? []) into[k] = (Object.hasOwn(into, k) ? into[k]! : 0) + n;
}

export class ComService {
  private readonly log: Logger;
  private readonly publicUrl: string | null;
  private readonly splitThreshold: number;
  private readonly pendingMs: number;
  private readonly now: () => number;
  private readonly rooms = new Map<string, RoomBook>();
  /** Channel-info answers per channel since start (only channels the origin has). */
  readonly requests = new Map<string, number>();

  constructor(private readonly opts: ComOptions) {
    this.log = opts.log;
    this.splitThreshold = opts.subRoomSize ?? Number.POSITIVE_INFINITY;
    if (!(this.splitThreshold >= 1)) throw new Error('subRoomSize must be at least 1');
    this.pendingMs = opts.pendingMs ?? DEFAULT_PENDING_MS;
    this.now = opts.now ?? Date.now;
    if (opts.publicUrl !== undefined) {
      const u = new URL(opts.publicUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('publicUrl must be http(s)');
      this.publicUrl = stripSlash(u.href);
    } else {
      this.publicUrl = null;
    }
    for (const t of opts.trackerUrls ?? []) {
      const p = new URL(t).protocol;
      if (p !== 'ws:' && p !== 'wss:') throw new Error(`tracker URL must be ws(s): ${t}`);
    }
    if (opts.trackerUrls && opts.trackerUrls.length === 0) throw new Error('trackerUrls is empty');
    if ((opts.logServers?.length ?? 0) > MAX_LOG_SERVERS) throw new Error('too many log servers');
    const turn = opts.turn;
    if (turn && 'secret' in turn) {
      // Fail at start-up rather than with a 500 on every channel-info request.
      checkTurnSecretOptions(turn.secret, turn.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS);
    }
  }

  /** Answers GET/HEAD /api/channels/:id; returns false for anything else. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') return false;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://com.invalid');
    } catch {
      return false;
    }
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts.length !== 3 || parts[0] !== 'api' || parts[1] !== 'channels') return false;
    this.answer(req, res, parts[2]!, url);
    return true;
  }

  private answer(req: IncomingMessage, res: ServerResponse, channelPart: string, url: URL): void {
    let channel: string;
    try {
      channel = decodeURIComponent(channelPart);
    } catch {
      channel = '';
    }
    if (!CHANNEL_ID_PATTERN.test(channel)) return sendError(res, 404, 'no such channel (bad channel id)');
    const ch = this.opts.origin.channels.get(channel);
    if (!ch) return sendError(res, 404, `no channel "${channel}"`);
    const hints = subRoomHintsSchema.safeParse({
      isp: url.searchParams.get('isp') ?? undefined,
      region: url.searchParams.get('region') ?? undefined,
      role: url.searchParams.get('role') ?? undefined,
    });
    if (!hints.success) return sendError(res, 400, 'isp and region must be 1-64 printable characters');
    const role = hints.data.role ?? 'viewer';
    if (role === 'seed' && !this.isSeed(req)) {
      this.log.warn({ remote: req.socket.remoteAddress, channel }, 'seed ticket refused');
      return sendError(res, 403, 'seed tickets are for this server’s seed servers (SWARMCAST_SEED_SECRET)');
    }
    this.requests.set(channel, (this.requests.get(channel) ?? 0) + 1);
    const base = this.baseUrl(req);
    const trackerUrls = this.opts.trackerUrls ?? [`${toWs(base)}${TRACKER_PATH}`];
    const { subRoom, trackerUrl, created } = this.assign(channel, hints.data, trackerUrls);
    if (created) this.log.info({ channel, subRoom, trackerUrl }, 'sub-room opened');

    const info: Omit<ComChannelInfo, 'manifest'> = {
      channel,
      live: ch.live,
      publicKey: this.opts.origin.publicKey,
      originBaseUrl: base,
      iceServers: this.iceServers(base),
      logServers: this.opts.logServers ? [...this.opts.logServers] : this.opts.ownLogServer ? [base] : [],
      seeds: [...(this.opts.occupancy?.(channel).get(subRoom)?.seeds ?? [])].slice(0, MAX_SEEDS),
      tracker: { url: trackerUrl, subRoom },
      peer: this.peer(channel, subRoom, role),
      serverTime: Date.now(),
    };
    // The signed manifest is spliced in as the origin serialised it (it is cached per segment).
    const rest = JSON.stringify(info);
    const body = `{"manifest":${this.opts.origin.signedManifestBody(ch)},${rest.slice(1)}`;
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      'Access-Control-Allow-Origin': '*',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** A fresh peer id and its ticket: clients do not choose their ids. */
  private peer(channel: string, subRoom: string, role: PeerRole): ComChannelInfo['peer'] {
    const id = randomBytes(10).toString('hex');
    const ticket = mintTicket(this.opts.signer, {
      c: channel,
      s: subRoom,
      p: id,
      r: role,
      e: Date.now() + TICKET_TTL_MS,
    });
    return { id, role, ticket };
  }

  private isSeed(req: IncomingMessage): boolean {
    const secret = this.opts.seedSecret;
    if (secret === undefined) return /^(127\.|::1$|::ffff:127\.)/.test(req.socket.remoteAddress ?? '');
    const auth = req.headers.authorization ?? '';
    const given = Buffer.from(auth.startsWith('Bearer ') ? auth.slice(7) : '');
    const want = Buffer.from(secret);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  /** The base URL the viewer reached us at: the public URL, else http://<Host header>. */
  private baseUrl(req: IncomingMessage): string {
    if (this.publicUrl) return this.publicUrl;
    const host = req.headers.host;
    if (host && HOST_PATTERN.test(host)) return `http://${host}`;
    const addr = req.socket.localAddress ?? '127.0.0.1';
    const local = addr.includes(':') ? `[${addr.replace(/^::ffff:/, '')}]` : addr;
    return `http://${local.replace(/^\[(\d+\.\d+\.\d+\.\d+)\]$/, '$1')}:${req.socket.localPort}`;
  }

  private iceServers(base: string): IceServer[] {
    const out: IceServer[] = [];
    if (this.opts.iceServers) {
      out.push(...this.opts.iceServers.map((s) => ({ ...s, urls: [...s.urls] })));
    } else if (typeof this.opts.stunPort === 'number') {
      out.push({ urls: [`stun:${hostnameOf(new URL(base).host)}:${this.opts.stunPort}`] });
    }
    const turn = this.opts.turn;
    if (turn && 'secret' in turn) {
      const { username, credential } = turnRestCredentials({
        secret: turn.secret,
        ttlSeconds: turn.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS,
        now: this.now(),
      });
      out.push({ urls: [...turn.urls], username, credential });
    } else if (turn) {
      out.push({ urls: [...turn.urls], username: turn.username, credential: turn.credential });
    }
    return out;
  }

  private assign(
    channel: string,
    hints: SubRoomHints,
    trackerUrls: readonly string[],
  ): { subRoom: string; trackerUrl: string; created: boolean } {
    let book = this.rooms.get(channel);
    if (!book) {
      book = { state: EMPTY_ROOM, pending: [], lastLive: new Map() };
      this.rooms.set(channel, book);
    }
    const now = this.now();
    const live = this.opts.occupancy?.(channel);
    // Viewers that joined since the last refresh are counted by the tracker now: retire as many
    // pending entries (oldest first) so nobody is counted twice. Unclaimed entries expire.
    const retire = new Map<string, number>();
    for (const s of book.state.subRooms) {
      const n = live?.get(s.id)?.viewers ?? 0;
      const grew = n - (book.lastLive.get(s.id) ?? 0);
      if (grew > 0) retire.set(s.id, grew);
      book.lastLive.set(s.id, n);
    }
    book.pending = book.pending.filter((p) => {
      const r = retire.get(p.subRoom) ?? 0;
      if (r > 0) {
        retire.set(p.subRoom, r - 1);
        return false;
      }
      return now - p.at < this.pendingMs;
    });
    const subRooms = book.state.subRooms.map((s) => {
      const isps: Record<string, number> = {};
      const regions: Record<string, number> = {};
      const occ = live?.get(s.id);
      addCounts(isps, occ?.isps);
      addCounts(regions, occ?.regions);
      let viewers = occ?.viewers ?? 0;
      for (const p of book.pending) {
        if (p.subRoom !== s.id) continue;
        viewers++;
        if (p.isp !== undefined) addCounts(isps, new Map([[p.isp, 1]]));
        if (p.region !== undefined) addCounts(regions, new Map([[p.region, 1]]));
      }
      return { ...s, viewers, isps, regions };
    });
    const policy: SubRoomPolicy = { splitThreshold: this.splitThreshold, trackerUrls };
    const result = assignSubRoom({ subRooms, nextTracker: book.state.nextTracker }, hints, policy);
    book.state = result.state;
    book.pending.push({ subRoom: result.subRoom, at: now, isp: hints.isp, region: hints.region });
    return result;
  }
}
