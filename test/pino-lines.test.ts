import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type LogCall, pinoLineToLog } from '../main/electron/pino-lines';

/** What the embedded server's logger (pino, as pinoOver builds it) hands electron-log. */
function capture(run: (log: pino.Logger) => void): LogCall[] {
  const calls: LogCall[] = [];
  const log = pino(
    { level: 'info', base: null },
    { write: (line: string) => calls.push(pinoLineToLog(line)) },
  );
  run(log);
  return calls;
}

describe('pinoLineToLog (the embedded server into the app log file)', () => {
  it('maps levels, keeps the message and the fields, drops pino time', () => {
    const calls = capture((log) => {
      const origin = log.child({ component: 'origin' });
      origin.info({ http: 'http://127.0.0.1:1' }, 'embedded server started');
      origin.warn('slow');
      origin.error({ err: new Error('boom') }, 'failed');
      log.fatal('dead');
      log.debug('not logged at info');
    });
    expect(calls).toHaveLength(4);
    expect(calls[0]).toEqual({
      level: 'info',
      msg: 'embedded server started',
      fields: { component: 'origin', http: 'http://127.0.0.1:1' },
    });
    expect(calls[1]).toEqual({ level: 'warn', msg: 'slow', fields: { component: 'origin' } });
    expect(calls[2]?.level).toBe('error');
    expect(calls[2]?.fields?.err).toMatchObject({ message: 'boom' });
    expect(calls[3]).toEqual({ level: 'error', msg: 'dead', fields: null });
  });

  it('passes a line that is not JSON through as text', () => {
    expect(pinoLineToLog('plain text\n')).toEqual({ level: 'info', msg: 'plain text', fields: null });
    expect(pinoLineToLog('42')).toEqual({ level: 'info', msg: '42', fields: null });
  });
});
