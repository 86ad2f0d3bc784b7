/**
 * `swarmcast web` opens the user's browser on its address, through the platform's own opener
 * (macOS `open`, Windows `start`, elsewhere `xdg-open`), detached and never waited for. It
 * does not when told not to (`--no-open`, SWARMCAST_NO_OPEN=1), nor when nobody is looking:
 * stdout is not a terminal (tests, scripts, services) or CI is set.
 */
import { spawn } from 'node:child_process';

export interface OpenDecision {
  open: boolean;
  /** Why not (for the log), when `open` is false. */
  reason?: string;
}

const truthy = (v: string | undefined): boolean => v !== undefined && v !== '' && v !== '0' && v !== 'false';

export function shouldOpenBrowser(opts: {
  noOpenFlag: boolean;
  env: NodeJS.ProcessEnv;
  stdoutIsTty: boolean;
}): OpenDecision {
  if (opts.noOpenFlag) return { open: false, reason: '--no-open' };
  if (truthy(opts.env.SWARMCAST_NO_OPEN)) return { open: false, reason: 'SWARMCAST_NO_OPEN is set' };
  if (truthy(opts.env.CI)) return { open: false, reason: 'CI is set' };
  if (!opts.stdoutIsTty) return { open: false, reason: 'stdout is not a terminal' };
  return { open: true };
}

/** The opener command for `url` on `platform`; null for a URL that is not plain http(s). */
export function openerCommand(
  url: string,
  platform: NodeJS.Platform,
): { cmd: string; args: string[] } | null {
  // Only our own loopback address is ever opened; nothing in it needs quoting (cmd.exe would
  // otherwise read & | ^ < > as its own syntax).
  if (!/^https?:\/\/[A-Za-z0-9.:[\]_-]+(\/[A-Za-z0-9._~/-]*)?$/.test(url)) return null;
  if (platform === 'darwin') return { cmd: 'open', args: [url] };
  // `start`'s first quoted argument is the window title; the arguments are passed verbatim
  // (windowsVerbatimArguments), which the check above makes safe.
  if (platform === 'win32') return { cmd: 'cmd', args: ['/d', '/c', 'start', '""', url] };
  return { cmd: 'xdg-open', args: [url] };
}

/** Starts the opener and forgets it; a failure (no opener, no desktop) is only logged. */
export function openBrowser(url: string, onError: (message: string) => void): void {
  const command = openerCommand(url, process.platform);
  if (!command) {
    onError(`not opening ${url}: not a plain http address`);
    return;
  }
  try {
    const child = spawn(command.cmd, command.args, {
      detached: true,
      stdio: 'ignore',
      windowsHide: true,
      windowsVerbatimArguments: process.platform === 'win32',
    });
    child.on('error', (err) => onError(`${command.cmd}: ${err.message}`));
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) onError(`${command.cmd} exited with code ${code}`);
    });
    child.unref();
  } catch (err) {
    onError(`${command.cmd}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
