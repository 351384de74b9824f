import { MemoryBus } from '@app/bus';
import { type AudioFeatureWindow, Topics } from '@app/contracts';
import {
  CED_WAVEFORM,
  EFFICIENTAT_RECIPE,
  HalfbandDecimator,
  LogMelExtractor,
  YAMNET_RECIPE,
  YamnetPatchExtractor,
} from '@app/dsp';
import { SpectrogramStage } from './spectrogram.stage';

function tone(samples: number): Float32Array {
  const pcm = new Float32Array(samples);
  for (let i = 0; i < samples; i++)
    pcm[i] = 0.3 * Math.sin((2 * Math.PI * 440 * i) / 32000) * (i > 40000 && i < 48000 ? 3 : 1);
  return pcm;
}

describe('SpectrogramStage', () => {
  it('cuts the same windows, YAMNet patches and 16 kHz waveforms however the audio was chunked, and passes end-of-stream on', async () => {
    const bus = new MemoryBus({ partitions: 2 });
    const stage = new SpectrogramStage(bus, {
      recipe: EFFICIENTAT_RECIPE,
      windowSec: 1,
      hopSec: 0.5,
      yamnet: YAMNET_RECIPE,
      waveform: CED_WAVEFORM,
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
    // Each window's YAMNet patch is the 0.975 s centred on it, cut from the whole audio; the
    // last, shorter window's too.
    expect(data.at(-1)!.frames).toBeLessThan(100);
    const yamnet = new YamnetPatchExtractor(YAMNET_RECIPE);
    for (const w of data) {
      const centre = (Math.round(w.startSec * 100) + (w.frames - 1) / 2) * 320;
      const expected = yamnet.extract(pcm, Math.round(centre - 15600));
      expect(Buffer.from(w.yamnetPatch!.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    }
    // Each window's waveform is the 2 s ending with it at 16 kHz (silence before the stream),
    // decimated from the whole audio.
    const decimator = new HalfbandDecimator();
    for (const w of data) {
      const end = (Math.round(w.startSec * 100) + w.frames) * 320;
      const expected = decimator.decimate(pcm, end - 64000, 32000);
      expect(w.pcm16k).toHaveLength(32000);
      expect(Buffer.from(w.pcm16k!.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    }
    expect(data[0].pcm16k!.subarray(0, 15000).every((v) => v === 0)).toBe(true);
    // The loud burst sits at 1.25–1.5 s: windows that contain it point at it.
    expect(data[2].peakSec).toBeGreaterThanOrEqual(1.25);
    expect(data[2].peakSec).toBeLessThanOrEqual(1.5);
    await stage.stop();
    await bus.close();
  });

  it('a replica that takes over mid-stream reads the held chunks again and cuts exactly the windows of an uninterrupted run, none lost; audio sent again is skipped', async () => {
    const options = {
      recipe: EFFICIENTAT_RECIPE,
      windowSec: 1,
      hopSec: 0.5,
      yamnet: YAMNET_RECIPE,
      waveform: CED_WAVEFORM,
    };
    const pcm = tone(32000 * 4 + 1000);
    const chunks = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => {
        const at = (from + i) * 3200;
        return {
          streamId: 'cam',
          seq: from + i,
          startSec: at / 32000,
          sampleRate: 32000,
          samples: pcm.subarray(at, Math.min(at + 3200, pcm.length)),
        };
      });
    const count = Math.ceil(pcm.length / 3200);
    const final = { ...chunks(0, 1)[0], samples: new Float32Array(0), final: true };

    const run = async (cuts: number[], resent?: { after: number; from: number }) => {
      const bus = new MemoryBus({ partitions: 1 });
      const windows: AudioFeatureWindow[] = [];
      await bus.subscribe(Topics.features, 'test', async (m) => void windows.push(m.value));
      let from = 0;
      const segments = [...cuts, count];
      for (const [i, cut] of segments.entries()) {
        // Each replica gets the group where the last one left it: at its committed offset.
        const stage = new SpectrogramStage(bus, options);
        await stage.start();
        for (const chunk of chunks(from, cut)) {
          await bus.publish(Topics.audio, 'cam', chunk);
          // An ingest that resumed from a checkpoint sends a stretch again.
          if (resent && chunk.seq === resent.after) {
            for (const again of chunks(resent.from, resent.after + 1)) {
              await bus.publish(Topics.audio, 'cam', again);
            }
          }
        }
        // A cut at `count` is a replica that stops after the last chunk, before the end marker.
        if (i === segments.length - 1) await bus.publish(Topics.audio, 'cam', final);
        await bus.idle();
        await stage.stop();
        from = cut;
      }
      await bus.close();
      return windows;
    };

    const clean = await run([]);
    const resent = await run([], { after: 20, from: 12 });
    expect(resent.map((w) => w.startSec)).toEqual(clean.map((w) => w.startSec));
    const byStart = new Map(clean.filter((w) => !w.final).map((w) => [w.startSec, w]));
    const keys = (ws: AudioFeatureWindow[]) => [
      ...new Set(ws.map((w) => `${w.seq}@${w.startSec}`)),
    ];
    // The stream's last window is shorter, and its YAMNet patch, centred on it, reaches back
    // before the window: a replica taking over just before the end must still have that audio.
    expect(clean.filter((w) => !w.final).at(-1)!.frames).toBeLessThan(100);
    const taken = [...(await run([7, 19, 26])), ...(await run([count]))];
    expect(keys(taken)).toEqual(keys(clean));
    for (const w of taken.filter((w) => !w.final)) {
      const same = byStart.get(w.startSec)!; // any window cut twice is an exact duplicate
      expect({ seq: w.seq, endSec: w.endSec, peakSec: w.peakSec }).toEqual({
        seq: same.seq,
        endSec: same.endSec,
        peakSec: same.peakSec,
      });
      expect(Buffer.from(w.data.buffer).equals(Buffer.from(same.data.buffer))).toBe(true);
      expect(Buffer.from(w.yamnetPatch!.buffer).equals(Buffer.from(same.yamnetPatch!.buffer))).toBe(
        true,
      );
      // The waveform reaches 2 s back: a replica taking over must still have that audio too.
      expect(Buffer.from(w.pcm16k!.buffer).equals(Buffer.from(same.pcm16k!.buffer))).toBe(true);
    }
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
