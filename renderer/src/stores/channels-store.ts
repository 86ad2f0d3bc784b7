/**
 * Live channels from 'channels.list', refreshed every few seconds; the demo channel first.
 * Keeps the last good list through a failed refresh, and says why the list is unavailable.
 */
import { create } from 'zustand';
import type { ChannelSummary } from '../../../common/manifest';
import { getApi } from '../api';
import { errorText } from '../api/errors';

export const CHANNEL_REFRESH_MS = 3_000;

interface ChannelsState {
  channels: ChannelSummary[];
  status: 'loading' | 'ok' | 'error';
  /** Why the last refresh failed, for the user. */
  error: string | null;
}

export const useChannelsStore = create<ChannelsState>()(() => ({
  channels: [],
  status: 'loading',
  error: null,
}));

/** Demo first, then live before not live, then by id. */
export function sortChannels(channels: ChannelSummary[]): ChannelSummary[] {
  return [...channels].sort(
    (a, b) => Number(b.demo) - Number(a.demo) || Number(b.live) - Number(a.live) || a.id.localeCompare(b.id),
  );
}

let inFlight: Promise<void> | null = null;

export function refreshChannels(): Promise<void> {
  inFlight ??= (async () => {
    try {
      const { channels } = await getApi().invoke('channels.list', {});
      useChannelsStore.setState({ channels: sortChannels(channels), status: 'ok', error: null });
    } catch (err) {
      useChannelsStore.setState({ status: 'error', error: errorText(err) });
    } finally {
      inFlight = null;
    }
  })();
  return inFlight;
}

/** Starts the periodic refresh; returns a function that stops it. */
export function startChannelPolling(intervalMs = CHANNEL_REFRESH_MS): () => void {
  void refreshChannels();
  const timer = setInterval(() => void refreshChannels(), intervalMs);
  return () => clearInterval(timer);
}
