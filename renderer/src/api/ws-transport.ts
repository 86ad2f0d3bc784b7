/**
 * Browser mode: the SwarmcastApi contract carried over a WebSocket on the core's loopback
 * gateway (ws://127.0.0.1:PORT/TOKEN/ipc). Client frames are {id, name, request}; the server
 * answers {id, ok, response | error} and pushes {event, payload}. The socket reconnects with
 * backoff; calls in flight when it drops are rejected with a DisconnectedError.
 */
import type {
  EventName,
  EventPayload,
  InvokeName,
  InvokeRequest,
  InvokeResponse,
  SwarmcastApi,
} from '../../../common/ipc-contract';
import { DisconnectedError } from './errors';

type AnyListener = (payload: unknown) => void;
type ConnectionListener = (connected: boolean) => void;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export interface WsTransportOptions {
  /** First reconnect delay (ms); doubles up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A call gives up after this long without an answer. */
  callTimeoutMs?: number;
  /** How long a call made while disconnected waits for the socket before failing. */
  connectWaitMs?: number;
}

export class WsTransport implements SwarmcastApi {
  private ws: WebSocket | null = null;
  private connected = false;
  private closedByUser = false;
  private nextId = 1;
  private backoffMs: number;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<string, Set<AnyListener>>();
  private readonly connectionListeners = new Set<ConnectionListener>();
  private readonly opts: Required<WsTransportOptions>;

  constructor(
    private readonly url: string,
    opts: WsTransportOptions = {},
  ) {
    this.opts = {
      minBackoffMs: opts.minBackoffMs ?? 500,
      maxBackoffMs: opts.maxBackoffMs ?? 10_000,
      callTimeoutMs: opts.callTimeoutMs ?? 20_000,
      connectWaitMs: opts.connectWaitMs ?? 3_000,
    };
    this.backoffMs = this.opts.minBackoffMs;
    this.connect();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Called with true on every (re)connection and false on every loss. */
  onConnectionChange(listener: ConnectionListener): () => void {
    this.connectionListeners.add(listener);
    return () => {
      this.connectionListeners.delete(listener);
    };
  }

  async invoke<N extends InvokeName>(name: N, request: InvokeRequest<N>): Promise<InvokeResponse<N>> {
    if (!this.connected) await this.waitForConnection();
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) throw new DisconnectedError();
    const id = this.nextId++;
    return new Promise<InvokeResponse<N>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${name}: no answer from the Swarmcast core`));
      }, this.opts.callTimeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        ws.send(JSON.stringify({ id, name, request }));
      } catch {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new DisconnectedError());
      }
    });
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    const set = this.listeners.get(event) ?? new Set<AnyListener>();
    this.listeners.set(event, set);
    const wrapped = listener as AnyListener;
    set.add(wrapped);
    return () => {
      set.delete(wrapped);
    };
  }

  close(): void {
    this.closedByUser = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.ws?.close();
    this.handleDown();
  }

  private connect(): void {
    if (this.closedByUser) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.connected = true;
      this.backoffMs = this.opts.minBackoffMs;
      this.emitConnection(true);
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      this.handleFrame(ev.data);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.handleDown();
      this.scheduleReconnect();
    };
    // An error is always followed by close; nothing to do here.
    ws.onerror = () => {};
  }

  private handleDown(): void {
    const wasConnected = this.connected;
    this.connected = false;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new DisconnectedError());
      this.pending.delete(id);
    }
    if (wasConnected) this.emitConnection(false);
  }

  private scheduleReconnect(): void {
    if (this.closedByUser || this.reconnectTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private handleFrame(text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof frame !== 'object' || frame === null) return;
    const f = frame as Record<string, unknown>;
    if (typeof f.id === 'number') {
      const p = this.pending.get(f.id);
      if (!p) return;
      this.pending.delete(f.id);
      clearTimeout(p.timer);
      if (f.ok === true) p.resolve(f.response);
      else p.reject(new Error(typeof f.error === 'string' ? f.error : 'the Swarmcast core refused the call'));
      return;
    }
    if (typeof f.event === 'string') {
      const set = this.listeners.get(f.event);
      if (!set) return;
      for (const listener of [...set]) {
        try {
          listener(f.payload);
        } catch (err) {
          console.error(`swarmcast: listener for ${f.event} threw`, err);
        }
      }
    }
  }

  private emitConnection(connected: boolean): void {
    for (const l of [...this.connectionListeners]) {
      try {
        l(connected);
      } catch (err) {
        console.error('swarmcast: connection listener threw', err);
      }
    }
  }

  /** Resolves once connected; rejects with DisconnectedError after connectWaitMs. */
  private waitForConnection(): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (this.closedByUser) return Promise.reject(new DisconnectedError());
    // Reconnect now rather than after the remaining backoff: somebody is waiting.
    if (this.reconnectTimer && !this.ws) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.connect();
    }
    return new Promise<void>((resolve, reject) => {
      const off = this.onConnectionChange((up) => {
        if (!up) return;
        clearTimeout(timer);
        off();
        resolve();
      });
      const timer = setTimeout(() => {
        off();
        reject(new DisconnectedError());
      }, this.opts.connectWaitMs);
    });
  }
}
