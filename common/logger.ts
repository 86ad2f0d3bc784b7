/**
 * The logging surface the viewer's parts use (peer node, core, CLI): electron-log in the
 * app, pino in the command-line tools. Fields carry ids (peer, channel, session).
 */
export interface CoreLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}
