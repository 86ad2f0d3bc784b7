/**
 * Browser mode's transport for the IPC contract: the renderer's calls arrive as
 * {id, name, request} frames on the gateway's WebSocket, answers go back as {id, ok, …},
 * and core events are pushed as {event, payload}. Frames are size-capped by the server and
 * schema-checked here; the core validates each request against the contract.
 */
import type { WebSocket } from 'ws';
import { type WsServerFrame, wsClientFrameSchema } from '../../common/ipc-contract';
import type { CoreLog } from '../../common/logger';
import type { ViewerCore } from './viewer-core-api';

const MAX_PENDING = 64;

export function attachWsIpc(ws: WebSocket, core: ViewerCore, log: CoreLog): void {
  let pending = 0;
  const send = (frame: WsServerFrame) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  };
  const off = core.onEvent((event, payload) => send({ event, payload }));
  // Player sessions opened over this socket end with it (a closed tab never says player.close).
  const opened = new Set<string>();
  ws.on('close', () => {
    off();
    for (const sessionId of opened) void core.invoke('player.close', { sessionId }).catch(() => undefined);
  });
  ws.on('error', (err) => log.debug('ipc socket error', { error: err.message }));
  ws.on('message', (data, isBinary) => {
    let frame: ReturnType<typeof wsClientFrameSchema.parse>;
    try {
      if (isBinary) throw new Error('binary frame');
      frame = wsClientFrameSchema.parse(JSON.parse(data.toString()));
    } catch (err) {
      log.warn('malformed ipc frame; closing the socket', { error: String(err).slice(0, 200) });
      ws.close(1008, 'malformed frame');
      return;
    }
    if (pending >= MAX_PENDING) {
      send({ id: frame.id, ok: false, error: 'too many calls in flight' });
      return;
    }
    pending++;
    core
      .invoke(frame.name, frame.request)
      .then((response) => {
        if (frame.name === 'player.open') opened.add((response as { sessionId: string }).sessionId);
        if (frame.name === 'player.close') opened.delete((frame.request as { sessionId: string }).sessionId);
        send({ id: frame.id, ok: true, response });
      })
      .catch((err: unknown) =>
        send({ id: frame.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
      )
      .finally(() => pending--);
  });
}
