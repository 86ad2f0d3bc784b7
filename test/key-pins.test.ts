/**
 * Trust on first use: a viewer pins each server's manifest-signing key, keeps the pin across
 * launches, and refuses a server whose key changed, saying so in plain words.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeyPins } from '../main/core/manifest/key-pins';
import { startViewerCore } from '../main/core/viewer-core';
import { silentLogger } from '../server/log';
import { startServer } from '../server/run-server';
import { until } from './support/media';
import { memoryLog } from './support/memory-log';

const dir = () => mkdtemp(join(tmpdir(), 'swarmcast-pins-'));

describe('key pins', () => {
  it('pins on first use, matches after, refuses a change, and keeps pins across launches', async () => {
    const d = await dir();
    const pins = await KeyPins.open(d, memoryLog());
    expect(pins.check('http://a.example:8080/', 'KEY1')).toBe('pinned');
    expect(pins.check('http://a.example:8080', 'KEY1')).toBe('matches');
    expect(pins.check('http://a.example:8080', 'KEY2')).toBe('changed');
    expect(pins.check('http://b.example:8080', 'KEY2')).toBe('pinned');
    await until(
      async () => (await readFile(join(d, 'pinned-keys.json'), 'utf8').catch(() => '')).includes('KEY2'),
      2000,
      'saved',
    );
    const again = await KeyPins.open(d, memoryLog());
    expect(again.check('http://a.example:8080', 'KEY2')).toBe('changed');
    again.forget('http://a.example:8080');
    expect(again.check('http://a.example:8080', 'KEY2')).toBe('pinned');
  });

  it('starts afresh, with a log line, from a damaged file', async () => {
    const d = await dir();
    await writeFile(join(d, 'pinned-keys.json'), '{"http://x": 42');
    const log = memoryLog();
    const pins = await KeyPins.open(d, log);
    expect(pins.check('http://x', 'K')).toBe('pinned');
    expect(log.lines.some((l) => /pinned keys/.test(l.msg))).toBe(true);
  });

  it('a viewer refuses a server whose signing key changed since it last played from it', async () => {
    const viewerDir = await dir();
    const first = await startServer({
      httpPort: 0,
      rtmpPort: null,
      stunPort: null,
      dataDir: await dir(),
      log: silentLogger(),
    });
    const port = Number(new URL(first.httpUrl).port);
    const play = async (url: string) => {
      const core = await startViewerCore({
        dataDir: viewerDir,
        mode: 'headless',
        version: 't',
        serverUrl: url,
        log: memoryLog(),
      });
      const { sessionId } = core.openPlayer('demo');
      const session = core.player(sessionId)!.session;
      await until(() => ['live', 'error'].includes(session.snapshot().state), 15_000, 'live or error');
      const snap = session.snapshot();
      await core.close();
      return snap;
    };
    try {
      expect((await play(first.httpUrl)).state).toBe('live');
    } finally {
      await first.close();
    }
    // Same address, a new signing key (a new data folder): refused, in plain words.
    const second = await startServer({
      httpPort: port,
      rtmpPort: null,
      stunPort: null,
      dataDir: await dir(),
      log: silentLogger(),
    });
    try {
      const snap = await play(second.httpUrl);
      expect(snap.state).toBe('error');
      expect(snap.message).toMatch(/signing key has changed/);
    } finally {
      await second.close();
    }
  }, 60_000);
});
