/**
 * One joined channel's quality reporting: a random viewer id for this viewing, the totals at the
 * last report, and whether the start-up time went out already. `sample()` reads the session's
 * and the player's running totals and returns the report for the period since the last call.
 */
import { randomBytes } from 'node:crypto';
import type { PlayerReport } from '../../../common/ipc-contract';
import { type QualityReport, reportPlatform } from '../../../common/quality-report';
import type { ChannelSession } from '../channel-session';
import { makeReport, type QualityTotals } from './quality-sampler';

/** A period shorter than this is not worth a report (a channel opened and closed at once). */
const MIN_PERIOD_MS = 1000;

export class ChannelReporter {
  private readonly viewer = randomBytes(8).toString('hex');
  private readonly app: QualityReport['app'];
  private prev: QualityTotals;
  private startupSent = false;

  constructor(
    private readonly session: ChannelSession,
    app: { version: string; mode: QualityReport['app']['mode'] },
    private readonly now: () => number = Date.now,
  ) {
    this.app = {
      // The schema takes printable ASCII without spaces: a version string is that already.
      version: app.version.replace(/[^\x21-\x7e]/g, '').slice(0, 32) || 'unknown',
      platform: reportPlatform(process.platform),
      mode: app.mode,
    };
    this.prev = this.totals(null);
  }

  private totals(player: PlayerReport | null): QualityTotals {
    const s = this.session;
    return {
      at: this.now(),
      ttffMs: player?.ttffMs ?? null,
      stalls: player?.stalls ?? 0,
      stallSeconds: player?.stallSeconds ?? 0,
      latencyS: player?.latencyS ?? null,
      bytesCdn: s.bytesCdn,
      bytesPeer: s.bytesP2p,
      bytesSeed: s.bytesSeed,
      bytesUp: s.bytesUp,
      peers: s.peerCount,
      connectivity: s.connectivity(),
      errors: { 'hash-mismatch': s.hashFailures, 'peer-banned': s.peersBanned },
    };
  }

  /** The report for the period since the last sample; null when the period is too short. */
  sample(player: PlayerReport | null): QualityReport | null {
    const cur = this.totals(player);
    if (cur.at - this.prev.at < MIN_PERIOD_MS) return null;
    const report = makeReport(this.prev, cur, {
      viewer: this.viewer,
      channel: this.session.channel,
      app: this.app,
      startupSent: this.startupSent,
    });
    if (report.startupMs !== null) this.startupSent = true;
    this.prev = cur;
    return report;
  }
}
