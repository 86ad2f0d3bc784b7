/**
 * HTTP to the COM service and the origin/CDN: one request helper with clear errors (the
 * server's own error text when it sends one), a body size cap, a JSON reader, and an optional
 * time limit so that a request that hangs fails instead of holding its segment.
 *
 * Over node:http(s) with keep-alive agents, not fetch: a viewer reloads the manifest every
 * second for as long as it watches, and undici's fetch (web streams, Headers, Response) cost
 * several times the CPU of the request itself there, plus ~100 ms of start-up to load it. The
 * wrapper is small because node:http does the protocol; what is written here is only the
 * status/size/abort policy the core needs.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export class OriginError extends Error {
  override name = 'OriginError';
  constructor(
    message: string,
    /** HTTP status, or 0 when the server could not be reached. */
    readonly status: number,
  ) {
    super(message);
  }
}

/** Keep-alive agents: manifests, segments and reports go to the same few hosts again and again. */
const HTTP_AGENT = new HttpAgent({ keepAlive: true, maxSockets: 16 });
const HTTPS_AGENT = new HttpsAgent({ keepAlive: true, maxSockets: 16 });

const MAX_JSON_BYTES = 1024 * 1024;

export interface HttpAnswer {
  status: number;
  statusText: string;
  body: Buffer;
}

export interface HttpOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** The whole exchange must end within this (ms). */
  timeoutMs?: number;
  /** A larger body fails with OriginError (default 1 MiB). */
  maxBytes?: number;
}

/** The agent and request function for a URL's scheme. */
export function transportFor(url: URL): {
  agent: HttpAgent;
  send: typeof httpRequest;
} {
  return url.protocol === 'https:'
    ? { agent: HTTPS_AGENT, send: httpsRequest as typeof httpRequest }
    : { agent: HTTP_AGENT, send: httpRequest };
}

function once(url: URL, o: HttpOptions, signal: AbortSignal | undefined): Promise<HttpAnswer> {
  const { agent, send } = transportFor(url);
  const maxBytes = o.maxBytes ?? MAX_JSON_BYTES;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const headers: Record<string, string> = { accept: '*/*', ...o.headers };
    if (o.body !== undefined) headers['content-length'] = String(Buffer.byteLength(o.body));
    // The signal is watched here rather than handed to http.request, which ties it to the
    // request with stream.finished (half a dozen listeners and a tick per request): one
    // listener, removed when the exchange settles.
    const onAbort = () => req.destroy(abortError(signal!));
    const ok = (answer: HttpAnswer) => {
      signal?.removeEventListener('abort', onAbort);
      resolve(answer);
    };
    const fail = (err: unknown) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    };
    const req = send(url, { method: o.method ?? 'GET', agent, headers }, (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          req.destroy(new OriginError('response too large', res.statusCode ?? 0));
          return;
        }
        parts.push(chunk);
      });
      res.on('end', () => {
        if (!res.complete) return fail(new OriginError('response ended early', res.statusCode ?? 0));
        ok({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          body: parts.length === 1 ? parts[0]! : Buffer.concat(parts),
        });
      });
      res.on('error', fail);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed just as we reused it: the request never reached
      // it, so asking once more on a fresh socket is safe (and what the Node docs advise).
      if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        fail(Object.assign(err, { retryable: true }));
      } else fail(err);
    });
    req.end(o.body);
  });
}

/** What an aborted exchange rejects with, as fetch and http.request({ signal }) do. */
export function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('the request was aborted', { cause: signal.reason }), {
    name: 'AbortError',
    code: 'ABORT_ERR',
  });
}

/**
 * One HTTP exchange, whatever its status. Rejects with the network error itself (its `code`,
 * e.g. ECONNREFUSED), an AbortError when `signal` or the time limit ends it, or OriginError
 * for a body over the cap.
 */
export async function httpExchange(url: string, o: HttpOptions = {}): Promise<HttpAnswer> {
  const signals = [o.signal, o.timeoutMs === undefined ? undefined : AbortSignal.timeout(o.timeoutMs)].filter(
    (s): s is AbortSignal => s !== undefined,
  );
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  const parsed = new URL(url);
  try {
    return await once(parsed, o, signal);
  } catch (err) {
    const get = (o.method ?? 'GET') === 'GET';
    if (get && (err as { retryable?: boolean }).retryable && !signal?.aborted) return once(parsed, o, signal);
    throw err;
  }
}

/**
 * GET `url`; rejects with OriginError on a network failure, a status other than 2xx or a body
 * over `maxBytes` (JSON's cap unless the caller expects more, e.g. init data).
 */
export async function request(
  url: string,
  signal?: AbortSignal,
  headers: Record<string, string> = {},
  maxBytes = MAX_JSON_BYTES,
): Promise<HttpAnswer> {
  let res: HttpAnswer;
  try {
    res = await httpExchange(url, { signal, headers, maxBytes });
  } catch (err) {
    throw signal?.aborted ? err : asOriginError(err, new URL(url).host);
  }
  if (res.status < 200 || res.status >= 300)
    throw new OriginError(errorText(res.body, res.status, res.statusText), res.status);
  return res;
}

/** A failed exchange as an OriginError: itself when it is one, else "cannot reach" (status 0). */
export function asOriginError(err: unknown, host: string): OriginError {
  if (err instanceof OriginError) return err;
  return new OriginError(`cannot reach ${host}: ${err instanceof Error ? err.message : String(err)}`, 0);
}

/**
 * Reads an answer with an error status (its first few KB: the server's error text) and hands
 * `done` the OriginError it stands for; for the streaming requests, which read bodies themselves.
 */
export function readErrorAnswer(res: IncomingMessage, done: (err: unknown) => void): void {
  const status = res.statusCode ?? 0;
  const parts: Buffer[] = [];
  let got = 0;
  res.on('data', (c: Buffer) => {
    got += c.length;
    if (got <= 4096) parts.push(c);
  });
  res.on('end', () =>
    done(new OriginError(errorText(Buffer.concat(parts), status, res.statusMessage), status)),
  );
  res.on('error', done);
}

/** The server's own error text from a JSON error body, else the status line. */
export function errorText(body: Buffer, status: number, statusText: string | undefined): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: keep the status line
  }
  return `${status} ${statusText ?? ''}`.trim();
}

export function readJson(res: HttpAnswer): unknown {
  if (res.body.length > MAX_JSON_BYTES) throw new OriginError('response too large', res.status);
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch {
    throw new OriginError('response is not JSON', res.status);
  }
}
