import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../common/ipc-contract';
import { SETTINGS_FILE, SettingsStore } from '../main/core/settings-store';
import { startViewerCore } from '../main/core/viewer-core';
import { silentLogger } from '../server/log';
import { type RunningServer, startServer } from '../server/run-server';
import { until } from './support/media';
import { memoryLog } from './support/memory-log';

const dir = () => mkdtemp(join(tmpdir(), 'swarmcast-settings-'));

describe('settings store', () => {
  it('round-trips through its file', async () => {
    const d = await dir();
    const a = await SettingsStore.open(d, memoryLog());
    expect(a.get()).toEqual(DEFAULT_SETTINGS);
    await a.update({ uploadCapKbps: 1500, latencyMode: 'low', liveSync: { targetLatencyS: 0.8 } });
    const b = await SettingsStore.open(d, memoryLog());
    expect(b.get()).toMatchObject({
      uploadCapKbps: 1500,
      latencyMode: 'low',
      liveSync: { targetLatencyS: 0.8, catchUpRate: 1.15 },
    });
    expect(JSON.parse(await readFile(join(d, SETTINGS_FILE), 'utf8')).version).toBe(1);
  });

  it('falls back to defaults on a corrupt file, keeps the file aside and says so', async () => {
    const d = await dir();
    await writeFile(join(d, SETTINGS_FILE), '{"version":1, "uploadCap');
    const log = memoryLog();
    const s = await SettingsStore.open(d, log);
    expect(s.get()).toEqual(DEFAULT_SETTINGS);
    expect(log.lines.some((l) => l.level === 'error' && l.msg.includes('invalid'))).toBe(true);
    expect((await readdir(d)).some((f) => f.startsWith(`${SETTINGS_FILE}.corrupt-`))).toBe(true);
  });

  it('keeps valid fields, replaces invalid ones by their defaults, drops unknown ones', async () => {
    const d = await dir();
    await writeFile(
      join(d, SETTINGS_FILE),
      JSON.stringify({ version: 1, latencyMode: 'low', cacheMB: -5, uploadCapKbps: 900, bogus: true }),
    );
    const log = memoryLog();
    const s = (await SettingsStore.open(d, log)).get();
    expect(s.latencyMode).toBe('low');
    expect(s.uploadCapKbps).toBe(900);
    expect(s.cacheMB).toBe(DEFAULT_SETTINGS.cacheMB);
    expect('bogus' in s).toBe(false);
    expect(log.lines.some((l) => l.level === 'warn' && l.fields?.key === 'cacheMB')).toBe(true);
  });

  it('refuses an invalid patch without changing anything', async () => {
    const s = await SettingsStore.open(await dir(), memoryLog());
    await expect(s.update({ cacheMB: 1 })).rejects.toThrow();
    await expect(s.update({ serverUrl: 'not a url' })).rejects.toThrow();
    expect(s.get()).toEqual(DEFAULT_SETTINGS);
  });

  it('treats a file of an unknown version as foreign: defaults, file kept aside', async () => {
    const d = await dir();
    await writeFile(join(d, SETTINGS_FILE), JSON.stringify({ version: 7, latencyMode: 'low' }));
    expect((await SettingsStore.open(d, memoryLog())).get()).toEqual(DEFAULT_SETTINGS);
  });
});

describe('settings reach the running peer node', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: 0,
      dataDir: await dir(),
      log: silentLogger(),
    });
    await until(() => (server.origin.channels.get('demo')?.latestSeq ?? -1) >= 3, 10_000, 'segments');
  });
  afterAll(() => server?.close());

  it('applies the upload cap and the P2P switch live', async () => {
    const core = await startViewerCore({
      dataDir: await dir(),
      mode: 'headless',
      version: 't',
      serverUrl: server.httpUrl,
      log: memoryLog(),
    });
    try {
      const { sessionId } = core.openPlayer('demo');
      const session = core.player(sessionId)!.session;
      await until(() => session.hasSwarm, 5000, 'swarm');
      expect(core.currentStats().uploadCapKbps).toBeNull();
      await core.invoke('settings.set', { uploadCapKbps: 1500 });
      expect(core.currentStats().uploadCapKbps).toBe(1500);
      await core.invoke('settings.set', { p2pEnabled: false });
      expect(session.hasSwarm).toBe(false);
      expect(core.liveSyncOf(session).targetLatencyS).toBe(DEFAULT_SETTINGS.liveSync.targetLatencyS);
      await core.invoke('settings.set', { p2pEnabled: true });
      expect(session.hasSwarm).toBe(true);
      expect(core.liveSyncOf(session).targetLatencyS).toBeGreaterThan(2);
    } finally {
      await core.close();
    }
  });
});
