import { describe, expect, it } from 'vitest';
import { deepLinkFromArgv, MAX_DEEP_LINK_LENGTH, parseDeepLink } from '../common/deep-link';

const id64 = `a${'b'.repeat(63)}`;

describe('parseDeepLink', () => {
  const accepted: Array<[string, string]> = [
    ['swarmcast://channel/demo', 'demo'],
    ['swarmcast://demo', 'demo'],
    ['swarmcast://channel/demo/', 'demo'],
    ['swarmcast://demo/', 'demo'],
    ['swarmcast://channel/my_channel-2', 'my_channel-2'],
    ['swarmcast://channel/demo?t=30&utm_source=x', 'demo'],
    ['swarmcast://demo?', 'demo'],
    ['swarmcast://demo/?from=web', 'demo'],
    ['swarmcast://demo#top', 'demo'],
    ['SwarmCast://channel/demo', 'demo'],
    ['swarmcast://0', '0'],
    [`swarmcast://channel/${id64}`, id64],
    // "channel" is itself a valid channel id.
    ['swarmcast://channel', 'channel'],
    ['swarmcast://channel/', 'channel'],
  ];
  it.each(accepted)('%s → %s', (link, channel) => {
    expect(parseDeepLink(link)).toEqual({ channel });
  });

  const refused: Array<[string, unknown]> = [
    ['other scheme', 'https://channel/demo'],
    ['lookalike scheme', 'swarmcasts://demo'],
    ['scheme only', 'swarmcast://'],
    ['no slashes', 'swarmcast:demo'],
    ['one slash', 'swarmcast:/demo'],
    ['three slashes', 'swarmcast:///demo'],
    ['empty id', 'swarmcast://channel//'],
    ['two trailing slashes', 'swarmcast://demo//'],
    ['other first segment', 'swarmcast://watch/demo'],
    ['extra segment', 'swarmcast://channel/demo/extra'],
    ['path traversal', 'swarmcast://channel/../demo'],
    ['dot segment', 'swarmcast://channel/./demo'],
    ['traversal as id', 'swarmcast://..'],
    ['percent-escaped slash', 'swarmcast://channel/demo%2f..'],
    ['percent-escaped id', 'swarmcast://channel/%64emo'],
    ['backslash', 'swarmcast://channel\\demo'],
    ['upper-case id', 'swarmcast://channel/Demo'],
    ['id too long', `swarmcast://channel/${id64}c`],
    ['id starting with -', 'swarmcast://channel/-demo'],
    ['id with dot', 'swarmcast://channel/demo.flv'],
    ['user info', 'swarmcast://user@demo'],
    ['port', 'swarmcast://demo:8080'],
    ['space', 'swarmcast://channel/de mo'],
    ['leading space', ' swarmcast://demo'],
    ['newline', 'swarmcast://demo\n'],
    ['NUL', 'swarmcast://demo\u0000'],
    ['over-long input', `swarmcast://demo?${'x'.repeat(MAX_DEEP_LINK_LENGTH)}`],
    ['javascript:', 'javascript:alert(1)'],
    ['file path', '/usr/bin/swarmcast'],
    ['empty string', ''],
    ['not a string', 42],
    ['null', null],
    ['undefined', undefined],
  ];
  it.each(refused)('refuses %s', (_name, link) => {
    expect(parseDeepLink(link)).toBeNull();
  });
});

describe('deepLinkFromArgv', () => {
  const cases: Array<[string, string[], string | null]> = [
    ['Windows first start', ['C:\\Swarmcast\\Swarmcast.exe', 'swarmcast://channel/demo'], 'demo'],
    [
      'second instance with Chromium switches',
      ['/opt/Swarmcast/swarmcast', '--no-sandbox', '--allow-file-access-from-files', 'swarmcast://news/'],
      'news',
    ],
    ['dev mode (electron . link)', ['/x/electron', '/work/main', 'swarmcast://demo'], 'demo'],
    ['a bad link before a good one', ['app', 'swarmcast://../x', 'swarmcast://demo'], 'demo'],
    ['no link', ['app', '--inspect', 'demo'], null],
    ['only bad links', ['app', 'swarmcast://channel/a/b', 'https://demo'], null],
    ['empty argv', [], null],
  ];
  it.each(cases)('%s', (_name, argv, channel) => {
    expect(deepLinkFromArgv(argv)).toEqual(channel === null ? null : { channel });
  });
});
