/** The silence the renderer plays once at start to get the audio output path running: a valid WAV. */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { silentWav } from '../common/silent-wav';

describe('silentWav', () => {
  it('is a WAV that ffprobe reads as a tenth of a second of 8 kHz mono PCM, all zero', async () => {
    const wav = silentWav(800);
    expect(wav.length).toBe(44 + 1600);
    expect(new TextDecoder().decode(wav.subarray(0, 4))).toBe('RIFF');
    expect(wav.subarray(44).every((b) => b === 0)).toBe(true);
    const file = join(await mkdtemp(join(tmpdir(), 'swarmcast-wav-')), 'silence.wav');
    await writeFile(file, wav);
    const { stdout } = await promisify(execFile)('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'stream=codec_name,sample_rate,channels:format=duration',
      '-of',
      'json',
      file,
    ]);
    const probed = JSON.parse(stdout) as {
      streams: Array<{ codec_name: string; sample_rate: string; channels: number }>;
      format: { duration: string };
    };
    expect(probed.streams[0]).toMatchObject({ codec_name: 'pcm_s16le', sample_rate: '8000', channels: 1 });
    expect(Number(probed.format.duration)).toBeCloseTo(0.1, 3);
  });
});
