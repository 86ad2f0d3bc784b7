/**
 * The loopback gateway's request handling against broken and hostile requests: bad percent
 * escapes, NUL bytes and path traversal in static serving (browser mode) get a clear status,
 * and the process lives on.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gateway } from '../main/core/gateway/gateway';
import { memoryLog } from './support/memory-log';

let gateway: Gateway;

/** A raw GET (fetch would normalise or refuse some of these paths itself). */
function rawGet(path: string): Promise<number> {
  const url = new URL(gateway.baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'swarmcast-gw-'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>t</title>');
  gateway = new Gateway({ stream: (_id, _req, res) => res.end(), rendererDir: dir }, memoryLog());
  await gateway.start();
});

afterAll(async () => {
  await gateway.close();
});

describe('gateway static serving', () => {
  const token = () => new URL(gateway.baseUrl).pathname; // "/TOKEN/"
  const cases: Array<[string, string, number]> = [
    ['the page itself', '', 200],
    ['a broken percent-escape', '%E0%A4%A', 400],
    ['a lone percent sign', 'a%', 400],
    ['an encoded NUL byte', 'index.html%00.png', 400],
    ['an encoded path traversal', '..%2F..%2F..%2Fetc%2Fpasswd', 403],
    ['a missing file', 'nope.js', 404],
  ];
  it.each(cases)('%s', async (_name, rel, status) => {
    expect(await rawGet(`${token()}${rel}`)).toBe(status);
    // Still serving after whatever came before.
    expect(await rawGet(`${token()}`)).toBe(200);
  });

  it('refuses requests without the token', async () => {
    expect(await rawGet('/index.html')).toBe(403);
  });
});
