// Types for the part of node-media-server's RTMP protocol engine that the origin uses.
declare module 'node-media-server/src/protocol/rtmp.js' {
  interface AVPacket {
    codec_type: number;
    dts: number;
    size: number;
    data: Buffer;
  }
  interface InvokeMessage {
    cmd: string;
    streamName?: unknown;
  }
  class Rtmp {
    onConnectCallback: (req: { app: string; name: string }) => void;
    onPushCallback: () => void;
    onPacketCallback: (packet: AVPacket) => void;
    onOutputCallback: (buffer: Buffer) => void;
    parserData(buffer: Buffer): string | null;
    packetAlloc(): void;
    packetParse(): void;
    controlHandler(): void;
    onPublish(msg: InvokeMessage): void;
    onPlay(msg: InvokeMessage): void;
    onDeleteStream(msg: InvokeMessage): void;
    sendACK(size: number): void;
    sendStatusMessage(sid: number, level: string, code: string, description: string): void;
    parserPacket: { header: { length: number; stream_id: number; type: number } };
    inPackets: Map<number, unknown>;
    inChunkSize: number;
    ackSize?: number;
    streamApp?: string;
  }
  export = Rtmp;
}
declare module 'node-media-server/src/core/logger.js' {
  const logger: { level: string; log(message: string, level?: string): void };
  export = logger;
}
