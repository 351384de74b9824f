/**
 * Whole-pipeline speed against its two unavoidable parts, measured in the same process:
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/pipeline.bench.ts
 *   (npm run bench:pipeline; BENCH_REPEATS=n, BENCH_PROFILE=1, BENCH_WAIT_SEC=n)
 *
 * Input: the 139 s Intel person-detection video with a real audio track mixed by ffmpeg (room
 * tone plus glass, scream, dog, gunshot and alarm sounds from the fixtures), AAC, written once
 * to the OS temp folder.
 *
 *  (a) decode alone: MediaDecoder with the pipeline's own options (mediaOptionsFor: 5 fps,
 *      yolox letterbox 416, 32 kHz mono in 0.1 s chunks), both iterators drained and discarded;
 *  (b) inference alone: the same frames and log-mel windows, decoded and computed beforehand,
 *      through the pipeline's model adapters (BoxDetector per frame, TaggerClassifier per
 *      window), sessions made as VigilModule makes them (VIGIL_EXECUTION_PROVIDER, cpu by
 *      default, VIGIL_TENSORRT_PRECISION, 1 intra-op thread unless VIGIL_INFERENCE_THREADS);
 *  (c) AnalyzeService.analyze on the real Nest module: everything, models loaded included.
 *
 * Best wall time of BENCH_REPEATS (default 2) rounds, each round running a, b, c back to back
 * so they see the same machine. No time is asserted: the ratios are the result.
 */
import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import { loadConfig } from '@app/config';
import {
  type AssembledWindow,
  type LogMelRecipe,
  StreamingLogMel,
  WindowAssembler,
} from '@app/dsp';
import { type DecodedFrame, FfmpegLocator, MediaDecoder } from '@app/media';
import {
  type LoadedAudioModel,
  type LoadedVideoModel,
  ModelLoader,
  ModelRepository,
  OnnxSessionFactory,
} from '@app/models';
import {
  BoxDetector,
  type IngestStageOptions,
  TaggerClassifier,
  mediaOptionsFor,
} from '@app/pipeline';
import { fixture, modelsDir } from '@app/testing';
import { analyzeService } from '@app/testing/vigil-app';
import {
  type CpuSpent,
  checkQuietMachine,
  cpuLine,
  loadAverage,
  machineLine,
  measured,
  printProfile,
  probeDuration,
  profiled,
  row,
  s,
  x,
  runBench,
} from './bench.support';
import { intelWithAudio } from './bench.support';

const FPS = 5;
const REPEATS = Math.max(1, Number(process.env.BENCH_REPEATS ?? 2));
const AUDIO_MODEL = 'efficientat-mn04';
const VIDEO_MODEL = 'yolox-nano';
/** The inference stage's micro-batch limit (InferenceStage maxAudioBatch default). */
const PIPELINE_AUDIO_BATCH = 16;

// ---------------------------------------------------------------------------------------------
// Input: the Intel video with a real, mixed audio track

// ---------------------------------------------------------------------------------------------
// Probes: exact time of the synchronous main-thread pieces, wherever they are called from

interface Bucket {
  ms: number;
  calls: number;
}

const probes = {
  ortVideo: { ms: 0, calls: 0 },
  ortAudio: { ms: 0, calls: 0 },
  hwcToChw: { ms: 0, calls: 0 },
  logMel: { ms: 0, calls: 0 },
  windows: { ms: 0, calls: 0 },
};
type ProbeName = keyof typeof probes;

function resetProbes(): void {
  for (const b of Object.values(probes)) {
    b.ms = 0;
    b.calls = 0;
  }
}

function snapshotProbes(): Record<ProbeName, Bucket> {
  return Object.fromEntries(Object.entries(probes).map(([k, v]) => [k, { ...v }])) as Record<
    ProbeName,
    Bucket
  >;
}

function wrapSync(
  target: Record<string, unknown>,
  method: string,
  bucket: (self: unknown, args: unknown[]) => Bucket | undefined,
): void {
  const original = target[method] as (...args: unknown[]) => unknown;
  if (typeof original !== 'function') throw new Error(`cannot probe ${method}`);
  Object.defineProperty(target, method, { configurable: true, writable: true, value: wrapped });
  function wrapped(this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      const b = bucket(this, args);
      if (b) {
        b.ms += performance.now() - t0;
        b.calls++;
      }
    }
  }
}

/**
 * onnxruntime-node 1.30 runs a session synchronously on the main thread (backend.js wraps the
 * native run() in setImmediate): timing the native call gives the exact inference time.
 */
function installProbes(audioInput: string, videoInput: string): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  // The native session's methods cannot be replaced on its prototype (read-only, not
  // configurable), so each new native session gets a timed own `run`. backend.js looks the
  // constructor up on the module's `binding` export at every session creation.
  const mod = require('onnxruntime-node/dist/binding') as { binding: object };
  const Native = (mod.binding as { InferenceSession: new () => object }).InferenceSession;
  function ProbedSession(): object {
    const session = new Native() as Record<string, unknown>;
    wrapSync(session, 'run', (_self, args) => {
      const feeds = args[0] as Record<string, unknown>;
      if (audioInput in feeds) return probes.ortAudio;
      if (videoInput in feeds) return probes.ortVideo;
      return undefined;
    });
    return session;
  }
  mod.binding = new Proxy(mod.binding, {
    get: (target, key) =>
      key === 'InferenceSession' ? ProbedSession : Reflect.get(target, key, target),
  });
  // Object-detector.runner calls it through the module's exports object, so this reaches it.
  const pixels = require('../libs/models/src/pixel-tensor.converter') as Record<string, unknown>;
  wrapSync(pixels, 'hwcToChw', () => probes.hwcToChw);
  /* eslint-enable @typescript-eslint/no-require-imports */
  const logMel = StreamingLogMel.prototype as unknown as Record<string, unknown>;
  wrapSync(logMel, 'push', () => probes.logMel);
  wrapSync(logMel, 'end', () => probes.logMel);
  const windows = WindowAssembler.prototype as unknown as Record<string, unknown>;
  wrapSync(windows, 'push', () => probes.windows);
  wrapSync(windows, 'end', () => probes.windows);
}

// ---------------------------------------------------------------------------------------------
// (a) decode, (b) inference, features

async function decodeAll(
  decoder: MediaDecoder,
  source: string,
  media: IngestStageOptions,
  keep: boolean,
): Promise<{
  frames: DecodedFrame[];
  audio: Float32Array[];
  frameCount: number;
  audioSec: number;
}> {
  const session = decoder.open({ source, audio: media.audio, video: media.video });
  await session.info;
  const frames: DecodedFrame[] = [];
  const audio: Float32Array[] = [];
  let frameCount = 0;
  let samples = 0;
  await Promise.all([
    (async () => {
      for await (const chunk of session.audio()) {
        samples += chunk.samples.length;
        if (keep) audio.push(chunk.samples);
      }
    })(),
    (async () => {
      for await (const frame of session.video()) {
        frameCount++;
        if (keep) frames.push(frame);
      }
    })(),
  ]);
  const summary = await session.done;
  if (summary.truncated) throw new Error(`decode was truncated: ${summary.warnings.join('; ')}`);
  return { frames, audio, frameCount, audioSec: samples / media.audio.sampleRate };
}

/** Exactly what SpectrogramStage does per stream, on the same 0.1 s chunks. */
function computeWindows(
  chunks: Float32Array[],
  recipe: LogMelRecipe,
  windowSec: number,
  hopSec: number,
): AssembledWindow[] {
  const frameSec = recipe.hopLength / recipe.sampleRate;
  const logMel = new StreamingLogMel(recipe);
  const assembler = new WindowAssembler({
    melBins: recipe.melBins,
    windowFrames: Math.round(windowSec / frameSec),
    hopFrames: Math.round(hopSec / frameSec),
  });
  const windows: AssembledWindow[] = [];
  for (const chunk of chunks) windows.push(...assembler.push(logMel.push(chunk)));
  windows.push(...assembler.push(logMel.end()), ...assembler.end());
  return windows;
}

interface InferenceRun {
  video: CpuSpent;
  audio: CpuSpent;
  probes: Record<ProbeName, Bucket>;
  detections: number;
}

async function inferenceAlone(
  frames: DecodedFrame[],
  windows: AssembledWindow[],
  detector: BoxDetector,
  classifier: TaggerClassifier,
): Promise<InferenceRun> {
  resetProbes();
  let detections = 0;
  const video = await measured(async () => {
    for (let seq = 0; seq < frames.length; seq++) {
      const f = frames[seq]!;
      const found = await detector.detect({
        streamId: 'bench',
        seq,
        ptsSec: f.ptsSec,
        width: f.width,
        height: f.height,
        pixels: f.pixels,
        pixelFormat: f.pixelFormat,
        geometry: f.geometry,
      });
      detections += found.length;
    }
  });
  const audio = await measured(async () => {
    for (const w of windows) detections += (await classifier.score([w]))[0]!.length;
  });
  return { video: video.cpu, audio: audio.cpu, probes: snapshotProbes(), detections };
}

// ---------------------------------------------------------------------------------------------

interface AnalyzeRun {
  cpu: CpuSpent;
  probes: Record<ProbeName, Bucket>;
  /** Event loop: active = running JS or native code on the main thread, idle = waiting for I/O. */
  elu: { active: number; idle: number; utilization: number };
  incidents: number;
  decodedSec: number;
  reportedWallSec: number;
}

type Service = Awaited<ReturnType<typeof analyzeService>>['service'];

async function analyzeOnce(service: Service, source: string): Promise<AnalyzeRun> {
  resetProbes();
  const elu0 = performance.eventLoopUtilization();
  const { value: report, cpu } = await measured(() =>
    service.analyze({ source, streamId: 'bench-pipeline' }),
  );
  const elu = performance.eventLoopUtilization(elu0);
  return {
    cpu,
    probes: snapshotProbes(),
    elu,
    incidents: report.events.length,
    decodedSec: report.decodedSec,
    reportedWallSec: report.wallSec,
  };
}

function best<T extends { cpu: CpuSpent }>(runs: T[]): T {
  return runs.reduce((a, b) => (b.cpu.wallSec < a.cpu.wallSec ? b : a));
}

async function main(): Promise<void> {
  console.log('pipeline: decode alone, inference alone, whole analyze; same process, same input');
  console.log(machineLine());
  await checkQuietMachine();

  const input = intelWithAudio();
  const durationSec = probeDuration(input);

  const config = loadConfig(process.env);
  console.log(
    `provider ${config.executionProvider}` +
      (config.executionProvider === 'tensorrt' ? ` (${config.tensorrtPrecision})` : '') +
      `, ${config.inferenceThreads} intra-op thread(s)`,
  );
  const repository = new ModelRepository(modelsDir());
  installProbes(
    repository.resolve(AUDIO_MODEL).manifest.input.name,
    repository.resolve(VIDEO_MODEL).manifest.input.name,
  );
  const loader = new ModelLoader(
    repository,
    new OnnxSessionFactory(new Logger('onnxruntime'), {
      executionProvider: config.executionProvider,
      intraOpNumThreads: config.inferenceThreads,
      tensorrt: { precision: config.tensorrtPrecision, cacheDir: config.tensorrtCacheDir },
    }),
  );
  Logger.overrideLogger(['error']);
  const loadModels = await measured(() =>
    Promise.all([loader.audio(AUDIO_MODEL), loader.video(VIDEO_MODEL)]),
  );
  const [audioModel, videoModel]: [LoadedAudioModel, LoadedVideoModel] = loadModels.value;
  const media = mediaOptionsFor(audioModel.manifest, videoModel.manifest, FPS);
  const features = audioModel.manifest.features!;
  const decoder = new MediaDecoder(new FfmpegLocator());
  const detector = new BoxDetector(videoModel);
  const classifier = new TaggerClassifier(audioModel);

  console.log(`input: ${input}`);
  console.log(
    `  ${durationSec.toFixed(1)} s, models ${AUDIO_MODEL} + ${VIDEO_MODEL} (cpu, 1 intra-op thread), ` +
      `${FPS} fps ${media.video.width}x${media.video.height} ${media.video.resize}, ` +
      `${media.audio.sampleRate} Hz in ${media.audio.chunkSamples}-sample chunks, ` +
      `windows ${features.windowSec} s / hop ${features.hopSec} s`,
  );

  // Frames and windows for (b), decoded and computed before anything is timed.
  const pre = await decodeAll(decoder, input, media, true);
  const feat = await measured(async () =>
    computeWindows(pre.audio, features.recipe, features.windowSec, features.hopSec),
  );
  const windows = feat.value;
  console.log(
    `  ${pre.frames.length} frames, ${pre.audioSec.toFixed(1)} s of audio -> ${windows.length} windows`,
  );

  const app = await analyzeService({ fps: FPS, inferenceThreads: 1, executionProvider: 'cpu' });
  // What-if: the same analyze with 2 intra-op threads per session (VIGIL_INFERENCE_THREADS=2).
  const whatIf = await analyzeService({ fps: FPS, inferenceThreads: 2, executionProvider: 'cpu' });
  try {
    // Warm-up: JIT, onnxruntime's first runs, the Nest module, ffmpeg's page cache.
    await app.service.analyze({ source: fixture('clips/comp01_person_glassbreak.mp4') });
    await whatIf.service.analyze({ source: fixture('clips/comp01_person_glassbreak.mp4') });
    await inferenceAlone(pre.frames.slice(0, 20), windows.slice(0, 20), detector, classifier);

    const decodes: { cpu: CpuSpent }[] = [];
    const inferences: InferenceRun[] = [];
    const analyses: AnalyzeRun[] = [];
    const whatIfs: AnalyzeRun[] = [];
    for (let r = 0; r < REPEATS; r++) {
      const a = await measured(() => decodeAll(decoder, input, media, false));
      if (a.value.frameCount !== pre.frames.length) throw new Error('frame count changed');
      decodes.push(a);
      const b = await inferenceAlone(pre.frames, windows, detector, classifier);
      inferences.push(b);
      const c = await analyzeOnce(app.service, input);
      analyses.push(c);
      const d = await analyzeOnce(whatIf.service, input);
      whatIfs.push(d);
      const bWall = b.video.wallSec + b.audio.wallSec;
      console.log(
        `  round ${r + 1}: decode ${s(a.cpu.wallSec)}, inference ${s(bWall)}, analyze ${s(c.cpu.wallSec)}, ` +
          `analyze 2 threads ${s(d.cpu.wallSec)}` +
          ` (load ${a.cpu.loadAtStart.toFixed(2)}, others' CPU ${s(
            a.cpu.foreignSec +
              b.video.foreignSec +
              b.audio.foreignSec +
              c.cpu.foreignSec +
              d.cpu.foreignSec,
            1,
          )})`,
      );
    }

    // Informational: the audio model in the pipeline's micro-batches instead of one by one.
    const batched = await measured(async () => {
      for (let i = 0; i < windows.length; i += PIPELINE_AUDIO_BATCH)
        await classifier.score(windows.slice(i, i + PIPELINE_AUDIO_BATCH));
    });

    const a = best(decodes).cpu;
    const bRun = inferences.reduce((p, q) =>
      q.video.wallSec + q.audio.wallSec < p.video.wallSec + p.audio.wallSec ? q : p,
    );
    const c = best(analyses);
    const d = best(whatIfs);
    const decodeSec = a.wallSec;
    const inferSec = bRun.video.wallSec + bRun.audio.wallSec;
    const analyzeSec = c.cpu.wallSec;

    console.log('');
    console.log(`best of ${REPEATS}; load average now ${loadAverage()}`);
    row('(a) decode alone', s(decodeSec));
    row(
      '(b) inference alone',
      s(inferSec),
      `video ${s(bRun.video.wallSec)} + audio ${s(bRun.audio.wallSec)}`,
    );
    row(
      '(c) analyze',
      s(analyzeSec),
      `${c.incidents} incidents, ${c.decodedSec.toFixed(1)} s decoded`,
    );
    row('analyze / (decode + inference)', x(analyzeSec / (decodeSec + inferSec)), 'target <= 1.0');
    row(
      'analyze / max(decode, inference)',
      x(analyzeSec / Math.max(decodeSec, inferSec)),
      '1.0 = only the larger part costs',
    );
    row('x real time (analyze)', `${x(durationSec / analyzeSec, 1)}x`);
    row(
      '(d) analyze, 2 intra-op threads (what-if)',
      s(d.cpu.wallSec),
      `d/c ${x(d.cpu.wallSec / analyzeSec)}, ${x(durationSec / d.cpu.wallSec, 1)}x real time`,
    );
    console.log('');
    console.log('CPU per phase (node = this process, all threads; ffmpeg = reaped children):');
    console.log(`  (a) decode         ${cpuLine(a)}`);
    console.log(`  (b) video infer    ${cpuLine(bRun.video)}`);
    console.log(`  (b) audio infer    ${cpuLine(bRun.audio)}`);
    console.log(`  (c) analyze        ${cpuLine(c.cpu)}`);
    console.log(`  (d) 2 threads      ${cpuLine(d.cpu)}`);
    console.log(
      `  features (log-mel + windows, once, untimed by a-c): ${s(feat.cpu.wallSec)} wall, ${s(feat.cpu.mainSec)} CPU`,
    );
    console.log(
      `  models loaded once here in ${s(loadModels.cpu.wallSec)}; analyze loads its own each call (included in c)`,
    );
    console.log(
      `  audio model in batches of ${PIPELINE_AUDIO_BATCH}: ${s(batched.cpu.wallSec)} vs ${s(bRun.audio.wallSec)} one by one`,
    );

    // Where analyze's main thread goes. onnxruntime-node runs sessions on the main thread, so
    // everything below competes for one core; only ffmpeg (another process) runs beside it.
    const p = c.probes;
    const onnx = (p.ortVideo.ms + p.ortAudio.ms) / 1000;
    const known = onnx + (p.hwcToChw.ms + p.logMel.ms + p.windows.ms) / 1000;
    const bOnnx = (bRun.probes.ortVideo.ms + bRun.probes.ortAudio.ms) / 1000;
    console.log('');
    console.log('analyze main thread (exact, from probes on the synchronous calls):');
    const line = (label: string, sec: number, note = '') =>
      console.log(
        `  ${label.padEnd(38)}${s(sec).padStart(9)} ${((100 * sec) / analyzeSec).toFixed(0).padStart(4)} % of wall${note ? `  ${note}` : ''}`,
      );
    line(
      'onnxruntime run(), detector',
      p.ortVideo.ms / 1000,
      `${p.ortVideo.calls} runs; alone ${s(bRun.probes.ortVideo.ms / 1000)}`,
    );
    line(
      'onnxruntime run(), audio tagger',
      p.ortAudio.ms / 1000,
      `${p.ortAudio.calls} runs; alone ${s(bRun.probes.ortAudio.ms / 1000)} in ${bRun.probes.ortAudio.calls}`,
    );
    line('hwcToChw (pixels -> tensor)', p.hwcToChw.ms / 1000, `${p.hwcToChw.calls} frames`);
    line('log-mel (StreamingLogMel)', p.logMel.ms / 1000, `${p.logMel.calls} calls`);
    line('window assembly', p.windows.ms / 1000);
    const active = c.elu.active / 1000;
    line(
      'other JS (bus, pipes, fusion, GC…)',
      Math.max(0, active - known),
      'main-thread busy time minus the rows above',
    );
    line(
      'main thread busy (event loop active)',
      active,
      `${(100 * c.elu.utilization).toFixed(0)} % utilisation`,
    );
    line('main thread waiting for I/O (ffmpeg)', c.elu.idle / 1000);
    line(
      'main thread CPU time',
      c.cpu.mainSec,
      `busy minus CPU (preempted or blocked): ${s(Math.max(0, active - c.cpu.mainSec))}`,
    );
    line('node, other threads (GC, ort pool)', c.cpu.selfSec - c.cpu.mainSec);
    line('ffmpeg CPU', c.cpu.childSec);
    console.log(
      `  inference alone: onnx ${s(bOnnx)} of ${s(inferSec)} wall; runner/adapters overhead ${s(inferSec - bOnnx)}`,
    );
    console.log(
      `  lower bound for analyze on this design: max(decode ${s(decodeSec)}, main-thread CPU ${s(c.cpu.mainSec)})` +
        ` -> analyze / bound = ${x(analyzeSec / Math.max(decodeSec, c.cpu.mainSec))}`,
    );

    if (process.env.BENCH_PROFILE === '1' || analyzeSec / (decodeSec + inferSec) > 1.0) {
      console.log('');
      console.log('profiled analyze run (sampling profiler on, so slower than above):');
      const { value, profile } = await profiled(() => analyzeOnce(app.service, input));
      console.log(`  wall ${s(value.cpu.wallSec)}`);
      printProfile(profile);
    }
  } finally {
    await app.close();
    await whatIf.close();
  }
  console.log('');
  console.log(`load average at the end: ${loadAverage()}`);
}

runBench(main);
