/**
 * The COM service: GET /api/channels/:id[?isp=…&region=…] answers the channel info of
 * common/com.ts. It asks the origin (in-process) for the key, the live flag and the signed
 * manifest, puts the viewer in a sub-room and names that sub-room's tracker, the ICE servers
 * (our STUN server by default, TURN when configured), log servers and the seed servers present
 * in the sub-room. POST /api/channels/:id/rejoin {ticket} answers a viewer whose tracker went
 * away: same peer id, the tracker its sub-room is on now, a fresh ticket.
 *
 * Placement: in this process (local-placement.ts over the in-process tracker), or, with Redis,
 * over the live tracker shards (server/shards/redis-placement.ts), shared with other COMs.
 * The viewer's ISP and region come from its address (server/geo/) when lookup knows it; its
 * own hint is the fallback. Both go into the join ticket, and the tracker ranks neighbours by
 * the ticket's values.
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
  MAX_REJOIN_BODY_BYTES,
  MAX_SEEDS,
  type RejoinAnswer,
  rejoinPath,
  rejoinRequestSchema,
  subRoomHintsSchema,
} from '../../common/com';
import { CHANNEL_ID_PATTERN } from '../../common/manifest';
import type { PeerRole } from '../../common/tracker-protocol';
import { type IspLookup, type Locality, resolveLocality } from '../geo/isp-lookup';
import type { Logger } from '../log';
import { sendError } from '../origin/http-api';
import type { Origin } from '../origin/origin';
import type { ManifestSigner } from '../origin/signing-key';
import type { RedisPlacement } from '../shards/redis-placement';
import { type SubRoomOccupancy, TRACKER_PATH } from '../tracker/tracker';
import { checkTicket, mintTicket, TICKET_TTL_MS, ticketKey } from './join-ticket';
import { LocalPlacement } from './local-placement';
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
  /**
   * Sends the members of a sub-room of the in-process tracker to rejoin through the COM (a merge).
   * Without it, sub-rooms of this process are never merged (their trackers are elsewhere).
   */
  disconnect?: (channel: string, subRoom: string, reason: string) => number;
  /** How often shrunken sub-rooms are looked for and merged (default 5 s; 0: never). */
  mergeCheckMs?: number;
  /** A sub-room younger than this is not merged (default 30 s). */
  mergeGraceMs?: number;
  /** Sub-rooms on tracker shards through Redis; when it has no live shard, the local placement serves. */
  placement?: RedisPlacement;
  /** ISP and region from the viewer's address (null/absent: the viewer's hints only). */
  ispLookup?: IspLookup | null;
  now?: () => number;
}

interface Assigned {
  subRoom: string;
  trackerUrl: string;
  created: boolean;
  seeds: readonly string[];
  /** The sub-room's viewers with this one. */
  viewers: number;
}

const HOST_PATTERN =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
const DEFAULT_PENDING_MS = 15_000;
const DEFAULT_MERGE_CHECK_MS = 5_000;

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

export class ComService {
  private readonly log: Logger;
  private readonly publicUrl: string | null;
  private readonly splitThreshold: number;
  private readonly now: () => number;
  private readonly local: LocalPlacement;
  private readonly key: ReturnType<typeof ticketKey>;
  private readonly mergeTimer: NodeJS.Timeout | null;
  private merging = false;
  /** Sub-rooms merged into others by this process (metrics, tests). */
  merges = 0;
  /** Channel-info answers per channel since start (only channels the origin has). */
  readonly requests = new Map<string, number>();

  constructor(private readonly opts: ComOptions) {
    this.log = opts.log;
    this.splitThreshold = opts.subRoomSize ?? Number.POSITIVE_INFINITY;
    if (!(this.splitThreshold >= 1)) throw new Error('subRoomSize must be at least 1');
    this.now = opts.now ?? Date.now;
    this.local = new LocalPlacement({
      splitThreshold: this.splitThreshold,
      occupancy: opts.occupancy,
      pendingMs: opts.pendingMs ?? DEFAULT_PENDING_MS,
      disconnect: opts.disconnect,
      mergeGraceMs: opts.mergeGraceMs,
      now: this.now,
    });
    const every = opts.mergeCheckMs ?? DEFAULT_MERGE_CHECK_MS;
    this.mergeTimer = every > 0 ? setInterval(() => void this.mergeTick(), every) : null;
    this.mergeTimer?.unref();
    this.key = ticketKey(opts.signer.publicKey);
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

  close(): void {
    if (this.mergeTimer) clearInterval(this.mergeTimer);
  }

  /**
   * Merges shrunken sub-rooms, of this process's tracker and (through Redis) of the shards; their
   * members rejoin through the COM and land in the merged-into sub-room. Returns how many merged.
   */
  async mergeTick(): Promise<number> {
    // One check at a time (a slow Redis must not pile them up).
    if (this.merging) return 0;
    this.merging = true;
    let n = 0;
    try {
      const merges = [...this.local.mergeTick(), ...((await this.opts.placement?.mergeTick()) ?? [])];
      for (const m of merges) {
        this.log.info(m, 'sub-room merged: its members rejoin through the COM');
      }
      n = merges.length;
    } catch (err) {
      this.log.warn({ err: String(err) }, 'sub-room merge check failed');
    } finally {
      this.merging = false;
    }
    this.merges += n;
    return n;
  }

  /** Answers GET/HEAD /api/channels/:id and POST /api/channels/:id/rejoin; returns false for anything else. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://com.invalid');
    } catch {
      return false;
    }
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] !== 'api' || parts[1] !== 'channels') return false;
    const rejoin = parts.length === 4 && parts[3] === 'rejoin';
    if (!rejoin && parts.length !== 3) return false;
    if (rejoin ? method !== 'POST' : method !== 'GET' && method !== 'HEAD') return false;
    const work = rejoin ? this.rejoin(req, res, parts[2]!) : this.answer(req, res, parts[2]!, url);
    work.catch((err: unknown) => {
      this.log.error({ err: String(err), url: req.url }, 'COM request failed');
      if (!res.headersSent) sendError(res, 500, 'internal error');
      else res.destroy();
    });
    return true;
  }

  /** The channel the path names, when the origin has it; otherwise answers 404 and returns null. */
  private channelOf(res: ServerResponse, channelPart: string) {
    let channel: string;
    try {
      channel = decodeURIComponent(channelPart);
    } catch {
      channel = '';
    }
    if (!CHANNEL_ID_PATTERN.test(channel)) {
      sendError(res, 404, 'no such channel (bad channel id)');
      return null;
    }
    const ch = this.opts.origin.channels.get(channel);
    if (!ch) {
      sendError(res, 404, `no channel "${channel}"`);
      return null;
    }
    return { channel, ch };
  }

  /** The looked-up ISP and region of the request's address; the viewer's hints fill the gaps. */
  private locality(req: IncomingMessage, hints: Locality): Locality {
    return resolveLocality(this.opts.ispLookup?.lookup(req.socket.remoteAddress) ?? null, hints);
  }

  private async answer(
    req: IncomingMessage,
    res: ServerResponse,
    channelPart: string,
    url: URL,
  ): Promise<void> {
    const found = this.channelOf(res, channelPart);
    if (!found) return;
    const { channel, ch } = found;
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
    const locality = this.locality(req, hints.data);
    const peerId = randomBytes(10).toString('hex');
    const { subRoom, trackerUrl, seeds, viewers } = await this.assign(channel, peerId, locality, base);
    if (res.destroyed) return;

    const info: Omit<ComChannelInfo, 'manifest'> = {
      channel,
      live: ch.live,
      publicKey: this.opts.origin.publicKey,
      originBaseUrl: base,
      iceServers: this.iceServers(base),
      logServers: this.opts.logServers ? [...this.opts.logServers] : this.opts.ownLogServer ? [base] : [],
      seeds: seeds.slice(0, MAX_SEEDS),
      tracker: { url: trackerUrl, subRoom, viewers },
      peer: this.peer(channel, subRoom, role, peerId, locality),
      serverTime: Date.now(),
      rejoinUrl: `${base}${rejoinPath(channel)}`,
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

  /**
   * A viewer whose tracker went away shows the ticket it holds (genuine, in date, for this
   * channel) and keeps its peer id and role; it goes back to its sub-room, wherever that is now.
   */
  private async rejoin(req: IncomingMessage, res: ServerResponse, channelPart: string): Promise<void> {
    const found = this.channelOf(res, channelPart);
    if (!found) {
      req.resume();
      return;
    }
    const body = await readSmallBody(req, MAX_REJOIN_BODY_BYTES);
    if (body === null) return sendError(res, 413, 'rejoin request too large');
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = null;
    }
    const parsed = rejoinRequestSchema.safeParse(json);
    if (!parsed.success) return sendError(res, 400, 'rejoin wants {"ticket": "…"}');
    const t = checkTicket(this.key, parsed.data.ticket, Date.now());
    if (!t.ok) return sendError(res, 403, t.why);
    if (t.payload.c !== found.channel) return sendError(res, 403, 'the ticket is for another channel');
    const p = t.payload;
    const locality = this.locality(req, { isp: p.i, region: p.g });
    const { subRoom, trackerUrl } = await this.assign(found.channel, p.p, locality, this.baseUrl(req), p.s);
    const answer: RejoinAnswer = {
      tracker: { url: trackerUrl, subRoom },
      peer: this.peer(found.channel, subRoom, p.r, p.p, locality),
    };
    const text = JSON.stringify(answer);
    this.log.info(
      { channel: found.channel, peer: p.p, from: p.s, to: subRoom, trackerUrl },
      'viewer rejoined',
    );
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
      'Access-Control-Allow-Origin': '*',
    });
    res.end(text);
  }

  /** The peer's ticket: clients do not choose their ids, nor their ISP where lookup knows it. */
  private peer(
    channel: string,
    subRoom: string,
    role: PeerRole,
    id: string,
    locality: Locality,
  ): ComChannelInfo['peer'] {
    const ticket = mintTicket(this.opts.signer, {
      c: channel,
      s: subRoom,
      p: id,
      r: role,
      e: Date.now() + TICKET_TTL_MS,
      ...(locality.isp === undefined ? {} : { i: locality.isp }),
      ...(locality.region === undefined ? {} : { g: locality.region }),
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

  /** Shards through Redis when configured and alive; otherwise this process's own trackers. */
  private async assign(
    channel: string,
    peerId: string,
    locality: Locality,
    base: string,
    prefer?: string,
  ): Promise<Assigned> {
    const placed = await this.opts.placement?.assign({ channel, peerId, ...locality, prefer });
    if (placed) {
      if (placed.created)
        this.log.info({ channel, subRoom: placed.subRoom, tracker: placed.trackerUrl }, 'sub-room opened');
      // The shard's last report does not count this viewer yet.
      return { ...placed, seeds: placed.occupancy?.s ?? [], viewers: (placed.occupancy?.v ?? 0) + 1 };
    }
    if (this.opts.placement) this.log.warn({ channel }, 'no live tracker shard: using this server’s tracker');
    const trackerUrls = this.opts.trackerUrls ?? [`${toWs(base)}${TRACKER_PATH}`];
    const r = this.local.assign(channel, locality, trackerUrls, prefer);
    if (r.created)
      this.log.info({ channel, subRoom: r.subRoom, trackerUrl: r.trackerUrl }, 'sub-room opened');
    const seeds = [...(this.opts.occupancy?.(channel).get(r.subRoom)?.seeds ?? [])];
    return { ...r, seeds };
  }
}

/** The request body as text, or null when it is larger than `max` bytes. */
function readSmallBody(req: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        resolve(null);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(size > max ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
