/**
 * The origin's manifest stream (GET /live/:ch/manifests.ndjson?after=N): one held response
 * whose lines are signed manifests, each verified here exactly as a reloaded manifest is. A
 * viewer that follows it gets a manifest a second as a line on a socket it already has rather
 * than as a blocking reload (a request, its headers, its URL: about a tenth of a lean viewer's
 * main thread). Over node:http(s) like the rest of origin-http.ts.
 */
import type { KeyObject } from 'node:crypto';
import type { Manifest } from '../../../common/manifest';
import { abortError, asOriginError, OriginError, readErrorAnswer, transportFor } from './origin-http';
import { verifySignedManifestBody } from './signed-manifest';

/** A line (one signed manifest) larger than this ends the stream. */
const MAX_LINE_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;

/** The stream stayed silent for its idle time (a proxy may be holding its lines back). */
export class ManifestStreamSilent extends OriginError {
  override name = 'ManifestStreamSilent';
}

export interface ManifestStreamOptions {
  key: KeyObject;
  channel: string;
  /** The last manifest verified (its entries are not checked again). */
  previous(): Manifest | null;
  /** Each verified manifest, in order; the next line waits until the promise settles. */
  each(m: Manifest): Promise<void>;
  signal: AbortSignal;
  /** No line for this long ends the stream with an OriginError (ms). */
  idleMs: number;
}

/**
 * Follows the stream at `url` until the server ends it (resolves) or it fails: OriginError for
 * a status other than 200, a network error (status 0), a line too long or a silence of
 * `idleMs` (a proxy that holds lines back); ManifestRejected for a line that does not verify;
 * an AbortError when `signal` ends it.
 */
export function followManifestStream(url: string, o: ManifestStreamOptions): Promise<void> {
  const target = new URL(url);
  const { agent, send } = transportFor(target);
  return new Promise((resolve, reject) => {
    let settled = false;
    let idle: NodeJS.Timeout | undefined;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      o.signal.removeEventListener('abort', onAbort);
      if (err === undefined) return resolve();
      req.destroy();
      reject(err);
    };
    const onAbort = () => settle(abortError(o.signal));
    const quiet = () => settle(new ManifestStreamSilent(`no manifest on the stream for ${o.idleMs} ms`, 0));
    const req = send(target, { agent, headers: { accept: 'application/x-ndjson' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) return readErrorAnswer(res, settle);
      let pending: Buffer | null = null;
      let draining = false;
      let ended = false;
      // Lines are handled one at a time: the stream pauses while one is being applied.
      const drain = async (): Promise<void> => {
        for (;;) {
          const at = pending ? pending.indexOf(NEWLINE) : -1;
          if (at < 0) break;
          const line = pending!.subarray(0, at);
          pending = at + 1 < pending!.length ? pending!.subarray(at + 1) : null;
          const m = verifySignedManifestBody(line, o.key, o.channel, o.previous());
          await o.each(m);
          if (settled) return;
          idle?.refresh();
        }
        if (pending && pending.length > MAX_LINE_BYTES)
          throw new OriginError('a manifest on the stream exceeds 1 MiB', status);
      };
      res.on('data', (chunk: Buffer) => {
        idle?.refresh();
        pending = pending ? Buffer.concat([pending, chunk]) : chunk;
        if (draining || (chunk.indexOf(NEWLINE) < 0 && pending.length <= MAX_LINE_BYTES)) return;
        draining = true;
        res.pause();
        drain().then(
          () => {
            draining = false;
            if (ended) settle();
            else if (!settled) res.resume();
          },
          (err: unknown) => settle(err),
        );
      });
      res.on('end', () => {
        if (!res.complete) return settle(new OriginError('the manifest stream ended early', status));
        // A line still being applied finishes first.
        if (draining) ended = true;
        else settle();
      });
      res.on('error', settle);
    });
    idle = setTimeout(quiet, o.idleMs);
    o.signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => settle(asOriginError(err, target.host)));
    req.end();
  });
}
