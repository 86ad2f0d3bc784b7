/**
 * Wires the core's pushed events into the stores and the playback session, loads settings,
 * starts the channel list refresh and installs the test hook. Events are checked against the
 * contract's schemas, so a malformed payload is dropped rather than breaking the player.
 */
import { type EventName, type EventPayload, eventContract } from '../../common/ipc-contract';
import { getClient } from './api';
import { warmth } from './channels/zapping';
import { applyLanguage } from './i18n';
import { warmAudioOutput } from './player/audio-warmup';
import { playbackSession } from './player/session';
import { installTestHook } from './player/test-hook';
import { refreshChannels, startChannelPolling } from './stores/channels-store';
import { useConnectionStore } from './stores/connection-store';
import { applySettings, loadSettings, useSettingsStore } from './stores/settings-store';
import { setCoreStats } from './stores/stats-store';

let started = false;

export function bootstrap(): void {
  if (started) return;
  started = true;
  warmAudioOutput();
  const client = getClient();
  const { api } = client;

  const onValid = <E extends EventName>(event: E, fn: (payload: EventPayload<E>) => void) =>
    api.on(event, (payload: unknown) => {
      const parsed = eventContract[event].safeParse(payload);
      if (parsed.success) fn(parsed.data as EventPayload<E>);
      else console.warn(`swarmcast: dropped malformed '${event}' event`, parsed.error);
    });

  onValid('settings.changed', applySettings);
  onValid('stats', setCoreStats);
  onValid('session.status', (p) => playbackSession.handleStatus(p));
  onValid('session.timeline', (p) => playbackSession.handleTimeline(p));
  onValid('server.status', (server) => useConnectionStore.setState({ server }));
  // A swarmcast:// link (desktop): play that channel, as a click in the list would.
  onValid('app.openChannel', ({ channel }) => playbackSession.play(channel));
  const loadServerStatus = () =>
    api
      .invoke('server.status', {})
      .then((server) => useConnectionStore.setState({ server }))
      .catch(() => undefined);

  applyLanguage(useSettingsStore.getState().settings.language);
  useSettingsStore.subscribe((s, prev) => {
    if (s.settings.language !== prev.settings.language) applyLanguage(s.settings.language);
  });

  useConnectionStore.setState({ transport: client.transport, connected: client.isConnected() });
  client.onConnectionChange((connected) => {
    useConnectionStore.setState({ connected });
    if (connected) {
      void loadSettings();
      void loadServerStatus();
      void refreshChannels();
      playbackSession.handleReconnect();
    }
  });

  void loadSettings();
  void loadServerStatus();
  startChannelPolling();
  warmth.start();
  installTestHook();
}
