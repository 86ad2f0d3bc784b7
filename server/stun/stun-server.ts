/**
 * The penetration server: a STUN Binding server on UDP (RFC 5389 §7.3 / RFC 8489), enough for
 * ICE to learn a peer's server-reflexive address. A Binding Request is answered with a Binding
 * Success Response that reuses the request's magic cookie and transaction id and carries
 * XOR-MAPPED-ADDRESS (IPv4 or IPv6; IPv4-mapped IPv6 senders get an IPv4 answer), plus
 * FINGERPRINT when the request had one. Anything else (other methods or classes, RFC 3489
 * messages without the magic cookie, bad lengths, a wrong FINGERPRINT, random bytes) is dropped
 * without an answer. Production deployments may use coturn instead; see the issue notes.
 *
 * Written by hand rather than with the npm `stun` package (2.1.0), after reading its code:
 * - its last release is from 2019 and it pulls ~95 packages into the server, among them
 *   `ip@1` and `parse-url@5`, both with published security advisories, and a CLI parser (meow)
 *   as a runtime dependency, for what is ~100 lines here;
 * - its example server builds the response with a fresh transaction id, and then libjuice never
 *   sees a srflx candidate: the caller must copy the id by hand (the known pitfall);
 * - it encodes the address of a dual-stack (udp6) socket's IPv4 senders ("::ffff:a.b.c.d") as an
 *   IPv6 XOR-MAPPED-ADDRESS, which an IPv4 client cannot use;
 * - its server emits 'error' for every non-STUN datagram, which crashes the process unless
 *   a listener is attached.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { crc32 } from 'node:zlib';
import type { Logger } from '../log';

export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_BINDING_REQUEST = 0x0001;
export const STUN_BINDING_SUCCESS = 0x0101;
export const STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020;
export const STUN_ATTR_FINGERPRINT = 0x8028;
const FINGERPRINT_XOR = 0x5354554e;
const HEADER_BYTES = 20;
/** No Binding Request worth answering is bigger than a typical MTU. */
const MAX_REQUEST_BYTES = 1500;

export interface StunSender {
  address: string;
  port: number;
}

function ipv4Bytes(text: string): number[] {
  return text.split('.').map(Number);
}

/** 16 bytes of an IPv6 address (zone id dropped), or null when it is not one. */
export function ipv6Bytes(address: string): number[] | null {
  let text = address.split('%')[0]!;
  if (!isIPv6(text)) return null;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const [a, b, c, d] = ipv4Bytes(last) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  const groups = (s: string | undefined) => (s ? s.split(':').map((h) => Number.parseInt(h, 16)) : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const all =
    halves.length === 2
      ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail]
      : head;
  if (all.length !== 8) return null;
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** The address as STUN sees it: family 1 (IPv4) or 2 (IPv6) and its bytes. */
function familyAndBytes(address: string): { family: 1 | 2; bytes: number[] } | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const v4 = mapped ? mapped[1]! : address;
  if (isIPv4(v4)) return { family: 1, bytes: ipv4Bytes(v4) };
  const v6 = ipv6Bytes(address);
  return v6 ? { family: 2, bytes: v6 } : null;
}

/**
 * The Binding Success Response for a Binding Request from `from`, or null when `msg` is not a
 * well-formed RFC 5389 Binding Request (then nothing is sent). Pure; never throws.
 */
export function stunBindingResponse(msg: Uint8Array, from: StunSender): Buffer | null {
  if (msg.length < HEADER_BYTES || msg.length > MAX_REQUEST_BYTES) return null;
  const req = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  if (req.readUInt16BE(0) !== STUN_BINDING_REQUEST) return null; // also rejects the top two bits
  const length = req.readUInt16BE(2);
  if (length % 4 !== 0 || HEADER_BYTES + length !== req.length) return null;
  if (req.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return null;
  // Walk the attributes: each must fit; FINGERPRINT, when present, is last and must match.
  let hasFingerprint = false;
  for (let off = HEADER_BYTES; off < req.length; ) {
    if (off + 4 > req.length) return null;
    const type = req.readUInt16BE(off);
    const len = req.readUInt16BE(off + 2);
    const next = off + 4 + Math.ceil(len / 4) * 4;
    if (next > req.length) return null;
    if (type === STUN_ATTR_FINGERPRINT) {
      if (len !== 4 || next !== req.length) return null;
      const expected = (crc32(req.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0;
      if (req.readUInt32BE(off + 4) !== expected) return null;
      hasFingerprint = true;
    }
    off = next;
  }
  const addr = familyAndBytes(from.address);
  if (!addr || !Number.isInteger(from.port) || from.port < 0 || from.port > 0xffff) return null;

  const addrLen = addr.family === 1 ? 8 : 20;
  const bodyLen = 4 + addrLen + (hasFingerprint ? 8 : 0);
  const res = Buffer.alloc(HEADER_BYTES + bodyLen);
  res.writeUInt16BE(STUN_BINDING_SUCCESS, 0);
  res.writeUInt16BE(bodyLen, 2);
  req.copy(res, 4, 4, HEADER_BYTES); // magic cookie + the request's transaction id
  let off = HEADER_BYTES;
  res.writeUInt16BE(STUN_ATTR_XOR_MAPPED_ADDRESS, off);
  res.writeUInt16BE(addrLen, off + 2);
  res[off + 4] = 0;
  res[off + 5] = addr.family;
  res.writeUInt16BE(from.port ^ (STUN_MAGIC_COOKIE >>> 16), off + 6);
  // X-Address: the address XOR the magic cookie (IPv4), or XOR cookie ‖ transaction id (IPv6).
  for (let i = 0; i < addr.bytes.length; i++) res[off + 8 + i] = addr.bytes[i]! ^ res[4 + i]!;
  off += 4 + addrLen;
  if (hasFingerprint) {
    res.writeUInt16BE(STUN_ATTR_FINGERPRINT, off);
    res.writeUInt16BE(4, off + 2);
    res.writeUInt32BE((crc32(res.subarray(0, off)) ^ FINGERPRINT_XOR) >>> 0, off + 4);
  }
  return res;
}

export interface StartStunOptions {
  /** UDP port (default 3478; 0 = any free port). */
  port?: number;
  /** Address to bind (default 0.0.0.0: IPv4 everywhere, plus IPv6 [::] on the same port when possible). */
  host?: string;
  log: Logger;
}

export interface RunningStun {
  port: number;
  /** Bound addresses, e.g. ['0.0.0.0', '::']. */
  addresses: string[];
  readonly stats: { answered: number; ignored: number };
  close(): Promise<void>;
}

function bind(type: 'udp4' | 'udp6', host: string, port: number, ipv6Only: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type, ipv6Only, reuseAddr: false });
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** Starts the STUN server (`swarmcast stun` runs it alone). */
export async function startStun(opts: StartStunOptions): Promise<RunningStun> {
  const log = opts.log;
  const host = opts.host ?? '0.0.0.0';
  const stats = { answered: 0, ignored: 0 };
  const sockets: Socket[] = [];
  const v6 = isIPv6(host);
  sockets.push(await bind(v6 ? 'udp6' : 'udp4', host, opts.port ?? 3478, false));
  const port = sockets[0]!.address().port;
  if (host === '0.0.0.0') {
    try {
      sockets.push(await bind('udp6', '::', port, true));
    } catch (err) {
      log.debug({ err: String(err) }, 'stun: no IPv6 socket');
    }
  }
  for (const socket of sockets) {
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      try {
        const res = stunBindingResponse(msg, rinfo);
        if (!res) {
          stats.ignored++;
          return;
        }
        stats.answered++;
        socket.send(res, rinfo.port, rinfo.address, (err) => {
          if (err) log.debug({ err: err.message, to: rinfo.address }, 'stun: send failed');
        });
      } catch (err) {
        log.warn({ err: String(err) }, 'stun: request handling failed');
      }
    });
    socket.on('error', (err) => log.warn({ err: err.message }, 'stun: socket error'));
  }
  const addresses = sockets.map((s) => s.address().address);
  log.info({ port, addresses }, 'stun server ready');
  return {
    port,
    addresses,
    stats,
    async close() {
      await Promise.all(sockets.map((s) => new Promise<void>((ok) => s.close(() => ok()))));
    },
  };
}
