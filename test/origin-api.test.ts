/**
 * The origin's HTTP API on a running server (in-process, the demo channel on): blocking
 * manifest reload, the live-edge partial segment, caching headers, the manifest signature
 * and its persistent key, and every kind of bad input the issue lists.
 */
import { createPublicKey, verify } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFlvHeader, parseFlv, TAG_VIDEO } from '../common/flv';
import {
  manifestSigningBytes,
  originPaths,
  type SignedManifest,
  signedManifestSchema,
} from '../common/manifest';
import { sha256Hex } from '../common/sha256';
import { silentLogger } from '../server/log';
import type { Channel } from '../server/origin/channel';
import { type RunningServer, startServer } from '../server/run-server';
import {
  concatBytes,
  DEMO_FLV,
  fetchBytes,
  fetchSignedManifest,
  flvPrefix,
  nextSegment,
  removeTempDirs,
  tempDir,
  verifySignedManifest,
  waitFor,
} from './support/helpers';

const WINDOW = 10;
let server: RunningServer;
let dataDir: string;
let clipBytes: Uint8Array;
let demo: Channel;

beforeAll(async () => {
  dataDir = join(await tempDir(), 'data');
  clipBytes = new Uint8Array(await readFile(DEMO_FLV));
  server = await startServer({
    httpPort: 0,
    rtmpPort: null,
    dataDir,
    demo: true,
    windowSize: WINDOW,
    log: silentLogger(),
  });
  demo = server.origin.channels.get('demo')!;
  // A finished channel with a full window: the whole 20 s clip pushed as fast as possible.
  const res = await fetch(url(originPaths.ingest('fast')), { method: 'POST', body: clipBytes });
  expect(res.status).toBe(200);
  await waitFor(() => demo.latestSeq !== null, 'the first demo segment');
});

afterAll(async () => {
  await server?.close();
  await removeTempDirs();
});

function url(path: string, base = server): string {
  return `${base.httpUrl}${path}`;
}

async function errorOf(res: Response): Promise<string> {
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  return ((await res.json()) as { error: string }).error;
}

/** An HTTP push whose body the test writes piece by piece. */
function openPush(path: string, base = server) {
  const req = request(url(path, base), { method: 'POST', headers: { 'Transfer-Encoding': 'chunked' } });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  response.catch(() => {}); // a push the test destroys never answers
  req.flushHeaders();
  return { req, response };
}

/** The clip's bytes up to the end of its `n`-th tag (header included). */
const clipPrefix = (tags: number) => flvPrefix(clipBytes, tags);

describe('blocking manifest reload', () => {
  it('returns as soon as the next segment exists', async () => {
    await nextSegment(demo); // just cut: the next one is about a second away
    for (let round = 0; round < 3; round++) {
      const latest = demo.latestSeq!;
      const appeared = nextSegment(demo).then((s) => ({ seq: s.seq, at: performance.now() }));
      const res = await fetch(url(`${originPaths.manifest('demo')}?after=${latest}`));
      const arrived = performance.now();
      const body = signedManifestSchema.parse(await res.json());
      const next = await appeared;
      expect(next.seq).toBe(latest + 1);
      expect(body.manifest.segments.map((s) => s.seq)).toContain(latest + 1);
      expect(res.headers.get('cache-control')).toBe('public, max-age=6');
      // Held until the segment existed, answered right after.
      expect(arrived).toBeGreaterThanOrEqual(next.at);
      expect(arrived - next.at).toBeLessThan(300);
    }
  });

  it('answers at once when the segment already exists or `after` is far ahead; 400 on a junk `after`', async () => {
    const latest = demo.latestSeq!;
    const past = await fetch(url(`${originPaths.manifest('demo')}?after=${latest - 1}`));
    const m = signedManifestSchema.parse(await past.json()).manifest;
    expect(m.segments.at(-1)!.seq).toBeGreaterThanOrEqual(latest);

    const ahead = await fetch(url(`${originPaths.manifest('demo')}?after=${latest + 1000}`));
    expect(ahead.status).toBe(200);
    expect(ahead.headers.get('cache-control')).toBe('no-cache');

    // A finished channel never blocks.
    const finished = await fetch(url(`${originPaths.manifest('fast')}?after=1000`));
    expect(signedManifestSchema.parse(await finished.json()).manifest.live).toBe(false);

    for (const junk of ['abc', '-5', '1.5', '1e3', '', '99999999999999999']) {
      const res = await fetch(url(`${originPaths.manifest('demo')}?after=${junk}`));
      expect(res.status, `after=${junk}`).toBe(400);
      expect(await errorOf(res)).toMatch(/after must be a segment number/);
    }
  });

  it('wakes a blocked reload when the publisher ends', async () => {
    const push = openPush(originPaths.ingest('short-lived'));
    push.req.write(clipPrefix(10)); // headers and a few frames: live, no segment yet
    await waitFor(() => server.origin.channels.get('short-lived')?.live === true, 'the push to start');
    const ch = server.origin.channels.get('short-lived')!;
    let waiting = false;
    const wait = ch.waitForSegmentAfter.bind(ch);
    ch.waitForSegmentAfter = (...args) => {
      waiting = true;
      return wait(...args);
    };
    // after=0: the segment the publisher's end closes (seq 0) does not satisfy it; the end itself must wake it.
    const blocked = fetch(url(`${originPaths.manifest('short-lived')}?after=0`));
    await waitFor(() => waiting, 'the reload to block');
    const started = performance.now();
    push.req.end();
    const res = await blocked;
    expect(performance.now() - started).toBeLessThan(5000); // the blocking timeout is 10 s
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const m = signedManifestSchema.parse(await res.json()).manifest;
    expect(m.live).toBe(false);
    expect(m.segments.map((s) => s.seq)).toEqual([0]);
    expect((await push.response).status).toBe(200);
  });
});

describe('live-edge partial segment', () => {
  it('streams seq = latest + 1 while it is being cut; its final bytes match the manifest', async () => {
    const cut = await nextSegment(demo);
    const seq = cut.seq + 1;
    const cutAt = nextSegment(demo).then((s) => ({ seq: s.seq, at: performance.now() }));
    const res = await fetch(url(originPaths.segment('demo', demo.stream, seq)));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBeNull(); // streamed as it grows
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect(Number(res.headers.get('swarmcast-origin-time'))).toBeGreaterThan(0);
    const reader = res.body!.getReader();
    const chunks: Uint8Array[] = [];
    let firstByteAt: number | null = null;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      firstByteAt ??= performance.now();
      chunks.push(value);
    }
    const cutEvent = await cutAt;
    expect(cutEvent.seq).toBe(seq);
    expect(firstByteAt).not.toBeNull();
    expect(firstByteAt!).toBeLessThan(cutEvent.at); // bytes flowed before the segment was complete
    const body = concatBytes(chunks);

    const m = (await fetchSignedManifest(url(originPaths.manifest('demo')))).manifest;
    const entry = m.segments.find((s) => s.seq === seq)!;
    expect(body.length).toBe(entry.size);
    expect(sha256Hex(body)).toBe(entry.sha256);
    expect(Number(res.headers.get('swarmcast-origin-time'))).toBe(entry.originTime);
    expect(Number(res.headers.get('swarmcast-start-ts'))).toBe(entry.startTs);
    // The same URL now serves the complete segment: same bytes.
    expect(sha256Hex(await fetchBytes(url(originPaths.segment('demo', demo.stream, seq))))).toBe(
      entry.sha256,
    );
  });
});

describe('the segment after the one being cut', () => {
  it('is held until the cut begins it, then streamed whole; one further is 404 at once', async () => {
    await nextSegment(demo);
    const ahead = demo.nextCutSeq;
    const asked = performance.now();
    const beganAt = nextSegment(demo).then(() => performance.now());
    const res = await fetch(url(originPaths.segment('demo', demo.stream, ahead)));
    expect(res.status).toBe(200);
    // The answer came once the segment before it was complete, not at once.
    expect(performance.now()).toBeGreaterThanOrEqual(await beganAt);
    expect(performance.now() - asked).toBeGreaterThan(100);
    const body = new Uint8Array(await res.arrayBuffer());
    const m = (await fetchSignedManifest(url(originPaths.manifest('demo')))).manifest;
    const entry = m.segments.find((s) => s.seq === ahead)!;
    expect(sha256Hex(body)).toBe(entry.sha256);
    expect(Number(res.headers.get('swarmcast-start-ts'))).toBe(entry.startTs);

    const started = performance.now();
    const far = await fetch(url(originPaths.segment('demo', demo.stream, demo.nextCutSeq + 1)));
    expect(far.status).toBe(404);
    await far.arrayBuffer();
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('caching headers', () => {
  it('segments and init are immutable with an ETag, and 304 on If-None-Match', async () => {
    const m = (await fetchSignedManifest(url(originPaths.manifest('fast')))).manifest;
    const seg = m.segments.at(-1)!;
    const init = m.inits[0]!;
    for (const [path, entry, isSegment] of [
      [originPaths.segment('fast', m.stream, seg.seq), seg, true],
      [originPaths.init('fast', m.stream, init.version), init, false],
    ] as const) {
      const res = await fetch(url(path));
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('etag')).toBe(`"${entry.sha256}"`);
      expect(res.headers.get('content-type')).toBe('video/x-flv');
      expect(res.headers.get('content-length')).toBe(String(entry.size));
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(sha256Hex(new Uint8Array(await res.arrayBuffer()))).toBe(entry.sha256);
      if (isSegment) expect(res.headers.get('swarmcast-origin-time')).toBe(String(seg.originTime));

      const again = await fetch(url(path), { headers: { 'If-None-Match': `"${entry.sha256}"` } });
      expect(again.status).toBe(304);
      expect(again.headers.get('etag')).toBe(`"${entry.sha256}"`);
      expect(again.headers.get('cache-control')).toContain('immutable');
      expect((await again.arrayBuffer()).byteLength).toBe(0);

      const other = await fetch(url(path), { headers: { 'If-None-Match': '"something-else"' } });
      expect(other.status).toBe(200);
      await other.arrayBuffer();

      const head = await fetch(url(path), { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(entry.size));
    }
  });

  it('the manifest and the lists are cached briefly, the key longer', async () => {
    const manifest = await fetch(url(originPaths.manifest('demo')));
    expect(manifest.headers.get('cache-control')).toBe('public, max-age=1');
    expect(manifest.headers.get('content-type')).toMatch(/application\/json/);
    await manifest.arrayBuffer();
    const list = await fetch(url(originPaths.channels));
    expect(list.headers.get('cache-control')).toBe('public, max-age=2');
    const channels = (
      (await list.json()) as { channels: Array<{ id: string; demo: boolean; live: boolean }> }
    ).channels;
    expect(channels[0]).toMatchObject({ id: 'demo', demo: true, live: true });
    expect(channels.find((c) => c.id === 'fast')).toMatchObject({ live: false });
    const key = await fetch(url(originPaths.originKey));
    expect(key.headers.get('cache-control')).toBe('public, max-age=300');
    await key.arrayBuffer();
  });
});

describe('manifest signature', () => {
  async function originKey(base = server): Promise<string> {
    const res = await fetch(url(originPaths.originKey, base));
    const body = (await res.json()) as { algorithm: string; format: string; publicKey: string };
    expect(body.algorithm).toBe('Ed25519');
    expect(body.format).toBe('spki-der-base64');
    return body.publicKey;
  }

  it('verifies with node:crypto against /api/origin-key and fails on any changed byte', async () => {
    const publicKey = await originKey();
    const key = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
    const signed = await fetchSignedManifest(url(originPaths.manifest('fast')));
    expect(verifySignedManifest(signed, publicKey)).toBe(true);
    const sig = Buffer.from(signed.signature, 'base64');

    const bytes = manifestSigningBytes(signed.manifest);
    expect(verify(null, bytes, key, sig)).toBe(true);
    for (let i = 0; i < bytes.length; i++) {
      const changed = bytes.slice();
      changed[i] = changed[i]! ^ 0x01;
      if (verify(null, changed, key, sig)) throw new Error(`signature still verifies with byte ${i} changed`);
    }
    const badSig = Buffer.from(sig);
    badSig[10] = badSig[10]! ^ 0x80;
    expect(verify(null, bytes, key, badSig)).toBe(false);

    // Changed values fail, whatever the field.
    const edits: Array<(m: SignedManifest['manifest']) => void> = [
      (m) => {
        m.segments[0]!.size += 1;
      },
      (m) => {
        m.segments[0]!.sha256 = m.segments[1]!.sha256;
      },
      (m) => {
        m.segments[3]!.keyframeOffset = m.segments[3]!.keyframeOffset === null ? 0 : null;
      },
      (m) => {
        m.inits[0]!.sha256 = '0'.repeat(64);
      },
      (m) => {
        m.live = !m.live;
      },
      (m) => {
        m.generatedAt += 1;
      },
      (m) => {
        m.segments.pop();
      },
    ];
    for (const edit of edits) {
      const copy = structuredClone(signed);
      edit(copy.manifest);
      expect(verifySignedManifest(copy, publicKey)).toBe(false);
    }
    // Key order and whitespace on the wire do not matter: the verifier re-serialises.
    const reordered = JSON.parse(
      JSON.stringify({ signature: signed.signature, manifest: signed.manifest }, null, 2),
    );
    expect(verifySignedManifest(signedManifestSchema.parse(reordered), publicKey)).toBe(true);
  });

  it('keeps the signing key across restarts (same data folder, same key)', async () => {
    const original = await originKey();
    const pem = join(dataDir, 'origin-ed25519.pem');
    expect((await stat(pem)).mode & 0o077).toBe(0);
    for (let i = 0; i < 2; i++) {
      const restarted = await startServer({
        httpPort: 0,
        rtmpPort: null,
        dataDir,
        demo: false,
        log: silentLogger(),
      });
      try {
        expect(await originKey(restarted)).toBe(original);
      } finally {
        await restarted.close();
      }
    }
    const elsewhere = await startServer({
      httpPort: 0,
      rtmpPort: null,
      dataDir: join(await tempDir(), 'data'),
      demo: false,
      log: silentLogger(),
    });
    try {
      expect(await originKey(elsewhere)).not.toBe(original);
    } finally {
      await elsewhere.close();
    }
  });
});

describe('bad input', () => {
  it('answers a blocking reload at its timeout with the current manifest', async () => {
    const quick = await startServer({
      httpPort: 0,
      rtmpPort: null,
      dataDir,
      demo: false,
      blockingTimeoutMs: 300,
      log: silentLogger(),
    });
    try {
      const push = openPush(originPaths.ingest('idle'), quick);
      push.req.write(clipPrefix(10));
      await waitFor(() => quick.origin.channels.get('idle')?.live === true, 'the push to start');
      const started = performance.now();
      const res = await fetch(url(`${originPaths.manifest('idle')}?after=-1`, quick));
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const m = signedManifestSchema.parse(await res.json()).manifest;
      expect(m.live).toBe(true);
      expect(m.segments).toEqual([]);
      push.req.destroy();
    } finally {
      await quick.close();
    }
  });

  const flvHeader = encodeFlvHeader(true, true);
  const tagHeader = (type: number, size: number) =>
    new Uint8Array([type, (size >> 16) & 0xff, (size >> 8) & 0xff, size & 0xff, 0, 0, 0, 0, 0, 0, 0]);
  const malformed: Array<{ name: string; body: () => Uint8Array; error: RegExp }> = [
    {
      name: 'not FLV at all',
      body: () => new TextEncoder().encode('hello, this is not a video'),
      error: /bad signature/,
    },
    {
      name: 'a huge tag size',
      body: () => concatBytes([flvHeader, tagHeader(TAG_VIDEO, 0xffffff)]),
      error: /exceeds the \d+ limit/,
    },
    {
      name: 'an unknown tag type',
      body: () => concatBytes([flvHeader, tagHeader(3, 10), new Uint8Array(14)]),
      error: /unknown FLV tag type 3/,
    },
    {
      name: 'a wrong previous-tag-size after good data',
      body: () => {
        const good = clipPrefix(200);
        const bad = good.slice();
        bad.set([0, 0, 0x12, 0x34], bad.length - 4);
        return bad;
      },
      error: /previous tag size 4660/,
    },
    { name: 'a stream cut inside a tag', body: () => clipBytes.subarray(0, 500_000), error: /truncated FLV/ },
  ];

  it.each(malformed)(
    'HTTP push of $name → 400, that channel ends, the others are untouched',
    async ({ name, body, error }) => {
      const id = `bad-${name.replace(/[^a-z]+/g, '-').replace(/-+$/, '')}`;
      const res = await fetch(url(originPaths.ingest(id)), { method: 'POST', body: body() });
      expect(res.status).toBe(400);
      expect(await errorOf(res)).toMatch(error);
      const ch = server.origin.channels.get(id);
      if (ch) expect(ch.live).toBe(false);
      // Other channels: the demo is still live (that it keeps producing is checked at the end),
      // the finished channel still serves.
      expect(demo.live).toBe(true);
      expect((await fetch(url(originPaths.manifest('fast')))).status).toBe(200);
    },
  );

  it('a truncated push keeps the segments cut before the damage', async () => {
    const res = await fetch(url(originPaths.ingest('cut-short')), {
      method: 'POST',
      body: clipBytes.subarray(0, 1_000_001),
    });
    expect(res.status).toBe(400);
    const m = (await fetchSignedManifest(url(originPaths.manifest('cut-short')))).manifest;
    expect(m.live).toBe(false);
    expect(m.segments.length).toBeGreaterThanOrEqual(5);
    const seg = await fetchBytes(url(originPaths.segment('cut-short', m.stream, m.segments.at(-1)!.seq)));
    expect(parseFlv(seg, { headerless: true }).length).toBeGreaterThan(0);
  });

  it('a publisher vanishing mid-tag ends its channel cleanly and the server lives on', async () => {
    const push = openPush(originPaths.ingest('vanish'));
    const bytes = clipPrefix(300);
    push.req.write(concatBytes([bytes, clipBytes.subarray(bytes.length, bytes.length + 777)])); // ends mid-tag
    await waitFor(() => (server.origin.channels.get('vanish')?.latestSeq ?? null) !== null, 'segments');
    const ch = server.origin.channels.get('vanish')!;
    expect(ch.live).toBe(true);
    push.req.destroy();
    await waitFor(() => !ch.live, 'the channel to end');
    expect((await fetch(url('/healthz'))).status).toBe(200);
    const m = (await fetchSignedManifest(url(originPaths.manifest('vanish')))).manifest;
    expect(m.live).toBe(false);
    expect(m.segments.length).toBe(ch.segments.length);
    // The key is free again.
    const again = await fetch(url(originPaths.ingest('vanish')), { method: 'POST', body: clipPrefix(100) });
    expect(again.status).toBe(200);
  });

  it('a second publisher on a live key → 409; the demo key is reserved → 403', async () => {
    const push = openPush(originPaths.ingest('taken'));
    push.req.write(clipPrefix(10));
    await waitFor(() => server.origin.channels.get('taken')?.live === true, 'the first push');
    const second = await fetch(url(originPaths.ingest('taken')), { method: 'POST', body: clipPrefix(10) });
    expect(second.status).toBe(409);
    expect(await errorOf(second)).toMatch(/channel taken already has a publisher/);
    expect(server.origin.channels.get('taken')!.live).toBe(true);
    push.req.end();
    expect((await push.response).status).toBe(200);

    const onDemo = await fetch(url(originPaths.ingest('demo')), { method: 'POST', body: clipPrefix(10) });
    expect(onDemo.status).toBe(403);
    expect(await errorOf(onDemo)).toMatch(/reserved/);
    const badName = await fetch(url(originPaths.ingest('Bad Name!')), {
      method: 'POST',
      body: clipPrefix(10),
    });
    expect(badName.status).toBe(403);
    expect(await errorOf(badName)).toMatch(/invalid channel name/);
    const wrongMethod = await fetch(url(originPaths.ingest('x')));
    expect(wrongMethod.status).toBe(405);
  });

  it('a segment request with a junk seq → 400', async () => {
    const stream = demo.stream;
    for (const name of [
      'abc.flv',
      '-1.flv',
      '1.5.flv',
      '01.flv',
      '1e3.flv',
      '99999999999999999.flv',
      '12',
      '12.ts',
      '%00.flv',
      'init-x.flv',
      ' 1.flv',
    ]) {
      const res = await fetch(url(`/live/demo/${stream}/${encodeURIComponent(name)}`));
      expect(res.status, name).toBe(400);
      expect(await errorOf(res)).toMatch(/bad segment name/);
    }
  });

  it('a segment outside the window → 404 with a clear message', async () => {
    const m = (await fetchSignedManifest(url(originPaths.manifest('fast')))).manifest;
    expect(m.segments).toHaveLength(WINDOW);
    const first = m.segments[0]!.seq;
    const last = m.segments.at(-1)!.seq;
    expect(first).toBeGreaterThan(0);
    for (const seq of [0, first - 1, last + 1, last + 1000]) {
      const res = await fetch(url(originPaths.segment('fast', m.stream, seq)));
      expect(res.status).toBe(404);
      expect(await errorOf(res)).toBe(
        `segment ${seq} is outside the live window (the window is ${first}..${last})`,
      );
    }
    const oldStream = await fetch(url(originPaths.segment('fast', 'zzzz0000', first)));
    expect(oldStream.status).toBe(404);
    expect(await errorOf(oldStream)).toMatch(/stream zzzz0000 is over; reload the manifest/);
    const init = await fetch(url(originPaths.init('fast', m.stream, 7)));
    expect(init.status).toBe(404);
    expect(await errorOf(init)).toMatch(/init version 7 is not in the live window/);
    const noChannel = await fetch(url(originPaths.manifest('nosuch')));
    expect(noChannel.status).toBe(404);
    expect(await errorOf(noChannel)).toMatch(/no channel "nosuch"/);
    const offline = await fetch(url(originPaths.httpFlv('fast')));
    expect(offline.status).toBe(404);
    expect(await errorOf(offline)).toMatch(/offline/);
  });

  it('after all of it, the server and the demo channel carry on', async () => {
    expect((await fetch(url('/healthz'))).status).toBe(200);
    const before = demo.latestSeq!;
    const res = await fetch(url(`${originPaths.manifest('demo')}?after=${before}`));
    const m = signedManifestSchema.parse(await res.json()).manifest;
    expect(m.live).toBe(true);
    expect(m.segments.at(-1)!.seq).toBeGreaterThan(before);
    // Segments of the demo decode as FLV after the init (a cheap check; ffmpeg tests are elsewhere).
    const init = await fetchBytes(url(originPaths.init('demo', m.stream, m.segments.at(-1)!.initVersion)));
    const seg = await fetchBytes(url(originPaths.segment('demo', m.stream, m.segments.at(-1)!.seq)));
    expect(parseFlv(concatBytes([init, seg])).length).toBeGreaterThan(3);
  });
});
