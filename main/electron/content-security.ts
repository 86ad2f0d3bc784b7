/**
 * The renderer's Content-Security-Policy. Scripts, styles and fonts only from the app
 * itself; media only from blob: (mpegts.js feeds <video> through MediaSource blob URLs)
 * and self; network access (fetch/XHR/WebSocket) only to the loopback gateway, which is
 * where the FLV stream comes from. Nothing may frame the page, post forms or set a <base>.
 */

/** `http://127.0.0.1:PORT` from the core's gateway URL (which carries a token in its path). */
export function gatewayOriginOf(gatewayUrl: string): string {
  const url = new URL(gatewayUrl);
  if (url.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    // The gateway is loopback by design; anything else would widen the CSP to the network.
    throw new Error(`gateway URL is not loopback http: ${url.origin}`);
  }
  return url.origin;
}

export interface CspOptions {
  gatewayOrigin: string;
  /** electron-vite's dev server (development only): its scripts and its HMR WebSocket. */
  devServerOrigin?: string;
}

export function contentSecurityPolicy({ gatewayOrigin, devServerOrigin }: CspOptions): string {
  const self = "'self'";
  const dev = devServerOrigin ? [devServerOrigin] : [];
  const devWs = devServerOrigin ? [devServerOrigin.replace(/^http/, 'ws')] : [];
  // Vite's React refresh preamble is an inline script: allowed in development only.
  const devInline = devServerOrigin ? ["'unsafe-inline'"] : [];
  const directives: Record<string, string[]> = {
    'default-src': ["'none'"],
    'script-src': [self, ...dev, ...devInline],
    'style-src': [self, ...dev, ...devInline],
    'img-src': [self, 'data:', 'blob:'],
    'font-src': [self, 'data:'],
    'media-src': [self, 'blob:'],
    // mpegts.js may run its transmuxer in a Worker created from a blob: URL.
    'worker-src': [self, 'blob:'],
    'connect-src': [self, gatewayOrigin, ...dev, ...devWs],
    'object-src': ["'none'"],
    'frame-src': ["'none'"],
    'frame-ancestors': ["'none'"],
    'form-action': ["'none'"],
    'base-uri': ["'none'"],
  };
  return Object.entries(directives)
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join('; ');
}
