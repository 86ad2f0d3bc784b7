/**
 * Property-based fuzzing (fast-check) of everything that parses bytes or text from outside: the
 * FLV demuxer, the peer wire codec, tracker messages, signed manifests, the settings file and
 * RTMP ingest. Each target replays its committed corpus (test/fuzz-corpus/*.json: edge cases,
 * and any counterexample a run reports) and then random inputs from a fixed seed, so CI is
 * repeatable; FUZZ_SEED=<n> FUZZ_RUNS=<n> explores further. The property is always the same:
 * bad input gets the parser's own error (or a clean fallback), never a crash or another error.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFlvHeader, encodeTags, FlvDemuxer, FlvError, parseFlv } from '../common/flv';
import { settingsSchema } from '../common/ipc-contract';
import { encodeMessage as encodeTracker, parseClientMessage } from '../common/tracker-protocol';
import { ManifestRejected, verifySignedManifest } from '../main/core/manifest/signed-manifest';
import { SettingsStore } from '../main/core/settings-store';
import {
  decodeMessage,
  encodeMessage,
  GoodbyeReason,
  MsgType,
  RejectReason,
  WireError,
} from '../main/p2p/wire';
import { silentLogger } from '../server/log';
import { RtmpIngest } from '../server/origin/rtmp-ingest';
import { memoryLog } from './support/memory-log';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const params = { seed: SEED, numRuns: RUNS };

async function corpus(name: string): Promise<string[]> {
  const file = join(import.meta.dirname, 'fuzz-corpus', `${name}.json`);
  return (JSON.parse(await readFile(file, 'utf8')) as { inputs: string[] }).inputs;
}
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

/** Runs `fn`; an error other than the expected class fails the property. */
function onlyThrows(kind: new (...args: never[]) => Error, fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof kind) return true;
    throw err;
  }
}

describe('FLV demuxer', () => {
  it('answers any bytes with tags or an FlvError, in one piece or split anywhere', async () => {
    const demux = (bytes: Uint8Array, cut: number, headerless: boolean) =>
      onlyThrows(FlvError, () => {
        const d = new FlvDemuxer({ headerless });
        d.push(bytes.subarray(0, cut));
        d.push(bytes.subarray(cut));
      });
    for (const c of await corpus('flv')) expect(demux(hex(c), Math.floor(c.length / 4), false)).toBe(true);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.nat(4096), fc.boolean(), (bytes, cut, headerless) =>
        demux(bytes, Math.min(cut, bytes.length), headerless),
      ),
      params,
    );
  });

  it('reads back exactly the media tags it wrote', () => {
    // Media tags only: empty tags are dropped and script data is normalised on purpose.
    const tag = fc.record({
      type: fc.constantFrom(8 as const, 9 as const),
      timestamp: fc.nat(0xffffffff),
      data: fc.uint8Array({ minLength: 1, maxLength: 2048 }),
    });
    fc.assert(
      fc.property(fc.array(tag, { maxLength: 20 }), (tags) => {
        const bytes = new Uint8Array([...encodeFlvHeader(true, true), ...encodeTags(tags)]);
        const back = parseFlv(bytes);
        expect(back.map((t) => [t.type, t.timestamp, Buffer.from(t.data).toString('hex')])).toEqual(
          tags.map((t) => [t.type, t.timestamp, Buffer.from(t.data).toString('hex')]),
        );
      }),
      { ...params, numRuns: Math.min(RUNS, 100) },
    );
  });
});

describe('peer wire codec', () => {
  it('decodes any bytes to a message or a WireError', async () => {
    for (const c of await corpus('wire'))
      expect(onlyThrows(WireError, () => decodeMessage(hex(c)))).toBe(true);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) =>
        onlyThrows(WireError, () => decodeMessage(bytes)),
      ),
      params,
    );
  });

  it('round-trips the messages it can encode', () => {
    const u32 = fc.nat(0xffffffff);
    const seq = fc.nat(Number.MAX_SAFE_INTEGER);
    const message = fc.oneof(
      fc.record({ type: fc.constant(MsgType.Have as const), seq }),
      fc.record({
        type: fc.constant(MsgType.Request as const),
        reqId: u32,
        seq,
        offset: fc.nat(64 * 1024 * 1024),
        deadlineMs: fc.nat(60_000),
      }),
      fc.record({ type: fc.constant(MsgType.Cancel as const), reqId: u32 }),
      fc.record({
        type: fc.constant(MsgType.Reject as const),
        reqId: u32,
        reason: fc.constantFrom(RejectReason.NotHave, RejectReason.Busy, RejectReason.OverCap),
      }),
      fc.record({
        type: fc.constant(MsgType.Goodbye as const),
        reason: fc.constantFrom(GoodbyeReason.Leaving, GoodbyeReason.BadData),
      }),
    );
    fc.assert(
      fc.property(message, (m) => {
        let decoded: unknown;
        try {
          decoded = decodeMessage(encodeMessage(m));
        } catch (err) {
          // A value the codec refuses to encode or decode must be refused as such.
          if (err instanceof WireError) return;
          throw err;
        }
        expect(decoded).toEqual(m);
      }),
      params,
    );
  });
});

describe('tracker messages', () => {
  it('parses any text or JSON value without throwing, and what passes survives a re-encode', async () => {
    const check = (frame: string) => {
      const r = parseClientMessage(frame);
      if (r.ok) expect(parseClientMessage(encodeTracker(r.message))).toEqual(r);
      return true;
    };
    for (const c of await corpus('tracker')) expect(check(c)).toBe(true);
    fc.assert(fc.property(fc.string({ maxLength: 2000 }), check), params);
    fc.assert(fc.property(fc.json({ maxDepth: 4 }), check), params);
    const join = fc.record({
      type: fc.constant('join'),
      channel: fc.string({ maxLength: 70 }),
      subRoom: fc.string({ maxLength: 70 }),
      peerId: fc.string({ maxLength: 40 }),
      role: fc.constantFrom('viewer', 'seed', 'admin'),
      ticket: fc.option(fc.string({ maxLength: 600 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(join, (j) => check(JSON.stringify(j))),
      params,
    );
  });
});

describe('signed manifests', () => {
  it('refuses any other JSON with ManifestRejected', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const verify = (json: unknown) =>
      onlyThrows(ManifestRejected, () => verifySignedManifest(json, publicKey, 'demo'));
    for (const c of await corpus('manifest')) expect(verify(JSON.parse(c))).toBe(true);
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 5 }), verify), params);
  });
});

describe('settings file', () => {
  it('loads any file content into valid settings (defaults for what is damaged)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'swarmcast-fuzz-settings-'));
    const load = async (text: string) => {
      await writeFile(join(dir, 'settings.json'), text);
      const store = await SettingsStore.open(dir, memoryLog());
      expect(settingsSchema.safeParse(store.get()).success).toBe(true);
    };
    try {
      for (const c of await corpus('settings')) await load(c);
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.string({ maxLength: 500 }), fc.json({ maxDepth: 3 })), load),
        { ...params, numRuns: Math.min(RUNS, 100) },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('RTMP ingest', () => {
  it('survives arbitrary bytes on the RTMP port and still answers a handshake', async () => {
    const ingest = new RtmpIngest(() => 'refused by the fuzz test', silentLogger());
    const port = await ingest.listen(0, '127.0.0.1');
    const send = (bytes: Uint8Array) =>
      new Promise<number>((resolve) => {
        let got = 0;
        const s = connect(port, '127.0.0.1');
        const done = () => {
          s.destroy();
          resolve(got);
        };
        s.on('data', (d) => {
          got += d.length;
        });
        s.on('error', done);
        s.on('close', done);
        s.write(bytes, () => setTimeout(done, 30));
      });
    try {
      for (const c of await corpus('rtmp')) await send(hex(c));
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 4096 }), async (bytes) => {
          await send(bytes);
        }),
        { ...params, numRuns: Math.min(RUNS, 40) },
      );
      // Still serving: a version-3 C0+C1 gets S0+S1(+S2) back.
      const c0c1 = new Uint8Array(1 + 1536);
      c0c1[0] = 3;
      const answered = await new Promise<number>((resolve) => {
        let got = 0;
        const s = connect(port, '127.0.0.1', () => s.write(c0c1));
        s.on('data', (d) => {
          got += d.length;
          if (got >= 1 + 1536) {
            s.destroy();
            resolve(got);
          }
        });
        s.on('error', () => resolve(got));
        setTimeout(() => {
          s.destroy();
          resolve(got);
        }, 3000);
      });
      expect(answered).toBeGreaterThanOrEqual(1 + 1536);
    } finally {
      await ingest.close();
    }
  }, 60_000);
});
