/** The "?" overlay: every keyboard shortcut, closed by Esc, "?", the button or a click beside it. */
import { useEffect, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { useUiStore } from '../stores/ui-store';
import { SHORTCUT_HELP } from './shortcuts';

export function ShortcutHelp() {
  const { t } = useTranslation();
  const close = () => useUiStore.setState({ helpOpen: false });
  const closeBtn = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const back = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    closeBtn.current?.focus();
    return () => back?.focus();
  }, []);
  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: the backdrop click is a mouse shortcut; Esc closes from the keyboard.
    // biome-ignore lint/a11y/noStaticElementInteractions: the backdrop is not a control; the Close button is.
    <div
      className="help-backdrop"
      data-testid="shortcut-help"
      onClick={(e) => e.target === e.currentTarget && close()}
    >
      <section className="help-card" role="dialog" aria-modal="false" aria-labelledby="help-title">
        <header className="help-head">
          <h2 id="help-title">{t('shortcuts.title')}</h2>
          <button
            ref={closeBtn}
            type="button"
            className="btn"
            data-testid="shortcut-help-close"
            onClick={close}
          >
            {t('shortcuts.close')}
          </button>
        </header>
        <table className="help-table">
          <tbody>
            {SHORTCUT_HELP.map((row) => (
              <tr key={row.what}>
                <td className="help-keys">
                  {row.keys.map((k) => (
                    <kbd key={k}>{k}</kbd>
                  ))}
                </td>
                <td>{t(row.what)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="muted">{t('shortcuts.clickVideo')}</p>
      </section>
    </div>
  );
}
