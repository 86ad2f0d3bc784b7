/**
 * The hovered channel's preview: a small muted <video> playing the core's keyframe-only stream
 * of the warm channel (about a frame a second, no audio), torn down when the hover ends.
 */
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { createPreviewPlayer, destroyPreviewPlayer } from '../player/mpegts-player';

export function PreviewTile({ channel, url }: { channel: string; url: string }) {
  const { t } = useTranslation();
  const ref = useRef<HTMLVideoElement>(null);
  const [shown, setShown] = useState(false);
  useEffect(() => {
    const video = ref.current;
    if (!video) return;
    video.muted = true;
    const player = createPreviewPlayer(url);
    const onFrame = () => setShown(true);
    video.addEventListener('loadeddata', onFrame);
    player.attachMediaElement(video);
    player.load();
    const p = player.play();
    if (p && typeof (p as Promise<void>).catch === 'function') (p as Promise<void>).catch(() => {});
    return () => {
      video.removeEventListener('loadeddata', onFrame);
      destroyPreviewPlayer(player);
    };
  }, [url]);
  return (
    <span className={`preview-tile ${shown ? 'preview-shown' : ''}`} data-testid={`preview-${channel}`}>
      <video
        ref={ref}
        muted
        playsInline
        disablePictureInPicture
        aria-label={t('channels.preview', { channel })}
      />
    </span>
  );
}
