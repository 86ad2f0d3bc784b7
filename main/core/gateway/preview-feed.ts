/**
 * The channel list's preview tile: a joined (warm or playing) channel's keyframes, video only,
 * as one FLV response. One preview at a time: the list shows one tile, and a page that drops a
 * preview without closing its request (mpegts.js in Chrome defers the abort) must not hold a
 * connection.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CoreLog } from '../../../common/logger';
import type { JoinedChannel } from '../channel-registry';
import { GatewayStream } from './gateway-stream';
import { keyframesOnly } from './keyframe-filter';

export class PreviewFeed {
  private current: { channel: string; stream: GatewayStream } | null = null;

  constructor(private readonly log: CoreLog) {}

  /** Serves `j`'s preview on `res` (404 when the channel is not joined), ending the last one. */
  open(channel: string, j: JoinedChannel | undefined, req: IncomingMessage, res: ServerResponse): void {
    if (!j) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return void res.end('channel not joined: pre-join it first\n');
    }
    res.writeHead(200, { 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-store' });
    if (req.method === 'HEAD') return void res.end();
    this.current?.stream.close();
    const stream = new GatewayStream(
      j.session,
      j.cache,
      keyframesOnly({ write: (b) => res.write(b), backlog: () => res.writableLength, end: () => res.end() }),
      this.log,
      { readerId: `preview-${randomBytes(4).toString('hex')}`, minStartBufferMs: 0 },
    );
    this.current = { channel, stream };
    res.on('close', () => {
      stream.close();
      if (this.current?.stream === stream) this.current = null;
    });
  }

  /** The channel is being dropped: its preview ends with it. */
  drop(channel: string): void {
    if (this.current?.channel === channel) this.current.stream.close();
  }
}
