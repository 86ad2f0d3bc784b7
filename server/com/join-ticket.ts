/**
 * Join tickets: the COM's word that a viewer may join one sub-room of one channel, under the
 * peer id the COM gave it, in one role, until a time. Signed with the server's Ed25519 key (the
 * manifest key), checked by the tracker on join, so a client can neither choose its peer id
 * (a banned peer cannot rejoin as somebody new without asking the COM again) nor call itself a
 * seed. Format: base64url(JSON payload) "." base64url(signature over the payload's bytes).
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import * as z from 'zod';
import {
  channelIdSchema,
  hintSchema,
  peerIdSchema,
  roleSchema,
  subRoomSchema,
} from '../../common/tracker-protocol';
import type { ManifestSigner } from '../origin/signing-key';

export const TICKET_TTL_MS = 6 * 3600_000;

const payloadSchema = z
  .object({
    c: channelIdSchema,
    s: subRoomSchema,
    p: peerIdSchema,
    r: roleSchema,
    /** Expiry, ms since the epoch. */
    e: z.number().int().min(0),
    /**
     * ISP and region the COM found for the viewer's address (or its hint when lookup found
     * nothing): the tracker ranks neighbours by these rather than by what the join claims.
     */
    i: hintSchema.optional(),
    g: hintSchema.optional(),
  })
  .strict();
export type TicketPayload = z.infer<typeof payloadSchema>;

export function mintTicket(signer: ManifestSigner, payload: TicketPayload): string {
  const body = Buffer.from(JSON.stringify(payload));
  const signature = Buffer.from(signer.sign(body), 'base64');
  return `${body.toString('base64url')}.${signature.toString('base64url')}`;
}

/** The public key (SPKI DER, base64) a tracker checks tickets with. */
export function ticketKey(publicKeySpkiB64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(publicKeySpkiB64, 'base64'), format: 'der', type: 'spki' });
}

/** The ticket's payload when it is genuine and in date; otherwise why not. */
export function checkTicket(
  key: KeyObject,
  ticket: string,
  now: number,
): { ok: true; payload: TicketPayload } | { ok: false; why: string } {
  const dot = ticket.indexOf('.');
  if (dot <= 0) return { ok: false, why: 'malformed ticket' };
  const body = Buffer.from(ticket.slice(0, dot), 'base64url');
  const signature = Buffer.from(ticket.slice(dot + 1), 'base64url');
  let genuine = false;
  try {
    genuine = verify(null, body, key, signature);
  } catch {
    genuine = false;
  }
  if (!genuine) return { ok: false, why: 'ticket signature does not verify' };
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, why: 'malformed ticket' };
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) return { ok: false, why: 'malformed ticket' };
  if (parsed.data.e < now) return { ok: false, why: 'ticket expired' };
  return { ok: true, payload: parsed.data };
}
