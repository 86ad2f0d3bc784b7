/**
 * Caps on what one remote address (and everyone together) may hold open at once: tracker
 * connections, held blocking reloads, HTTP-FLV subscribers. Loopback addresses are exempt by
 * default: they are this machine's own processes (the app's embedded server, benchmarks, a
 * local CDN edge). Behind a reverse proxy every client is the proxy's address, so the proxy
 * must enforce per-client limits itself.
 */
export interface AddressLimitOptions {
  perAddress: number;
  total: number;
  exemptLoopback?: boolean;
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

export class AddressLimit {
  private readonly held = new Map<string, number>();
  private count = 0;

  constructor(private readonly opts: AddressLimitOptions) {}

  get total(): number {
    return this.count;
  }

  /** Takes a slot for `address`: returns its release (idempotent), or null when a cap is reached. */
  acquire(address: string | undefined): (() => void) | null {
    const addr = address ?? 'unknown';
    const exempt = (this.opts.exemptLoopback ?? true) && LOOPBACK.test(addr);
    const mine = this.held.get(addr) ?? 0;
    if (this.count >= this.opts.total || (!exempt && mine >= this.opts.perAddress)) return null;
    this.held.set(addr, mine + 1);
    this.count++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.count--;
      const n = (this.held.get(addr) ?? 1) - 1;
      if (n <= 0) this.held.delete(addr);
      else this.held.set(addr, n);
    };
  }
}
