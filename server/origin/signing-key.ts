/**
 * The origin's Ed25519 manifest-signing key, kept in the server's data folder so that it
 * (and so the public key viewers pin) survives restarts.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log';

export interface ManifestSigner {
  /** SubjectPublicKeyInfo DER, base64. */
  readonly publicKey: string;
  sign(bytes: Uint8Array): string;
}

export function signerFromKey(privateKey: KeyObject): ManifestSigner {
  const publicKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64');
  return {
    publicKey,
    sign: (bytes) => sign(null, bytes, privateKey).toString('base64'),
  };
}

export async function loadOrCreateSigner(dataDir: string, log: Logger): Promise<ManifestSigner> {
  const file = join(dataDir, 'origin-ed25519.pem');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  let pem: string | null = null;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (pem !== null) {
    try {
      const key = createPrivateKey(pem);
      if (key.asymmetricKeyType !== 'ed25519') throw new Error(`key type ${key.asymmetricKeyType}`);
      log.info({ file }, 'loaded origin signing key');
      return signerFromKey(key);
    } catch (err) {
      const aside = `${file}.corrupt-${Date.now()}`;
      await rename(file, aside);
      log.error(
        { file, movedTo: aside, err: String(err) },
        'origin signing key unreadable; kept aside, making a new one',
      );
    }
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  await rename(tmp, file);
  log.info({ file }, 'created origin signing key');
  return signerFromKey(privateKey);
}
