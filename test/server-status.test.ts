/**
 * What the desktop UI's honest states rest on: the core's server watch (reachability probes,
 * driven by a fake probe and clock), the badge's state, the server's ingest info and the log
 * service's room summary for the Go-live view, and a settings patch naming the language.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerStatus } from '../common/ipc-contract';
import { ComClient } from '../main/core/manifest/com-client';
import { ServerWatch, sameOrigin } from '../main/core/manifest/server-watch';
import { SettingsStore } from '../main/core/settings-store';
import { badgeState } from '../renderer/src/stores/connection-store';
import { silentLogger } from '../server/log';
import { type RunningLogService, startLogService } from '../server/logs/run-logs';
import { type RunningServer, startServer } from '../server/run-server';
import { memoryLog } from './support/memory-log';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('ServerWatch', () => {
  it('reports each change of reachability once, with the failure in the core’s words', async () => {
    let up = true;
    const seen: ServerStatus[] = [];
    const watch = new ServerWatch({
      url: () => 'http://server.test',
      onChange: (s) => seen.push(s),
      upPeriodMs: 60_000,
      downPeriodMs: 60_000,
      now: () => 1000,
      get: async () => {
        if (!up) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
        return 503;
      },
    });
    watch.start();
    await tick();
    expect(seen).toEqual([{ url: 'http://server.test', reachable: true, checkedAt: 1000, error: null }]);
    up = false;
    watch.poke();
    await tick();
    expect(seen.at(-1)).toMatchObject({ reachable: false, error: 'ECONNREFUSED' });
    watch.poke();
    await tick();
    expect(seen).toHaveLength(2);
    // A real request that got through counts at once.
    watch.observe(true, null);
    expect(seen.at(-1)?.reachable).toBe(true);
    watch.close();
  });

  it('skips its own probe while real requests keep showing the server is there', async () => {
    let probes = 0;
    const watch = new ServerWatch({
      url: () => 'http://server.test',
      onChange: () => undefined,
      upPeriodMs: 40,
      get: async () => {
        probes++;
        return 200;
      },
    });
    watch.start();
    await tick();
    expect(probes).toBe(1);
    // A request answered every 10 ms: the timer's probes have nothing to add.
    for (let i = 0; i < 20; i++) {
      watch.observe(true, null);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(probes).toBe(1);
    // Requests stop: the probe takes over within a period.
    await new Promise((r) => setTimeout(r, 120));
    expect(probes).toBeGreaterThan(1);
    // A poke (the server changed) always probes.
    const before = probes;
    watch.observe(true, null);
    watch.poke();
    await tick();
    expect(probes).toBe(before + 1);
    watch.close();
  });

  it("skips its probe while a channel's manifest reloads are answered by the same server", async () => {
    let probes = 0;
    let heard: number | null = null;
    const asked: string[] = [];
    let now = 1000;
    const watch = new ServerWatch({
      url: () => 'http://server.test:8080',
      onChange: () => undefined,
      upPeriodMs: 30,
      now: () => now,
      heardFrom: (url) => {
        asked.push(url);
        return heard;
      },
      get: async () => {
        probes++;
        return 200;
      },
    });
    watch.start();
    await tick();
    expect(probes).toBe(1);
    // Answers keep coming: no probe for as long as they do.
    for (let i = 0; i < 10; i++) {
      now += 10;
      heard = now;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(probes).toBe(1);
    expect(asked.every((u) => u === 'http://server.test:8080')).toBe(true);
    // They stop (the channel closed, or its answers come from a CDN): probes again.
    heard = null;
    now += 100;
    await new Promise((r) => setTimeout(r, 80));
    expect(probes).toBeGreaterThan(1);
    watch.close();
  });

  it('counts an answer as the server’s only from the same scheme, host and port', () => {
    expect(sameOrigin('http://127.0.0.1:8080', 'http://127.0.0.1:8080/')).toBe(true);
    expect(sameOrigin('http://127.0.0.1:8080/cdn', 'http://127.0.0.1:8080')).toBe(true);
    expect(sameOrigin('http://127.0.0.1:8081', 'http://127.0.0.1:8080')).toBe(false);
    expect(sameOrigin('https://a.test', 'http://a.test')).toBe(false);
    expect(sameOrigin('not a url', 'http://a.test')).toBe(false);
  });

  it('the badge: core link first, then the server, "checking" before the first probe', () => {
    const server = (reachable: boolean, checkedAt = 1): ServerStatus => ({
      url: 'u',
      reachable,
      checkedAt,
      error: null,
    });
    expect(badgeState({ connected: false, server: server(true) })).toBe('core-down');
    expect(badgeState({ connected: true, server: null })).toBe('checking');
    expect(badgeState({ connected: true, server: server(true, 0) })).toBe('checking');
    expect(badgeState({ connected: true, server: server(false) })).toBe('server-down');
    expect(badgeState({ connected: true, server: server(true) })).toBe('ok');
  });
});

describe('Go-live data from the server', () => {
  let server: RunningServer | null = null;
  let logs: RunningLogService | null = null;
  let dir = '';
  afterEach(async () => {
    await server?.close();
    await logs?.close();
    server = null;
    logs = null;
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('names the real RTMP port and whether stream keys are needed', async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmcast-ingest-'));
    server = await startServer({
      httpPort: 0,
      rtmpPort: 0,
      stunPort: null,
      dataDir: dir,
      demo: false,
      log: silentLogger(),
    });
    const info = await new ComClient(server.httpUrl).ingestInfo();
    expect(info).toEqual({ rtmpPort: server.rtmpPort, keysRequired: false });
    await server.close();
    server = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: null,
      dataDir: dir,
      demo: false,
      streamKeys: new Map([['secret', 'mychannel']]),
      log: silentLogger(),
    });
    expect(await new ComClient(server.httpUrl).ingestInfo()).toEqual({ rtmpPort: null, keysRequired: true });
  });

  it('summarises a room from quality reports: share over the last minute, bytes saved in all', async () => {
    logs = await startLogService({ port: 0, log: silentLogger(), drainMs: 200 });
    const client = new ComClient(logs.url);
    expect(await client.roomSummary('mychannel')).toBeNull();
    const report = (viewer: string, peer: number, cdn: number) => ({
      v: 1,
      viewer,
      channel: 'mychannel',
      at: Date.now(),
      periodS: 10,
      watchS: 10,
      startupMs: null,
      stalls: 0,
      stallS: 0,
      latencyS: null,
      bytes: { cdn, peer, seed: 0 },
      uploadBytes: 0,
      peers: 1,
      connectivity: { host: 1, srflx: 0, relay: 0 },
      errors: {},
      app: { version: '0.1.0', platform: 'linux', mode: 'headless' },
    });
    const res = await fetch(`${logs.url}/api/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        reports: [report('aaaaaaaaaaaaaaaa', 750, 250), report('bbbbbbbbbbbbbbbb', 0, 1000)],
      }),
    });
    expect(res.status).toBe(204);
    const room = await client.roomSummary('mychannel');
    expect(room).toMatchObject({
      channel: 'mychannel',
      reportingViewers: 2,
      p2pShare: 0.375,
      cdnBytesSaved: 750,
    });
    // Bad channel ids are refused, not looked up.
    expect((await fetch(`${logs.url}/api/rooms/..%2f..`)).status).toBe(404);
  });
});

describe('settings', () => {
  it('a patch naming the language is applied and kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'swarmcast-lang-'));
    try {
      const log = memoryLog();
      const store = await SettingsStore.open(dir, log);
      expect(store.get().language).toBe('system');
      await store.update({ language: 'zh-CN' });
      expect((await SettingsStore.open(dir, log)).get().language).toBe('zh-CN');
      // A settings file from before the language existed still loads, with the default.
      await store.update({ cacheMB: 64 });
      expect((await SettingsStore.open(dir, log)).get()).toMatchObject({ cacheMB: 64, language: 'zh-CN' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
