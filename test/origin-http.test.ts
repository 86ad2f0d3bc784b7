/**
 * The core's HTTP helper against a real local server: answers, the server's own error text,
 * the body cap, and the abort policy (a signal or a time limit ends the exchange with an
 * AbortError, and the signal is left without the exchange's listener once it has settled).
 */
import { getEventListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpExchange, OriginError, request } from '../main/core/manifest/origin-http';

let server: Server;
let base = '';
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/ok') return res.end('hello');
    if (req.url === '/big') return res.end(Buffer.alloc(64 * 1024, 1));
    if (req.url === '/missing') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: 'no such channel' }));
    }
    // /hang: headers never come.
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('httpExchange / request', () => {
  it('answers, and leaves no listener on the signal after it settled', async () => {
    const ctl = new AbortController();
    const res = await httpExchange(`${base}/ok`, { signal: ctl.signal });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('hello');
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
    await expect(request(`${base}/missing`, ctl.signal)).rejects.toMatchObject({
      name: 'OriginError',
      status: 404,
      message: 'no such channel',
    });
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
  });

  it('fails a body over the cap with OriginError', async () => {
    await expect(request(`${base}/big`, undefined, {}, 1024)).rejects.toThrow(/too large/);
    expect((await request(`${base}/big`, undefined, {}, 128 * 1024)).body.length).toBe(64 * 1024);
  });

  it('ends with an AbortError when the signal fires or the time runs out', async () => {
    const ctl = new AbortController();
    const pending = httpExchange(`${base}/hang`, { signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);

    const t0 = performance.now();
    await expect(httpExchange(`${base}/hang`, { timeoutMs: 100 })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(performance.now() - t0).toBeLessThan(5000);
    // request() passes an abort through as it is (the caller asked for it), not as OriginError.
    const ctl2 = new AbortController();
    const viaRequest = request(`${base}/hang`, ctl2.signal);
    setTimeout(() => ctl2.abort(), 20);
    const err = await viaRequest.catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(OriginError);
    expect(err).toMatchObject({ name: 'AbortError' });
  });

  it('does not ask at all with a signal that has already fired', async () => {
    const before = hits;
    await expect(httpExchange(`${base}/ok`, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(hits).toBe(before);
  });
});
