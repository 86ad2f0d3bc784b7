/**
 * A player session in the core: the channel a page's player plays now, the gateway responses
 * that carry it, and its timeline (stream timestamps of the player's media time zero and of the
 * start-up burst's end, and the newest anchor already sent). Functions here feed an output from
 * a channel, find where a switch can splice the next channel in, and build the session's
 * timeline event; the core (viewer-core.ts) owns the sessions.
 */
import type { ServerResponse } from 'node:http';
import type { EventPayload, LiveSync, PlayerReport } from '../../../common/ipc-contract';
import type { CoreLog } from '../../../common/logger';
import type { JoinedChannel } from '../channel-registry';
import { GatewayStream, type StreamSink, sameCodecs } from '../gateway/gateway-stream';

/** One gateway response of a player session and the channel stream feeding it now. */
export interface PlayerOutput {
  sink: StreamSink;
  readerId: string;
  stream: GatewayStream;
  /** Stream timestamp at the player's media time zero (it carries over a channel switch). */
  zeroTs: number | null;
}

export interface PlayerSession {
  id: string;
  channel: string;
  joined: JoinedChannel;
  /** Gateway responses playing this session; each is fed by one channel's stream at a time. */
  outputs: Set<PlayerOutput>;
  firstTs: number | null;
  burstEndTs: number | null;
  lastAnchorTs: number | null;
  /** Timestamps of the newest keyframes written to the player, oldest first (MAX_KEYFRAMES). */
  keyframes: number[];
  report: PlayerReport | null;
  /** Started ahead of the click (player.open warm): the channel stays as pre-joined until committed. */
  warm: boolean;
  unsubscribe: () => void;
}

/** Keyframes a timeline carries (a few GOPs). */
const MAX_KEYFRAMES = 8;

/** Media time between the old channel's last frame and the new one's first, after a switch. */
export const SPLICE_FRAME_MS = 40;

export function newPlayerSession(
  id: string,
  channel: string,
  joined: JoinedChannel,
  warm = false,
): PlayerSession {
  return {
    warm,
    id,
    channel,
    joined,
    outputs: new Set(),
    firstTs: null,
    burstEndTs: null,
    lastAnchorTs: null,
    keyframes: [],
    report: null,
    unsubscribe: () => undefined,
  };
}

/** The session now plays `joined` (a channel switch): its timeline starts over. */
export function retarget(p: PlayerSession, channel: string, joined: JoinedChannel): void {
  p.channel = channel;
  p.joined = joined;
  p.firstTs = null;
  p.burstEndTs = null;
  p.lastAnchorTs = null;
  p.keyframes = [];
  p.report = null;
}

/** The session's timeline event, or null before its first tag or when no anchor is new. */
export function nextTimeline(p: PlayerSession, liveSync: LiveSync): EventPayload<'session.timeline'> | null {
  if (p.firstTs === null) return null;
  const anchors = p.joined.session.anchors();
  const newest = anchors[anchors.length - 1]?.ts ?? null;
  if (newest === p.lastAnchorTs) return null;
  p.lastAnchorTs = newest;
  return {
    sessionId: p.id,
    firstTs: p.firstTs,
    burstEndTs: p.burstEndTs,
    anchors: anchors.slice(),
    keyframes: p.keyframes.slice(),
    clockOffsetMs: p.joined.session.clockOffsetMs,
    liveSync,
  };
}

/** An HTTP response as the sink a gateway stream writes into. */
export function responseSink(res: ServerResponse): StreamSink {
  return { write: (bytes) => res.write(bytes), backlog: () => res.writableLength, end: () => res.end() };
}

/**
 * A gateway stream of the player's channel into the output. After a switch it continues the
 * output's timeline from `continueAfterTs`, and the new channel's time zero sits that much
 * media time before its first tag. `timelineChanged` is told when the session's timeline moved.
 */
export function feedOutput(
  p: PlayerSession,
  out: PlayerOutput,
  continueAfterTs: number | null,
  deps: { log: CoreLog; startBufferMs: () => number; timelineChanged: () => void },
): GatewayStream {
  return new GatewayStream(p.joined.session, p.joined.cache, out.sink, deps.log, {
    readerId: out.readerId,
    continueAfterTs: continueAfterTs ?? undefined,
    minStartBufferMs: deps.startBufferMs,
    onStart: (firstTs, burstEndTs) => {
      out.zeroTs ??= firstTs;
      const mediaMs = continueAfterTs === null ? 0 : continueAfterTs - out.zeroTs;
      p.firstTs = firstTs - mediaMs;
      p.burstEndTs = continueAfterTs === null ? burstEndTs : null;
      p.lastAnchorTs = null;
      deps.timelineChanged();
    },
    onSkip: (ms) => {
      // The player closes the gap: its time zero moves on in both timelines.
      if (out.zeroTs !== null) out.zeroTs += ms;
      if (p.firstTs === null) return;
      p.firstTs += ms;
      p.lastAnchorTs = null;
      deps.timelineChanged();
    },
    onKeyframe: (ts) => {
      p.keyframes.push(ts);
      if (p.keyframes.length > MAX_KEYFRAMES) p.keyframes.shift();
    },
  });
}

/**
 * Where the session's one output can go on with `next` (a channel switch on the same player):
 * only when `next`'s codec configuration is the one the output wrote. Then the old channel's
 * stream is detached, and the answer is the timestamp the new channel's first tag follows (one
 * frame on from the old one's last) and the player's media time (ms) at which it shows. Null:
 * no splice, nothing touched.
 */
export function splicePoint(
  p: PlayerSession,
  out: PlayerOutput,
  next: JoinedChannel,
): { continueAfterTs: number; switchAtMs: number } | null {
  const oldVersion = out.stream.writtenInitVersion;
  const oldInit = oldVersion === null ? undefined : p.joined.session.init(oldVersion);
  const newVersion = next.session.latestInitVersion;
  const newInit = newVersion === null ? undefined : next.session.init(newVersion);
  if (!oldInit || !newInit || !sameCodecs(oldInit, newInit) || out.zeroTs === null) return null;
  const lastTs = out.stream.detach();
  if (lastTs === null) return null;
  const continueAfterTs = lastTs + SPLICE_FRAME_MS;
  return { continueAfterTs, switchAtMs: continueAfterTs - out.zeroTs };
}
