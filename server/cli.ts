/** `swarmcast server`: origin, COM service, tracker and STUN (and, as they arrive, the other services) in one process. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from './log';
import { startServer } from './run-server';

const USAGE = `usage: swarmcast server [options]
  --host ADDR            address to listen on (default 0.0.0.0)
  --http-port N          origin HTTP port: manifests, segments, HTTP-FLV, HTTP push (default 8080)
  --rtmp-port N          RTMP ingest port (default 1935; 0 = any free port)
  --no-rtmp              no RTMP ingest
  --data DIR             data folder for the signing key (default ~/.swarmcast/server)
  --no-demo              do not run the demo channel
  --demo-clip FILE       FLV clip to loop as the demo channel
  --stream-key KEY=CH    allow publishing channel CH with stream key KEY (repeatable);
                         without any, the stream key is the channel name
  --stun-port N          STUN (UDP) port (default 3478, or any free port if it is taken; 0 = any)
  --no-stun              no STUN server
  --public-url URL       base URL viewers reach this server at (default: from the request's Host);
                         channel info names the origin, tracker and STUN server from it
  --turn URL             TURN server handed to viewers (repeatable: turn:host:3478?transport=udp, …)
  --turn-user U          TURN username
  --turn-pass P          TURN password
  --sub-room-size N      viewers per sub-room before another one is opened (default: no split)`;

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '0.0.0.0' },
      'http-port': { type: 'string', default: '8080' },
      'rtmp-port': { type: 'string', default: '1935' },
      'no-rtmp': { type: 'boolean', default: false },
      data: { type: 'string' },
      'no-demo': { type: 'boolean', default: false },
      'demo-clip': { type: 'string' },
      'stream-key': { type: 'string', multiple: true, default: [] },
      'stun-port': { type: 'string' },
      'no-stun': { type: 'boolean', default: false },
      'public-url': { type: 'string' },
      turn: { type: 'string', multiple: true, default: [] },
      'turn-user': { type: 'string' },
      'turn-pass': { type: 'string' },
      'sub-room-size': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name}: not a port: ${text}`);
    return n;
  };
  const streamKeys = new Map<string, string>();
  for (const pair of values['stream-key']) {
    const [key, channel] = pair.split('=');
    if (!key || !channel) throw new Error(`--stream-key wants KEY=CHANNEL, got "${pair}"`);
    streamKeys.set(key, channel);
  }
  let turn: { urls: string[]; username: string; credential: string } | undefined;
  if (values.turn.length > 0) {
    if (values['turn-user'] === undefined || values['turn-pass'] === undefined) {
      throw new Error('--turn needs --turn-user and --turn-pass');
    }
    for (const u of values.turn) {
      if (!/^turns?:\S+$/.test(u)) throw new Error(`--turn wants a turn: or turns: URL, got "${u}"`);
    }
    turn = { urls: values.turn, username: values['turn-user'], credential: values['turn-pass'] };
  }
  let subRoomSize: number | undefined;
  if (values['sub-room-size'] !== undefined) {
    subRoomSize = Number(values['sub-room-size']);
    if (!Number.isInteger(subRoomSize) || subRoomSize < 1) {
      throw new Error(`--sub-room-size: not a positive integer: ${values['sub-room-size']}`);
    }
  }
  const log = createLogger('swarmcast-server');
  const server = await startServer({
    host: values.host,
    httpPort: port('http-port', values['http-port']),
    rtmpPort: values['no-rtmp'] ? null : port('rtmp-port', values['rtmp-port']),
    dataDir: values.data ?? join(homedir(), '.swarmcast', 'server'),
    demo: !values['no-demo'],
    demoClip: values['demo-clip'],
    streamKeys,
    // Unset: 3478, or a free port when 3478 is taken; given: that port or fail.
    stunPort: values['no-stun']
      ? null
      : values['stun-port'] === undefined
        ? undefined
        : port('stun-port', values['stun-port']),
    publicUrl: values['public-url'],
    turn,
    subRoomSize,
    log,
  });
  process.stdout.write(
    `${JSON.stringify({ event: 'ready', http: server.httpUrl, rtmp: server.rtmpUrl, tracker: server.trackerUrl, httpPort: server.httpPort, rtmpPort: server.rtmpPort, stunPort: server.stunPort })}\n`,
  );
  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
