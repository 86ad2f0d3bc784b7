/**
 * The renderer is served from `app://swarmcast/` rather than file://: a standard, secure
 * scheme gives the page a real origin (so the IPC handler can check it and the CSP can say
 * 'self'), and every response carries our CSP header. Files come only from out/renderer.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { net, protocol, type Session } from 'electron';

export const APP_SCHEME = 'app';
export const APP_HOST = 'swarmcast';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

/** Must run before app 'ready'. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    {
      scheme: APP_SCHEME,
      // standard: real origin and relative URL resolution; secure: a secure context like
      // https (MSE, crypto.subtle); supportFetchAPI/corsEnabled: Vite's module scripts are
      // fetched in CORS mode. No bypassCSP, no service workers, no stream privilege needed.
      privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, codeCache: true },
    },
  ]);
}

/** Resolves a request path inside `root`, or null if it would escape it. */
export function resolveInside(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const relative = decoded.replace(/^\/+/, '') || 'index.html';
  const resolved = path.resolve(root, relative);
  const rootWithSep = root.endsWith(path.sep) ? root : root + path.sep;
  return resolved.startsWith(rootWithSep) ? resolved : null;
}

function plain(status: number, text: string, csp: string): Response {
  return new Response(text, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'content-security-policy': csp },
  });
}

/** Serves `rendererDir` on app://swarmcast/ in `session`, every response with `csp`. */
export function serveAppScheme(session: Session, rendererDir: string, csp: () => string): void {
  const root = path.resolve(rendererDir);
  session.protocol.handle(APP_SCHEME, async (request) => {
    const policy = csp();
    const url = new URL(request.url);
    if (url.host !== APP_HOST) return plain(404, 'not found', policy);
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return plain(405, 'method not allowed', policy);
    const file = resolveInside(root, url.pathname);
    // Traversal (../, encoded or not) is refused rather than clamped.
    if (!file) return plain(403, 'forbidden', policy);
    let upstream: Response;
    try {
      // net.fetch on file:// reads from inside app.asar and sets the MIME type.
      upstream = await net.fetch(pathToFileURL(file).toString());
    } catch {
      return plain(404, 'not found', policy);
    }
    if (!upstream.ok) return plain(404, 'not found', policy);
    const headers = new Headers();
    headers.set('content-type', upstream.headers.get('content-type') ?? 'application/octet-stream');
    headers.set('content-security-policy', policy);
    headers.set('x-content-type-options', 'nosniff');
    headers.set('cache-control', 'no-cache');
    return new Response(upstream.body, { status: 200, headers });
  });
}

/** Development: the page comes from electron-vite's dev server; add the CSP header there. */
export function applyCspToDevServer(session: Session, devOrigin: string, csp: () => string): void {
  session.webRequest.onHeadersReceived({ urls: [`${devOrigin}/*`] }, (details, callback) => {
    const headers = { ...details.responseHeaders, 'Content-Security-Policy': [csp()] };
    callback({ responseHeaders: headers });
  });
}
