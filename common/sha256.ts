/**
 * SHA-256 as lower-case hex, the form the signed manifest carries. Node only (node:crypto):
 * the renderer's project leaves this file out; the origin and the viewer core share it.
 */
import { createHash } from 'node:crypto';

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
