/**
 * The viewer's settings, persisted in the app's data folder: schema-checked on load (a
 * corrupt or foreign file is kept aside and defaults are used, with a log line), unknown
 * fields dropped, versioned, and written atomically (temp file + rename) on every change.
 */
import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEFAULT_SETTINGS,
  type Settings,
  type SettingsPatch,
  settingsPatchSchema,
  settingsSchema,
} from '../../common/ipc-contract';
import type { CoreLog } from '../../common/logger';
import { AtomicJsonFile } from './atomic-file';

export const SETTINGS_FILE = 'settings.json';

export class SettingsStore {
  private listeners = new Set<(s: Settings) => void>();
  private readonly out: AtomicJsonFile;

  private constructor(
    file: string,
    private current: Settings,
    private readonly log: CoreLog,
  ) {
    this.out = new AtomicJsonFile(file);
  }

  static async open(dataDir: string, log: CoreLog): Promise<SettingsStore> {
    await mkdir(dataDir, { recursive: true });
    const file = join(dataDir, SETTINGS_FILE);
    let text: string | null = null;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        log.error('settings unreadable', { file, error: String(err) });
    }
    if (text === null) return new SettingsStore(file, structuredClone(DEFAULT_SETTINGS), log);
    let reason: string;
    try {
      const loaded = SettingsStore.fromJson(JSON.parse(text), log);
      if (loaded) return new SettingsStore(file, loaded, log);
      reason = 'not a settings object of a known version';
    } catch (err) {
      reason = `not JSON (${(err as Error).message})`;
    }
    const aside = `${file}.corrupt-${Date.now()}`;
    await rename(file, aside).catch(() => undefined);
    log.error('settings file is invalid; using defaults', { file, keptAs: aside, reason });
    return new SettingsStore(file, structuredClone(DEFAULT_SETTINGS), log);
  }

  /**
   * Settings from a parsed file: each known field is kept if valid, else its default (with a
   * log line), so one bad value or a field added by a newer version loses nothing else;
   * unknown fields are dropped. Null when it is not a version-1 settings object at all.
   */
  private static fromJson(json: unknown, log: CoreLog): Settings | null {
    if (typeof json !== 'object' || json === null || (json as { version?: unknown }).version !== 1)
      return null;
    const src = json as Record<string, unknown>;
    const out: Record<string, unknown> = { ...structuredClone(DEFAULT_SETTINGS) };
    for (const [key, schema] of Object.entries(settingsSchema.shape)) {
      if (!(key in src)) continue;
      const field = (schema as { safeParse(v: unknown): { success: boolean; data?: unknown } }).safeParse(
        src[key],
      );
      if (field.success) out[key] = field.data;
      else log.warn('invalid setting replaced by its default', { key });
    }
    return settingsSchema.parse(out);
  }

  /**
   * The settings in force: a frozen snapshot, read on every scheduling pass (so no copy is
   * made per read); an update replaces it.
   */
  get(): Readonly<Settings> {
    if (!Object.isFrozen(this.current)) {
      Object.freeze(this.current.liveSync);
      Object.freeze(this.current);
    }
    return this.current;
  }

  onChange(listener: (s: Settings) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies a validated patch, persists it, tells listeners; throws on an invalid patch. */
  async update(patch: SettingsPatch): Promise<Settings> {
    const p = settingsPatchSchema.parse(patch);
    // Every field the patch names replaces the current one (liveSync field by field); a field
    // added to the schema needs nothing here.
    const { liveSync, ...fields } = p;
    const given = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    const next = settingsSchema.parse({
      ...this.current,
      ...given,
      liveSync: { ...this.current.liveSync, ...(liveSync ?? {}) },
    });
    this.current = next;
    await this.persist();
    for (const l of this.listeners) l(this.get());
    return this.get();
  }

  private persist(): Promise<void> {
    return this.out.write(this.current).catch((err) => {
      this.log.error('settings could not be saved', { file: this.out.file, error: String(err) });
      throw err;
    });
  }
}
