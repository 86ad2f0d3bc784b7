/**
 * The servers as operators run them: `swarmcast logs` on its own with a metrics token from the
 * environment, `swarmcast server` naming it as the viewers' log server, and SIGTERM draining
 * and exiting cleanly within the bound while a viewer is connected.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type QualityReport, REPORTS_PATH } from '../common/quality-report';
import { waitFor } from './support/helpers';
import { type RunningCommand, runSwarmcast } from './support/processes';

const running: RunningCommand[] = [];
afterEach(() => {
  for (const r of running.splice(0)) if (r.child.exitCode === null) r.child.kill('SIGKILL');
});

async function ready(cmd: RunningCommand): Promise<Record<string, unknown>> {
  running.push(cmd);
  await waitFor(
    () => cmd.lines.some((l) => l.event === 'ready') || cmd.child.exitCode !== null,
    'ready line',
  );
  const line = cmd.lines.find((l) => l.event === 'ready');
  if (!line) throw new Error(`no ready line: ${cmd.stderr.join('')}`);
  return line;
}

const report: QualityReport = {
  v: 1,
  viewer: 'aaaaaaaaaaaaaaaa',
  channel: 'demo',
  at: Date.now(),
  periodS: 10,
  watchS: 10,
  startupMs: 300,
  stalls: 0,
  stallS: 0,
  latencyS: 1.5,
  bytes: { cdn: 1000, peer: 3000, seed: 0 },
  uploadBytes: 0,
  peers: 2,
  connectivity: { host: 2, srflx: 0, relay: 0 },
  errors: {},
  app: { version: '0.1.0', platform: 'linux', mode: 'desktop' },
};

describe('swarmcast logs and server as services', () => {
  it('runs a standalone log server that the server names in channel info, and both stop on SIGTERM', async () => {
    const logs = runSwarmcast(['logs', '--host', '127.0.0.1', '--http-port', '0', '--drain-ms', '2000'], {
      SWARMCAST_METRICS_TOKEN: 't0ken',
    });
    const logsUrl = String((await ready(logs)).http);
    const posted = await fetch(`${logsUrl}${REPORTS_PATH}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ reports: [report] }),
    });
    expect(posted.status).toBe(204);
    expect((await fetch(`${logsUrl}/metrics`)).status).toBe(401);
    const text = await (
      await fetch(`${logsUrl}/metrics`, { headers: { authorization: 'Bearer t0ken' } })
    ).text();
    expect(text).toMatch(/swarmcast_viewers\{channel="demo"\} 1/);
    expect(text).toMatch(/swarmcast_cdn_bytes_saved_total\{channel="demo"\} 3000/);

    const server = runSwarmcast(
      [
        'server',
        '--host',
        '127.0.0.1',
        '--http-port',
        '0',
        '--no-rtmp',
        '--no-stun',
        '--drain-ms',
        '3000',
        '--data',
        await mkdtemp(join(tmpdir(), 'swarmcast-svc-')),
      ],
      { SWARMCAST_LOG_SERVERS: logsUrl },
    );
    const http = String((await ready(server)).http);
    const info = (await (await fetch(`${http}/api/channels/demo`)).json()) as { logServers: string[] };
    expect(info.logServers).toEqual([logsUrl]);
    const health = await fetch(`${http}/healthz`);
    expect(health.status).toBe(200);

    // A plain HTTP-FLV viewer is connected when the server is told to stop.
    const viewer = await fetch(`${http}/live/demo.flv`);
    const body = viewer.arrayBuffer();
    const started = Date.now();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await body).byteLength).toBeGreaterThan(0);

    logs.child.kill('SIGTERM');
    expect(await logs.exited).toBe(0);
  }, 30_000);
});
