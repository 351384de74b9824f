/**
 * Motion gating: what it saves and what it changes, measured in one run.
 *
 *   npm run bench:gating   (BENCH_REPEATS=n)
 *
 * The embedded pipeline (real ffmpeg, models, rules) analyses the dev clips and the 139 s Intel
 * person video with its mixed audio, once with the detector on every frame and once gated. It
 * prints, per input: wall time of each, their ratio, the share of frames the detector skipped,
 * and whether the incidents (ids, states) and video detections came out the same. No time is
 * asserted: the ratios are the result.
 */
import { performance } from 'node:perf_hooks';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { loadRuleSet } from '@app/fusion';
import { ModelLoader, ModelRepository, OnnxSessionFactory } from '@app/models';
import { EmbeddedPipeline, type MotionGateOptions } from '@app/pipeline';
import { fixture, modelsDir } from '@app/testing';
import { intelWithAudio, machineLine, row, runBench, x } from './bench.support';

const REPEATS = Math.max(1, Number(process.env.BENCH_REPEATS ?? 1));

async function main(): Promise<void> {
  console.log(machineLine());
  const quiet = { log: () => undefined, warn: () => undefined };
  const loader = new ModelLoader(new ModelRepository(modelsDir()), new OnnxSessionFactory(quiet));
  const [audioModel, videoModel] = await Promise.all([
    loader.audio('efficientat-mn04'),
    loader.video('yolox-nano'),
  ]);
  const rules = await loadRuleSet();
  const inputs = [
    ...[
      'comp01_person_glassbreak',
      'comp02_dog_bark',
      'comp04_empty_night_ambience',
      'comp05_emptyroom_smoke_alarm',
    ].map((c) => fixture(`clips/${c}.mp4`)),
    intelWithAudio(),
  ];
  const run = async (source: string, motion: MotionGateOptions | undefined) => {
    let best = Infinity;
    let result;
    let stats = { frames: 0, skipped: 0 };
    for (let i = 0; i < REPEATS; i++) {
      const pipeline = new EmbeddedPipeline({
        decoder: new MediaDecoder(new FfmpegLocator()),
        audioModel,
        videoModel,
        rules,
        fps: 5,
        motion,
      });
      await pipeline.start();
      const started = performance.now();
      result = await pipeline.analyze({ streamId: 'bench', source });
      best = Math.min(best, performance.now() - started);
      stats = pipeline.gatingStats();
      await pipeline.stop();
    }
    return { ms: best, result: result!, stats };
  };
  for (const source of inputs) {
    const every = await run(source, undefined);
    const gated = await run(source, {});
    const incidents = (r: typeof every.result) => r.events.map((e) => `${e.id}:${e.state}`).join();
    const video = (r: typeof every.result) =>
      r.segments
        .filter((s) => s.modality === 'video')
        .map((s) => s.cls)
        .join();
    row(
      source.split('/').at(-1)!,
      `${x(every.ms / gated.ms)} faster gated`,
      `every frame ${(every.ms / 1000).toFixed(1)} s, gated ${(gated.ms / 1000).toFixed(1)} s; ` +
        `skipped ${gated.stats.skipped}/${gated.stats.frames} frames; ` +
        `incidents ${incidents(every.result) === incidents(gated.result) ? 'same' : 'DIFFER'}; ` +
        `video classes ${video(every.result) === video(gated.result) ? 'same' : `${video(every.result)} → ${video(gated.result)}`}`,
    );
  }
}

runBench(main);
