/**
 * RTMP ingest, as OBS and ffmpeg publish it: rtmp://HOST:1935/live/STREAMKEY.
 *
 * The handshake, chunk stream and AMF commands are node-media-server's protocol engine
 * (its `Rtmp` class, used per socket). Its server wrapper is not used: it keeps global
 * singleton state, runs its own HTTP stack and exits the process on a listen error, none
 * of which fits an origin embedded in tests and in the desktop app. The subclass below only
 * adds limits against hostile input and decides who may publish.
 */
import { createServer, type Server, type Socket } from 'node:net';
import nmsLogger from 'node-media-server/src/core/logger.js';
import Rtmp from 'node-media-server/src/protocol/rtmp.js';
import { normaliseScriptData, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, type TagType } from '../../common/flv';
import type { Logger } from '../log';
import type { PublisherSink } from './channel';

const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
const MAX_CHUNK_STREAMS = 64;
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
const PUBLISH_DEADLINE_MS = 10_000;
const IDLE_TIMEOUT_MS = 30_000;

// Route the library's console logging into ours (it logs almost nothing at "error").
nmsLogger.level = 'error';

export type PublishResolver = (app: string, streamKey: string, source: string) => PublisherSink | string;

class GuardedRtmp extends Rtmp {
  constructor(private readonly onPublishRequest: (app: string, name: string) => boolean) {
    super();
  }

  override packetAlloc(): void {
    const len = this.parserPacket.header.length;
    if (len > MAX_MESSAGE_BYTES) throw new Error(`RTMP message of ${len} bytes exceeds ${MAX_MESSAGE_BYTES}`);
    super.packetAlloc();
  }

  override packetParse(): void {
    super.packetParse();
    if (this.inPackets.size > MAX_CHUNK_STREAMS) throw new Error('too many RTMP chunk streams');
  }

  override controlHandler(): void {
    super.controlHandler();
    if (!(this.inChunkSize >= 1 && this.inChunkSize <= MAX_CHUNK_SIZE)) {
      throw new Error(`invalid RTMP chunk size ${this.inChunkSize}`);
    }
  }

  override onPublish(msg: { cmd: string; streamName?: unknown }): void {
    if (typeof msg.streamName !== 'string') throw new Error('publish without a stream name');
    const name = msg.streamName.split('?')[0] ?? '';
    if (this.onPublishRequest(this.streamApp ?? '', name)) super.onPublish(msg);
  }

  override onPlay(): void {
    this.sendStatusMessage(
      this.parserPacket.header.stream_id,
      'error',
      'NetStream.Play.Failed',
      'RTMP playback is not offered; play the channel over HTTP-FLV or Swarmcast',
    );
    throw new Error('RTMP play request refused');
  }
}

export class RtmpIngest {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private nextId = 0;

  constructor(
    private readonly resolve: PublishResolver,
    private readonly log: Logger,
  ) {}

  async listen(port: number, host: string): Promise<number> {
    const server = createServer((socket) => this.handle(socket));
    this.server = server;
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, host, () => {
        server.off('error', fail);
        ok();
      });
    });
    server.on('error', (err) => this.log.error({ err: String(err) }, 'rtmp server error'));
    const addr = server.address();
    const bound = typeof addr === 'object' && addr ? addr.port : port;
    this.log.info({ port: bound, host }, 'rtmp ingest listening');
    return bound;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }

  private handle(socket: Socket): void {
    const id = `rtmp-${++this.nextId}`;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const log = this.log.child({ session: id, remote });
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let sink: PublisherSink | null = null;
    let received = 0;
    let acked = 0;
    let failed = false;

    const fail = (reason: string) => {
      if (failed) return;
      failed = true;
      log.warn({ reason }, 'rtmp session closed');
      sink?.end(reason);
      sink = null;
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    };

    const rtmp = new GuardedRtmp((app, key) => {
      const result = this.resolve(app, key, id);
      if (typeof result === 'string') {
        rtmp.sendStatusMessage(
          rtmp.parserPacket.header.stream_id,
          'error',
          'NetStream.Publish.BadName',
          result,
        );
        fail(`publish refused: ${result}`);
        return false;
      }
      sink = result;
      clearTimeout(publishDeadline);
      log.info({ app, publisher: result.id }, 'rtmp publish started');
      return true;
    });
    rtmp.onOutputCallback = (buf) => {
      if (!socket.destroyed) socket.write(buf);
    };
    rtmp.onPacketCallback = (p) => {
      if (!sink) return;
      const type = p.codec_type;
      if (type !== TAG_AUDIO && type !== TAG_VIDEO && type !== TAG_SCRIPT) return;
      // The engine reuses its payload buffer: copy the bytes out.
      const bytes = Buffer.from(p.data.subarray(0, p.size));
      sink.write({
        type: type as TagType,
        timestamp: p.dts >>> 0,
        data: type === TAG_SCRIPT ? normaliseScriptData(bytes) : bytes,
      });
    };
    const originalDelete = rtmp.onDeleteStream.bind(rtmp);
    rtmp.onDeleteStream = (msg) => {
      originalDelete(msg);
      if (sink) {
        sink.end('publisher deleted its stream');
        sink = null;
      }
    };

    const publishDeadline = setTimeout(() => fail('no publish within 10 s'), PUBLISH_DEADLINE_MS);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => fail('idle for 30 s'));
    socket.on('data', (data) => {
      if (failed) return;
      // C0: plain RTMP is version 3. Anything else (an HTTP request, random bytes) is not ours;
      // without this check the engine would wait for a 1536-byte handshake that never comes.
      if (received === 0 && data[0] !== 3) return fail(`not RTMP (first byte 0x${data[0]?.toString(16)})`);
      received += data.length;
      try {
        const err = rtmp.parserData(data);
        if (err) return fail(`protocol error: ${err}`);
      } catch (e) {
        return fail(`protocol error: ${e instanceof Error ? e.message : String(e)}`);
      }
      const window = rtmp.ackSize ?? 0;
      if (window > 0 && received - acked >= window) {
        acked = received;
        rtmp.sendACK(received >>> 0);
      }
    });
    socket.on('error', (err) => log.debug({ err: err.message }, 'rtmp socket error'));
    socket.on('close', () => {
      clearTimeout(publishDeadline);
      this.sockets.delete(socket);
      if (sink) {
        sink.end('publisher disconnected');
        sink = null;
        log.info('rtmp publisher disconnected');
      }
    });
  }
}
