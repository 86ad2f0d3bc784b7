import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { I18nextProvider } from 'react-i18next';
import { App } from './App';
import { bootstrap } from './bootstrap';
import { i18n } from './i18n';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import './player.css';
import './chrome.css';

bootstrap();

const root = document.getElementById('root');
if (!root) throw new Error('missing #root');
createRoot(root).render(
  <StrictMode>
    <I18nextProvider i18n={i18n}>
      <App />
    </I18nextProvider>
  </StrictMode>,
);
