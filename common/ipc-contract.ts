/**
 * The one contract between the renderer and the viewer core: invoke calls (request →
 * response) and pushed events. Electron carries it over ipcMain/ipcRenderer through the
 * preload; browser mode (`swarmcast web`) carries the same messages over a WebSocket on the
 * gateway. The core validates every request against these schemas before acting on it.
 */
import * as z from 'zod';
import { CHANNEL_ID_PATTERN, channelSummarySchema } from './manifest';

const channelId = z.string().regex(CHANNEL_ID_PATTERN);
/** Channels kept warm at once (hovered + next + previous). */
export const MAX_PREJOINED = 3;
const sessionId = z.string().regex(/^[a-z0-9]{8,32}$/);

/** Player behaviour at the live edge; all in seconds behind live unless named otherwise. */
export const liveSyncSchema = z.object({
  /** Where playback sits after the start-up jump past the GOP. */
  targetLatencyS: z.number().min(0.1).max(30),
  /** Above this, play faster (never below it, so the buffer does not run dry). */
  speedUpAboveS: z.number().min(0.1).max(60),
  /** Playback rate used while catching up. */
  catchUpRate: z.number().min(1.01).max(2),
  /** Above this, seek instead of speeding up. */
  seekAboveS: z.number().min(0.5).max(120),
});
export type LiveSync = z.infer<typeof liveSyncSchema>;

export const settingsSchema = z.object({
  version: z.literal(1),
  /** Swarmcast server (COM/origin) URL; null = the embedded local server with the demo channel. */
  serverUrl: z.string().url().max(2048).nullable(),
  /** normal leaves peers time to share; low stays close to live from the CDN (streamer preview). */
  latencyMode: z.enum(['normal', 'low']),
  /** Exchange segments with other viewers (off: everything from the CDN, nothing uploaded). */
  p2pEnabled: z.boolean(),
  /** Upload cap for all peers together, kbit/s; null = automatic (yield to other traffic, use what is spare). */
  uploadCapKbps: z.number().int().min(64).max(1_000_000).nullable(),
  /** Cap on what is fetched ahead from peers, kbit/s; null = none. What the player needs now always comes. */
  downloadCapKbps: z.number().int().min(256).max(1_000_000).nullable(),
  /** Memory for segments kept to play and to share, MB. */
  cacheMB: z.number().int().min(16).max(4096),
  /** Send anonymous quality reports (start-up, stalls, latency, bytes by source) to the channel's log servers. */
  qualityReports: z.boolean(),
  /** Keep the next and previous live channels loaded while one plays, so a zap shows them at once. */
  channelStandby: z.boolean(),
  liveSync: liveSyncSchema,
  /** Interface language: the OS language ('system'), or one chosen in settings. */
  language: z.enum(['system', 'en', 'zh-CN']),
});
export type Settings = z.infer<typeof settingsSchema>;
export type LatencyMode = Settings['latencyMode'];

export const DEFAULT_SETTINGS: Settings = {
  version: 1,
  serverUrl: null,
  latencyMode: 'normal',
  p2pEnabled: true,
  uploadCapKbps: null,
  downloadCapKbps: null,
  cacheMB: 96,
  qualityReports: true,
  channelStandby: true,
  liveSync: { targetLatencyS: 0.4, speedUpAboveS: 0.9, catchUpRate: 1.15, seekAboveS: 4 },
  language: 'system',
};

export const settingsPatchSchema = z
  .object({
    serverUrl: settingsSchema.shape.serverUrl.optional(),
    latencyMode: settingsSchema.shape.latencyMode.optional(),
    p2pEnabled: settingsSchema.shape.p2pEnabled.optional(),
    uploadCapKbps: settingsSchema.shape.uploadCapKbps.optional(),
    downloadCapKbps: settingsSchema.shape.downloadCapKbps.optional(),
    cacheMB: settingsSchema.shape.cacheMB.optional(),
    qualityReports: settingsSchema.shape.qualityReports.optional(),
    channelStandby: settingsSchema.shape.channelStandby.optional(),
    liveSync: liveSyncSchema.partial().optional(),
    language: settingsSchema.shape.language.optional(),
  })
  .strict();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

export const sessionStateSchema = z.enum(['joining', 'live', 'offline', 'unreachable', 'error', 'closed']);
export type SessionState = z.infer<typeof sessionStateSchema>;

/** Maps FLV timestamps of a session's stream to origin wall-clock time (for latency). */
export const timelineSchema = z.object({
  sessionId,
  /**
   * The stream timestamp at the player's time zero: the first media tag the gateway wrote, or
   * after a channel switch, where the new channel's timestamps would put it (may be negative).
   */
  firstTs: z.number().int(),
  /**
   * Timestamp of the last tag of the start-up burst (the data the gateway had and wrote at
   * once): the player knows the burst is in when its buffer reaches it, without waiting.
   */
  burstEndTs: z.number().int().min(0).nullable(),
  /** Recent (segment start timestamp, origin wall-clock ms) pairs, oldest first. */
  anchors: z.array(z.object({ ts: z.number().int().min(0), originTime: z.number().int().min(0) })).max(64),
  /**
   * Timestamps of the newest keyframes written to this session's stream, oldest first: where a
   * paused standby player can sit and decode a single picture.
   */
  keyframes: z.array(z.number().int()).max(16).default([]),
  /** Origin clock minus local clock, ms (0 on one machine). */
  clockOffsetMs: z.number(),
  /** The live-sync thresholds in force for this session (they depend on the latency mode and peers). */
  liveSync: liveSyncSchema,
});
export type Timeline = z.infer<typeof timelineSchema>;

export const coreStatsSchema = z.object({
  sessionId: sessionId.nullable(),
  channel: channelId.nullable(),
  state: sessionStateSchema,
  bitrateKbps: z.number().min(0),
  bytesCdn: z.number().min(0),
  bytesP2p: z.number().min(0),
  /** From seed servers (peers run next to the CDN). */
  bytesSeed: z.number().min(0),
  bytesUp: z.number().min(0),
  /** Upload rate now and the cap in force (null = automatic), kbit/s. */
  uploadKbps: z.number().min(0),
  uploadCapKbps: z.number().min(0).nullable(),
  peers: z.number().int().min(0),
  /** Newest segment seq in the manifest. */
  latestSeq: z.number().int().nullable(),
  /** Segments that failed their hash check (from the CDN or peers), and peers dropped for bad data. */
  hashFailures: z.number().int().min(0),
  peersBanned: z.number().int().min(0),
});
export type CoreStats = z.infer<typeof coreStatsSchema>;

/** What the player measured, reported back for the core's quality reports. */
export const playerReportSchema = z.object({
  sessionId,
  ttffMs: z.number().min(0).max(600_000).nullable(),
  latencyS: z.number().min(-60).max(3600).nullable(),
  bufferS: z.number().min(0).max(3600),
  stalls: z.number().int().min(0).max(1_000_000),
  stallSeconds: z.number().min(0).max(1e7),
});
export type PlayerReport = z.infer<typeof playerReportSchema>;

const empty = z.object({}).strict();

export const serverStatusSchema = z.object({
  url: z.string().max(2048),
  reachable: z.boolean(),
  /** Last check (epoch ms); 0 before the first. */
  checkedAt: z.number().min(0),
  /** What failed, in the core's words (shown behind "details"); null when reachable. */
  error: z.string().max(500).nullable(),
});
export type ServerStatus = z.infer<typeof serverStatusSchema>;

export const invokeContract = {
  'app.info': {
    request: empty,
    response: z.object({
      version: z.string(),
      mode: z.enum(['desktop', 'web', 'headless']),
      serverUrl: z.string(),
      embeddedServer: z.boolean(),
      /** What the core holds open: player sessions, their gateway streams, joined channels (leak checks). */
      open: z.object({ players: z.number().int(), streams: z.number().int(), channels: z.number().int() }),
    }),
  },
  'channels.list': {
    request: empty,
    response: z.object({ channels: z.array(channelSummarySchema) }),
  },
  /**
   * The channels to keep warm (hovered in the list; next and previous while one plays): the
   * core joins each quietly (channel info, manifest, init, the newest GOP in a small cache; no
   * peers, no upload) so a click plays from local data. The set replaces the last one: a channel
   * left out is dropped. Each answer carries a preview URL (keyframes only, video only).
   */
  'channels.prejoin': {
    request: z.object({ channels: z.array(channelId).max(MAX_PREJOINED) }).strict(),
    response: z.object({ channels: z.array(z.object({ channel: channelId, previewUrl: z.string().url() })) }),
  },
  /**
   * Where a streamer sends their stream on the server in use (for the embedded server, its real
   * loopback ports) and whether the server asks for a stream key other than the channel name.
   */
  'golive.info': {
    request: empty,
    response: z.object({
      serverUrl: z.string(),
      embeddedServer: z.boolean(),
      /** rtmp://HOST:PORT/live — OBS "Server"; the stream key goes separately. */
      rtmpUrl: z.string().max(2048),
      /** http://HOST:PORT/ingest — FLV push base (append /KEY). */
      httpIngestUrl: z.string().max(2048),
      /** The server has its own stream keys: the channel name is not the key. */
      keysRequired: z.boolean(),
    }),
  },
  /**
   * A channel's room for its streamer: viewers now (the tracker's count), and from viewers'
   * quality reports the P2P share over the last minute and the CDN bytes saved so far (null
   * when the server keeps no reports).
   */
  'golive.room': {
    request: z.object({ channel: channelId }).strict(),
    response: z.object({
      channel: channelId,
      live: z.boolean(),
      viewers: z.number().int().min(0).nullable(),
      p2pShare: z.number().min(0).max(1).nullable(),
      cdnBytesSaved: z.number().min(0).nullable(),
    }),
  },
  /** The server's reachability as the core last saw it (also pushed as `server.status`). */
  'server.status': {
    request: empty,
    response: serverStatusSchema,
  },
  /** Desktop: open the folder holding the app's log file (browser mode: opened false). */
  'app.openLogFolder': {
    request: empty,
    response: z.object({ opened: z.boolean(), path: z.string().max(4096).nullable() }),
  },
  'player.open': {
    /**
     * latencyMode: this session only (a streamer's own-channel preview), else the setting.
     * warm: a player started ahead of the click on a hovered channel (hidden and muted in the
     * page): it plays the channel as pre-joined (no peers, no upload) until 'player.commit'.
     */
    request: z
      .object({
        channel: channelId,
        latencyMode: z.enum(['normal', 'low']).optional(),
        warm: z.boolean().optional(),
      })
      .strict(),
    /** streamUrl: the gateway's continuous FLV for this session (loopback, token in the path). */
    response: z.object({ sessionId, channel: channelId, streamUrl: z.string().url() }),
  },
  /**
   * Next / previous channel on the same player. spliced: the session's stream goes on with the
   * new channel from media time switchAtS (same codecs); otherwise open a new session.
   */
  'player.switch': {
    request: z.object({ sessionId, channel: channelId }).strict(),
    response: z.object({ spliced: z.boolean(), switchAtS: z.number().min(0).nullable() }),
  },
  'player.close': {
    request: z.object({ sessionId }).strict(),
    response: empty,
  },
  /** The user opened the channel a warm player plays: it joins the swarm as any player does. */
  'player.commit': {
    request: z.object({ sessionId }).strict(),
    response: z.object({ committed: z.boolean() }),
  },
  'player.report': {
    request: playerReportSchema.strict(),
    response: empty,
  },
  'settings.get': { request: empty, response: settingsSchema },
  'settings.set': { request: settingsPatchSchema, response: settingsSchema },
} as const;

export const eventContract = {
  'server.status': serverStatusSchema,
  /** A swarmcast:// link asked to open a channel (desktop: from the OS, forwarded to this instance). */
  'app.openChannel': z.object({ channel: channelId }),
  'session.status': z.object({
    sessionId,
    channel: channelId,
    state: sessionStateSchema,
    /** A sentence for the user when the state is not `live`. */
    message: z.string().max(500).nullable(),
  }),
  'session.timeline': timelineSchema,
  stats: coreStatsSchema,
  'settings.changed': settingsSchema,
} as const;

export type InvokeName = keyof typeof invokeContract;
export type InvokeRequest<N extends InvokeName> = z.input<(typeof invokeContract)[N]['request']>;
export type InvokeResponse<N extends InvokeName> = z.infer<(typeof invokeContract)[N]['response']>;
export type EventName = keyof typeof eventContract;
export type EventPayload<E extends EventName> = z.infer<(typeof eventContract)[E]>;

/** The API object the renderer sees (preload's `window.swarmcast`, or the WebSocket client). */
export interface SwarmcastApi {
  invoke<N extends InvokeName>(name: N, request: InvokeRequest<N>): Promise<InvokeResponse<N>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
}

/** Electron IPC channel names (the preload and main glue use exactly these). */
export const IPC_INVOKE_CHANNEL = 'swarmcast:invoke';
export const IPC_EVENT_CHANNEL = 'swarmcast:event';

/** Browser mode WebSocket frames. */
export const wsClientFrameSchema = z.object({
  id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  name: z.string().max(64),
  request: z.unknown(),
});
export type WsServerFrame =
  | { id: number; ok: true; response: unknown }
  | { id: number; ok: false; error: string }
  | { event: EventName; payload: unknown };

export function isInvokeName(name: string): name is InvokeName {
  return Object.hasOwn(invokeContract, name);
}
