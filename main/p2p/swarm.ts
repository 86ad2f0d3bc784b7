/**
 * Joins a channel's swarm: the tracker client of the sub-room the COM put us in, and the peer
 * node on top of it. Closing the swarm closes both.
 */
import { randomBytes } from 'node:crypto';
import { type ComChannelInfo, MAX_REJOIN_BODY_BYTES, rejoinAnswerSchema } from '../../common/com';
import type { CoreLog } from '../../common/logger';
import type { PeerRole } from '../../common/tracker-protocol';
import { PeerNode, type PeerNodeEvents, type SegmentStore } from './peer-node';
import { TrackerClient, type TrackerRoute } from './tracker-client';

export interface SwarmOptions {
  role: PeerRole;
  log: CoreLog;
  isp?: string;
  region?: string;
  seedCopiesPerSegment?: number;
  maxNeighbours?: number;
  uploadCapKbps?: number | null;
  /** Delay-based rate control (off only for comparison benchmarks). */
  rateControl?: boolean;
  /** Newest segment we know of, reported to the tracker. */
  latestSeq?: () => number | null;
}

/** A joined swarm: the peer node and the tracker client it signals through. */
export interface Swarm {
  readonly node: PeerNode;
  close(): void;
}

/** Builds a channel's swarm from channel info (tracker, ICE servers); null = CDN only. */
export type SwarmFactory = (
  info: ComChannelInfo,
  store: SegmentStore,
  events: PeerNodeEvents,
) => Swarm | null;

export function newPeerId(): string {
  return randomBytes(10).toString('hex');
}

/** Starts the tracker client and a peer node of `opts.role` on it. */
export function startSwarm(
  info: ComChannelInfo,
  store: SegmentStore,
  events: PeerNodeEvents,
  opts: SwarmOptions,
): Swarm {
  // The COM names us and signs our ticket; a seed that got a viewer's ticket joins as a viewer.
  const peerId = info.peer.id;
  const log = opts.log;
  if (info.peer.role !== opts.role) {
    log.warn('the COM gave another role than asked', { asked: opts.role, given: info.peer.role });
  }
  const tracker = new TrackerClient({
    url: info.tracker.url,
    channel: info.channel,
    subRoom: info.tracker.subRoom,
    peerId,
    role: info.peer.role,
    ticket: info.peer.ticket,
    isp: opts.isp,
    region: opts.region,
    log,
    stats: () => ({ latestSeq: opts.latestSeq?.() ?? null }),
    reroute: info.rejoinUrl ? rejoinThrough(info.rejoinUrl, peerId) : undefined,
  });
  tracker
    .connect()
    .catch((err: unknown) =>
      log.warn('tracker not reachable yet; retrying', { peer: peerId, error: String(err) }),
    );
  const node = new PeerNode(store, tracker, events, {
    peerId,
    role: info.peer.role,
    iceServers: info.iceServers,
    maxNeighbours: opts.maxNeighbours,
    seedCopiesPerSegment: opts.seedCopiesPerSegment,
    uploadCapKbps: opts.uploadCapKbps,
    rateControl: opts.rateControl,
    log,
  });
  log.info('swarm joined', { peer: peerId, subRoom: info.tracker.subRoom, role: opts.role });
  return swarmOf(node, tracker);
}

/** A peer node and its tracker client as one Swarm. */
export function swarmOf(node: PeerNode, tracker: TrackerClient): Swarm {
  return {
    node,
    close() {
      node.close();
      tracker.close();
    },
  };
}

/**
 * Asks the COM where our sub-room is now (POST {ticket} to the rejoin URL of the channel info):
 * the same peer id, the tracker shard the sub-room is on, a fresh ticket.
 */
export function rejoinThrough(
  url: string,
  peerId: string,
  timeoutMs = 5000,
): (ticket: string | undefined) => Promise<TrackerRoute | null> {
  return async (ticket) => {
    if (ticket === undefined) return null;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ticket }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`rejoin: HTTP ${res.status}`);
    if (text.length > MAX_REJOIN_BODY_BYTES) throw new Error('rejoin: answer too large');
    const answer = rejoinAnswerSchema.parse(JSON.parse(text));
    if (answer.peer.id !== peerId) throw new Error('rejoin: answer for another peer id');
    return { url: answer.tracker.url, subRoom: answer.tracker.subRoom, ticket: answer.peer.ticket };
  };
}
