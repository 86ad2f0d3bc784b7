/**
 * The tracker with real WebSocket clients: join, neighbours, signalling inside and across
 * sub-rooms, duplicate ids, misbehaving peers (malformed, oversized, flooding) disconnected
 * alone, silent peers dropped; and the viewer's TrackerClient against it.
 */

import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import {
  type ClientMessage,
  encodeMessage,
  MAX_FRAME_BYTES,
  type ServerMessage,
  type SignalData,
} from '../common/tracker-protocol';
import { TrackerClient } from '../main/p2p/tracker-client';
import { silentLogger } from '../server/log';
import { type RunningTracker, startTracker } from '../server/tracker/tracker';
import { until } from './support/media';
import { memoryLog } from './support/memory-log';

const id = (name: string) => `${name}z`.padEnd(16, '0');

/** A logger whose JSON lines the test can read. */
function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

/** A raw WebSocket peer: sends anything, queues what it receives, reports how it was closed. */
class RawPeer {
  readonly received: ServerMessage[] = [];
  private waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.received.push(JSON.parse(data.toString()) as ServerMessage);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  static open(url: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const peer = new RawPeer(ws);
      ws.once('open', () => resolve(peer));
      ws.once('error', reject);
    });
  }

  static async joined(
    url: string,
    join: Partial<Extract<ClientMessage, { type: 'join' }>> & { peerId: string },
  ) {
    const peer = await RawPeer.open(url);
    peer.send({ type: 'join', channel: 'demo', subRoom: 's0', role: 'viewer', ...join });
    const welcome = await peer.next('welcome');
    expect(welcome).toMatchObject({ peerId: join.peerId, subRoom: join.subRoom ?? 's0' });
    return peer;
  }

  send(msg: ClientMessage | string): void {
    this.ws.send(typeof msg === 'string' ? msg : encodeMessage(msg));
  }

  /** The next received message of `type` (removed from the queue). */
  async next<T extends ServerMessage['type']>(type: T): Promise<Extract<ServerMessage, { type: T }>> {
    for (;;) {
      const i = this.received.findIndex((m) => m.type === type);
      if (i >= 0) return this.received.splice(i, 1)[0] as Extract<ServerMessage, { type: T }>;
      if (this.ws.readyState !== WebSocket.OPEN) throw new Error(`closed while waiting for ${type}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        this.ws.once('close', () => resolve());
      });
    }
  }

  async neighbours(want: number, exclude?: string[]): Promise<string[]> {
    this.send({ type: 'neighbours', want, ...(exclude ? { exclude } : {}) });
    return (await this.next('neighbours')).peers.map((p) => p.peerId).sort();
  }

  close(): void {
    this.ws.terminate();
  }
}

const OFFER: SignalData = { kind: 'offer', sdp: 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n' };

describe('tracker', () => {
  let t: RunningTracker;
  let logs: ReturnType<typeof captureLogger>;
  const open: RawPeer[] = [];
  const peer = async (join: Parameters<typeof RawPeer.joined>[1]) => {
    const p = await RawPeer.joined(t.url, join);
    open.push(p);
    return p;
  };

  beforeAll(async () => {
    logs = captureLogger();
    t = await startTracker({ port: 0, log: logs.log });
  });
  afterEach(() => {
    for (const p of open.splice(0)) p.close();
  });
  afterAll(async () => {
    await t.close();
  });

  it('joins, suggests neighbours of the same sub-room, relays signals inside it only', async () => {
    const a = await peer({ peerId: id('a'), isp: 'ispa' });
    const b = await peer({ peerId: id('b'), isp: 'ispa' });
    await peer({ peerId: id('c'), role: 'seed' });
    const d = await peer({ peerId: id('d'), subRoom: 's1' });

    expect(await a.neighbours(8)).toEqual([id('b'), id('c')]);
    expect(await a.neighbours(8, [id('b')])).toEqual([id('c')]);
    expect(await a.neighbours(2)).toEqual([id('b')]); // want < 4: no seed
    expect(await d.neighbours(8)).toEqual([]);
    const occ = t.tracker.occupancy('demo');
    expect(occ.get('s0')).toMatchObject({ viewers: 2, seeds: [id('c')] });
    expect(occ.get('s1')).toMatchObject({ viewers: 1, seeds: [] });

    // a → b: relayed with the sender's id.
    a.send({ type: 'signal', to: id('b'), data: OFFER });
    expect(await b.next('signal')).toEqual({ type: 'signal', from: id('a'), data: OFFER });
    b.send({
      type: 'signal',
      to: id('a'),
      data: { kind: 'candidate', candidate: 'a=candidate:1', mid: '0' },
    });
    expect(await a.next('signal')).toMatchObject({ from: id('b'), data: { kind: 'candidate' } });

    // a → d (another sub-room): refused to a, nothing reaches d.
    a.send({ type: 'signal', to: id('d'), data: OFFER });
    expect(await a.next('error')).toMatchObject({ code: 'not-in-sub-room' });
    // Ordering barrier: a relay to d would have been written before this answer.
    await d.neighbours(1);
    expect(d.received.filter((m) => m.type === 'signal')).toEqual([]);
    // a is still connected after a refused signal.
    expect(await a.neighbours(1)).toEqual([id('b')]);
  });

  it('refuses a duplicate peer id in a sub-room, and allows it in another', async () => {
    const a = await peer({ peerId: id('dup') });
    const twin = await RawPeer.open(t.url);
    open.push(twin);
    twin.send({ type: 'join', channel: 'demo', subRoom: 's0', peerId: id('dup'), role: 'viewer' });
    expect(await twin.next('error')).toMatchObject({ code: 'duplicate-peer' });
    expect((await twin.closed).code).toBe(1008);
    await peer({ peerId: id('dup'), subRoom: 's9' });
    expect(await a.neighbours(4)).toEqual([]);
  });

  it('closes a connection whose first message is not join', async () => {
    const p = await RawPeer.open(t.url);
    open.push(p);
    p.send({ type: 'neighbours', want: 4 });
    expect(await p.next('error')).toMatchObject({ code: 'not-joined' });
    expect((await p.closed).code).toBe(1008);
  });

  it.each<[string, (p: RawPeer) => void, number]>([
    ['not JSON', (p) => p.send('{"type":"heartbeat"'), 1008],
    ['unknown type', (p) => p.send('{"type":"shout"}'), 1008],
    ['wrong field type', (p) => p.send('{"type":"neighbours","want":"all"}'), 1008],
    ['binary frame', (p) => p.ws.send(Buffer.from([1, 2, 3])), 1008],
    [
      'second join',
      (p) => p.send({ type: 'join', channel: 'demo', subRoom: 's0', peerId: id('x'), role: 'viewer' }),
      1008,
    ],
    [
      'oversized frame',
      (p) => p.send(JSON.stringify({ type: 'heartbeat', pad: 'x'.repeat(MAX_FRAME_BYTES) })),
      1009,
    ],
  ])('disconnects only the offender: %s', async (name, misbehave, code) => {
    const good = await peer({ peerId: id('good') });
    const bad = await peer({ peerId: id('bad') });
    expect(await good.neighbours(4)).toEqual([id('bad')]);
    const before = logs.lines.length;
    misbehave(bad);
    expect((await bad.closed).code).toBe(code);
    // The offender is gone from the sub-room; the other peer is untouched.
    expect(await good.neighbours(4)).toEqual([]);
    const lines = logs.lines.slice(before).filter((l) => l.peer === id('bad') && (l.level as number) >= 40);
    expect(lines, name).toHaveLength(1);
  });

  it('disconnects a flooding peer with one log line and leaves the others alone', async () => {
    const good = await peer({ peerId: id('calm') });
    const flood = await peer({ peerId: id('flood') });
    const before = logs.lines.length;
    for (let i = 0; i < 200; i++) flood.send({ type: 'heartbeat', latestSeq: i });
    expect(await flood.next('error')).toMatchObject({ code: 'rate-limited' });
    expect((await flood.closed).code).toBe(1008);
    expect(await good.neighbours(4)).toEqual([]);
    const lines = logs.lines.slice(before).filter((l) => l.peer === id('flood') && (l.level as number) >= 40);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ code: 'rate-limited', msg: 'peer disconnected' });
    // A burst within the limit is fine.
    for (let i = 0; i < 30; i++) good.send({ type: 'heartbeat', latestSeq: i });
    expect(await good.neighbours(4)).toEqual([]);
  });

  it('removes a peer that leaves', async () => {
    const a = await peer({ peerId: id('stay') });
    const b = await peer({ peerId: id('go') });
    expect(await a.neighbours(4)).toEqual([id('go')]);
    b.send({ type: 'leave' });
    expect((await b.closed).code).toBe(1000);
    expect(await a.neighbours(4)).toEqual([]);
  });
});

describe('tracker heartbeats', () => {
  let t: RunningTracker;
  beforeAll(async () => {
    t = await startTracker({ port: 0, log: silentLogger(), heartbeatMs: 100 });
  });
  afterAll(async () => {
    await t.close();
  });

  it('drops a silent peer after 3 heartbeat periods and keeps one that beats', async () => {
    const silent = await RawPeer.joined(t.url, { peerId: id('quiet') });
    const alive = await RawPeer.joined(t.url, { peerId: id('alive') });
    const beat = setInterval(() => alive.send({ type: 'heartbeat' }), 50);
    try {
      const started = Date.now();
      const { code } = await silent.closed;
      const silentFor = Date.now() - started;
      expect(code).toBe(1001);
      expect(silentFor).toBeGreaterThanOrEqual(250);
      expect(silentFor).toBeLessThan(2000);
      expect(await alive.neighbours(4)).toEqual([]);
      expect(t.tracker.occupancy('demo').get('s0')?.viewers).toBe(1);
      // A connection that never joins is dropped too.
      const lurker = await RawPeer.open(t.url);
      expect((await lurker.closed).code).toBe(1001);
      expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    } finally {
      clearInterval(beat);
      alive.close();
    }
  });
});

describe('TrackerClient', () => {
  let t: RunningTracker;
  const clients: TrackerClient[] = [];
  const client = (peerId: string, extra: Partial<ConstructorParameters<typeof TrackerClient>[0]> = {}) => {
    const c = new TrackerClient({
      url: t.url,
      channel: 'demo',
      subRoom: 's0',
      peerId,
      role: 'viewer',
      log: memoryLog(),
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
      ...extra,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startTracker({ port: 0, log: silentLogger(), heartbeatMs: 100 });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await t.close();
  });

  it('connects, suggests neighbours, exchanges signals, sends heartbeats, leaves', async () => {
    let seq = 0;
    const a = client(id('ca'), {
      isp: 'ispa',
      region: 'eu',
      stats: () => ({ latestSeq: ++seq, uploadKbps: 12.34 }),
    });
    const b = client(id('cb'));
    await Promise.all([a.connect(), b.connect()]);
    expect(a.connected).toBe(true);
    expect((await a.neighbours(8)).map((p) => p.peerId)).toEqual([id('cb')]);
    expect(await b.neighbours(8)).toEqual([{ peerId: id('ca'), role: 'viewer', isp: 'ispa', region: 'eu' }]);

    const got = new Promise<[string, SignalData]>((resolve) =>
      b.onSignal((from, data) => resolve([from, data])),
    );
    expect(a.signal(id('cb'), OFFER)).toBe(true);
    expect(await got).toEqual([id('ca'), OFFER]);
    // An invalid signal is refused locally (the tracker would disconnect us for it).
    expect(a.signal('nobody', OFFER)).toBe(false);
    expect(a.signal(id('cb'), { kind: 'offer', sdp: 'x'.repeat(MAX_FRAME_BYTES) })).toBe(false);

    // Heartbeats every 100 ms keep a alive well past 3 periods.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (seq >= 5) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    expect(a.connected).toBe(true);
    expect(t.tracker.occupancy('demo').get('s0')?.viewers).toBe(2);

    await a.close();
    expect(a.connected).toBe(false);
    expect((await b.neighbours(8)).map((p) => p.peerId)).toEqual([]);
    await expect(a.neighbours(1)).rejects.toThrow(/not connected/);
    await expect(a.connect()).rejects.toThrow(/closed/);
  });

  it('reconnects and re-joins after the tracker goes away', async () => {
    const port = t.port;
    const a = client(id('ra'));
    let joins = 0;
    a.onConnected(() => joins++);
    await a.connect();
    expect(joins).toBe(1);
    await t.close();
    await expect(a.neighbours(1)).rejects.toThrow();
    t = await startTracker({ port, log: silentLogger(), heartbeatMs: 100 });
    await a.connect();
    expect(joins).toBe(2);
    const b = client(id('rb'));
    await b.connect();
    expect((await b.neighbours(4)).map((p) => p.peerId)).toEqual([id('ra')]);
  });

  it('rejects connect() after its timeout but keeps trying', async () => {
    const port = t.port;
    await t.close();
    const a = client(id('late'), { connectTimeoutMs: 150 });
    await expect(a.connect()).rejects.toThrow(/no welcome/);
    t = await startTracker({ port, log: silentLogger(), heartbeatMs: 100 });
    // It keeps trying by itself (back-off from 500 ms): a second connect() would give the welcome
    // only its own 150 ms, which a busy machine can miss.
    await until(() => a.connected, 10_000, 'the client reconnected by itself');
    expect(a.connected).toBe(true);
  });

  it('logs and ignores bad frames from the tracker', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    wss.on('connection', (ws) => {
      ws.once('message', () => {
        ws.send('not json');
        ws.send('{"type":"welcome","peerId":"x"}');
        ws.send(
          JSON.stringify({
            type: 'signal',
            from: id('evil'),
            data: { kind: 'offer', sdp: 'x'.repeat(MAX_FRAME_BYTES) },
          }),
        );
        ws.send(Buffer.from([1, 2, 3]));
        ws.send(JSON.stringify({ type: 'welcome', peerId: id('fake'), subRoom: 's0', heartbeatMs: 1000 }));
      });
    });
    try {
      const address = wss.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const log = memoryLog();
      const a = client(id('fake'), { url: `ws://127.0.0.1:${port}/tracker`, log });
      const signals: string[] = [];
      a.onSignal((from) => signals.push(from));
      await a.connect();
      expect(a.connected).toBe(true);
      expect(signals).toEqual([]);
      const ignored = log.lines.filter((l) => l.level === 'warn' && /ignored/.test(l.msg));
      expect(ignored).toHaveLength(4);
    } finally {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });
});
