/**
 * Cuts a channel's FLV tag stream into ~1-second segments and keeps the init data apart.
 *
 * Init data = FLV header + onMetaData + AVC and AAC sequence headers, versioned: a new
 * version starts when a sequence header changes (a resolution or codec-setting change).
 * A segment is a run of whole FLV tags of one init version. Cuts happen at a tag boundary
 * once a segment holds the target duration, or earlier at a video keyframe once it holds
 * half of it, so that with common GOPs every other segment starts on a keyframe.
 */

import {
  encodedTagSize,
  encodeFlvHeader,
  encodeTags,
  type FlvTag,
  isAacSequenceHeader,
  isAvcEndOfSequence,
  isAvcSequenceHeader,
  isOnMetaData,
  isVideoKeyframe,
  TAG_SCRIPT,
  TAG_VIDEO,
  writeTag,
} from '../../common/flv';
import { sha256Hex } from '../../common/sha256';

export interface InitData {
  version: number;
  data: Uint8Array;
  sha256: string;
  hasAudio: boolean;
  hasVideo: boolean;
}

export interface Segment {
  seq: number;
  initVersion: number;
  startTs: number;
  durationMs: number;
  sha256: string;
  keyframeOffset: number | null;
  /** Timestamp of the first keyframe, or null. */
  keyframeTs: number | null;
  originTime: number;
  data: Uint8Array;
}

export interface SegmenterOptions {
  targetDurationMs?: number;
  firstSeq?: number;
  firstInitVersion?: number;
  /** Hard cap on a segment's bytes; a cut is forced past it. */
  maxSegmentBytes?: number;
  onInit: (init: InitData) => void;
  onSegment: (segment: Segment) => void;
  /**
   * Progress of the segment being built: called with its seq when it opens (bytes empty) and
   * for every tag appended. Lets the origin stream the live-edge segment while it grows.
   */
  onPartial?: (seq: number, bytes: Uint8Array, open: { originTime: number; startTs: number }) => void;
}

interface OpenSegment {
  chunks: Uint8Array[];
  bytes: number;
  startTs: number;
  lastTs: number;
  originTime: number;
  keyframeOffset: number | null;
  keyframeTs: number | null;
}

function sameBytes(a: Uint8Array | null, b: Uint8Array): boolean {
  return a !== null && a.length === b.length && Buffer.compare(a, b) === 0;
}

export class Segmenter {
  private readonly targetMs: number;
  private readonly maxSegmentBytes: number;
  private nextSeq: number;
  private nextInitVersion: number;
  private metadata: FlvTag | null = null;
  private avcHeader: Uint8Array | null = null;
  private aacHeader: Uint8Array | null = null;
  private initDirty = false;
  private init: InitData | null = null;
  private open: OpenSegment | null = null;
  private waitingForKeyframe = true;
  /** Interval between the last two video frames, to estimate the duration of a final segment. */
  private frameIntervalMs = 40;
  private lastVideoTs: number | null = null;
  droppedTags = 0;

  constructor(private readonly opts: SegmenterOptions) {
    this.targetMs = opts.targetDurationMs ?? 1000;
    this.maxSegmentBytes = opts.maxSegmentBytes ?? 32 * 1024 * 1024;
    this.nextSeq = opts.firstSeq ?? 0;
    this.nextInitVersion = opts.firstInitVersion ?? 1;
  }

  get currentInit(): InitData | null {
    return this.init;
  }

  /** Feeds one tag whose timestamp is already on the channel timeline; `arrivalMs` is wall-clock time. */
  push(tag: FlvTag, arrivalMs: number): void {
    if (tag.type === TAG_SCRIPT) {
      if (isOnMetaData(tag)) {
        // The latest metadata goes into the next init version; on its own it does not start one.
        this.metadata = { ...tag, timestamp: 0 };
        return;
      }
      if (this.open) this.append(tag);
      return;
    }
    if (isAvcSequenceHeader(tag)) {
      if (!sameBytes(this.avcHeader, tag.data)) {
        this.avcHeader = tag.data;
        this.initDirty = true;
      }
      return;
    }
    if (isAacSequenceHeader(tag)) {
      if (!sameBytes(this.aacHeader, tag.data)) {
        this.aacHeader = tag.data;
        this.initDirty = true;
      }
      return;
    }
    if (isAvcEndOfSequence(tag)) return;

    if (this.initDirty || !this.init) {
      if (!this.avcHeader && !this.aacHeader) {
        this.droppedTags++;
        return;
      }
      this.cut(tag.timestamp);
      this.emitInit();
    }
    const isVideo = tag.type === TAG_VIDEO;
    if ((isVideo && !this.init!.hasVideo) || (!isVideo && !this.init!.hasAudio)) {
      this.droppedTags++; // a frame of a track whose decoder config we never got
      return;
    }
    const keyframe = isVideoKeyframe(tag);
    if (isVideo) {
      if (this.lastVideoTs !== null && tag.timestamp > this.lastVideoTs) {
        this.frameIntervalMs = Math.min(200, tag.timestamp - this.lastVideoTs);
      }
      this.lastVideoTs = tag.timestamp;
    }
    if (this.waitingForKeyframe) {
      if (this.init!.hasVideo && !keyframe) {
        this.droppedTags++;
        return;
      }
      this.waitingForKeyframe = false;
    }
    if (this.open) {
      const elapsed = tag.timestamp - this.open.startTs;
      if (
        elapsed >= this.targetMs ||
        (keyframe && elapsed >= this.targetMs / 2) ||
        this.open.bytes + encodedTagSize(tag) > this.maxSegmentBytes
      ) {
        this.cut(tag.timestamp);
      }
    }
    if (!this.open) {
      this.open = {
        chunks: [],
        bytes: 0,
        startTs: tag.timestamp,
        lastTs: tag.timestamp,
        originTime: arrivalMs,
        keyframeOffset: null,
        keyframeTs: null,
      };
    }
    if (keyframe && this.open.keyframeOffset === null) {
      this.open.keyframeOffset = this.open.bytes;
      this.open.keyframeTs = tag.timestamp;
    }
    this.append(tag);
  }

  /**
   * The publisher went away: close the open segment; the next publisher starts on a keyframe.
   * Returns the timestamp at which the next publisher should continue (the closed segment's end).
   */
  flush(): number {
    let resumeAt = this.nextTimestamp;
    if (this.open) {
      const end = this.open.lastTs + this.frameIntervalMs;
      this.cut(end);
      resumeAt = Math.max(resumeAt, end);
    }
    this.waitingForKeyframe = true;
    this.lastVideoTs = null;
    return resumeAt;
  }

  /** Timestamp at which the next publisher should continue. */
  get nextTimestamp(): number {
    return this.lastVideoTs !== null ? this.lastVideoTs + this.frameIntervalMs : 0;
  }

  private append(tag: FlvTag): void {
    const open = this.open!;
    const bytes = new Uint8Array(encodedTagSize(tag));
    writeTag(tag, bytes, 0);
    open.chunks.push(bytes);
    open.bytes += bytes.length;
    if (tag.timestamp > open.lastTs) open.lastTs = tag.timestamp;
    this.opts.onPartial?.(this.nextSeq, bytes, open);
  }

  private cut(endTs: number): void {
    const open = this.open;
    if (!open) return;
    this.open = null;
    const data = new Uint8Array(open.bytes);
    let offset = 0;
    for (const c of open.chunks) {
      data.set(c, offset);
      offset += c.length;
    }
    this.opts.onSegment({
      seq: this.nextSeq++,
      initVersion: this.init!.version,
      startTs: open.startTs,
      durationMs: Math.max(1, endTs - open.startTs),
      sha256: sha256Hex(data),
      keyframeOffset: open.keyframeOffset,
      keyframeTs: open.keyframeTs,
      originTime: open.originTime,
      data,
    });
  }

  private emitInit(): void {
    const hasVideo = this.avcHeader !== null;
    const hasAudio = this.aacHeader !== null;
    const tags: FlvTag[] = [];
    if (this.metadata) tags.push(this.metadata);
    if (this.avcHeader) tags.push({ type: TAG_VIDEO, timestamp: 0, data: this.avcHeader });
    if (this.aacHeader) tags.push({ type: 8, timestamp: 0, data: this.aacHeader });
    const header = encodeFlvHeader(hasAudio, hasVideo);
    const body = encodeTags(tags);
    const data = new Uint8Array(header.length + body.length);
    data.set(header, 0);
    data.set(body, header.length);
    this.init = { version: this.nextInitVersion++, data, sha256: sha256Hex(data), hasAudio, hasVideo };
    this.initDirty = false;
    this.waitingForKeyframe = true;
    this.opts.onInit(this.init);
  }
}
