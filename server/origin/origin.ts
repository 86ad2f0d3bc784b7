/**
 * The origin: channels, who may publish to them (RTMP, HTTP push, the demo loop), and the
 * signed manifests. HTTP routes are in http-api.ts.
 */
import {
  CHANNEL_ID_PATTERN,
  type ChannelSummary,
  manifestSigningText,
  signedManifestJson,
} from '../../common/manifest';
import type { Logger } from '../log';
import { Channel, type PublisherSink } from './channel';
import { type DemoLoop, loadDemoClip, startDemoLoop } from './demo-source';
import type { ManifestSigner } from './signing-key';

export const DEMO_CHANNEL = 'demo';

export interface OriginOptions {
  signer: ManifestSigner;
  log: Logger;
  /** Stream key → channel id. When empty, the key is the channel id and any valid id may publish. */
  streamKeys?: ReadonlyMap<string, string>;
  /**
   * Without stream keys, may anyone publish under a channel's name? Only a server that listens
   * on loopback alone (the app's embedded server, a developer's machine) says yes.
   */
  openPublishing?: boolean;
  windowSize?: number;
  targetDurationMs?: number;
  now?: () => number;
}

export class Origin {
  readonly channels = new Map<string, Channel>();
  private readonly signedCache = new Map<string, { key: string; body: string }>();
  private demoLoop: DemoLoop | null = null;

  constructor(private readonly opts: OriginOptions) {}

  get log(): Logger {
    return this.opts.log;
  }

  get publicKey(): string {
    return this.opts.signer.publicKey;
  }

  /** Starts the demo channel: the committed clip looped at real time. */
  async startDemo(clipPath: string): Promise<void> {
    const clip = await loadDemoClip(clipPath);
    const sink = this.channel(DEMO_CHANNEL, true).publish('demo');
    if (typeof sink === 'string') throw new Error(sink);
    this.demoLoop = startDemoLoop(clip, sink);
    this.log.info({ loopMs: clip.loopMs }, 'demo channel started');
  }

  private channel(id: string, demo = false): Channel {
    let ch = this.channels.get(id);
    if (!ch) {
      ch = new Channel({
        id,
        demo,
        log: this.log,
        windowSize: this.opts.windowSize,
        targetDurationMs: this.opts.targetDurationMs,
        now: this.opts.now,
      });
      this.channels.set(id, ch);
    }
    return ch;
  }

  /** Maps a stream key to its channel and claims the publisher slot, or says why not. */
  resolvePublish(streamKey: string, source: string): PublisherSink | string {
    const keys = this.opts.streamKeys;
    let channelId: string | undefined;
    if (keys && keys.size > 0) {
      channelId = keys.get(streamKey);
      if (!channelId) return 'unknown stream key';
    } else if (this.opts.openPublishing === false) {
      return 'this server takes no publishers: it listens beyond loopback and has no stream keys (set SWARMCAST_STREAM_KEYS)';
    } else {
      channelId = streamKey;
    }
    if (!CHANNEL_ID_PATTERN.test(channelId)) return 'invalid channel name (use a-z, 0-9, _ and -)';
    if (channelId === DEMO_CHANNEL && this.demoLoop) return 'the demo channel is reserved';
    return this.channel(channelId).publish(source);
  }

  /** The channel's manifest as signed JSON; signed once per new segment, not per request. */
  signedManifestBody(ch: Channel): string {
    const key = `${ch.latestSeq}:${ch.live}`;
    const cached = this.signedCache.get(ch.id);
    if (cached && cached.key === key) return cached.body;
    const text = manifestSigningText(ch.manifest());
    const body = signedManifestJson(text, this.opts.signer.sign(Buffer.from(text)));
    this.signedCache.set(ch.id, { key, body });
    return body;
  }

  summaries(): ChannelSummary[] {
    const list = [...this.channels.values()].map((ch) => ({
      id: ch.id,
      live: ch.live,
      demo: ch.demo,
      latestSeq: ch.latestSeq,
      bitrateKbps: ch.bitrateKbps(),
    }));
    return list.sort(
      (a, b) =>
        Number(b.demo) - Number(a.demo) || Number(b.live) - Number(a.live) || a.id.localeCompare(b.id),
    );
  }

  close(): void {
    this.demoLoop?.stop();
    this.demoLoop = null;
  }
}
