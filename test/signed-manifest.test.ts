/**
 * The viewer's manifest check: a manifest is schema-checked and signature-checked whole, but the
 * entries it shares with the last verified one are that manifest's (already checked) entries,
 * and the signed bytes are the same whether an entry's text was kept or not.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type Manifest,
  manifestSigningBytes,
  manifestSigningText,
  parseSignedManifest,
  type SegmentEntry,
  signedManifestJson,
  signedManifestSchema,
  splitSignedManifest,
} from '../common/manifest';
import {
  ManifestRejected,
  verifySignedManifest,
  verifySignedManifestBody,
} from '../main/core/manifest/signed-manifest';

const { publicKey, privateKey } = generateKeyPairSync('ed25519');

function entry(seq: number): SegmentEntry {
  return {
    seq,
    initVersion: 0,
    startTs: seq * 1000,
    durationMs: 1000,
    size: 100_000 + seq,
    sha256: seq.toString(16).padStart(64, 'a'),
    keyframeOffset: seq % 3 === 0 ? null : 13,
    originTime: 1_700_000_000_000 + seq * 1000,
  };
}

function manifest(first: number, last: number, edit?: (m: Manifest) => void): Manifest {
  const m: Manifest = {
    v: 1,
    channel: 'demo',
    stream: 'abcd1234',
    live: true,
    targetDurationMs: 1000,
    generatedAt: 1_700_000_000_000 + last * 1000,
    inits: [{ version: 0, size: 500, sha256: 'b'.repeat(64) }],
    segments: [],
  };
  for (let s = first; s <= last; s++) m.segments.push(entry(s));
  edit?.(m);
  return m;
}

/** The manifest as it arrives: signed, serialised, parsed again (fresh objects, no kept text). */
function wire(m: Manifest, signWith: Manifest = m): unknown {
  const signature = sign(null, manifestSigningBytes(signWith), privateKey).toString('base64');
  return JSON.parse(JSON.stringify({ manifest: m, signature }));
}

/**
 * The signed bytes as defined: the manifest serialised with its keys in schema order, written
 * here another way (JSON.stringify's key list orders every object's keys by that list).
 */
function referenceBytes(m: Manifest): Uint8Array {
  const order = [
    ...['v', 'channel', 'stream', 'live', 'targetDurationMs', 'generatedAt', 'inits', 'segments'],
    ...['version', 'seq', 'initVersion', 'startTs', 'durationMs', 'size', 'sha256'],
    ...['keyframeOffset', 'originTime'],
  ];
  return new TextEncoder().encode(JSON.stringify(m, order));
}

describe('verifying a manifest against the last one', () => {
  it('keeps the entries it already checked and checks the new ones', () => {
    const first = verifySignedManifest(wire(manifest(10, 39)), publicKey, 'demo');
    const next = verifySignedManifest(wire(manifest(11, 40)), publicKey, 'demo', first);
    expect(next.segments.map((s) => s.seq)).toEqual(Array.from({ length: 30 }, (_, i) => 11 + i));
    for (let i = 0; i < 29; i++) expect(next.segments[i]).toBe(first.segments[i + 1]);
    expect(next.segments[29]).toEqual(entry(40));
    expect(Object.isFrozen(next.segments[29])).toBe(true);
  });

  it('checks again an entry whose values changed under the same seq', () => {
    const first = verifySignedManifest(wire(manifest(10, 39)), publicKey, 'demo');
    const changed = manifest(11, 40, (m) => {
      m.segments[5]!.sha256 = 'c'.repeat(64);
    });
    const next = verifySignedManifest(wire(changed), publicKey, 'demo', first);
    expect(next.segments[5]!.sha256).toBe('c'.repeat(64));
    expect(next.segments[5]).not.toBe(first.segments[6]);

    // A value the schema forbids is refused although an entry of that seq was checked before.
    const bad = manifest(11, 40, (m) => {
      (m.segments[5] as { size: number }).size = -1;
    });
    expect(() => verifySignedManifest(wire(bad), publicKey, 'demo', first)).toThrow(/segments\[5\]/);
    const notObject = wire(manifest(11, 40)) as { manifest: { segments: unknown[] } };
    notObject.manifest.segments[3] = 14;
    expect(() => verifySignedManifest(notObject, publicKey, 'demo', first)).toThrow(ManifestRejected);
  });

  it('refuses a reused entry whose bytes were not what the origin signed', () => {
    const first = verifySignedManifest(wire(manifest(10, 39)), publicKey, 'demo');
    // Signed with entry 20's old size, sent with another: the entry is new, the signature fails.
    const sent = manifest(11, 40, (m) => {
      m.segments[9]!.size += 1;
    });
    expect(() => verifySignedManifest(wire(sent, manifest(11, 40)), publicKey, 'demo', first)).toThrow(
      /signature/,
    );
  });

  it('drops unknown keys as the schema does, reused or not', () => {
    const first = verifySignedManifest(wire(manifest(10, 39)), publicKey, 'demo');
    const json = wire(manifest(11, 40)) as { manifest: { segments: Array<Record<string, unknown>> } };
    json.manifest.segments[0]!.extra = 'x';
    json.manifest.segments[29]!.extra = 'y';
    const next = verifySignedManifest(json, publicKey, 'demo', first);
    expect(next.segments[0]).toBe(first.segments[1]);
    expect('extra' in next.segments[29]!).toBe(false);
  });

  it('gives the same result as the whole schema for good and bad manifests', () => {
    const good = wire(manifest(0, 29));
    expect(parseSignedManifest(good, null)).toEqual({
      success: true,
      data: signedManifestSchema.parse(good),
    });
    const bad = wire(manifest(0, 3)) as { manifest: { segments: Array<Record<string, unknown>> } };
    bad.manifest.segments[2]!.sha256 = 'xyz';
    expect(parseSignedManifest(bad, null).success).toBe(false);
    expect(signedManifestSchema.safeParse(bad).success).toBe(false);
  });
});

describe('the signed bytes', () => {
  it('are the schema-order serialisation, with or without the kept entry texts', () => {
    const plain = manifest(100, 129);
    expect(manifestSigningBytes(plain)).toEqual(referenceBytes(plain));
    const verified = verifySignedManifest(wire(plain), publicKey, 'demo');
    expect(manifestSigningBytes(verified)).toEqual(referenceBytes(plain));
    expect(manifestSigningBytes(verified)).toEqual(referenceBytes(plain));
    const empty = manifest(1, 0, (m) => {
      m.inits = [];
      m.live = false;
    });
    expect(manifestSigningBytes(empty)).toEqual(referenceBytes(empty));
  });
});

/** The origin's response body: the signing text verbatim, then the signature. */
function body(m: Manifest, signWith: Manifest = m): Uint8Array {
  const signature = sign(null, manifestSigningBytes(signWith), privateKey).toString('base64');
  return new TextEncoder().encode(signedManifestJson(manifestSigningText(m), signature));
}

const bytesOf = (text: string) => new TextEncoder().encode(text);

describe('verifying a response body', () => {
  it('checks the signature over the bytes as they came, with the same result as the canonical way', () => {
    const m = manifest(10, 39);
    const b = body(m);
    const split = splitSignedManifest(b)!;
    expect(split.signed).toEqual(manifestSigningBytes(m));
    expect(JSON.parse(new TextDecoder().decode(b))).toEqual(wire(m));
    const first = verifySignedManifestBody(b, publicKey, 'demo');
    expect(first).toEqual(verifySignedManifest(wire(m), publicKey, 'demo'));
    // Entries already checked are reused, as on the canonical path.
    const next = verifySignedManifestBody(body(manifest(11, 40)), publicKey, 'demo', first);
    for (let i = 0; i < 29; i++) expect(next.segments[i]).toBe(first.segments[i + 1]);
  });

  it('still verifies a body in another JSON form (re-indented, keys reordered) the canonical way', () => {
    const m = manifest(10, 39);
    const signature = sign(null, manifestSigningBytes(m), privateKey).toString('base64');
    const indented = bytesOf(JSON.stringify({ manifest: m, signature }, null, 2));
    expect(splitSignedManifest(indented)).toBeNull();
    expect(verifySignedManifestBody(indented, publicKey, 'demo')).toEqual(m);
    const reordered = bytesOf(JSON.stringify({ signature, manifest: { ...m, v: 1 } }));
    expect(verifySignedManifestBody(reordered, publicKey, 'demo')).toEqual(m);
    // Whitespace after it, or a key the schema drops (even one holding a signature head),
    // leaves the raw bytes unverified and the canonical ones as signed.
    const text = new TextDecoder().decode(body(m));
    expect(verifySignedManifestBody(bytesOf(`${text}\n`), publicKey, 'demo')).toEqual(m);
    const injected = text.replace('"abcd1234"', '"abcd1234","x":",\\"signature\\":\\""');
    expect(splitSignedManifest(bytesOf(injected))).not.toBeNull();
    expect(verifySignedManifestBody(bytesOf(injected), publicKey, 'demo')).toEqual(m);
  });

  it.each([
    ['a changed byte in what was signed', (t: string) => t.replace('"size":100015', '"size":100016')],
    [
      'the signature of another manifest',
      (t: string) =>
        t.replace(
          /"signature":"[^"]+"/,
          `"signature":"${sign(null, manifestSigningBytes(manifest(11, 40)), privateKey).toString('base64')}"`,
        ),
    ],
    ['no signature', (t: string) => t.replace(/,"signature":"[^"]+"/, '')],
    ['a signature that is not base64', (t: string) => t.replace(/"signature":"[^"]+"/, '"signature":"a b"')],
    ['trailing bytes that are not JSON', (t: string) => `${t}x`],
    ['a truncated body', (t: string) => t.slice(0, 200)],
    ['no JSON at all', () => 'hello'],
  ])('refuses %s', (_, edit) => {
    const text = edit(new TextDecoder().decode(body(manifest(10, 39))));
    expect(() => verifySignedManifestBody(bytesOf(text), publicKey, 'demo')).toThrow(ManifestRejected);
  });

  it('reads a body with non-ASCII text as UTF-8 (the ASCII fast path is only for ASCII), and refuses bad UTF-8', () => {
    const m = manifest(10, 39);
    const signature = sign(null, manifestSigningBytes(m), privateKey).toString('base64');
    // A key the schema drops, holding non-ASCII text: the canonical path, read as UTF-8.
    const text = JSON.stringify({ manifest: { ...m, note: 'caf\u00e9 \u6f22' }, signature });
    expect(verifySignedManifestBody(bytesOf(text), publicKey, 'demo')).toEqual(m);
    const broken = bytesOf(text);
    broken[broken.indexOf(0xc3)] = 0xff;
    expect(() => verifySignedManifestBody(broken, publicKey, 'demo')).toThrow(/not JSON/);
  });

  it('refuses a genuine manifest for another channel, and splits only the envelope it writes', () => {
    const other = manifest(10, 39, (m) => {
      m.channel = 'other';
    });
    expect(() => verifySignedManifestBody(body(other), publicKey, 'demo')).toThrow(/channel other/);
    expect(splitSignedManifest(bytesOf('{"manifest":{},"signature":"AAAA"}'))).toEqual({
      signed: bytesOf('{}'),
      signature: 'AAAA',
    });
    expect(splitSignedManifest(bytesOf('{"manifest":,"signature":"AAAA"}'))?.signed.length).toBe(0);
    expect(splitSignedManifest(bytesOf('{"signature":"AAAA","manifest":{}}'))).toBeNull();
    expect(splitSignedManifest(bytesOf('"}'))).toBeNull();
    expect(() => signedManifestJson('{}', 'not"base64')).toThrow();
  });
});
