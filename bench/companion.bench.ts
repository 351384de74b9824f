/**
 * What the companions beside mn04 cost per stream, one thread: CPU per second of audio for
 * mn04's path (streaming log-mel, then the tagger on each 1 s window every 0.5 s, one window a
 * run as live streams arrive), for YAMNet's (the patch centred on each window, then YAMNet on
 * it) and for CED-Tiny's (the 2 s ending with each window at 16 kHz, then CED on it), and
 * their ratios to mn04's, measured in the same run on the metro reference recording (a minute
 * of it).
 *
 *   VIGIL_MODELS_DIR=../shared/models:.cache/models-companion npm run bench:companion
 */
import { Logger } from '@nestjs/common';
import {
  CED_WAVEFORM,
  DecimatedTail,
  EFFICIENTAT_RECIPE,
  HalfbandDecimator,
  StreamingLogMel,
  WindowAssembler,
  YAMNET_RECIPE,
  YamnetFrameCache,
  YamnetPatchExtractor,
} from '@app/dsp';
import { ModelLoader, ModelRepository, OnnxSessionFactory } from '@app/models';
import { fixture } from '@app/testing';
import {
  checkQuietMachine,
  cpuMark,
  cpuSince,
  machineLine,
  readF32le,
  row,
  runBench,
} from './bench.support';

const REPEATS = 5;

runBench(async () => {
  console.log(machineLine());
  await checkQuietMachine();
  const modelsDir = process.env.VIGIL_MODELS_DIR;
  if (!modelsDir) throw new Error('set VIGIL_MODELS_DIR to the shared models and the companions');
  const loader = new ModelLoader(
    new ModelRepository(modelsDir),
    new OnnxSessionFactory(new Logger('onnxruntime'), { intraOpNumThreads: 1 }),
    { precision: { audio: 'fp32' } },
  );
  const model = await loader.audio('efficientat-mn04');
  const byName = new Map(model.companion?.models.map((m) => [m.name, m]));
  const yamnetModel = byName.get('yamnet');
  const cedModel = byName.get('ced-tiny');
  if (!yamnetModel || !cedModel)
    throw new Error('the companions are not installed: npm run models:companions');
  // The 10 s reference six times over: a minute, so CPU clock ticks are a small part of it.
  const clip = readF32le(fixture('reference/metro_32k_mono.f32le'));
  const pcm = new Float32Array(clip.length * 6);
  for (let i = 0; i < 6; i++) pcm.set(clip, i * clip.length);
  const seconds = pcm.length / EFFICIENTAT_RECIPE.sampleRate;
  const extractor = new YamnetPatchExtractor(YAMNET_RECIPE);

  const mn04 = async () => {
    const windows = new WindowAssembler({ melBins: 128, windowFrames: 100, hopFrames: 50 });
    const cut = windows.push(new StreamingLogMel(EFFICIENTAT_RECIPE).push(pcm));
    for (const w of cut) await model.tagger.classify([{ data: w.data, frames: w.frames }]);
    return cut.map((w) => w.startFrame);
  };
  const starts = await mn04();
  // As the spectrogram stage cuts them: one frame cache per stream.
  const patches = async () => {
    const cache = new YamnetFrameCache();
    return starts.map((start) =>
      extractor.extract(pcm, Math.round((start + 49.5) * 320 - extractor.samples / 2), cache),
    );
  };
  const yamnet = async () => {
    for (const yamnetPatch of await patches()) await yamnetModel.classify([{ yamnetPatch }]);
  };
  await yamnet();
  const decimator = new HalfbandDecimator();
  const span = CED_WAVEFORM.seconds * EFFICIENTAT_RECIPE.sampleRate;
  // As the spectrogram stage cuts them: one decimated tail per stream.
  const waveforms = async () => {
    const tail = new DecimatedTail(decimator);
    return starts.map((start) => tail.cut(pcm, 0, ((start + 100) * 320 - span) / 2, span / 2));
  };
  const ced = async () => {
    for (const pcm16k of await waveforms()) await cedModel.classify([{ pcm16k }]);
  };
  await ced();

  const time = async (run: () => Promise<unknown>) => {
    let best = Infinity;
    for (let r = 0; r < REPEATS; r++) {
      const mark = cpuMark();
      await run();
      best = Math.min(best, cpuSince(mark).selfSec * 1000);
    }
    return best / seconds;
  };
  const own = await time(mn04);
  const second = await time(yamnet);
  const patchCost = await time(patches);
  const third = await time(ced);
  const waveformCost = await time(waveforms);
  row('audio', `${seconds.toFixed(1)} s, ${starts.length} windows`);
  row('mn04 path', `${own.toFixed(2)} ms CPU per s of audio`, 'log-mel + tagger');
  row('YAMNet path', `${second.toFixed(2)} ms CPU per s of audio`, 'patches + YAMNet');
  row('  of which patches', `${patchCost.toFixed(2)} ms CPU per s of audio`);
  row('CED-Tiny path', `${third.toFixed(2)} ms CPU per s of audio`, '16 kHz cuts + CED');
  row('  of which cuts', `${waveformCost.toFixed(2)} ms CPU per s of audio`);
  row('YAMNet / mn04', `${(second / own).toFixed(2)}x`, `best of ${REPEATS}`);
  row('CED-Tiny / mn04', `${(third / own).toFixed(2)}x`, `best of ${REPEATS}`);
});
