import { ChannelList } from './channels/ChannelList';
import { Player } from './player/Player';
import { SettingsMenu } from './settings/SettingsDialog';
import { useConnectionStore } from './stores/connection-store';

function ConnectionBadge() {
  const connected = useConnectionStore((s) => s.connected);
  const transport = useConnectionStore((s) => s.transport);
  return (
    <span className={`badge ${connected ? 'badge-ok' : 'badge-bad'}`} data-testid="connection">
      <span className="dot" />
      {connected ? (transport === 'ws' ? 'Connected (browser mode)' : 'Connected') : 'Core unreachable'}
    </span>
  );
}

export function App() {
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
        <div className="topbar-actions">
          <ConnectionBadge />
          <SettingsMenu />
        </div>
      </header>
      <div className="layout">
        <aside className="sidebar">
          <ChannelList />
        </aside>
        <main className="stage">
          <Player />
        </main>
      </div>
    </div>
  );
}
