import { useTranslation } from 'react-i18next';
import { ChannelList } from './channels/ChannelList';
import { GoLiveView } from './golive/GoLiveView';
import { Player } from './player/Player';
import { ShortcutHelp } from './player/ShortcutHelp';
import { SettingsMenu } from './settings/SettingsDialog';
import { badgeState, useConnectionStore } from './stores/connection-store';
import { useUiStore, type View } from './stores/ui-store';

/** The badge follows both links: the core's (browser mode) and the server's, as the core probes it. */
function ConnectionBadge() {
  const { t } = useTranslation();
  const state = useConnectionStore(badgeState);
  const transport = useConnectionStore((s) => s.transport);
  const server = useConnectionStore((s) => s.server);
  const text = {
    ok: transport === 'ws' ? t('connection.okBrowser') : t('connection.ok'),
    checking: t('connection.checking'),
    'server-down': t('connection.serverDown'),
    'core-down': t('connection.coreDown'),
  }[state];
  const title =
    state === 'server-down'
      ? t('connection.serverDownTitle', { url: server?.url ?? '' })
      : state === 'core-down'
        ? t('connection.coreDownTitle')
        : (server?.url ?? undefined);
  const tone = state === 'ok' ? 'badge-ok' : state === 'checking' ? 'badge-wait' : 'badge-bad';
  return (
    <span className={`badge ${tone}`} data-testid="connection" data-state={state} title={title} role="status">
      <span className="dot" />
      {text}
    </span>
  );
}

function ViewTabs() {
  const { t } = useTranslation();
  const view = useUiStore((s) => s.view);
  const tab = (v: View, label: string) => (
    <button
      type="button"
      role="tab"
      aria-selected={view === v}
      className={`tab ${view === v ? 'tab-on' : ''}`}
      data-testid={`view-${v}`}
      onClick={() => useUiStore.setState({ view: v })}
    >
      {label}
    </button>
  );
  return (
    <div className="tabs" role="tablist">
      {tab('watch', t('app.watch'))}
      {tab('golive', t('app.goLive'))}
    </div>
  );
}

export function App() {
  const view = useUiStore((s) => s.view);
  const helpOpen = useUiStore((s) => s.helpOpen);
  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <svg viewBox="0 0 24 24" aria-hidden="true" className="brand-mark">
            <circle cx="12" cy="12" r="3.2" />
            <circle cx="4.5" cy="7" r="2" />
            <circle cx="19.5" cy="7" r="2" />
            <circle cx="12" cy="20.5" r="2" />
            <path d="M6.2 8 10 10.5M17.8 8 14 10.5M12 15.2v3.3" />
          </svg>
          <span>Swarmcast</span>
        </div>
        <ViewTabs />
        <div className="topbar-actions">
          <ConnectionBadge />
          <SettingsMenu />
        </div>
      </header>
      <div className={`layout view-${view}`}>
        <aside className="sidebar">{view === 'watch' ? <ChannelList /> : <GoLiveView />}</aside>
        <main className="stage">
          <Player />
        </main>
      </div>
      {helpOpen && <ShortcutHelp />}
    </div>
  );
}
