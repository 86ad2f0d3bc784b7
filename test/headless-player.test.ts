/**
 * The headless player (`swarmcast peer`'s stand-in for a video element) over a real HTTP stream:
 * its playhead moves at real time through what arrived, and a stall is timed from the moment
 * the buffer ran dry to the moment enough media came back, whatever the period of its beat.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFlvHeader, encodeTags, type FlvTag, TAG_VIDEO } from '../common/flv';
import { HeadlessPlayer } from '../main/core/player/headless-player';

/** Inter frames (AVC NALU packets) every 40 ms over [fromMs, toMs). */
function frames(fromMs: number, toMs: number): Uint8Array {
  const tags: FlvTag[] = [];
  for (let ts = fromMs; ts < toMs; ts += 40)
    tags.push({ type: TAG_VIDEO, timestamp: ts, data: new Uint8Array([0x27, 1, 0, 0, 0]) });
  return encodeTags(tags);
}

let server: Server | null = null;
let player: HeadlessPlayer | null = null;

afterEach(async () => {
  player?.stop();
  player = null;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = null;
});

/** Serves one FLV stream; `script` writes into it. */
async function stream(script: (res: ServerResponse) => Promise<void>): Promise<string> {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'video/x-flv' });
    res.write(encodeFlvHeader(false, true));
    void script(res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

const timeline = { firstTs: 0, anchors: () => [], clockOffsetMs: 0 };
// Latency is read from the buffer alone here (no anchors): a target far above it keeps the rate at 1.
const liveSync = { targetLatencyS: 4, speedUpAboveS: 10, catchUpRate: 1.15, seekAboveS: 20 };

function play(url: string): HeadlessPlayer {
  return new HeadlessPlayer(
    url,
    () => timeline,
    () => liveSync,
  );
}

describe('headless player', () => {
  it('plays what arrived at real time, stalls when it runs out and resumes when media is back', async () => {
    const url = await stream(async (res) => {
      res.write(frames(0, 1000)); // one second of media, then a gap of 1.6 s
      await sleep(1600);
      res.write(frames(1000, 4000));
    });
    player = play(url);
    await sleep(600);
    const early = player.stats();
    expect(early.ttffMs).not.toBeNull();
    expect(early.playing).toBe(true);
    expect(early.stalls).toBe(0);
    await sleep(2000);
    const s = player.stats();
    expect(s.stalls).toBe(1);
    expect(s.playing).toBe(true);
    // Dry at ~1.0 s, media back at ~1.6 s: ~0.6 s. The bounds are loose for a busy machine, so
    // they check that the stall is counted and timed from data, not its exact start.
    expect(s.stallSeconds).toBeGreaterThan(0.4);
    expect(s.stallSeconds).toBeLessThan(1.1);
  });

  it('does not stall while media keeps arriving ahead of the playhead', async () => {
    const url = await stream(async (res) => {
      for (let ms = 0; ms < 3000; ms += 500) {
        res.write(frames(ms, ms + 500));
        await sleep(ms === 0 ? 0 : 400);
      }
    });
    player = play(url);
    await sleep(1500);
    const s = player.stats();
    expect(s.stalls).toBe(0);
    expect(s.bufferS).toBeGreaterThan(0);
  });
});
