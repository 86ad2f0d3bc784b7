/**
 * An HTTP proxy between a viewer and the origin that can corrupt or withhold chosen
 * responses: a hostile CDN or network, for the core's integrity and gap tests.
 */
import { createServer, request, type Server } from 'node:http';

export interface TamperRules {
  /**
   * Called with the request path; returning a function transforms the whole response body, or
   * each line of a streamed NDJSON response as it passes.
   */
  rewrite?: (path: string) => ((body: Buffer) => Buffer) | null;
  /** Answer 404 to these paths (as if the segment never reached the CDN). */
  withhold?: (path: string) => boolean;
}

export interface TamperProxy {
  url: string;
  rules: TamperRules;
  requests: string[];
  close(): Promise<void>;
}

export async function startTamperProxy(target: string): Promise<TamperProxy> {
  const upstream = new URL(target);
  const state: TamperProxy = { url: '', rules: {}, requests: [], close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    state.requests.push(path);
    if (state.rules.withhold?.(path)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end('{"error":"withheld by test proxy"}');
    }
    const rewrite = state.rules.rewrite?.(path) ?? null;
    const up = request(
      { host: upstream.hostname, port: upstream.port, path, method: req.method, headers: req.headers },
      (upRes) => {
        if (!rewrite) {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          return;
        }
        if (String(upRes.headers['content-type']).startsWith('application/x-ndjson')) {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          let rest = Buffer.alloc(0);
          upRes.on('data', (c: Buffer) => {
            rest = Buffer.concat([rest, c]);
            for (let at = rest.indexOf(0x0a); at >= 0; at = rest.indexOf(0x0a)) {
              res.write(Buffer.concat([rewrite(rest.subarray(0, at)), Buffer.from('\n')]));
              rest = rest.subarray(at + 1);
            }
          });
          upRes.on('end', () => res.end());
          return;
        }
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const body = rewrite(Buffer.concat(chunks));
          const headers = { ...upRes.headers, 'content-length': String(body.length) };
          delete headers['transfer-encoding'];
          res.writeHead(upRes.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  state.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return state;
}
