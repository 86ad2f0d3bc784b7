/** A tracker client for what the COM answered (its tracker, sub-room, peer id, role and ticket). */
import type { ComChannelInfo } from '../../common/com';
import { TrackerClient, type TrackerClientOptions } from '../../main/p2p/tracker-client';
import { memoryLog } from './memory-log';

export function trackerClientFor(
  info: ComChannelInfo,
  extra: Partial<TrackerClientOptions> = {},
): TrackerClient {
  return new TrackerClient({
    url: info.tracker.url,
    channel: info.channel,
    subRoom: info.tracker.subRoom,
    peerId: info.peer.id,
    role: info.peer.role,
    ticket: info.peer.ticket,
    log: memoryLog(),
    ...extra,
  });
}
