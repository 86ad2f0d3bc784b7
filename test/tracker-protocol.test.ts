/** The tracker protocol and the COM channel-info schema: round trips and rejections. */
import { describe, expect, it } from 'vitest';
import { channelInfoPath, channelInfoSchema } from '../common/com';
import {
  type ClientMessage,
  encodeMessage,
  MAX_FRAME_BYTES,
  MAX_SDP_CHARS,
  parseClientMessage,
  parseServerMessage,
  type ServerMessage,
} from '../common/tracker-protocol';

const A = 'a'.repeat(16);
const B = 'b0b0b0b0b0b0b0b0b0b0';

const clientMessages: ClientMessage[] = [
  { type: 'join', channel: 'demo', subRoom: 's0', peerId: A, role: 'viewer' },
  {
    type: 'join',
    channel: 'demo',
    subRoom: 's1',
    peerId: B,
    role: 'seed',
    isp: 'AS3320 DTAG',
    region: 'eu-de',
  },
  { type: 'heartbeat' },
  { type: 'heartbeat', latestSeq: 1234, uploadKbps: 850.5 },
  { type: 'neighbours', want: 8 },
  { type: 'neighbours', want: 32, exclude: [A, B] },
  { type: 'signal', to: B, data: { kind: 'offer', sdp: 'v=0\r\n' } },
  { type: 'signal', to: B, data: { kind: 'answer', sdp: 'x'.repeat(MAX_SDP_CHARS) } },
  {
    type: 'signal',
    to: B,
    data: { kind: 'candidate', candidate: 'a=candidate:1 1 UDP 1 1.2.3.4 5 typ host', mid: '0' },
  },
  { type: 'leave' },
];

const serverMessages: ServerMessage[] = [
  { type: 'welcome', peerId: A, subRoom: 's0', heartbeatMs: 5000 },
  { type: 'neighbours', peers: [] },
  {
    type: 'neighbours',
    peers: [
      { peerId: B, role: 'seed' },
      { peerId: A, role: 'viewer', isp: 'x', region: 'y' },
    ],
  },
  { type: 'signal', from: A, data: { kind: 'candidate', candidate: '', mid: '' } },
  { type: 'error', message: 'nope' },
  { type: 'error', message: 'slow down', code: 'rate-limited' },
];

describe('tracker protocol', () => {
  it.each(clientMessages.map((m) => [m.type, m] as const))('client %s round-trips', (_t, msg) => {
    const text = encodeMessage(msg);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(parseClientMessage(text)).toEqual({ ok: true, message: msg });
    expect(parseClientMessage(Buffer.from(text))).toEqual({ ok: true, message: msg });
  });

  it.each(serverMessages.map((m) => [m.type, m] as const))('server %s round-trips', (_t, msg) => {
    expect(parseServerMessage(encodeMessage(msg))).toEqual({ ok: true, message: msg });
  });

  const bad: Array<[string, unknown]> = [
    ['unknown type', { type: 'hello' }],
    ['no type', { channel: 'demo' }],
    ['array', [1, 2]],
    ['null', null],
    ['short peer id', { type: 'join', channel: 'demo', subRoom: 's0', peerId: 'abc', role: 'viewer' }],
    [
      'long peer id',
      { type: 'join', channel: 'demo', subRoom: 's0', peerId: 'a'.repeat(33), role: 'viewer' },
    ],
    [
      'upper-case peer id',
      { type: 'join', channel: 'demo', subRoom: 's0', peerId: 'A'.repeat(16), role: 'viewer' },
    ],
    ['bad role', { type: 'join', channel: 'demo', subRoom: 's0', peerId: A, role: 'admin' }],
    ['bad channel', { type: 'join', channel: '../etc', subRoom: 's0', peerId: A, role: 'viewer' }],
    [
      'long isp',
      { type: 'join', channel: 'demo', subRoom: 's0', peerId: A, role: 'viewer', isp: 'x'.repeat(65) },
    ],
    [
      'control chars in region',
      { type: 'join', channel: 'demo', subRoom: 's0', peerId: A, role: 'viewer', region: 'a\nb' },
    ],
    ['want 0', { type: 'neighbours', want: 0 }],
    ['want 33', { type: 'neighbours', want: 33 }],
    ['want as string', { type: 'neighbours', want: '8' }],
    ['fractional want', { type: 'neighbours', want: 2.5 }],
    ['exclude too long', { type: 'neighbours', want: 4, exclude: new Array(65).fill(A) }],
    ['exclude bad id', { type: 'neighbours', want: 4, exclude: ['x'] }],
    ['negative latestSeq', { type: 'heartbeat', latestSeq: -1 }],
    ['upload as string', { type: 'heartbeat', uploadKbps: 'lots' }],
    ['signal bad kind', { type: 'signal', to: B, data: { kind: 'bye', sdp: 'x' } }],
    ['signal no data', { type: 'signal', to: B }],
    ['sdp too long', { type: 'signal', to: B, data: { kind: 'offer', sdp: 'x'.repeat(MAX_SDP_CHARS + 1) } }],
    [
      'candidate too long',
      { type: 'signal', to: B, data: { kind: 'candidate', candidate: 'x'.repeat(1025), mid: '0' } },
    ],
    [
      'mid too long',
      { type: 'signal', to: B, data: { kind: 'candidate', candidate: 'x', mid: 'm'.repeat(65) } },
    ],
  ];
  it.each(bad)('rejects %s', (_name, value) => {
    const r = parseClientMessage(JSON.stringify(value));
    expect(r.ok).toBe(false);
  });

  it('rejects frames that are not JSON or too large, without throwing', () => {
    expect(parseClientMessage('{"type":')).toEqual({ ok: false, error: 'frame is not JSON' });
    expect(parseClientMessage(new Uint8Array([0xff, 0xfe, 0x00]))).toMatchObject({ ok: false });
    const huge = JSON.stringify({ type: 'heartbeat', pad: 'x'.repeat(MAX_FRAME_BYTES) });
    expect(parseClientMessage(huge)).toMatchObject({ ok: false, error: expect.stringContaining('larger') });
    expect(parseServerMessage(Buffer.alloc(MAX_FRAME_BYTES + 1, 0x20))).toMatchObject({ ok: false });
  });

  it('rejects server messages of the wrong shape', () => {
    for (const v of [
      { type: 'welcome', peerId: A, subRoom: 's0' },
      { type: 'welcome', peerId: A, subRoom: 's0', heartbeatMs: 0 },
      { type: 'neighbours', peers: new Array(33).fill({ peerId: A, role: 'viewer' }) },
      { type: 'signal', from: 'nobody', data: { kind: 'offer', sdp: 'x' } },
      { type: 'error', message: 'x'.repeat(513) },
      { type: 'error', message: 'x', code: 'teapot' },
      { type: 'join', channel: 'demo', subRoom: 's0', peerId: A, role: 'viewer' },
    ]) {
      expect(parseServerMessage(JSON.stringify(v)).ok).toBe(false);
    }
  });
});

describe('COM channel info schema', () => {
  const info = {
    channel: 'demo',
    live: true,
    publicKey: 'MCowBQYDK2VwAyEAq83vzUDcz0ARXkOWEK5u62lPKkCcOXmjgRwZTjsuUgY=',
    originBaseUrl: 'https://cdn.example.com/swarm',
    manifest: {
      manifest: {
        v: 1,
        channel: 'demo',
        stream: 'abcd1234',
        live: true,
        targetDurationMs: 1000,
        generatedAt: 1,
        inits: [],
        segments: [],
      },
      signature: 'c2ln',
    },
    iceServers: [
      { urls: ['stun:stun.example.com:3478'] },
      { urls: ['turn:turn.example.com:3478?transport=udp'], username: 'u', credential: 'p' },
    ],
    logServers: ['https://log.example.com/v1/reports'],
    seeds: [B],
    tracker: { url: 'wss://t1.example.com/tracker', subRoom: 's0' },
    peer: { id: 'abcdef0123456789', role: 'viewer' as const, ticket: 'eyJjIjoiZGVtbyJ9.c2lnbmF0dXJl' },
    serverTime: 1_795_000_000_000,
  };

  it('accepts a full answer', () => {
    expect(channelInfoSchema.parse(info)).toEqual(info);
  });

  it.each<[string, (i: typeof info) => unknown]>([
    ['http tracker URL', (i) => ({ ...i, tracker: { ...i.tracker, url: 'http://t/tracker' } })],
    ['bad sub-room', (i) => ({ ...i, tracker: { ...i.tracker, subRoom: 'S 0' } })],
    ['ftp origin', (i) => ({ ...i, originBaseUrl: 'ftp://x' })],
    ['ice URL without scheme', (i) => ({ ...i, iceServers: [{ urls: ['example.com:3478'] }] })],
    ['empty ice urls', (i) => ({ ...i, iceServers: [{ urls: [] }] })],
    ['too many seeds', (i) => ({ ...i, seeds: new Array(33).fill(B) })],
    ['no server time', (i) => ({ ...i, serverTime: undefined })],
    ['negative server time', (i) => ({ ...i, serverTime: -1 })],
    ['too many log servers', (i) => ({ ...i, logServers: new Array(17).fill('http://l') })],
    ['long URL', (i) => ({ ...i, originBaseUrl: `http://x/${'a'.repeat(600)}` })],
    ['missing manifest', ({ manifest: _m, ...rest }) => rest],
    ['bad key', (i) => ({ ...i, publicKey: 'not base64!' })],
  ])('rejects %s', (_name, mutate) => {
    expect(channelInfoSchema.safeParse(mutate(info)).success).toBe(false);
  });

  it('builds the request path with hints', () => {
    expect(channelInfoPath('demo')).toBe('/api/channels/demo');
    expect(channelInfoPath('demo', { isp: 'AS 1', region: 'eu' })).toBe(
      '/api/channels/demo?isp=AS+1&region=eu',
    );
  });
});
