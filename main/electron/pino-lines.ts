/**
 * One pino JSON line (what the embedded server's logger writes) as an electron-log call: the
 * level by pino's numbers, the message, and the remaining fields (child bindings, `err`, …).
 * pino's `time` is dropped (electron-log stamps its own). Pure, without Electron, so it is tested.
 */
export interface LogCall {
  level: 'error' | 'warn' | 'info';
  msg: string;
  fields: Record<string, unknown> | null;
}

export function pinoLineToLog(line: string): LogCall {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { level: 'info', msg: line.trim(), fields: null };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { level: 'info', msg: line.trim(), fields: null };
  }
  const { msg, level, time: _time, ...rest } = parsed as Record<string, unknown>;
  const n = typeof level === 'number' ? level : 30;
  return {
    // pino: 60 fatal, 50 error, 40 warn, 30 info (20 debug and 10 trace are below the level set)
    level: n >= 50 ? 'error' : n >= 40 ? 'warn' : 'info',
    msg: typeof msg === 'string' ? msg : '',
    fields: Object.keys(rest).length > 0 ? rest : null,
  };
}
