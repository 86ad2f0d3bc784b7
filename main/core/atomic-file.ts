/**
 * A JSON file in the app's data folder written atomically (temp file + rename, owner-only),
 * one write after another: a crash mid-write leaves the old file, never half a new one.
 */
import { rename, writeFile } from 'node:fs/promises';

export class AtomicJsonFile {
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  write(value: unknown): Promise<void> {
    const text = `${JSON.stringify(value, null, 2)}\n`;
    const tmp = `${this.file}.${process.pid}.tmp`;
    this.writing = this.writing
      .catch(() => undefined)
      .then(async () => {
        await writeFile(tmp, text, { mode: 0o600 });
        await rename(tmp, this.file);
      });
    return this.writing;
  }

  /** Resolves when every write asked for so far has finished (or failed). */
  settled(): Promise<void> {
    return this.writing.catch(() => undefined);
  }
}
