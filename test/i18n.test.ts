/**
 * The app's languages: every string exists in English and in Simplified Chinese (keys, and the
 * {{placeholders}} each one fills in), the OS language is mapped onto ours, and switching works.
 */
import { describe, expect, it } from 'vitest';
import { en } from '../renderer/src/i18n/en';
import { applyLanguage, i18n, resolveLanguage, systemLanguage, t } from '../renderer/src/i18n/index';
import { zhCN } from '../renderer/src/i18n/zh-CN';

type Tree = { readonly [key: string]: string | Tree };

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.set(key, v);
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv);
  }
  return out;
}

const placeholders = (s: string) => [...s.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]).sort();

describe('translations', () => {
  const english = flatten(en);
  const chinese = flatten(zhCN as Tree);

  it('has every English string in Chinese and nothing Chinese-only', () => {
    const missing = [...english.keys()].filter((k) => !chinese.has(k));
    const extra = [...chinese.keys()].filter((k) => !english.has(k));
    expect(missing, 'keys only in English').toEqual([]);
    expect(extra, 'keys only in Chinese').toEqual([]);
    expect(english.size).toBeGreaterThan(150);
  });

  it('fills in the same placeholders in both languages, and no string is empty', () => {
    for (const [key, value] of english) {
      expect(value.trim(), key).not.toBe('');
      expect(chinese.get(key)?.trim(), key).not.toBe('');
      expect(placeholders(chinese.get(key) ?? ''), key).toEqual(placeholders(value));
    }
  });

  it('really translates: Chinese text differs from English except names and formats', () => {
    const same = [...english].filter(([k, v]) => chinese.get(k) === v).map(([k]) => k);
    // The product name and pure formats may stay as they are.
    expect(
      same.every((k) => /^(app\.name|settings\.version)$/.test(k)),
      same.join(', '),
    ).toBe(true);
  });
});

describe('language choice', () => {
  it.each([
    [['zh-CN'], 'zh-CN'],
    [['zh'], 'zh-CN'],
    [['zh-Hans-CN'], 'zh-CN'],
    [['zh-SG'], 'zh-CN'],
    [['zh-TW', 'en-US'], 'en'],
    [['en-GB'], 'en'],
    [['fr-FR', 'zh-CN'], 'zh-CN'],
    [['de-DE'], 'en'],
    [[], 'en'],
  ] as const)('OS languages %j → %s', (langs, want) => {
    expect(systemLanguage(langs)).toBe(want);
  });

  it('a setting other than system wins over the OS', () => {
    expect(resolveLanguage('zh-CN')).toBe('zh-CN');
    expect(resolveLanguage('en')).toBe('en');
  });

  it('switches live, with plurals and placeholders', () => {
    applyLanguage('zh-CN');
    expect(i18n.language).toBe('zh-CN');
    expect(t('goLive.title')).toBe('开播');
    expect(t('player.retryIn', { seconds: 3 })).toBe('3 秒后重试，会自动开始。');
    applyLanguage('en');
    expect(t('goLive.title')).toBe('Go live');
    expect(t('stats.hashFailures', { count: 1 })).toBe('1 hash failure');
    expect(t('stats.hashFailures', { count: 3 })).toBe('3 hash failures');
  });
});
