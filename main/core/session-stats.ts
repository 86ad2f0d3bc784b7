/** The stats event of one player session: state, bitrate, bytes by source, upload, peers. */
import type { EventPayload, Settings } from '../../common/ipc-contract';
import type { ChannelSession } from './channel-session';

export function sessionStats(
  p: { id: string; channel: string; session: ChannelSession } | null,
  settings: Settings,
): EventPayload<'stats'> {
  if (!p) {
    return {
      sessionId: null,
      channel: null,
      state: 'closed',
      bitrateKbps: 0,
      bytesCdn: 0,
      bytesP2p: 0,
      bytesSeed: 0,
      bytesUp: 0,
      uploadKbps: 0,
      uploadCapKbps: settings.uploadCapKbps,
      peers: 0,
      latestSeq: null,
      hashFailures: 0,
      peersBanned: 0,
    };
  }
  const s = p.session;
  const upload = s.uploadRate();
  let bytes = 0;
  let ms = 0;
  const latest = s.latestSeq;
  for (let seq = latest ?? -1; latest !== null && seq > latest - 10; seq--) {
    const e = s.entry(seq);
    if (!e) break;
    bytes += e.size;
    ms += e.durationMs;
  }
  return {
    sessionId: p.id,
    channel: p.channel,
    state: s.snapshot().state,
    bitrateKbps: ms > 0 ? Math.round((bytes * 8) / ms) : 0,
    bytesCdn: s.bytesCdn,
    bytesP2p: s.bytesP2p,
    bytesSeed: s.bytesSeed,
    bytesUp: s.bytesUp,
    uploadKbps: upload.kbps,
    uploadCapKbps: s.hasSwarm ? upload.capKbps : settings.uploadCapKbps,
    peers: s.peerCount,
    latestSeq: latest,
    hashFailures: s.hashFailures,
    peersBanned: s.peersBanned,
  };
}
