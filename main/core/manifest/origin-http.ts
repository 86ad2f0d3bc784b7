/**
 * HTTP to the COM service and the origin/CDN: one request helper with clear errors (the
 * server's own error text when it sends one), a JSON reader with a size cap, and an
 * optional time limit so that a request that hangs fails instead of holding its segment.
 */
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

const MAX_JSON_BYTES = 1024 * 1024;

/** GET `url`; rejects with OriginError on a network failure or a status other than 2xx. */
export async function request(
  url: string,
  signal?: AbortSignal,
  headers: Record<string, string> = {},
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { accept: '*/*', ...headers } });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new OriginError(
      `cannot reach ${new URL(url).host}: ${(err as Error).cause ?? (err as Error).message}`,
      0,
    );
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: unknown };
      if (typeof body.error === 'string') message = body.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new OriginError(message, res.status);
  }
  return res;
}

export async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text.length > MAX_JSON_BYTES) throw new OriginError('response too large', res.status);
  try {
    return JSON.parse(text);
  } catch {
    throw new OriginError('response is not JSON', res.status);
  }
}
