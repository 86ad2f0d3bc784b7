/**
 * The demo channel's broadcaster: a committed H.264/AAC clip looped forever at real time.
 * Each loop is shifted by the clip's length so timestamps stay continuous and monotonic.
 */
import { readFile } from 'node:fs/promises';
import { type FlvTag, isMediaFrame, parseFlv, TAG_AUDIO, TAG_VIDEO } from '../../common/flv';
import type { PublisherSink } from './channel';

export interface DemoClip {
  /** Tags of one loop; headers first. */
  headers: FlvTag[];
  frames: FlvTag[];
  /** Length of one loop in ms (the end of the longer track: its last frame + one frame interval). */
  loopMs: number;
}

export async function loadDemoClip(path: string): Promise<DemoClip> {
  const tags = parseFlv(await readFile(path));
  const headers = tags.filter((t) => !isMediaFrame(t));
  const frames = tags.filter(isMediaFrame);
  const first = frames[0]?.timestamp ?? 0;
  // A loop ends where each track's next frame would be; the longest track sets the length,
  // so that the next loop's audio follows on without a gap (and video with the smallest one).
  let end = first + 40;
  for (const type of [TAG_AUDIO, TAG_VIDEO]) {
    const track = frames.filter((t) => t.type === type);
    if (track.length === 0) continue;
    const step = track.length > 1 ? track[1]!.timestamp - track[0]!.timestamp : 40;
    end = Math.max(end, track[track.length - 1]!.timestamp + step);
  }
  for (const f of frames) f.timestamp -= first;
  return { headers, frames, loopMs: end - first };
}

export interface DemoLoop {
  stop(): void;
}

/** Feeds the clip into `sink`, each frame when its time comes (frames go out as they would from a camera). */
export function startDemoLoop(clip: DemoClip, sink: PublisherSink): DemoLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let loop = 0;
  let index = 0;
  const t0 = performance.now();
  for (const h of clip.headers) sink.write({ ...h, timestamp: 0 });

  const pump = () => {
    if (stopped) return;
    const elapsed = performance.now() - t0;
    for (;;) {
      const f = clip.frames[index];
      if (!f) {
        loop++;
        index = 0;
        continue;
      }
      const due = loop * clip.loopMs + f.timestamp;
      if (due > elapsed) {
        timer = setTimeout(pump, Math.min(50, Math.max(1, due - elapsed)));
        return;
      }
      sink.write({ ...f, timestamp: due });
      index++;
    }
  };
  pump();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      sink.end('demo stopped');
    },
  };
}
