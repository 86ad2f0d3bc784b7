/**
 * Quality reports from viewer to log server: the schema and its limits, the sampler's deltas,
 * the log server's answers to bad, big and too frequent batches, and the viewer's outbox
 * keeping reports while the log server is down and delivering them once it is back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_REPORT_BATCH_BYTES,
  MAX_REPORTS_PER_BATCH,
  type QualityReport,
  qualityReportSchema,
  REPORTS_PATH,
  reportBatchSchema,
} from '../common/quality-report';
import { makeReport, type QualityTotals } from '../main/core/report/quality-sampler';
import { ReportQueue } from '../main/core/report/report-queue';
import { silentLogger } from '../server/log';
import { type RunningLogService, startLogService } from '../server/logs/run-logs';
import { waitFor } from './support/helpers';
import { memoryLog } from './support/memory-log';

function report(over: Partial<QualityReport> = {}): QualityReport {
  return {
    v: 1,
    viewer: '0123456789abcdef',
    channel: 'demo',
    at: 1_700_000_000_000,
    periodS: 10,
    watchS: 9.5,
    startupMs: 420,
    stalls: 1,
    stallS: 0.5,
    latencyS: 2.1,
    bytes: { cdn: 100_000, peer: 400_000, seed: 0 },
    uploadBytes: 350_000,
    peers: 3,
    connectivity: { host: 3, srflx: 0, relay: 0 },
    errors: {},
    app: { version: '0.1.0', platform: 'linux', mode: 'headless' },
    ...over,
  };
}

const totals = (over: Partial<QualityTotals> = {}): QualityTotals => ({
  at: 0,
  ttffMs: null,
  stalls: 0,
  stallSeconds: 0,
  latencyS: null,
  bytesCdn: 0,
  bytesPeer: 0,
  bytesSeed: 0,
  bytesUp: 0,
  peers: 0,
  connectivity: { host: 0, srflx: 0, relay: 0 },
  errors: {},
  ...over,
});

const meta = {
  viewer: 'fedcba9876543210',
  channel: 'demo',
  app: { version: 't', platform: 'linux', mode: 'headless' } as const,
  startupSent: false,
};

describe('report schema', () => {
  it.each<[string, Partial<QualityReport> | ((r: QualityReport) => unknown), boolean]>([
    ['a whole report', {}, true],
    ['a period longer than 120 s', { periodS: 121 }, false],
    ['watching and stalling longer than the period', { watchS: 10, stallS: 5 }, false],
    ['a channel id that is not one', { channel: '../etc' }, false],
    ['a viewer id that is not 16 hex digits', { viewer: 'me' }, false],
    ['nine error kinds', { errors: Object.fromEntries([...Array(9)].map((_, i) => [`e${i}`, 1])) }, false],
    ['an error kind with spaces', { errors: { 'bad thing': 1 } }, false],
    ['a byte count past 10 GB', { bytes: { cdn: 1e11, peer: 0, seed: 0 } }, false],
    ['an unknown field', (r) => ({ ...r, extra: 1 }), false],
    ['an unknown platform', (r) => ({ ...r, app: { ...r.app, platform: 'beos' } }), false],
  ])('%s → valid: %s', (_name, change, valid) => {
    const base = report();
    const value = typeof change === 'function' ? change(base) : { ...base, ...change };
    expect(qualityReportSchema.safeParse(value).success).toBe(valid);
  });

  it('caps a batch in count', () => {
    const many = Array.from({ length: MAX_REPORTS_PER_BATCH + 1 }, () => report());
    expect(reportBatchSchema.safeParse({ reports: many }).success).toBe(false);
    expect(reportBatchSchema.safeParse({ reports: many.slice(1) }).success).toBe(true);
    expect(reportBatchSchema.safeParse({ reports: [] }).success).toBe(false);
  });
});

describe('report sampler', () => {
  it('reports deltas over the period, the start-up time once, and what it must clamp', () => {
    const a = totals({ at: 1000, bytesCdn: 1000, bytesPeer: 0, stalls: 2, stallSeconds: 1 });
    const b = totals({
      at: 11_000,
      ttffMs: 480,
      bytesCdn: 3000,
      bytesPeer: 5000,
      stalls: 3,
      stallSeconds: 1.5,
      latencyS: 2.4,
      errors: { 'hash-mismatch': 1 },
    });
    const r = makeReport(a, b, meta);
    expect(qualityReportSchema.safeParse(r).success).toBe(true);
    expect(r).toMatchObject({
      periodS: 10,
      watchS: 9.5,
      stallS: 0.5,
      stalls: 1,
      startupMs: 480,
      latencyS: 2.4,
      bytes: { cdn: 2000, peer: 5000, seed: 0 },
      errors: { 'hash-mismatch': 1 },
    });
    expect(makeReport(a, b, { ...meta, startupSent: true }).startupMs).toBeNull();
    // A laptop that slept for an hour: the period is clamped, the report still valid.
    const late = makeReport(a, { ...b, at: 3_600_000 }, meta);
    expect(late.periodS).toBe(120);
    expect(qualityReportSchema.safeParse(late).success).toBe(true);
    // Totals that went down were reset (a new player): counted from zero, never negative.
    const reset = makeReport(b, { ...b, at: 21_000, stalls: 1, stallSeconds: 0.2, bytesPeer: 100 }, meta);
    expect(reset).toMatchObject({ stalls: 1, stallS: 0.2, bytes: { peer: 100 } });
  });
});

describe('log server', () => {
  let service: RunningLogService | null = null;
  afterEach(async () => {
    await service?.close();
    service = null;
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${service!.url}${REPORTS_PATH}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body,
    });

  it('takes valid batches and refuses malformed, oversized and too frequent ones with clear answers', async () => {
    service = await startLogService({ port: 0, log: silentLogger(), drainMs: 500 });
    const ok = await post(JSON.stringify({ reports: [report()] }));
    expect(ok.status).toBe(204);
    expect(service.logs.book.activeViewers().get('demo')).toBe(1);

    const notJson = await post('{"reports": [');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/not JSON/);
    const invalid = await post(JSON.stringify({ reports: [report({ periodS: 999 })] }));
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: string }).error).toMatch(/reports\.0\.periodS/);
    const big = await post(JSON.stringify({ reports: [report()], pad: 'x'.repeat(MAX_REPORT_BATCH_BYTES) }));
    expect(big.status).toBe(413);
    expect((await fetch(`${service.url}${REPORTS_PATH}`)).status).toBe(405);

    // The burst is 20 batches an address; the rest are told to come back later.
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await post(JSON.stringify({ reports: [report()] }))).status);
    expect(statuses).toContain(429);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/swarmcast_reports_total\{result="rejected"\} [1-9]/);
  });

  it('keeps at most maxChannels channel labels', async () => {
    service = await startLogService({ port: 0, log: silentLogger(), maxChannels: 2, drainMs: 500 });
    const batch = ['a', 'b', 'c'].map((channel, i) => report({ channel, viewer: `${i}`.repeat(16) }));
    expect((await post(JSON.stringify({ reports: batch }))).status).toBe(204);
    expect([...service.logs.book.activeViewers().keys()].sort()).toEqual(['a', 'b']);
  });
});

describe('viewer outbox', () => {
  it('keeps reports while the log server is down, within its bound, and delivers them once it is back', async () => {
    // Reserve a port, then stop the log server: the outbox meets a closed port.
    let service = await startLogService({ port: 0, log: silentLogger(), drainMs: 200 });
    const port = service.port;
    await service.close();
    const log = memoryLog();
    const queue = new ReportQueue({ log, intervalMs: 50, maxBackoffMs: 200, maxQueued: 40, timeoutMs: 1000 });
    const servers = [`http://127.0.0.1:${port}`];
    for (let i = 0; i < 45; i++) {
      queue.add(servers, report({ viewer: `${'0'.repeat(14)}${i.toString(16).padStart(2, '0')}` }));
    }
    await queue.flush();
    expect(queue.size).toBe(40);
    expect(queue.dropped).toBe(5);
    expect(queue.delivered).toBe(0);

    service = await startLogService({ port, log: silentLogger(), drainMs: 200 });
    try {
      await waitFor(() => queue.size === 0, 'the queued reports delivered', 10_000);
      expect(queue.delivered).toBe(40);
      // 40 reports over the 30-a-batch cap went as two batches; every viewer is counted.
      expect(service.logs.book.activeViewers().get('demo')).toBe(40);
    } finally {
      await queue.close();
      await service.close();
    }
  });

  it('drops a batch the log server refuses as invalid instead of retrying it for ever', async () => {
    const seen: string[] = [];
    const queue = new ReportQueue({
      log: memoryLog(),
      intervalMs: 20,
      post: async (url) => {
        seen.push(url);
        return 400;
      },
    });
    queue.add(['http://logs.example/'], report());
    await queue.flush();
    expect(seen).toEqual([`http://logs.example${REPORTS_PATH}`]);
    expect(queue.size).toBe(0);
    expect(queue.dropped).toBe(1);
    await queue.close();
  });

  it('rotates to the next log server when one is down', async () => {
    const seen: string[] = [];
    const queue = new ReportQueue({
      log: memoryLog(),
      intervalMs: 20,
      maxBackoffMs: 20,
      post: async (url) => {
        seen.push(url);
        if (url.startsWith('http://a')) throw new Error('ECONNREFUSED');
        return 204;
      },
    });
    queue.add(['http://a', 'http://b'], report());
    await waitFor(() => queue.size === 0, 'delivered through b', 2000);
    expect(seen.map((u) => u.slice(7, 8))).toEqual(['a', 'b']);
    await queue.close();
  });
});
