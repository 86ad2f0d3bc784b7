/**
 * The settings pane: one control per setting, each with one line saying what it does. Every
 * change goes to the core at once through 'settings.set' with only that field (text fields on
 * blur or Enter); the pane shows the core's settings as 'settings.changed' brings them, and
 * the core's reason when it refuses a value.
 */
import { useEffect, useState } from 'react';
import type { InvokeResponse, Settings } from '../../../common/ipc-contract';
import { getApi } from '../api';
import { refreshChannels } from '../stores/channels-store';
import { useConnectionStore } from '../stores/connection-store';
import { useSettingsStore } from '../stores/settings-store';
import { AdvancedFields } from './AdvancedFields';
import { CommitInput, describedBy, Field, Switch } from './fields';
import { RateCapField } from './RateCapField';
import { parseInRange, parseServerUrl, RANGES } from './settings-model';
import { useApply } from './use-apply';

type AppInfo = InvokeResponse<'app.info'>;

function P2pField({ on }: { on: boolean }) {
  const { status, apply } = useApply();
  return (
    <Field
      id="p2p"
      label="Share with other viewers"
      status={status}
      hint={
        on
          ? 'On: viewers pass the stream to each other, which takes load off the server.'
          : 'Off: everything comes from the CDN and nothing is uploaded.'
      }
      control={
        <Switch
          id="p2p"
          testId="setting-p2p"
          checked={on}
          onChange={(v) => void apply({ p2pEnabled: v })}
          describedBy={describedBy('p2p', status)}
        />
      }
    />
  );
}

function ReportsField({ on }: { on: boolean }) {
  const { status, apply } = useApply();
  return (
    <Field
      id="quality-reports"
      label="Send quality reports"
      status={status}
      hint={
        on
          ? 'On: start-up time, stalls, delay and where the video came from go to the channel’s log server, with no account or address book attached.'
          : 'Off: nothing about your playback leaves this computer.'
      }
      control={
        <Switch
          id="quality-reports"
          testId="setting-quality-reports"
          checked={on}
          onChange={(v) => void apply({ qualityReports: v })}
          describedBy={describedBy('quality-reports', status)}
        />
      }
    />
  );
}

const LATENCY_HINTS: Record<Settings['latencyMode'], string> = {
  normal: 'Normal: a few seconds behind live, so viewers have time to share the stream.',
  low: 'Low: close to live, straight from the CDN without sharing; for streamers previewing their channel.',
};

function LatencyField({ mode }: { mode: Settings['latencyMode'] }) {
  const { status, apply } = useApply();
  return (
    <Field id="latency-mode" label="Latency mode" status={status} hint={LATENCY_HINTS[mode]}>
      <select
        id="latency-mode"
        className="select field-select"
        data-testid="setting-latency-mode"
        value={mode}
        aria-describedby={describedBy('latency-mode', status)}
        onChange={(e) => void apply({ latencyMode: e.target.value as Settings['latencyMode'] })}
      >
        <option value="normal">Normal (shares with viewers)</option>
        <option value="low">Low (close to live, from the CDN)</option>
      </select>
    </Field>
  );
}

function CacheField({ mb }: { mb: number }) {
  const { status, apply, fail, reset } = useApply();
  const commit = (text: string) => {
    const parsed = parseInRange(text, RANGES.cacheMB, 'MB');
    if (!parsed.ok) {
      fail(parsed.error);
      return false;
    }
    if (parsed.value === mb) {
      reset();
      return true;
    }
    return apply({ cacheMB: parsed.value });
  };
  return (
    <Field
      id="cache"
      label="Cache size"
      status={status}
      hint="Memory for segments kept to play and to pass on; more lets you serve viewers further behind."
    >
      <div className="field-row">
        <CommitInput
          id="cache"
          testId="setting-cache"
          value={String(mb)}
          onCommit={commit}
          invalid={status.kind === 'error'}
          describedBy={describedBy('cache', status, 'cache-unit')}
          size="short"
        />
        <span id="cache-unit" className="field-unit">
          MB
        </span>
      </div>
    </Field>
  );
}

function ServerField({ url, info }: { url: string | null; info: AppInfo | null }) {
  const { status, apply, fail, reset } = useApply();
  const commit = async (text: string) => {
    const parsed = parseServerUrl(text);
    if (!parsed.ok) {
      fail(parsed.error);
      return false;
    }
    if (parsed.value === url) {
      reset();
      return true;
    }
    const ok = await apply({ serverUrl: parsed.value });
    if (ok) void refreshChannels();
    return ok;
  };
  const inUse = info ? `${info.serverUrl}${info.embeddedServer ? ' (built-in demo server)' : ''}` : null;
  return (
    <Field
      id="server"
      label="Server address"
      status={status}
      hint="Where channels come from; empty = the built-in demo server. Channels you open next use it."
      after={
        inUse && (
          <p id="server-in-use" className="field-note" data-testid="server-in-use">
            In use: <code>{inUse}</code>
          </p>
        )
      }
    >
      <CommitInput
        id="server"
        testId="setting-server"
        value={url ?? ''}
        onCommit={commit}
        inputMode="url"
        placeholder="Built-in demo server"
        invalid={status.kind === 'error'}
        describedBy={describedBy('server', status, inUse ? 'server-in-use' : undefined)}
      />
    </Field>
  );
}

export function SettingsPane({ onClose }: { onClose: () => void }) {
  const settings = useSettingsStore((s) => s.settings);
  const loaded = useSettingsStore((s) => s.loaded);
  const connected = useConnectionStore((s) => s.connected);
  const [info, setInfo] = useState<AppInfo | null>(null);

  // Which server the core really uses (the CLI's --server wins over the setting).
  const serverUrl = settings.serverUrl;
  useEffect(() => {
    let live = true;
    void serverUrl;
    getApi()
      .invoke('app.info', {})
      .then((i) => live && setInfo(i))
      .catch(() => live && setInfo(null));
    return () => {
      live = false;
    };
  }, [serverUrl]);

  return (
    <div className="settings-pane">
      <header className="settings-head">
        <h2 id="settings-title">Settings</h2>
        <button
          type="button"
          className="icon-btn"
          data-testid="settings-close"
          aria-label="Close settings"
          title="Close (Esc)"
          onClick={onClose}
        >
          <svg
            viewBox="0 0 24 24"
            width="20"
            height="20"
            aria-hidden="true"
            stroke="currentColor"
            strokeWidth="1.8"
          >
            <path d="M6 6l12 12M18 6 6 18" />
          </svg>
        </button>
      </header>
      <div className="settings-body">
        <p className="settings-lead">Changes apply at once and are kept for next time.</p>
        {!connected && (
          <div className="notice notice-error" role="status">
            <strong>The Swarmcast core is not reachable.</strong>
            Changes cannot be applied until it is back.
          </div>
        )}
        {connected && !loaded && (
          <p className="settings-lead" role="status">
            Loading the current settings…
          </p>
        )}

        <section className="settings-section" aria-labelledby="settings-sharing">
          <h3 id="settings-sharing">Sharing</h3>
          <P2pField on={settings.p2pEnabled} />
          <RateCapField
            id="upload"
            settingKey="uploadCapKbps"
            label="Upload limit"
            value={settings.uploadCapKbps}
            range={RANGES.uploadCapKbps}
            nullLabel="Automatic"
            nullTestId="setting-upload-auto"
            defaultCapKbps={2000}
            hint={
              !settings.p2pEnabled
                ? 'Sharing is off, so nothing is uploaded; this limit applies once it is on again.'
                : settings.uploadCapKbps === null
                  ? 'Automatic gives other viewers only the upload your connection has spare and backs off when you use it.'
                  : 'Other viewers get at most this much of your upload, all of them together.'
            }
          />
          <RateCapField
            id="download"
            settingKey="downloadCapKbps"
            label="Download limit"
            value={settings.downloadCapKbps}
            range={RANGES.downloadCapKbps}
            nullLabel="No limit"
            nullTestId="setting-download-off"
            defaultCapKbps={8000}
            hint="Caps what is fetched ahead from other viewers; what the player needs right now always comes."
          />
        </section>

        <section className="settings-section" aria-labelledby="settings-playback">
          <h3 id="settings-playback">Playback</h3>
          <LatencyField mode={settings.latencyMode} />
          <CacheField mb={settings.cacheMB} />
          <ReportsField on={settings.qualityReports} />
        </section>

        <section className="settings-section" aria-labelledby="settings-server">
          <h3 id="settings-server">Server</h3>
          <ServerField url={settings.serverUrl} info={info} />
        </section>

        <AdvancedFields liveSync={settings.liveSync} />

        {info && (
          <p className="settings-foot">
            Swarmcast {info.version} · {info.mode === 'web' ? 'browser mode' : info.mode}
          </p>
        )}
      </div>
    </div>
  );
}
