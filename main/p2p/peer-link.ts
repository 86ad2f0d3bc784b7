/**
 * Transport to one neighbour: a node-datachannel PeerConnection (ICE/STUN/TURN, DTLS, SCTP
 * over UDP) with one data channel carrying wire messages. Every native callback body is
 * guarded (an exception inside one aborts the whole process), connecting has its own short
 * timeout (ICE alone would take ~40 s to fail), and a protocol violation closes this link only.
 */
import { type DataChannel, type IceServer, PeerConnection } from 'node-datachannel';
import type { IceServer as IceServerConfig } from '../../common/com';
import type { CoreLog } from '../../common/logger';
import type { SignalData } from '../../common/tracker-protocol';
import { decodeMessage, encodeMessage, GoodbyeReason, MAX_MESSAGE, MsgType, type WireMessage } from './wire';

/**
 * Where data messages are encoded. libdatachannel copies a message into its own before
 * DataChannel::send returns (node-datachannel passes it the bytes of the view, synchronously),
 * so one buffer serves every send of the process: a viewer's upload no longer allocates a
 * 16–64 KB ArrayBuffer per chunk (~130 KB/s of external memory that only a full collection frees).
 */
const SEND_SCRATCH = new Uint8Array(MAX_MESSAGE);

export type { IceServerConfig, SignalData };

export interface LinkEvents {
  open(link: PeerLink): void;
  message(link: PeerLink, msg: WireMessage): void;
  close(link: PeerLink, reason: string): void;
  /** Local description or candidate to relay to the neighbour through the tracker. */
  signal(link: PeerLink, data: SignalData): void;
  /** The data channel's queue drained below the low-water mark. */
  writable(link: PeerLink): void;
}

/** ICE servers from channel info in node-datachannel's form (TURN with credentials). */
export function toIceServers(list: readonly IceServerConfig[]): Array<string | IceServer> {
  const out: Array<string | IceServer> = [];
  for (const s of list) {
    for (const url of s.urls) {
      const m = /^(stun|turns?):([^:?]+|\[[^\]]+\]):?(\d+)?(\?transport=(udp|tcp))?$/.exec(url);
      if (!m) continue;
      const [, scheme, host, port, , transport] = m;
      if (scheme === 'stun') {
        out.push(`stun:${host}:${port ?? 3478}`);
      } else if (s.username && s.credential) {
        out.push({
          hostname: host!,
          port: Number(port ?? (scheme === 'turns' ? 5349 : 3478)),
          username: s.username,
          password: s.credential,
          relayType: scheme === 'turns' ? 'TurnTls' : transport === 'tcp' ? 'TurnTcp' : 'TurnUdp',
        });
      }
    }
  }
  return out;
}

export const LOW_WATER_BYTES = 256 * 1024;

export class PeerLink {
  private readonly pc: PeerConnection;
  private dc: DataChannel | null = null;
  private closed = false;
  private opened = false;
  private remoteSet = false;
  private readonly pendingCandidates: Array<{ candidate: string; mid: string }> = [];
  /** The offering side's own candidates, held until the answer is applied (see heldUntilAnswer). */
  private readonly heldCandidates: Array<{ candidate: string; mid: string }> = [];
  private readonly connectTimer: NodeJS.Timeout;
  /** The selected pair's local candidate type, once read (see localCandidateType). */
  private candidateType: string | null = null;
  readonly openedAt: number | null = null;

  constructor(
    readonly remoteId: string,
    readonly initiator: boolean,
    iceServers: Array<string | IceServer>,
    private readonly events: LinkEvents,
    private readonly log: CoreLog,
    connectTimeoutMs = 8000,
  ) {
    this.pc = new PeerConnection(`sc-${remoteId}`, { iceServers, maxMessageSize: 256 * 1024 });
    this.pc.onLocalDescription((sdp, type) =>
      this.guard('local description', () => {
        if (type === 'offer' || type === 'answer') this.events.signal(this, { kind: type, sdp });
      }),
    );
    this.pc.onLocalCandidate((candidate, mid) =>
      this.guard('local candidate', () => {
        if (!this.heldUntilAnswer()) return this.events.signal(this, { kind: 'candidate', candidate, mid });
        if (this.heldCandidates.length < 64) this.heldCandidates.push({ candidate, mid });
      }),
    );
    this.pc.onStateChange((state) =>
      this.guard('state', () => {
        if (state === 'failed' || state === 'closed' || state === 'disconnected')
          this.close(`connection ${state}`);
      }),
    );
    this.pc.onDataChannel((dc) => this.guard('data channel', () => this.adopt(dc)));
    if (initiator) this.adopt(this.pc.createDataChannel('swarmcast'));
    this.connectTimer = setTimeout(() => {
      if (!this.opened) this.close(`not connected within ${connectTimeoutMs} ms`);
    }, connectTimeoutMs);
  }

  get isOpen(): boolean {
    return this.opened && !this.closed;
  }

  /**
   * Type of our side of the selected ICE pair (host, srflx, prflx, relay), once connected. Asked
   * once per link: libdatachannel re-resolves the pair's addresses at each call (getaddrinfo,
   * which lists the interfaces over netlink), and quality reports ask every few seconds.
   */
  localCandidateType(): string | null {
    if (!this.isOpen) return null;
    if (this.candidateType !== null) return this.candidateType;
    try {
      this.candidateType = this.pc.getSelectedCandidatePair()?.local.type ?? null;
    } catch {
      return null;
    }
    return this.candidateType;
  }

  /** Runs a native callback's body; an exception closes this link instead of the process. */
  private guard(what: string, fn: () => void): void {
    if (this.closed) return;
    try {
      fn();
    } catch (err) {
      this.log.warn('peer callback failed', { peer: this.remoteId, what, error: String(err) });
      this.close(`${what} failed`);
    }
  }

  private adopt(dc: DataChannel): void {
    if (this.dc) {
      dc.close();
      return;
    }
    this.dc = dc;
    dc.setBufferedAmountLowThreshold(LOW_WATER_BYTES);
    dc.onOpen(() =>
      this.guard('open', () => {
        this.opened = true;
        (this as { openedAt: number | null }).openedAt = Date.now();
        clearTimeout(this.connectTimer);
        this.events.open(this);
      }),
    );
    dc.onMessage((data) =>
      this.guard('message', () => {
        if (typeof data === 'string') throw new Error('text message on a binary channel');
        const bytes =
          data instanceof ArrayBuffer
            ? new Uint8Array(data)
            : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        let msg: WireMessage;
        try {
          msg = decodeMessage(bytes);
        } catch (err) {
          this.log.warn('peer sent a malformed message; dropping it', {
            peer: this.remoteId,
            error: String(err),
          });
          this.close('protocol error', GoodbyeReason.ProtocolError);
          return;
        }
        this.events.message(this, msg);
      }),
    );
    dc.onBufferedAmountLow(() => this.guard('drain', () => this.events.writable(this)));
    dc.onClosed(() => this.guard('closed', () => this.close('channel closed')));
    dc.onError((err) => this.guard('error', () => this.close(`channel error: ${err}`)));
  }

  handleSignal(data: SignalData): void {
    if (data.kind === 'candidate' && this.remoteSet) {
      // A candidate that does not fit (e.g. for an ICE transport already gone) is not fatal.
      try {
        if (!this.closed) this.pc.addRemoteCandidate(data.candidate, data.mid);
      } catch (err) {
        this.log.debug('remote candidate ignored', { peer: this.remoteId, error: String(err) });
      }
      return;
    }
    this.guard('remote signal', () => {
      if (data.kind === 'candidate') {
        if (this.pendingCandidates.length < 64) this.pendingCandidates.push(data);
        return;
      }
      if (data.kind === 'offer' && this.initiator) throw new Error('offer sent to the offering side');
      this.pc.setRemoteDescription(data.sdp, data.kind);
      this.remoteSet = true;
      for (const c of this.pendingCandidates.splice(0)) this.pc.addRemoteCandidate(c.candidate, c.mid);
      for (const c of this.heldCandidates.splice(0)) this.events.signal(this, { kind: 'candidate', ...c });
    });
  }

  /**
   * The offering side sends its candidates only once the answer is applied. libdatachannel
   * (0.24.5, and its main branch) hands the answer to ICE before it stores it for the DTLS
   * fingerprint check: an answerer that already knew our candidates had ICE up and its DTLS
   * flight waiting, so the handshake could finish inside that gap and fail with "certificate
   * verify failed" (4 of 31 logged 5-viewer rooms at start; 0 of 24 held). Held, its checks start
   * from ours (it learns our address from them) or from the candidates sent here, both after
   * the answer is stored; the cost is at most one signalling hop on the answerer's first check.
   */
  private heldUntilAnswer(): boolean {
    return this.initiator && !this.remoteSet;
  }

  /** Queues a message; false if the link is not open. */
  send(msg: WireMessage): boolean {
    if (!this.isOpen || !this.dc) return false;
    try {
      this.dc.sendMessageBinary(encodeMessage(msg, SEND_SCRATCH));
      return true;
    } catch (err) {
      this.log.warn('send to peer failed', { peer: this.remoteId, error: String(err) });
      this.close('send failed');
      return false;
    }
  }

  bufferedAmount(): number {
    try {
      return this.dc?.bufferedAmount() ?? 0;
    } catch {
      return 0;
    }
  }

  rttMs(): number | null {
    try {
      const r = this.pc.rtt();
      return r > 0 ? r : null;
    } catch {
      return null;
    }
  }

  close(reason: string, goodbye: GoodbyeReason | null = GoodbyeReason.Leaving): void {
    if (this.closed) return;
    const wasOpen = this.isOpen;
    this.closed = true;
    clearTimeout(this.connectTimer);
    try {
      // Straight to the channel: send() would close again on failure.
      if (goodbye !== null && wasOpen)
        this.dc?.sendMessageBinary(encodeMessage({ type: MsgType.Goodbye, reason: goodbye }));
    } catch {
      // the channel is already gone
    }
    try {
      this.dc?.close();
      this.pc.close();
    } catch {
      // already closing
    }
    this.events.close(this, reason);
  }
}
