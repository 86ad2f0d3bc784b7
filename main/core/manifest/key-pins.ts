/**
 * Trust on first use for origin keys: the first time a viewer talks to a server it pins the
 * server's manifest-signing key (per server address); afterwards a different key is refused
 * with a clear message instead of being trusted silently, since a changed key is what a
 * hijacked COM or a man in the middle would present. Kept in the data folder.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import type { CoreLog } from '../../../common/logger';
import { AtomicJsonFile } from '../atomic-file';

const FILE = 'pinned-keys.json';
const MAX_PINS = 1000;
const pinsSchema = z.record(z.string().max(512), z.string().max(512));

export type PinVerdict = 'pinned' | 'matches' | 'changed';

export class KeyPins {
  private constructor(
    private readonly pins: Map<string, string>,
    private readonly out: AtomicJsonFile | null,
    private readonly log: CoreLog,
  ) {}

  /** Pins kept in `dataDir`; a damaged file is set aside and starts empty (with a log line). */
  static async open(dataDir: string, log: CoreLog): Promise<KeyPins> {
    const file = join(dataDir, FILE);
    let pins = new Map<string, string>();
    try {
      const parsed = pinsSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
      if (parsed.success) pins = new Map(Object.entries(parsed.data));
      else log.error('pinned keys file is invalid; starting afresh', { file });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        log.error('pinned keys unreadable; starting afresh', { file, error: String(err) });
    }
    return new KeyPins(pins, new AtomicJsonFile(file), log);
  }

  /** Pins held in memory only (tests, throwaway viewers). */
  static inMemory(log: CoreLog): KeyPins {
    return new KeyPins(new Map(), null, log);
  }

  /** Checks `key` (base64 SPKI) for `server`, pinning it on first use. */
  check(server: string, key: string): PinVerdict {
    const id = server.replace(/\/+$/, '');
    const pinned = this.pins.get(id);
    if (pinned === key) return 'matches';
    if (pinned !== undefined) {
      this.log.error('origin key changed: refused', { server: id });
      return 'changed';
    }
    if (this.pins.size >= MAX_PINS) this.pins.delete(this.pins.keys().next().value!);
    this.pins.set(id, key);
    this.log.info('origin key pinned on first use', { server: id });
    this.out
      ?.write(Object.fromEntries(this.pins))
      .catch((err: unknown) => this.log.error('pinned keys could not be saved', { error: String(err) }));
    return 'pinned';
  }

  /** Resolves when the pins are on disk. */
  async flush(): Promise<void> {
    await this.out?.settled();
  }

  /** Forgets a server's key (the user accepted its new one). */
  forget(server: string): void {
    this.pins.delete(server.replace(/\/+$/, ''));
    this.out?.write(Object.fromEntries(this.pins)).catch(() => undefined);
  }
}
