/**
 * The app's languages through i18next (react-i18next binds it to components): English, the
 * source, and Simplified Chinese. The language follows the setting ('system' = the OS / browser
 * language) and switches live when the setting changes. Code outside components uses `t`.
 * No DOM or React types here: the pure formatters that use `t` are also type-checked and tested
 * in Node (main.tsx hands the instance to React with <I18nextProvider>).
 */
import i18next from 'i18next';
import type { Settings } from '../../../common/ipc-contract';
import { en } from './en';
import { zhCN } from './zh-CN';

export const LANGUAGES = ['en', 'zh-CN'] as const;
export type Language = (typeof LANGUAGES)[number];

declare module 'i18next' {
  interface CustomTypeOptions {
    defaultNS: 'translation';
    resources: { translation: typeof en };
  }
}

/** The OS language (as the browser reports it) mapped onto the languages we have. */
export function systemLanguage(preferred: readonly string[] = browserLanguages()): Language {
  for (const tag of preferred) {
    const lower = tag.toLowerCase();
    // zh, zh-CN, zh-SG, zh-Hans-*: Simplified; zh-TW/zh-HK/zh-Hant read Traditional, English is the safer fallback.
    if (
      lower === 'zh' ||
      lower.startsWith('zh-cn') ||
      lower.startsWith('zh-sg') ||
      lower.startsWith('zh-hans')
    )
      return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

function browserLanguages(): readonly string[] {
  const nav = (globalThis as { navigator?: { languages?: readonly string[]; language?: string } }).navigator;
  if (!nav) return [];
  return nav.languages?.length ? nav.languages : nav.language ? [nav.language] : [];
}

export function resolveLanguage(setting: Settings['language']): Language {
  return setting === 'system' ? systemLanguage() : setting;
}

void i18next.init({
  resources: { en: { translation: en }, 'zh-CN': { translation: zhCN } },
  lng: systemLanguage(),
  fallbackLng: 'en',
  supportedLngs: [...LANGUAGES],
  // React escapes what it renders; i18next escaping again would show &quot; in text.
  interpolation: { escapeValue: false },
  initAsync: false,
  returnNull: false,
});

/** Follows the language setting; also sets <html lang> for fonts and screen readers. */
export function applyLanguage(setting: Settings['language']): void {
  const lng = resolveLanguage(setting);
  if (i18next.language !== lng) void i18next.changeLanguage(lng);
  const doc = (globalThis as { document?: { documentElement: { lang: string } } }).document;
  if (doc) doc.documentElement.lang = lng;
}

export const i18n = i18next;
export const t = i18next.t.bind(i18next);
