/**
 * The origin's signature over the manifest: nothing in a manifest is trusted before its
 * schema and its Ed25519 signature check out.
 */
import { isAscii } from 'node:buffer';
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import {
  type Manifest,
  manifestSigningBytes,
  parseSignedManifest,
  splitSignedManifest,
} from '../../../common/manifest';

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

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * verifySignedManifest over a response body. The origin writes the signed text verbatim
 * (signedManifestJson), so the signature is checked over the bytes as they came and only the
 * signed part is parsed: no second serialisation of the manifest to check it against (a fifth
 * of a viewer's manifest cost). A body in any other form, or one whose raw bytes do not verify,
 * is checked the canonical way, which stays the definition of what is signed.
 */
export function verifySignedManifestBody(
  body: Uint8Array,
  key: KeyObject,
  channel: string,
  previous: Manifest | null = null,
): Manifest {
  const split = splitSignedManifest(body);
  if (split && verify(null, split.signed, key, Buffer.from(split.signature, 'base64'))) {
    const parsed = parseSignedManifest(
      { manifest: parseJson(split.signed), signature: split.signature },
      previous,
    );
    if (!parsed.success) throw new ManifestRejected(`malformed manifest: ${parsed.error}`);
    const { manifest } = parsed.data;
    if (manifest.channel !== channel)
      throw new ManifestRejected(`manifest is for channel ${manifest.channel}`);
    return manifest;
  }
  return verifySignedManifest(parseJson(body), key, channel, previous);
}

/**
 * JSON from bytes. A manifest is ASCII (hashes, numbers, ids), and ASCII read as Latin-1 is the
 * same text: one copy into a one-byte string, where the UTF-8 decoder checked every byte and
 * took a third of the parse (and V8 parses one-byte strings faster).
 */
function parseJson(bytes: Uint8Array): unknown {
  try {
    if (isAscii(bytes))
      return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1'));
    return JSON.parse(utf8.decode(bytes));
  } catch {
    throw new ManifestRejected('manifest is not JSON');
  }
}
