/**
 * Starts a channel session's swarm: the tracker client of the sub-room the COM put us in,
 * and the peer node on top of it.
 */
import { randomBytes } from 'node:crypto';
import type { ComChannelInfo } from '../../common/com';
import type { PeerExchange, Swarm } from '../core/peer-exchange';
import type { CoreLog } from '../core/viewer-core-api';
import { PeerNode } from './peer-node';
import { TrackerClient } from './tracker-client';

export interface SwarmOptions {
  role: 'viewer' | 'seed';
  log: CoreLog;
  isp?: string;
  region?: string;
  seedCopiesPerSegment?: number;
  maxNeighbours?: number;
  uploadCapKbps?: number | null;
  /** Delay-based rate control (off only for comparison benchmarks). */
  rateControl?: boolean;
}

export function newPeerId(): string {
  return randomBytes(10).toString('hex');
}

export function startSwarm(info: ComChannelInfo, session: PeerExchange, opts: SwarmOptions): Swarm {
  const peerId = newPeerId();
  const log = opts.log;
  const tracker = new TrackerClient({
    url: info.tracker.url,
    channel: info.channel,
    subRoom: info.tracker.subRoom,
    peerId,
    role: opts.role,
    isp: opts.isp,
    region: opts.region,
    log,
    stats: () => ({ latestSeq: session.latestSeq }),
  });
  tracker
    .connect()
    .catch((err: unknown) => log.warn('tracker not reachable yet; retrying', { error: String(err) }));
  const node = new PeerNode(session, tracker, {
    peerId,
    role: opts.role,
    iceServers: info.iceServers,
    maxNeighbours: opts.maxNeighbours,
    seedCopiesPerSegment: opts.seedCopiesPerSegment,
    uploadCapKbps: opts.uploadCapKbps,
    rateControl: opts.rateControl,
    wake: () => session.wake(),
    log,
  });
  log.info('swarm joined', { peer: peerId, subRoom: info.tracker.subRoom, role: opts.role });
  return swarmOf(node, tracker);
}

/** The peer node and its tracker client as the session's Swarm (closing one closes both). */
export function swarmOf(node: PeerNode, tracker: TrackerClient): Swarm {
  return {
    holders: (seq) => node.holders(seq),
    progress: (seq) => node.progress(seq),
    fetch: (seq, deadline, done) => node.fetch(seq, deadline, done),
    cancel: (seq) => node.cancel(seq),
    announce: (seq) => node.announce(seq),
    banPeer: (peer, why) => node.banPeer(peer, why),
    get peerCount() {
      return node.peerCount;
    },
    get bytesUp() {
      return node.bytesUp;
    },
    get peersBanned() {
      return node.badPeers;
    },
    uploadRate: () => node.uploadRate(),
    setUploadCap: (kbps) => node.setUploadCap(kbps),
    close() {
      node.close();
      tracker.close();
    },
  };
}
