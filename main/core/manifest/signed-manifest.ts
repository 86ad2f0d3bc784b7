/**
 * The origin's signature over the manifest: nothing in a manifest is trusted before its
 * schema and its Ed25519 signature check out.
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { type Manifest, manifestSigningBytes, parseSignedManifest } from '../../../common/manifest';

export class ManifestRejected extends Error {
  override name = 'ManifestRejected';
}

export function loadPublicKey(spkiBase64: string): KeyObject {
  const key = createPublicKey({ key: Buffer.from(spkiBase64, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') throw new ManifestRejected('origin key is not Ed25519');
  return key;
}

/**
 * Schema-checks and signature-checks a signed manifest; throws ManifestRejected. `previous`, the
 * last manifest verified for the channel, spares checking again the entries it already had.
 */
export function verifySignedManifest(
  json: unknown,
  key: KeyObject,
  channel: string,
  previous: Manifest | null = null,
): Manifest {
  const parsed = parseSignedManifest(json, previous);
  if (!parsed.success) throw new ManifestRejected(`malformed manifest: ${parsed.error}`);
  const { manifest, signature } = parsed.data;
  const ok = verify(null, manifestSigningBytes(manifest), key, Buffer.from(signature, 'base64'));
  if (!ok) throw new ManifestRejected('manifest signature does not verify');
  if (manifest.channel !== channel) throw new ManifestRejected(`manifest is for channel ${manifest.channel}`);
  return manifest;
}
