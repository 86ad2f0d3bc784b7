/**
 * Zapping: which channels the core keeps warm, and the channel order for next / previous.
 * Warm = the channel hovered or focused in the list for a moment, plus the next and previous
 * live channels while one plays ('channels.prejoin' takes the whole set each time, so a
 * channel left out is dropped at once). The set is renewed well inside the core's time to live.
 */
import { create } from 'zustand';
import { getApi } from '../api';
import { useChannelsStore } from '../stores/channels-store';
import { usePlayerStore } from '../stores/player-store';

/** A hover shorter than this is the pointer passing by: nothing is joined. */
export const HOVER_DELAY_MS = 150;
/** The core drops a pre-join not renewed within 60 s. */
const RENEW_MS = 20_000;

interface PrejoinState {
  /** channel → preview URL (keyframes only) of the warm channels. */
  previews: Record<string, string>;
  hovered: string | null;
}

export const usePrejoinStore = create<PrejoinState>()(() => ({ previews: {}, hovered: null }));

/** Live channels in list order (what next / previous walk through). */
function order(): string[] {
  return useChannelsStore
    .getState()
    .channels.filter((c) => c.live)
    .map((c) => c.id);
}

/** The channel `step` places from `current` in the list, wrapping around; null with fewer than two. */
export function neighbour(current: string | null, step: 1 | -1): string | null {
  const ids = order();
  if (ids.length === 0) return null;
  const at = current === null ? -1 : ids.indexOf(current);
  if (at < 0) return step === 1 ? ids[0]! : ids[ids.length - 1]!;
  if (ids.length < 2) return null;
  return ids[(at + step + ids.length) % ids.length]!;
}

class Warmth {
  private hoverTimer: ReturnType<typeof setTimeout> | null = null;
  private sentKey: string | null = null;
  private sending = false;
  private again = false;

  start(): () => void {
    const offPlayer = usePlayerStore.subscribe((s, prev) => {
      if (s.channel !== prev.channel) this.sync();
    });
    const offChannels = useChannelsStore.subscribe((s, prev) => {
      if (s.channels !== prev.channels) this.sync();
    });
    const renew = setInterval(() => this.sync(true), RENEW_MS);
    return () => {
      offPlayer();
      offChannels();
      clearInterval(renew);
    };
  }

  /** The pointer or focus is on a channel in the list. */
  hover(channel: string): void {
    if (this.hoverTimer) clearTimeout(this.hoverTimer);
    this.hoverTimer = setTimeout(() => {
      this.hoverTimer = null;
      usePrejoinStore.setState({ hovered: channel });
      this.sync();
    }, HOVER_DELAY_MS);
  }

  /** It left: cancel a pending hover, or drop the hovered channel from the warm set. */
  unhover(channel: string): void {
    if (this.hoverTimer) clearTimeout(this.hoverTimer);
    this.hoverTimer = null;
    if (usePrejoinStore.getState().hovered !== channel) return;
    usePrejoinStore.setState({ hovered: null });
    this.sync();
  }

  private wanted(): string[] {
    const current = usePlayerStore.getState().channel;
    const hovered = usePrejoinStore.getState().hovered;
    const list: string[] = [];
    // The hovered channel first (the preview tile shows it), then what next / previous would play.
    if (hovered !== null && hovered !== current) list.push(hovered);
    if (current !== null) {
      for (const c of [neighbour(current, 1), neighbour(current, -1)]) {
        if (c !== null && c !== current && !list.includes(c)) list.push(c);
      }
    }
    return list.slice(0, 3);
  }

  sync(force = false): void {
    const channels = this.wanted();
    const key = channels.join(' ');
    if (!force && key === this.sentKey) return;
    if (this.sending) {
      this.again = true;
      return;
    }
    this.sending = true;
    this.sentKey = key;
    getApi()
      .invoke('channels.prejoin', { channels })
      .then((res) => {
        const previews: Record<string, string> = {};
        for (const c of res.channels) previews[c.channel] = c.previewUrl;
        usePrejoinStore.setState({ previews });
      })
      .catch(() => {
        // The core is unreachable: the next change or renewal tries again.
        this.sentKey = null;
      })
      .finally(() => {
        this.sending = false;
        if (this.again) {
          this.again = false;
          this.sync();
        }
      });
  }
}

export const warmth = new Warmth();
