import { intelWithAudio, runBench } from './bench.support';
/**
 * Throughput of the four-service Kafka deployment against `vigil analyze` in one process, on the
 * same inputs, measured in the same run:
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/kafka-throughput.bench.ts
 *   (BENCH_REPEATS=n rounds, best of each kept; BENCH_WAIT_SEC=n waits for a quiet machine;
 *   KAFKA_BROKERS=host:port uses that broker, else one of our own on BENCH_KAFKA_PORT=29092)
 *
 * Inputs: the four 10 s composite clips and the 139 s Intel person video with a mixed audio track
 * (the file bench/pipeline.bench.ts makes): 179 s of media, audio + video, 5 fps.
 *
 *  (a) embedded, sequential: AnalyzeService.analyze (the real Nest module, in-memory bus), one
 *      input after the other, as `vigil analyze` runs them;
 *  (b) embedded, concurrent: the five analyze() calls at once in the same process;
 *  (c) Kafka: ingest, spectrogram, inference and fusion as four OS processes
 *      (`node dist/apps/<app>/main.js`, one replica each, default settings) on a real broker; the
 *      five streams are started together (five start commands on vigil.streams.commands) and
 *      timed from the first command to the last stream's `ended` status, its final detection
 *      sets of both modalities and every event `vigil analyze` found for it. Service startup
 *      (models loaded, /health/ready, consumer groups assigned) is excluded; so is a warm-up
 *      stream that runs first.
 *
 *  (d) what-if (BENCH_NICE_INGEST=0 skips it): (c) again with the ingest service and the ffmpeg
 *      it spawns at nice 10, so its flat-out decoding cannot take the cores from inference.
 *
 * Result: media seconds per wall second of each, and the ratios kafka/embedded (target >= 0.8
 * against (a)). Events are checked to be the same ids in all three. CPU per process (from /proc,
 * ingest including its ffmpeg children) says where the time went. Nothing is asserted.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { Admin } from 'kafkajs';
import { Logger } from '@nestjs/common';
import { Topics, type VideoFrame } from '@app/contracts';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { ModelLoader, ModelRepository, OnnxSessionFactory } from '@app/models';
import { BoxDetector, mediaOptionsFor } from '@app/pipeline';
import { fixture, modelsDir } from '@app/testing';
import { analyzeService } from '@app/testing/vigil-app';
import { partitionFor } from '@app/bus';
import { checkQuietMachine, machineLine, probeDuration, row, s, x } from './bench.support';
import {
  CLIPS,
  Commander,
  CpuWatch,
  type CpuSample,
  Deployment,
  Observer,
  benchBroker,
  ensureBuilt,
  kafkaAdmin,
  loadLine,
  now,
  printCpu,
  sleep,
  stageLags,
  topicBytes,
} from './kafka.support';

const REPEATS = Math.max(1, Number(process.env.BENCH_REPEATS ?? 2));
const FPS = 5;
const STREAM_TIMEOUT_MS = 15 * 60_000;

interface Input {
  name: string;
  path: string;
  sec: number;
}

interface Phase {
  wallSec: number;
  cpuFrom: CpuSample;
  cpuTo: CpuSample;
  load: string;
  /** Per input: its event ids and, for Kafka, when it was done (s after the first command). */
  streams: Map<
    string,
    {
      ids: string[];
      doneSec?: number;
      decodedSec?: number;
      ingestDoneSec?: number;
      /** Kafka: ms between its video detection sets once ingest had published everything. */
      msPerFrameAfterIngest?: number;
      framesAfterIngest?: number;
    }
  >;
  /** Kafka: the largest lag each stage group reached (sampled every second). */
  maxLag?: Record<string, number>;
  /** Kafka: video frames through inference per second, while ingest still decoded and after. */
  videoRate?: { during: number; after: number; ingestSec: number };
}

type Service = Awaited<ReturnType<typeof analyzeService>>['service'];

const streamIdOf = (run: string, round: number, input: Input) =>
  `tp-${run}-r${round}-${input.name}`;

async function embeddedSequential(
  service: Service,
  run: string,
  round: number,
  inputs: Input[],
  cpu: CpuWatch,
): Promise<Phase> {
  const load = loadLine();
  const cpuFrom = cpu.sample();
  const t0 = now();
  const streams: Phase['streams'] = new Map();
  for (const input of inputs) {
    const report = await service.analyze({
      source: input.path,
      streamId: streamIdOf(run, round, input),
    });
    streams.set(input.name, {
      ids: report.events.map((e) => e.id).sort(),
      decodedSec: report.decodedSec,
    });
  }
  const wallSec = (now() - t0) / 1000;
  return { wallSec, cpuFrom, cpuTo: cpu.sample(), load, streams };
}

async function embeddedConcurrent(
  service: Service,
  run: string,
  round: number,
  inputs: Input[],
  cpu: CpuWatch,
): Promise<Phase> {
  const load = loadLine();
  const cpuFrom = cpu.sample();
  const t0 = now();
  const streams: Phase['streams'] = new Map();
  await Promise.all(
    inputs.map(async (input) => {
      const report = await service.analyze({
        source: input.path,
        streamId: streamIdOf(run, round, input),
      });
      streams.set(input.name, {
        ids: report.events.map((e) => e.id).sort(),
        decodedSec: report.decodedSec,
        doneSec: (now() - t0) / 1000,
      });
    }),
  );
  const wallSec = (now() - t0) / 1000;
  return { wallSec, cpuFrom, cpuTo: cpu.sample(), load, streams };
}

/** Starts every input as a stream at once; resolves when all are fully through fusion. */
async function onKafka(
  commander: Commander,
  observer: Observer,
  ids: Map<string, string[]>,
  streamIds: Map<string, string>,
  inputs: Input[],
  cpu: CpuWatch,
  deployment: Deployment,
  admin: Admin,
): Promise<Phase> {
  const load = loadLine();
  const cpuFrom = cpu.sample();
  const t0 = now();
  for (const input of inputs) await commander.start(streamIds.get(input.name)!, input.path);
  const streams: Phase['streams'] = new Map();
  const maxLag: Record<string, number> = {};
  const lagTimer = setInterval(
    () =>
      void stageLags(admin).then(
        (lags) => {
          for (const [k, v] of Object.entries(lags)) maxLag[k] = Math.max(maxLag[k] ?? 0, v);
        },
        () => undefined,
      ),
    1000,
  );
  const doneAt = (input: Input): number | undefined => {
    const id = streamIds.get(input.name)!;
    const ended = observer.ended(id);
    if (!ended) return undefined;
    if (ended.value.state === 'failed') throw new Error(`${id} failed: ${ended.value.reason}`);
    const finals = observer.finalDetections(id);
    const modalities = new Set(finals.map((f) => f.value.modality));
    const wanted = [
      ended.value.hasAudio !== false && 'audio',
      ended.value.hasVideo !== false && 'video',
    ].filter(Boolean);
    if (!wanted.every((m) => modalities.has(m as 'audio' | 'video'))) return undefined;
    const events = observer.eventsOf(id);
    const expected = ids.get(input.name) ?? [];
    const last = [ended.at, ...finals.map((f) => f.at)];
    for (const eid of expected) {
      const e = events.find((a) => a.value.id === eid);
      if (!e) return undefined;
      last.push(e.at);
    }
    return Math.max(...last);
  };
  const deadline = Date.now() + STREAM_TIMEOUT_MS;
  for (;;) {
    deployment.checkAlive();
    const done = inputs.map(doneAt);
    if (done.every((d) => d !== undefined)) {
      inputs.forEach((input, k) => {
        const id = streamIds.get(input.name)!;
        streams.set(input.name, {
          ids: [],
          doneSec: (done[k]! - t0) / 1000,
          ingestDoneSec: (observer.ended(id)!.at - t0) / 1000,
          ...perFrame(observer, id),
          decodedSec: observer.ended(id)?.value.decodedSec,
        });
      });
      break;
    }
    if (Date.now() > deadline) throw new Error('Kafka streams did not finish in time');
    await sleep(20);
  }
  const end = Math.max(...[...streams.values()].map((v) => v.doneSec!));
  const cpuTo = cpu.sample();
  clearInterval(lagTimer);
  // A little longer, to catch an event `vigil analyze` did not produce.
  await sleep(3000);
  for (const input of inputs) {
    const id = streamIds.get(input.name)!;
    streams.get(input.name)!.ids = [
      ...new Set(observer.eventsOf(id).map((e) => e.value.id)),
    ].sort();
  }
  // Inference's pace while ingest was still decoding (they share the cores) and after.
  const ingestEnd = Math.max(...[...streamIds.values()].map((id) => observer.ended(id)!.at));
  const frames = [...streamIds.values()].flatMap((id) =>
    observer.detectionsOf(id).filter((d) => d.value.modality === 'video' && !d.value.final),
  );
  const during = frames.filter((d) => d.at <= ingestEnd).length;
  const videoRate = {
    during: during / ((ingestEnd - t0) / 1000),
    after: (frames.length - during) / (end - (ingestEnd - t0) / 1000),
    ingestSec: (ingestEnd - t0) / 1000,
  };
  return { wallSec: end, cpuFrom, cpuTo, load, streams, maxLag, videoRate };
}

/**
 * How fast inference got through a stream's frames once ingest had published all of them (the
 * backlog then waits in Kafka; the stream's partition is worked one message at a time).
 */
function perFrame(
  observer: Observer,
  id: string,
): { msPerFrameAfterIngest?: number; framesAfterIngest?: number } {
  const endedAt = observer.ended(id)!.at;
  const after = observer
    .detectionsOf(id)
    .filter((d) => d.value.modality === 'video' && !d.value.final && d.at > endedAt);
  if (after.length < 10) return {};
  return {
    msPerFrameAfterIngest: (after[after.length - 1]!.at - after[0]!.at) / (after.length - 1),
    framesAfterIngest: after.length,
  };
}

/**
 * Reference: the detector alone on real frames of comp01 (BoxDetector, sessions made as the
 * services make them), ms per frame; what a partition's frames cost at the least.
 */
async function detectorAloneMs(): Promise<number> {
  Logger.overrideLogger(['error']);
  const repository = new ModelRepository(modelsDir());
  const loader = new ModelLoader(
    repository,
    new OnnxSessionFactory(new Logger('onnxruntime'), {
      executionProvider: 'cpu',
      intraOpNumThreads: 1,
    }),
  );
  const [audio, video] = await Promise.all([
    loader.audio('efficientat-mn04'),
    loader.video('yolox-nano'),
  ]);
  const media = mediaOptionsFor(audio.manifest, video.manifest, FPS);
  const session = new MediaDecoder(new FfmpegLocator()).open({
    source: fixture(CLIPS.comp01),
    video: media.video,
  });
  const frames: VideoFrame[] = [];
  for await (const f of session.video()) {
    frames.push({
      streamId: 'ref',
      seq: frames.length,
      ...f,
      pixelFormat: media.video.pixelFormat,
    });
  }
  await session.done;
  const detector = new BoxDetector(video);
  for (const f of frames.slice(0, 5)) await detector.detect(f);
  const t0 = now();
  for (const f of frames) await detector.detect(f);
  return (now() - t0) / frames.length;
}

function same(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

async function main(): Promise<void> {
  console.log(
    'kafka-throughput: four services on Kafka vs vigil analyze in one process, same inputs',
  );
  console.log(machineLine());
  await checkQuietMachine(Number(process.env.BENCH_MAX_LOAD ?? 1.5));
  ensureBuilt();

  const inputs: Input[] = [
    ...Object.entries(CLIPS).map(([name, rel]) => ({ name, path: fixture(rel), sec: 0 })),
    { name: 'intel139', path: intelWithAudio(), sec: 0 },
  ];
  for (const input of inputs) input.sec = probeDuration(input.path);
  const mediaSec = inputs.reduce((a, i) => a + i.sec, 0);
  console.log(
    `inputs: ${inputs.map((i) => `${i.name} ${i.sec.toFixed(1)} s`).join(', ')} = ${mediaSec.toFixed(1)} s of media; ` +
      `${FPS} fps, models efficientat-mn04 + yolox-nano, cpu, 1 intra-op thread (the defaults)`,
  );

  const run = randomUUID().slice(0, 6);
  const broker = await benchBroker();
  const admin = kafkaAdmin(broker.brokers, `bench-admin-${run}`);
  await admin.connect();
  const deployment = new Deployment(broker.brokers, run);
  const commander = new Commander(broker.brokers, run);
  const observer = new Observer(broker.brokers, run, `tp-${run}`);
  const app = await analyzeService({ fps: FPS, inferenceThreads: 1, executionProvider: 'cpu' });
  try {
    const startupMs = await deployment.start(admin);
    await observer.start(admin);
    console.log(
      `kafka: broker ${broker.brokers.join(',')}${broker.pid ? ` (pid ${broker.pid})` : ''}, ` +
        `services ready and groups assigned in ${s(startupMs / 1000, 1)} (excluded); logs in .cache/bench-logs/`,
    );
    const cpu = new CpuWatch(() => ({
      'bench (embedded+observer)': process.pid,
      ...deployment.pids(),
      'kafka broker': broker.pid,
    }));

    // Warm-up of both: JIT, onnxruntime's first runs, page cache; then one Kafka stream end to end.
    const warmId = `tp-${run}-warm`;
    const warm = await app.service.analyze({ source: fixture(CLIPS.comp01), streamId: warmId });
    const warmIds = new Map([['warm', warm.events.map((e) => e.id).sort()]]);
    const warmInput = { name: 'warm', path: fixture(CLIPS.comp01), sec: 10 };
    await onKafka(
      commander,
      observer,
      warmIds,
      new Map([['warm', warmId]]),
      [warmInput],
      cpu,
      deployment,
      admin,
    );
    console.log(`warm-up done (${loadLine()})`);
    const detectMs = await detectorAloneMs();
    console.log(
      `reference: yolox-nano alone (BoxDetector on comp01's frames, this process) ${detectMs.toFixed(1)} ms per frame`,
    );

    const seqs: Phase[] = [];
    const concs: Phase[] = [];
    const kafkas: Phase[] = [];
    for (let r = 0; r < REPEATS; r++) {
      const a = await embeddedSequential(app.service, run, r, inputs, cpu);
      const b = await embeddedConcurrent(app.service, run, r, inputs, cpu);
      const expected = new Map([...a.streams].map(([k, v]) => [k, v.ids]));
      const streamIds = new Map(inputs.map((i) => [i.name, streamIdOf(run, r, i)]));
      const videoBytes = () =>
        broker.dataDir ? topicBytes(broker.dataDir, Topics.video.name) : Number.NaN;
      const videoBytesBefore = videoBytes();
      const c = await onKafka(
        commander,
        observer,
        expected,
        streamIds,
        inputs,
        cpu,
        deployment,
        admin,
      );
      const stored = videoBytes() - videoBytesBefore;
      if (Number.isFinite(stored)) {
        console.log(
          `  round ${r + 1}: the kafka run stored ${(stored / 1e6).toFixed(1)} MB on ${Topics.video.name} ` +
            `(${(stored / 1e3 / (mediaSec * FPS)).toFixed(0)} KB a frame)`,
        );
      }
      seqs.push(a);
      concs.push(b);
      kafkas.push(c);
      const mismatch = inputs.filter(
        (i) =>
          !same(a.streams.get(i.name)!.ids, b.streams.get(i.name)!.ids) ||
          !same(a.streams.get(i.name)!.ids, c.streams.get(i.name)!.ids),
      );
      console.log(
        `  round ${r + 1}: embedded sequential ${s(a.wallSec)} (${a.load}), embedded concurrent ${s(b.wallSec)} (${b.load}), ` +
          `kafka ${s(c.wallSec)} (${c.load}); events ${mismatch.length === 0 ? 'identical in all three' : `DIFFER for ${mismatch.map((i) => i.name).join(', ')}`}`,
      );
      for (const i of mismatch) {
        console.log(
          `    ${i.name}: sequential [${a.streams.get(i.name)!.ids.join(' ')}] concurrent [${b.streams.get(i.name)!.ids.join(' ')}] kafka [${c.streams.get(i.name)!.ids.join(' ')}]`,
        );
      }
      const lags = await stageLags(admin);
      if (Object.values(lags).some((l) => l > 0))
        console.log(`    lag left after the round: ${JSON.stringify(lags)}`);
    }

    const best = (phases: Phase[]) => phases.reduce((p, q) => (q.wallSec < p.wallSec ? q : p));
    const a = best(seqs);
    const b = best(concs);
    const c = best(kafkas);
    const speed = (p: Phase) => mediaSec / p.wallSec;

    console.log(`\nbest of ${REPEATS} round(s), ${mediaSec.toFixed(1)} s of media each:`);
    row(
      '(a) embedded, sequential',
      `${x(speed(a))} x`,
      `${s(a.wallSec)} wall, ${a.load} at its start`,
    );
    row(
      '(b) embedded, 5 concurrent analyze()',
      `${x(speed(b))} x`,
      `${s(b.wallSec)} wall, ${b.load} at its start`,
    );
    row(
      '(c) kafka, 4 services, 5 concurrent streams',
      `${x(speed(c))} x`,
      `${s(c.wallSec)} wall, ${c.load} at its start`,
    );
    row('ratio kafka / embedded sequential (c/a)', x(speed(c) / speed(a)), 'target >= 0.8');
    row('ratio kafka / embedded concurrent (c/b)', x(speed(c) / speed(b)));
    console.log(
      '  per stream on kafka, seconds after the first start command until ingest published its end, and until done:',
    );
    for (const input of inputs) {
      const v = c.streams.get(input.name)!;
      const id = streamIdOf(run, kafkas.indexOf(c), input);
      console.log(
        `    ${input.name.padEnd(10)} ${input.sec.toFixed(1).padStart(6)} s of media  ingest done ${s(v.ingestDoneSec!)}, done ${s(v.doneSec!)}  ` +
          (v.msPerFrameAfterIngest
            ? `(then ${v.framesAfterIngest} frames at ${v.msPerFrameAfterIngest.toFixed(1)} ms each) `
            : '') +
          `(partition ${partitionFor(id, 6)}, ${c.streams.get(input.name)!.ids.length} events)`,
      );
    }
    console.log(
      `  largest consumer lag during the kafka run (messages): ${JSON.stringify(c.maxLag)}`,
    );
    console.log('  per stream embedded concurrently, seconds until done:');
    for (const input of inputs)
      console.log(`    ${input.name.padEnd(10)} done at ${s(b.streams.get(input.name)!.doneSec!)}`);

    if (c.videoRate) {
      console.log(
        `  frames through inference: ${c.videoRate.during.toFixed(1)}/s while ingest decoded ` +
          `(first ${s(c.videoRate.ingestSec)}), ${c.videoRate.after.toFixed(1)}/s after; ` +
          `the detector alone does ${(1000 / detectMs).toFixed(1)}/s`,
      );
    }

    // What-if: the same Kafka run with ingest (and the ffmpeg it spawns) at nice 10, so the
    // decoders it runs flat out cannot take the cores from inference. Deployment only, no code.
    if (process.env.BENCH_NICE_INGEST !== '0') {
      const ingestPid = deployment.services.find((sv) => sv.app === 'ingest')!.pid!;
      // Linux nice is per thread: every thread of ingest; the ffmpeg it spawns later inherits.
      const renice = (value: number) => {
        for (const tid of readdirSync(`/proc/${ingestPid}/task`)) setPriority(Number(tid), value);
      };
      renice(10);
      try {
        const r = REPEATS;
        const streamIds = new Map(inputs.map((i) => [i.name, streamIdOf(run, r, i)]));
        // Event ids depend on the stream id: the reference is (a) on the same ids.
        const ref = await embeddedSequential(app.service, run, r, inputs, cpu);
        const refIds = new Map([...ref.streams].map(([k, v]) => [k, v.ids]));
        const n = await onKafka(
          commander,
          observer,
          refIds,
          streamIds,
          inputs,
          cpu,
          deployment,
          admin,
        );
        const missing = inputs.filter(
          (i) => !same(refIds.get(i.name)!, n.streams.get(i.name)!.ids),
        );
        console.log(
          `\nwhat-if, ingest at nice 10 (${n.load}): kafka ${s(n.wallSec)}, ${x(mediaSec / n.wallSec)} x, ` +
            `ratio to (a) ${x(mediaSec / n.wallSec / speed(a))}; frames through inference ` +
            `${n.videoRate!.during.toFixed(1)}/s while ingest decoded (first ${s(n.videoRate!.ingestSec)}), ` +
            `${n.videoRate!.after.toFixed(1)}/s after; events ${missing.length === 0 ? 'identical' : 'DIFFER'}`,
        );
      } finally {
        renice(0);
      }
    }

    const total = (p: Phase, labels: string[]) =>
      CpuWatch.between(p.cpuFrom, p.cpuTo)
        .filter((r) => labels.includes(r.label))
        .reduce((acc, r) => acc + r.sec, 0);
    const kafkaLabels = ['ingest', 'spectrogram', 'inference', 'fusion', 'kafka broker'];
    const cpuA = total(a, ['bench (embedded+observer)']);
    const cpuC = total(c, kafkaLabels);
    console.log('\nCPU (from /proc; 100 % = one core; ingest includes its ffmpeg children):');
    console.log(`  (a) embedded sequential, ${s(a.wallSec)}:`);
    printCpu(a.cpuFrom, a.cpuTo, '    ');
    console.log(`  (b) embedded concurrent, ${s(b.wallSec)}:`);
    printCpu(b.cpuFrom, b.cpuTo, '    ');
    console.log(`  (c) kafka, ${s(c.wallSec)}:`);
    printCpu(c.cpuFrom, c.cpuTo, '    ');
    row(
      'CPU s per media s, embedded sequential',
      x(cpuA / mediaSec, 3),
      'the bench process: pipeline + ffmpeg',
    );
    row('CPU s per media s, kafka', x(cpuC / mediaSec, 3), 'four services + ffmpeg + broker');
    row('CPU cost ratio kafka / embedded', x(cpuC / cpuA));
    console.log(`done (${loadLine()})`);
  } finally {
    await app.close().catch(() => undefined);
    await observer.close().catch(() => undefined);
    await commander.close().catch(() => undefined);
    await deployment.stop().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await broker.stop();
  }
}

runBench(main, { exit: true });
