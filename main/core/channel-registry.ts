/**
 * The channels the core has joined and who holds each: player sessions, and the warm hold of a
 * pre-join (hovered in the list, next or previous while one plays). A channel lives while any
 * hold does. Warm channels keep a small cache and no swarm (no peers, no upload); the first
 * player gives a channel its full cache and swarm, and the last one leaving a still-warm channel
 * takes them away again.
 */
import { MAX_PREJOINED } from '../../common/ipc-contract';
import type { CoreLog } from '../../common/logger';
import type { MemorySegmentCache } from './cache/segment-cache';
import type { ChannelSession } from './channel-session';
import type { ChannelReporter } from './report/channel-reporter';

export interface JoinedChannel {
  session: ChannelSession;
  cache: MemorySegmentCache;
  reporter: ChannelReporter;
  /** Holders: each player session, and the warm hold. */
  refs: number;
  /** Player sessions on it; without one it has no swarm. */
  players: number;
  /** Pre-joined: the warm hold expires at this time unless renewed. */
  warmUntil: number | null;
}

/** A pre-joined channel's cache: its newest GOPs, not the full play-and-share budget. */
export const WARM_CACHE_BYTES = 16 * 1024 * 1024;
/** A pre-join not renewed for this long is dropped (bounds what a forgotten hover costs). */
export const WARM_TTL_MS = 60_000;

export interface RegistryOptions {
  /** Builds a channel's session, cache and reporter (the core knows the server and settings). */
  create(channel: string): Pick<JoinedChannel, 'session' | 'cache' | 'reporter'>;
  /** The full cache budget (bytes) and the P2P switch, from the settings. */
  cacheBudget(): number;
  p2pEnabled(): boolean;
  /** Called before a channel's session closes (previews on it). */
  dropping(j: JoinedChannel): void;
  warmTtlMs?: number;
  log: CoreLog;
}

export class ChannelRegistry {
  private readonly channels = new Map<string, JoinedChannel>();

  constructor(private readonly opts: RegistryOptions) {}

  get(channel: string): JoinedChannel | undefined {
    return this.channels.get(channel);
  }

  values(): JoinedChannel[] {
    return [...this.channels.values()];
  }

  get size(): number {
    return this.channels.size;
  }

  /** Whether the channel has a player (a warm one meets no peers). */
  played(channel: string): boolean {
    return (this.channels.get(channel)?.players ?? 0) > 0;
  }

  /** Takes a hold on the channel, joining it when nobody holds it yet. */
  join(channel: string): JoinedChannel {
    let j = this.channels.get(channel);
    if (!j) {
      j = { ...this.opts.create(channel), refs: 0, players: 0, warmUntil: null };
      this.channels.set(channel, j);
    }
    j.refs++;
    return j;
  }

  /** Lets go of a hold; the last one closes the channel's session. */
  leave(j: JoinedChannel): void {
    if (--j.refs > 0) return;
    this.opts.dropping(j);
    j.session.close();
    this.channels.delete(j.session.channel);
  }

  /** A player takes the channel (its hold comes from join): full cache and swarm on the first one. */
  attach(j: JoinedChannel): void {
    j.players++;
    if (j.players === 1) this.fit(j);
  }

  /**
   * Gives a channel what its holders call for: a played one the full cache and the P2P switch
   * as set; a warm one a small cache and no swarm (no peers, no upload).
   */
  fit(j: JoinedChannel): void {
    const played = j.players > 0;
    j.cache.setBudget(played ? this.opts.cacheBudget() : Math.min(WARM_CACHE_BYTES, this.opts.cacheBudget()));
    j.session.setP2pEnabled(played && this.opts.p2pEnabled());
  }

  /** A player lets go of the channel (and of its hold). */
  detach(j: JoinedChannel): void {
    j.players--;
    // Still warm (the next or previous channel now): back to a small cache and no swarm.
    if (j.players === 0 && j.warmUntil !== null) this.fit(j);
    this.leave(j);
  }

  /**
   * The warm set: joins what is new in it, renews what stays, drops what left. A channel that
   * plays now gets the hold too, so the one just switched away from stays warm.
   */
  prejoin(channels: readonly string[]): string[] {
    const want = [...new Set(channels)].slice(0, MAX_PREJOINED);
    const until = Date.now() + (this.opts.warmTtlMs ?? WARM_TTL_MS);
    for (const j of this.values())
      if (j.warmUntil !== null && !want.includes(j.session.channel)) this.cool(j);
    for (const channel of want) {
      const j = this.channels.get(channel);
      if (j && j.warmUntil !== null) {
        j.warmUntil = until;
        continue;
      }
      const warm = this.join(channel);
      warm.warmUntil = until;
      if (warm.players === 0) this.fit(warm);
      this.opts.log.info('channel pre-joined', { channel, playing: warm.players > 0 });
    }
    return want;
  }

  /** Releases a warm hold (the pointer left, the hold expired). */
  cool(j: JoinedChannel): void {
    if (j.warmUntil === null) return;
    j.warmUntil = null;
    this.leave(j);
  }

  coolAll(): void {
    for (const j of this.values()) this.cool(j);
  }

  expireWarm(now = Date.now()): void {
    for (const j of this.values()) if (j.warmUntil !== null && j.warmUntil < now) this.cool(j);
  }

  /** Closes every session (the core is closing). */
  closeAll(): void {
    for (const j of this.values()) j.session.close();
    this.channels.clear();
  }

  /** Joined channels as they stand (diagnostics and tests). */
  describe(): Array<{
    channel: string;
    warm: boolean;
    players: number;
    hasSwarm: boolean;
    cacheBytes: number;
    cacheBudget: number;
  }> {
    return this.values().map((j) => ({
      channel: j.session.channel,
      warm: j.warmUntil !== null,
      players: j.players,
      hasSwarm: j.session.hasSwarm,
      cacheBytes: j.cache.totalBytes,
      cacheBudget: j.cache.budgetBytes,
    }));
  }
}
