/**
 * Creating and fully destroying mpegts.js players for the gateway's live FLV, and counting
 * the ones alive (channel switching must leave none behind).
 */
import mpegts from 'mpegts.js';

export type LivePlayer = mpegts.Player;

let alive = 0;
/** mpegts.js players created and not yet destroyed (the leak check reads it). */
export function livePlayers(): number {
  return alive;
}

let loggingSet = false;
function quietLogging(): void {
  if (loggingSet) return;
  loggingSet = true;
  mpegts.LoggingControl.applyConfig({ enableVerbose: false, enableDebug: false, enableInfo: false });
}

export function canPlayLiveFlv(): boolean {
  return mpegts.getFeatureList().mseLivePlayback;
}

export const PlayerEvents = mpegts.Events;

/**
 * A standby (paused while another channel plays, for as long as that one plays) keeps only
 * this much behind its position; the defaults (3 min) would hold minutes of an unwatched channel.
 */
const STANDBY_BACKWARD_S = { max: 30, min: 15 };

/** Instant start: no stash buffer, no lazy load, data from the gateway's fast write; latency is ours. */
export function createLivePlayer(url: string, standby = false): LivePlayer {
  quietLogging();
  const player = mpegts.createPlayer(
    { type: 'flv', isLive: true, url },
    {
      enableStashBuffer: false,
      lazyLoad: false,
      enableWorker: false,
      liveBufferLatencyChasing: false,
      autoCleanupSourceBuffer: true,
      ...(standby
        ? {
            autoCleanupMaxBackwardDuration: STANDBY_BACKWARD_S.max,
            autoCleanupMinBackwardDuration: STANDBY_BACKWARD_S.min,
          }
        : {}),
      // Start the HTTP request while the MediaSource is still opening; mpegts.js queues what arrives.
      deferLoadAfterSourceOpen: false,
    },
  );
  alive++;
  return player;
}

let previews = 0;
/** Preview-tile players alive (at most one: the hovered channel's). */
export function livePreviews(): number {
  return previews;
}

/** The channel list's preview tile: the core's keyframe-only, video-only stream, muted. */
export function createPreviewPlayer(url: string): LivePlayer {
  quietLogging();
  const player = mpegts.createPlayer(
    { type: 'flv', isLive: true, hasAudio: false, hasVideo: true, url },
    {
      enableStashBuffer: false,
      lazyLoad: false,
      enableWorker: false,
      autoCleanupSourceBuffer: true,
      deferLoadAfterSourceOpen: false,
    },
  );
  previews++;
  return player;
}

export function destroyPreviewPlayer(player: LivePlayer): void {
  release(player);
  previews--;
}

function release(player: LivePlayer): void {
  try {
    player.pause();
    player.unload();
    player.detachMediaElement();
    player.destroy();
  } catch (err) {
    console.warn('swarmcast: player teardown', err);
  }
}

/** pause, unload, detachMediaElement, destroy: releases the request, the MediaSource and the element. */
export function destroyLivePlayer(player: LivePlayer): void {
  release(player);
  alive--;
}
