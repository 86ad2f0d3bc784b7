/**
 * The preview tile's stream: a gateway stream's output reduced to video keyframes (one a
 * segment, so about one frame a second) and the AVC sequence headers they need, behind an FLV
 * header that announces video only. Muted, cheap to decode, and it never waits for audio.
 * GatewayStream writes the FLV header on its own and whole tags after it, so each write is
 * filtered by itself.
 */
import {
  encodeFlvHeader,
  encodeTags,
  FLV_HEADER_SIZE,
  FlvError,
  isAvcSequenceHeader,
  isVideoKeyframe,
  PREV_TAG_SIZE,
  parseFlv,
} from '../../../common/flv';
import type { StreamSink } from './gateway-stream';

export function keyframesOnly(sink: StreamSink): StreamSink {
  let headerDone = false;
  return {
    write(bytes) {
      let rest = bytes;
      if (
        !headerDone &&
        rest.length >= FLV_HEADER_SIZE &&
        rest[0] === 0x46 &&
        rest[1] === 0x4c &&
        rest[2] === 0x56
      ) {
        headerDone = true;
        sink.write(encodeFlvHeader(false, true));
        rest = rest.subarray(FLV_HEADER_SIZE + PREV_TAG_SIZE);
      }
      if (rest.length === 0) return;
      let tags: ReturnType<typeof parseFlv>;
      try {
        tags = parseFlv(rest, { headerless: true });
      } catch (err) {
        if (err instanceof FlvError) return;
        throw err;
      }
      const kept = tags.filter((t) => isAvcSequenceHeader(t) || isVideoKeyframe(t));
      if (kept.length > 0) sink.write(encodeTags(kept));
    },
    backlog: () => sink.backlog(),
    end: () => sink.end(),
  };
}
