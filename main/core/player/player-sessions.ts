/**
 * The core's player sessions: opening one on a channel (warm, ahead of a click, or for real),
 * committing a warm one, switching a session to the next channel on the same player, closing,
 * the gateway responses that play them, and the status/timeline events they send. What a
 * session is and how its output is fed live in player-session.ts; the viewer core
 * (viewer-core.ts) owns this table and answers the IPC calls with it.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  EventName,
  EventPayload,
  LatencyMode,
  LiveSync,
  PlayerReport,
} from '../../../common/ipc-contract';
import type { CoreLog } from '../../../common/logger';
import type { ChannelRegistry, JoinedChannel } from '../channel-registry';
import type { ChannelSession } from '../channel-session';
import type { GatewayStream } from '../gateway/gateway-stream';
import {
  feedOutput,
  newPlayerSession,
  nextTimeline,
  type PlayerOutput,
  type PlayerSession,
  responseSink,
  retarget,
  splicePoint,
} from './player-session';

export interface PlayerSessionsDeps {
  channels: ChannelRegistry;
  log: CoreLog;
  emit<E extends EventName>(event: E, payload: EventPayload<E>): void;
  /** The gateway's base URL (with its token), where a session's stream is served. */
  gatewayUrl(): string;
  /** The live-sync thresholds in force for a player (a warm one's are those it will have once opened). */
  liveSync(p: PlayerSession): LiveSync;
  /** Files the quality report of a channel a player is leaving. */
  fileLastReport(j: JoinedChannel, leaving: PlayerSession): void;
}

export class PlayerSessions {
  private readonly byId = new Map<string, PlayerSession>();
  /** The session the user watches now (the newest one opened for real). */
  current: PlayerSession | null = null;
  /** Channels played in a latency mode other than the setting's (a streamer's own preview). */
  private readonly latencyOverride = new Map<string, LatencyMode>();

  constructor(private readonly deps: PlayerSessionsDeps) {}

  get size(): number {
    return this.byId.size;
  }

  values(): IterableIterator<PlayerSession> {
    return this.byId.values();
  }

  get(id: string): PlayerSession | undefined {
    return this.byId.get(id);
  }

  /** The latency mode a player opened this channel with, if it chose one. */
  latencyModeOverride(channel: string): LatencyMode | undefined {
    return this.latencyOverride.get(channel);
  }

  /** The page's latest playback report for a session (filed with the channel's next report). */
  setReport(r: PlayerReport): void {
    const p = this.byId.get(r.sessionId);
    if (p) p.report = r;
  }

  /**
   * A player session on the channel. A warm one (started on hover, ahead of the click) holds
   * the channel as a pre-join does — small cache, no swarm — until commit.
   */
  open(
    channel: string,
    latencyMode?: LatencyMode,
    warm = false,
  ): { sessionId: string; channel: string; streamUrl: string } {
    const id = randomBytes(8).toString('hex');
    const { channels } = this.deps;
    if (!warm) {
      if (latencyMode) this.latencyOverride.set(channel, latencyMode);
      else this.latencyOverride.delete(channel);
    }
    const joined = channels.join(channel);
    if (!warm) channels.attach(joined);
    else if (joined.players === 0) channels.fit(joined);
    const player = newPlayerSession(id, channel, joined, warm);
    this.watch(player);
    this.byId.set(id, player);
    if (!warm) this.current = player;
    this.deps.log.info('player session opened', { sessionId: id, channel, warm });
    return { sessionId: id, channel, streamUrl: `${this.deps.gatewayUrl()}stream/${id}.flv` };
  }

  /** The user opened what a warm player plays: the channel gets its full cache and swarm. */
  commit(id: string): boolean {
    const p = this.byId.get(id);
    if (!p) return false;
    if (!p.warm) return true;
    p.warm = false;
    this.latencyOverride.delete(p.channel);
    this.deps.channels.attach(p.joined);
    this.current = p;
    // The thresholds follow the swarm now (sent once it is up; the target is the same).
    p.lastAnchorTs = null;
    this.emitTimeline(p);
    this.deps.log.info('player session committed', { sessionId: id, channel: p.channel });
    return true;
  }

  /**
   * Next / previous channel on the same player: when the new channel's codec configuration is
   * the old one's, the gateway response goes on with the new channel's data (no new request,
   * no new MediaSource in the page); the answer says from which media time the player shows it.
   */
  switch(id: string, channel: string): { spliced: boolean; switchAtS: number | null } {
    const p = this.byId.get(id);
    const [out] = p ? [...p.outputs] : [];
    if (!p || p.warm || !out || p.outputs.size !== 1 || p.firstTs === null || channel === p.channel) {
      return { spliced: false, switchAtS: null };
    }
    const { channels } = this.deps;
    const target = channels.join(channel);
    const at = splicePoint(p, out, target);
    if (!at) {
      channels.leave(target);
      return { spliced: false, switchAtS: null };
    }
    const { continueAfterTs, switchAtMs } = at;
    this.release(p);
    channels.attach(target);
    retarget(p, channel, target);
    this.watch(p);
    // The answer goes out first: the page reads it before the new channel's start-up burst
    // arrives (demuxing that in the page held the answer back by ~30 ms). A newer switch or a
    // closed response in between wins.
    setImmediate(() => {
      if (this.byId.get(id) === p && p.outputs.has(out) && p.channel === channel)
        out.stream = this.feed(p, out, continueAfterTs);
    });
    this.deps.log.info('player session switched', { sessionId: id, channel, switchAtMs });
    return { spliced: true, switchAtS: switchAtMs / 1000 };
  }

  close(id: string): void {
    const p = this.byId.get(id);
    if (!p) return;
    this.byId.delete(id);
    for (const o of p.outputs) o.stream.close();
    this.release(p);
    if (this.current === p) this.current = [...this.byId.values()].pop() ?? null;
    this.deps.emit('session.status', { sessionId: id, channel: p.channel, state: 'closed', message: null });
    this.deps.log.info('player session closed', { sessionId: id, channel: p.channel });
  }

  closeAll(reason: string): void {
    if (this.byId.size === 0) return;
    this.deps.log.info('closing every player session', { reason, sessions: this.byId.size });
    for (const id of [...this.byId.keys()]) this.close(id);
  }

  /** A fresh timeline for every session (the thresholds changed with the settings). */
  resendTimelines(): void {
    for (const p of this.byId.values()) {
      p.lastAnchorTs = null;
      this.emitTimeline(p);
    }
  }

  /** The gateway's `stream/<id>.flv`: one more output of the session, fed from its channel. */
  openStream(id: string, req: IncomingMessage, res: ServerResponse): void {
    const p = this.byId.get(id);
    if (!p) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return void res.end('no such player session\n');
    }
    res.writeHead(200, { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-store' });
    if (req.method === 'HEAD') return void res.end();
    res.socket?.setNoDelay(true);
    const sink = responseSink(res);
    const readerId = `${id}-${randomBytes(3).toString('hex')}`;
    const out = { sink, readerId, zeroTs: null } as Omit<PlayerOutput, 'stream'> as PlayerOutput;
    out.stream = this.feed(p, out, null);
    p.outputs.add(out);
    res.on('close', () => {
      out.stream.close();
      p.outputs.delete(out);
    });
  }

  /** The player session's timeline and stream position, for the headless player. */
  player(id: string): { session: ChannelSession; firstTs: number | null } | null {
    const p = this.byId.get(id);
    return p ? { session: p.joined.session, firstTs: p.firstTs } : null;
  }

  /** A player lets go of its channel (closed, or switched away), filing its last report. */
  private release(p: PlayerSession): void {
    const { channels } = this.deps;
    p.unsubscribe();
    if (p.warm) {
      channels.leave(p.joined);
      return;
    }
    this.deps.fileLastReport(p.joined, p);
    channels.detach(p.joined);
    if (p.joined.players === 0) this.latencyOverride.delete(p.channel);
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
        this.deps.emit('session.status', {
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

  /** A gateway stream of the player's channel into the output (player-session.ts). */
  private feed(p: PlayerSession, out: PlayerOutput, continueAfterTs: number | null): GatewayStream {
    return feedOutput(p, out, continueAfterTs, {
      log: this.deps.log,
      startBufferMs: () => this.deps.liveSync(p).targetLatencyS * 1000,
      timelineChanged: () => this.emitTimeline(p),
    });
  }

  private emitTimeline(p: PlayerSession): void {
    const timeline = nextTimeline(p, this.deps.liveSync(p));
    if (timeline) this.deps.emit('session.timeline', timeline);
  }
}
