import { MemoryBus } from '@app/bus';
import { type AudioFeatureWindow, Topics } from '@app/contracts';
import { EFFICIENTAT_RECIPE, LogMelExtractor } from '@app/dsp';
import { SpectrogramStage } from './spectrogram.stage';

function tone(samples: number): Float32Array {
  const pcm = new Float32Array(samples);
  for (let i = 0; i < samples; i++)
    pcm[i] = 0.3 * Math.sin((2 * Math.PI * 440 * i) / 32000) * (i > 40000 && i < 48000 ? 3 : 1);
  return pcm;
}

describe('SpectrogramStage', () => {
  it('cuts the same windows however the audio was chunked, and passes end-of-stream on', async () => {
    const bus = new MemoryBus({ partitions: 2 });
    const stage = new SpectrogramStage(bus, {
      recipe: EFFICIENTAT_RECIPE,
      windowSec: 1,
      hopSec: 0.5,
    });
    await stage.start();
    const windows: AudioFeatureWindow[] = [];
    await bus.subscribe(Topics.features, 'test', async (m) => void windows.push(m.value));

    const pcm = tone(32000 * 3 + 123);
    const sizes = [1000, 3200, 7, 50000, 320];
    let offset = 0;
    for (let seq = 0; offset < pcm.length; seq++) {
      const size = Math.min(sizes[seq % sizes.length], pcm.length - offset);
      await bus.publish(Topics.audio, 'cam', {
        streamId: 'cam',
        seq,
        startSec: offset / 32000,
        sampleRate: 32000,
        samples: pcm.subarray(offset, offset + size),
      });
      offset += size;
    }
    await bus.publish(Topics.audio, 'cam', {
      streamId: 'cam',
      seq: 99,
      startSec: 0,
      sampleRate: 32000,
      samples: new Float32Array(0),
      final: true,
    });
    await bus.idle();

    const whole = new LogMelExtractor(EFFICIENTAT_RECIPE).compute(pcm);
    const frames = whole.length / 128;
    const data = windows.filter((w) => !w.final);
    expect(windows.at(-1)!.final).toBe(true);
    expect(data.map((w) => w.startSec)).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    for (const w of data) {
      const start = Math.round(w.startSec * 100);
      for (let m = 0; m < 128; m += 17) {
        for (let f = 0; f < w.frames; f += 13) {
          expect(w.data[m * w.frames + f]).toBeCloseTo(whole[m * frames + start + f], 5);
        }
      }
    }
    // The loud burst sits at 1.25–1.5 s: windows that contain it point at it.
    expect(data[2].peakSec).toBeGreaterThanOrEqual(1.25);
    expect(data[2].peakSec).toBeLessThanOrEqual(1.5);
    await stage.stop();
    await bus.close();
  });

  it('refuses audio at the wrong sample rate (the window would feed the model garbage)', async () => {
    const bus = new MemoryBus({ partitions: 1, retryDelayMs: 1 });
    const stage = new SpectrogramStage(bus, {
      recipe: EFFICIENTAT_RECIPE,
      windowSec: 1,
      hopSec: 0.5,
    });
    await stage.start();
    const dead: string[] = [];
    await bus.subscribe(
      { name: `${Topics.audio.name}.dlq` },
      'test',
      async (m) => void dead.push(m.headers['x-vigil-dlq-reason']),
    );
    await bus.publish(Topics.audio, 'cam', {
      streamId: 'cam',
      seq: 0,
      startSec: 0,
      sampleRate: 48000,
      samples: new Float32Array(480),
    });
    await bus.idle();
    expect(dead).toEqual(['audio chunk of cam is at 48000 Hz; the model needs 32000 Hz']);
    await stage.stop();
    await bus.close();
  });
});
