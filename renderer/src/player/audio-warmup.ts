/**
 * The first media element with sound in a browser (or an Electron app) starts Chromium's audio
 * output path (the audio service and the output device): measured here, the first channel's
 * first frame waited about 500 ms for it, every later one 60–130 ms in all (bench:startup's
 * fresh browsers pay it on every cold run, the plain mpegts.js page too). The app knows it will
 * play sound, so at start it plays a tenth of a second of silence, muted, once; the user's
 * first channel then finds the audio path running.
 */
import { silentWav } from '../../../common/silent-wav';

let warmed = false;

/** Plays the silence once (no-op when there is no media support or it was done). Never throws. */
export function warmAudioOutput(): void {
  if (warmed || typeof Audio === 'undefined' || typeof URL.createObjectURL !== 'function') return;
  warmed = true;
  try {
    const url = URL.createObjectURL(new Blob([silentWav(800)], { type: 'audio/wav' }));
    const audio = new Audio();
    audio.muted = true;
    audio.preload = 'auto';
    const done = () => {
      audio.removeAttribute('src');
      audio.load();
      URL.revokeObjectURL(url);
    };
    audio.addEventListener('ended', done, { once: true });
    audio.addEventListener('error', done, { once: true });
    audio.src = url;
    audio.play().catch(done);
  } catch {
    // No audio here (a locked-down browser): the first channel just starts the path itself.
  }
}
