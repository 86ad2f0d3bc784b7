/**
 * Operators' view of a running server: /metrics read by the Prometheus project's own
 * exposition-format parser (python3-prometheus-client) with the swarmcast_* metrics present and
 * moving while a small swarm plays (viewers in this process send quality reports to the
 * server's log server), the metrics token, the channel list's viewer counts, /healthz, and the
 * graceful drain on close.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HeadlessSession, startHeadlessSession } from '../main/core/player/headless-session';
import type { Core } from '../main/core/viewer-core';
import { startViewerCore } from '../main/core/viewer-core';
import { silentLogger } from '../server/log';
import { type RunningServer, startServer } from '../server/run-server';
import { until } from './support/media';
import { memoryLog } from './support/memory-log';

type Samples = Record<string, Array<{ labels: Record<string, string>; value: number | null }>>;

// NaN is a valid sample value (prom-client's event-loop lag gauges read "Nan" before their first
// sample) but not valid JSON: it crosses over as null.
const PARSER = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        v = None if math.isnan(s.value) else s.value
        out.setdefault(s.name, []).append({"labels": s.labels, "value": v})
print(json.dumps(out))
`;
const python = '/usr/bin/python3';
const hasParser = spawnSync(python, ['-c', 'import prometheus_client.parser']).status === 0;

/** The exposition text through the official parser; throws on anything it cannot read. */
function parse(text: string): Samples {
  const r = spawnSync(python, ['-c', PARSER], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prometheus parser refused the text: ${r.stderr}`);
  return JSON.parse(r.stdout) as Samples;
}

function value(s: Samples, name: string, labels: Record<string, string> = {}): number {
  const hit = (s[name] ?? []).find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return hit?.value ?? Number.NaN;
}

interface Viewer {
  core: Core;
  session: HeadlessSession;
}

async function viewer(serverUrl: string): Promise<Viewer> {
  const core = await startViewerCore({
    dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-metrics-')),
    mode: 'headless',
    version: 'test',
    serverUrl,
    log: memoryLog(),
    reports: { periodMs: 1000, intervalMs: 200 },
  });
  const session = startHeadlessSession(core, 'demo', 250);
  return { core, session };
}

const NAMES = [
  'swarmcast_ingest_live',
  'swarmcast_ingest_bitrate_bps',
  'swarmcast_origin_segments_total',
  'swarmcast_origin_bytes_sent_total',
  'swarmcast_com_channel_info_requests_total',
  'swarmcast_sub_rooms',
  'swarmcast_tracker_members',
  'swarmcast_tracker_connections',
  'swarmcast_tracker_joins_total',
  'swarmcast_tracker_signals_total',
  'swarmcast_viewers',
  'swarmcast_p2p_share',
  'swarmcast_bytes_received_total',
  'swarmcast_cdn_bytes_saved_total',
  'swarmcast_upload_bytes_total',
  'swarmcast_stalls_total',
  'swarmcast_stall_seconds_total',
  'swarmcast_watch_seconds_total',
  'swarmcast_stalls_per_viewer_hour',
  'swarmcast_startup_seconds_bucket',
  'swarmcast_startup_seconds_count',
  'swarmcast_latency_seconds_bucket',
  'swarmcast_player_errors_total',
  'swarmcast_reports_total',
  'swarmcast_process_cpu_seconds_total',
  'swarmcast_process_resident_memory_bytes',
  'swarmcast_nodejs_eventloop_lag_p99_seconds',
];

describe.skipIf(!hasParser)('server metrics while a small swarm plays', () => {
  let server: RunningServer;
  const viewers: Viewer[] = [];
  const TOKEN = 'scrape-me';

  const scrape = async () => {
    const res = await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parse(await res.text());
  };

  beforeAll(async () => {
    server = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: 0,
      metricsToken: TOKEN,
      drainMs: 2000,
      dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-metrics-')),
      log: silentLogger(),
    });
    await until(() => (server.origin.channels.get('demo')?.latestSeq ?? -1) >= 1, 10_000, 'demo segments');
    for (let i = 0; i < 3; i++) viewers.push(await viewer(server.httpUrl));
  });

  afterAll(async () => {
    for (const v of viewers) {
      v.session.stop();
      await v.core.close();
    }
    await server?.close();
  });

  it('serves every named metric in a text the official parser reads, and they move', async () => {
    // Quality reports and tracker joins come by separate paths: on a busy machine one may lag.
    // A viewer's first reports can come before its first bytes (a channel that just started
    // has less history than the latency target, so its first segment is not due at once):
    // the share and stall-rate gauges exist once a report carries media.
    await until(
      async () => {
        const m = await scrape();
        return (
          value(m, 'swarmcast_viewers', { channel: 'demo' }) === 3 &&
          value(m, 'swarmcast_tracker_members', { channel: 'demo', role: 'viewer' }) === 3 &&
          m.swarmcast_p2p_share !== undefined &&
          m.swarmcast_stalls_per_viewer_hour !== undefined
        );
      },
      20_000,
      'three viewers reporting media and joined',
    );
    const a = await scrape();
    for (const name of NAMES) expect(a[name], name).toBeDefined();
    // The Grafana dashboard in the repository charts only metrics that exist.
    const dashboard = await readFile(
      join(import.meta.dirname, '..', 'deploy', 'grafana', 'swarmcast-dashboard.json'),
      'utf8',
    );
    const exprs: string[] = [];
    JSON.parse(dashboard, (key, v) => {
      if (key === 'expr' && typeof v === 'string') exprs.push(v);
      return v;
    });
    const charted = new Set(exprs.join(' ').match(/swarmcast_[a-z0-9_]+/g));
    expect(charted.size).toBeGreaterThan(15);
    for (const name of charted) expect(a[name], `dashboard metric ${name}`).toBeDefined();
    expect(value(a, 'swarmcast_ingest_live', { channel: 'demo' })).toBe(1);
    expect(value(a, 'swarmcast_ingest_bitrate_bps', { channel: 'demo' })).toBeGreaterThan(100_000);
    expect(value(a, 'swarmcast_tracker_members', { channel: 'demo', role: 'viewer' })).toBe(3);
    expect(value(a, 'swarmcast_com_channel_info_requests_total', { channel: 'demo' })).toBeGreaterThanOrEqual(
      3,
    );
    expect(value(a, 'swarmcast_startup_seconds_count', { channel: 'demo' })).toBeGreaterThanOrEqual(1);

    await new Promise((r) => setTimeout(r, 3000));
    const b = await scrape();
    const grew = (name: string, labels: Record<string, string> = {}) =>
      expect(value(b, name, labels), name).toBeGreaterThan(value(a, name, labels));
    grew('swarmcast_origin_segments_total', { channel: 'demo' });
    grew('swarmcast_origin_bytes_sent_total', { kind: 'segment' });
    grew('swarmcast_watch_seconds_total', { channel: 'demo' });
    grew('swarmcast_reports_total', { result: 'accepted' });
    const received = (s: Samples) =>
      ['cdn', 'peer', 'seed'].reduce(
        (sum, source) => sum + value(s, 'swarmcast_bytes_received_total', { channel: 'demo', source }),
        0,
      );
    expect(received(b)).toBeGreaterThan(received(a));
    const share = value(b, 'swarmcast_p2p_share', { channel: 'demo' });
    expect(share).toBeGreaterThanOrEqual(0);
    expect(share).toBeLessThanOrEqual(1);
  }, 40_000);

  it('refuses a scrape without the token', async () => {
    expect((await fetch(`${server.httpUrl}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
  });

  it('lists channels with their viewer counts', async () => {
    const list = (await (await fetch(`${server.httpUrl}/api/channels`)).json()) as {
      channels: Array<{ id: string; viewers?: number }>;
    };
    expect(list.channels.find((c) => c.id === 'demo')?.viewers).toBe(3);
  });

  it('reports readiness on /healthz', async () => {
    const res = await fetch(`${server.httpUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'ok',
      http: true,
      ingest: true,
      com: true,
      tracker: true,
    });
  });
});

describe('graceful close', () => {
  it('stops accepting, answers held requests, ends HTTP-FLV viewers and closes within the bound', async () => {
    const server = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: null,
      drainMs: 3000,
      dataDir: await mkdtemp(join(tmpdir(), 'swarmcast-drain-')),
      log: silentLogger(),
    });
    await until(() => (server.origin.channels.get('demo')?.latestSeq ?? -1) >= 1, 10_000, 'demo segments');
    const latest = server.origin.channels.get('demo')!.latestSeq!;
    // A blocking reload for a segment far away (held until the timeout), and an HTTP-FLV viewer.
    const held = fetch(`${server.httpUrl}/live/demo/manifest.json?after=${latest + 2}`);
    const flv = await fetch(`${server.httpUrl}/live/demo.flv`);
    const flvBody = flv.arrayBuffer();
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const closing = server.close();
    const answered = await held;
    expect(answered.status).toBe(200);
    expect(((await answered.json()) as { manifest: { channel: string } }).manifest.channel).toBe('demo');
    expect((await flvBody).byteLength).toBeGreaterThan(0);
    await closing;
    expect(Date.now() - started).toBeLessThan(2500);
    await expect(fetch(`${server.httpUrl}/healthz`)).rejects.toThrow();
  }, 20_000);
});
