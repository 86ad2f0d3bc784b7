/**
 * The settings pane: one control per setting, each with one line saying what it does. Every
 * change goes to the core at once through 'settings.set' with only that field (text fields on
 * blur or Enter); the pane shows the core's settings as 'settings.changed' brings them, and
 * the core's reason when it refuses a value.
 */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
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

type SwitchKey = 'p2pEnabled' | 'qualityReports' | 'channelStandby';

/** An on/off setting: its switch, and a hint that says what on or off means now. */
function SwitchField(props: {
  id: string;
  settingKey: SwitchKey;
  on: boolean;
  label: string;
  hints: [string, string];
}) {
  const { status, apply } = useApply();
  const { id, settingKey, on } = props;
  return (
    <Field
      id={id}
      label={props.label}
      status={status}
      hint={on ? props.hints[0] : props.hints[1]}
      control={
        <Switch
          id={id}
          testId={`setting-${id}`}
          checked={on}
          onChange={(v) => void apply({ [settingKey]: v })}
          describedBy={describedBy(id, status)}
        />
      }
    />
  );
}

function LatencyField({ mode }: { mode: Settings['latencyMode'] }) {
  const { t } = useTranslation();
  const { status, apply } = useApply();
  const hint = mode === 'low' ? t('settings.latencyLowHint') : t('settings.latencyNormalHint');
  return (
    <Field id="latency-mode" label={t('settings.latency')} status={status} hint={hint}>
      <select
        id="latency-mode"
        className="select field-select"
        data-testid="setting-latency-mode"
        value={mode}
        aria-describedby={describedBy('latency-mode', status)}
        onChange={(e) => void apply({ latencyMode: e.target.value as Settings['latencyMode'] })}
      >
        <option value="normal">{t('settings.latencyNormal')}</option>
        <option value="low">{t('settings.latencyLow')}</option>
      </select>
    </Field>
  );
}

function CacheField({ mb }: { mb: number }) {
  const { t } = useTranslation();
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
    <Field id="cache" label={t('settings.cache')} status={status} hint={t('settings.cacheHint')}>
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
  const { t } = useTranslation();
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
  const inUse = info ? `${info.serverUrl}${info.embeddedServer ? ` ${t('settings.builtIn')}` : ''}` : null;
  return (
    <Field
      id="server"
      label={t('settings.serverAddress')}
      status={status}
      hint={t('settings.serverHint')}
      after={
        inUse && (
          <p id="server-in-use" className="field-note" data-testid="server-in-use">
            {t('settings.inUse')} <code>{inUse}</code>
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
        placeholder={t('settings.serverPlaceholder')}
        invalid={status.kind === 'error'}
        describedBy={describedBy('server', status, inUse ? 'server-in-use' : undefined)}
      />
    </Field>
  );
}

function LanguageField({ language }: { language: Settings['language'] }) {
  const { t } = useTranslation();
  const { status, apply } = useApply();
  return (
    <Field id="language" label={t('settings.language')} status={status} hint={t('settings.languageHint')}>
      <select
        id="language"
        className="select field-select"
        data-testid="setting-language"
        value={language}
        aria-describedby={describedBy('language', status)}
        onChange={(e) => void apply({ language: e.target.value as Settings['language'] })}
      >
        <option value="system">{t('settings.languageSystem')}</option>
        {/* Each language by its own name, so anyone can find theirs. */}
        <option value="en">English</option>
        <option value="zh-CN">简体中文</option>
      </select>
    </Field>
  );
}

function LogsField({ mode }: { mode: AppInfo['mode'] | null }) {
  const { t } = useTranslation();
  const [error, setError] = useState<string | null>(null);
  const open = () =>
    getApi()
      .invoke('app.openLogFolder', {})
      .then((r) => setError(r.opened ? null : r.path ? `${r.path}` : null))
      .catch((err: unknown) => setError(String(err instanceof Error ? err.message : err)));
  return (
    <Field
      id="logs"
      label={t('settings.logs')}
      status={{ kind: 'idle' }}
      hint={mode === 'desktop' ? t('settings.logsHint') : t('settings.logsBrowser')}
    >
      {mode === 'desktop' && (
        <div className="field-row">
          <button type="button" className="btn" data-testid="open-log-folder" onClick={() => void open()}>
            {t('settings.openLogs')}
          </button>
          {error && <code className="field-note">{error}</code>}
        </div>
      )}
    </Field>
  );
}

export function SettingsPane({ onClose }: { onClose: () => void }) {
  const { t } = useTranslation();
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
        <h2 id="settings-title">{t('settings.title')}</h2>
        <button
          type="button"
          className="icon-btn"
          data-testid="settings-close"
          aria-label={t('settings.close')}
          title={t('settings.closeTitle')}
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
        <p className="settings-lead">{t('settings.lead')}</p>
        {!connected && (
          <div className="notice notice-error" role="status">
            <strong>{t('settings.coreDown')}</strong> {t('settings.coreDownWhat')}
          </div>
        )}
        {connected && !loaded && (
          <p className="settings-lead" role="status">
            {t('settings.loading')}
          </p>
        )}

        <section className="settings-section" aria-labelledby="settings-sharing">
          <h3 id="settings-sharing">{t('settings.sharing')}</h3>
          <SwitchField
            id="p2p"
            settingKey="p2pEnabled"
            on={settings.p2pEnabled}
            label={t('settings.p2p')}
            hints={[t('settings.p2pOn'), t('settings.p2pOff')]}
          />
          <RateCapField
            id="upload"
            settingKey="uploadCapKbps"
            label={t('settings.upload')}
            value={settings.uploadCapKbps}
            range={RANGES.uploadCapKbps}
            nullLabel={t('settings.uploadAuto')}
            nullTestId="setting-upload-auto"
            defaultCapKbps={2000}
            hint={
              !settings.p2pEnabled
                ? t('settings.uploadHintOff')
                : settings.uploadCapKbps === null
                  ? t('settings.uploadHintAuto')
                  : t('settings.uploadHintCap')
            }
          />
          <RateCapField
            id="download"
            settingKey="downloadCapKbps"
            label={t('settings.download')}
            value={settings.downloadCapKbps}
            range={RANGES.downloadCapKbps}
            nullLabel={t('settings.downloadNone')}
            nullTestId="setting-download-off"
            defaultCapKbps={8000}
            hint={t('settings.downloadHint')}
          />
        </section>

        <section className="settings-section" aria-labelledby="settings-playback">
          <h3 id="settings-playback">{t('settings.playback')}</h3>
          <LatencyField mode={settings.latencyMode} />
          <CacheField mb={settings.cacheMB} />
          <SwitchField
            id="channel-standby"
            settingKey="channelStandby"
            on={settings.channelStandby}
            label={t('settings.standby')}
            hints={[t('settings.standbyOn'), t('settings.standbyOff')]}
          />
          <SwitchField
            id="quality-reports"
            settingKey="qualityReports"
            on={settings.qualityReports}
            label={t('settings.reports')}
            hints={[t('settings.reportsOn'), t('settings.reportsOff')]}
          />
        </section>

        <section className="settings-section" aria-labelledby="settings-server">
          <h3 id="settings-server">{t('settings.server')}</h3>
          <ServerField url={settings.serverUrl} info={info} />
        </section>

        <section className="settings-section" aria-labelledby="settings-app">
          <h3 id="settings-app">{t('settings.app')}</h3>
          <LanguageField language={settings.language} />
          <LogsField mode={info?.mode ?? null} />
        </section>

        <AdvancedFields liveSync={settings.liveSync} />

        {info && (
          <p className="settings-foot">
            {t('settings.version', {
              version: info.version,
              mode:
                info.mode === 'web'
                  ? t('settings.modeWeb')
                  : info.mode === 'desktop'
                    ? t('settings.modeDesktop')
                    : t('settings.modeHeadless'),
            })}
          </p>
        )}
      </div>
    </div>
  );
}
