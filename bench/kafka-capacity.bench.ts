/**
 * Capacity of the four-service Kafka deployment on this machine: how many live 5 fps video +
 * audio streams it keeps up with in real time, and which stage gives out first.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/kafka-capacity.bench.ts
 *   (BENCH_MAX_STREAMS=n (8), BENCH_PHASE_SEC=n (40) measured per step, BENCH_SETTLE_SEC=n (12)
 *   after adding a stream, BENCH_KEEP_GOING=1 to ramp on after the first step that falls behind;
 *   BENCH_WAIT_SEC=n waits for a quiet machine; KAFKA_BROKERS=host:port uses that broker, else one
 *   of our own on BENCH_KAFKA_PORT=29092)
 *
 * Cameras: each stream is its own TCP server in this process playing the 120 s incident feed
 * (comp01, comp02, comp04, comp05 × 3; 640x480 25 fps H.264 + AAC) in a loop at native rate
 * (`ffmpeg -re -stream_loop -1 -c copy -f mpegts`), started with live: true. One replica of each
 * service, default settings (6 partitions, 5 fps, cpu, 1 intra-op thread). Stream ids are chosen
 * to land on distinct partitions (the best case for inference's per-partition concurrency).
 *
 * Ramp: 1, 2, 3… streams. After each new stream, BENCH_SETTLE_SEC to absorb its start (ffmpeg's
 * 5 s probe comes out as a burst), then BENCH_PHASE_SEC measured:
 *  - consumer lag of every stage group (committed vs end offsets, every 2 s), and its trend;
 *  - detection latency (arrival on vigil.detections − capture of the set's end, capture = when
 *    the camera wrote its first byte + stream time) and its trend;
 *  - video frames that reached inference per stream and second (ingest drops frames of a live
 *    source it cannot publish in time: 5.0 means none dropped);
 *  - CPU per process (ingest with its ffmpeg children; main thread apart: a Node service whose
 *    main thread is near 100 % is saturated, whatever the machine has left).
 * A step keeps up when no group's lag grows by more than 2 messages per stream over the step,
 * the latency trend stays under 5 ms per second, p95 latency under 2 s and no more than 2 % of
 * frames are dropped. Capacity = the last step that keeps up. Nothing is asserted.
 */
import { randomUUID } from 'node:crypto';
import { partitionFor } from '@app/bus';
import { type DetectionSet } from '@app/contracts';
import { fixture } from '@app/testing';
import { checkQuietMachine, machineLine, probeDuration, s, runBench } from './bench.support';
import {
  type Arrival,
  CLIPS,
  Commander,
  CpuWatch,
  type CpuRow,
  Deployment,
  LiveSource,
  Observer,
  STAGE_GROUPS,
  benchBroker,
  ensureBuilt,
  kafkaAdmin,
  liveFeed,
  loadLine,
  ms,
  now,
  percentile,
  printCpu,
  sleep,
  slope,
  stageLags,
  until,
} from './kafka.support';

const MAX_STREAMS = Math.max(1, Number(process.env.BENCH_MAX_STREAMS ?? 8));
const PHASE_SEC = Math.max(10, Number(process.env.BENCH_PHASE_SEC ?? 40));
const SETTLE_SEC = Math.max(0, Number(process.env.BENCH_SETTLE_SEC ?? 12));
const KEEP_GOING = process.env.BENCH_KEEP_GOING === '1';
const FPS = 5;
const PARTITIONS = 6;

interface Camera {
  streamId: string;
  source: LiveSource;
}

interface StepResult {
  streams: number;
  keepsUp: boolean;
  reasons: string[];
  load: string;
  p50: number;
  p95: number;
  trendMsPerSec: number;
  lagGrowth: Record<string, number>;
  fps: number;
  rows: CpuRow[];
  cores: Record<string, number>;
}

/** Stream ids on distinct partitions while there are free ones. */
function streamIds(run: string, count: number): string[] {
  const ids: string[] = [];
  const used = new Set<number>();
  for (let i = 0; ids.length < count; i++) {
    const id = `cap-${run}-${i}`;
    const p = partitionFor(id, PARTITIONS);
    if (used.has(p) && used.size < PARTITIONS) continue;
    used.add(p);
    ids.push(id);
  }
  return ids;
}

async function main(): Promise<void> {
  console.log(
    'kafka-capacity: live 5 fps video + audio streams one replica of each service keeps up with',
  );
  console.log(machineLine());
  await checkQuietMachine(Number(process.env.BENCH_MAX_LOAD ?? 1.5));
  ensureBuilt();
  const feed = liveFeed(3);
  console.log(
    `feed: ${feed} (${probeDuration(feed).toFixed(1)} s, looped), 640x480 25 fps H.264 + AAC; ${FPS} fps to the detector`,
  );

  const run = randomUUID().slice(0, 6);
  const broker = await benchBroker();
  const admin = kafkaAdmin(broker.brokers, `bench-admin-${run}`);
  await admin.connect();
  const deployment = new Deployment(broker.brokers, run);
  const commander = new Commander(broker.brokers, run);
  const observer = new Observer(broker.brokers, run, `cap-${run}`);
  const cameras: Camera[] = [];
  const results: StepResult[] = [];
  try {
    const startupMs = await deployment.start(admin);
    await observer.start(admin);
    console.log(
      `kafka: broker ${broker.brokers.join(',')}, services ready and groups assigned in ${s(startupMs / 1000, 1)}`,
    );
    const warmId = `cap-${run}-warm`;
    await commander.start(warmId, fixture(CLIPS.comp01));
    await until(
      'the warm-up stream',
      () => !!observer.ended(warmId) && observer.finalDetections(warmId).length >= 2,
      180_000,
    );
    await sleep(2000);

    const cpu = new CpuWatch(() => ({
      'bench (cameras+observer)': process.pid,
      ...deployment.pids(),
      'kafka broker': broker.pid,
    }));
    const ids = streamIds(run, MAX_STREAMS);
    console.log(
      `\n${'streams'.padEnd(8)} ${'keeps up'.padEnd(9)} ${'latency p50/p95'.padEnd(18)} trend    frames/s  inference busiest thread  machine   load`,
    );
    for (let n = 1; n <= MAX_STREAMS; n++) {
      const camera: Camera = {
        streamId: ids[n - 1]!,
        source: await new LiveSource(feed, { loop: true }).listen(),
      };
      cameras.push(camera);
      await commander.start(camera.streamId, camera.source.url, true);
      await until(
        `camera ${n} to be connected`,
        () => camera.source.connections[0]?.firstByteAt !== undefined,
        60_000,
      );
      await sleep(SETTLE_SEC * 1000);
      deployment.checkAlive();

      const load = loadLine();
      const cpuFrom = cpu.sample();
      const t0 = now();
      const lagSamples: { at: number; lags: Record<string, number> }[] = [];
      while (now() - t0 < PHASE_SEC * 1000) {
        lagSamples.push({ at: now(), lags: await stageLags(admin) });
        await sleep(2000);
      }
      lagSamples.push({ at: now(), lags: await stageLags(admin) });
      const t1 = now();
      const cpuTo = cpu.sample();

      // Detections that arrived during the step, with their latency.
      const c0 = new Map(cameras.map((c) => [c.streamId, c.source.connections[0]!.firstByteAt!]));
      const inStep = observer.detections.filter(
        (d) => d.at >= t0 && d.at <= t1 && !d.value.final && c0.has(d.value.streamId),
      );
      const latency = (d: Arrival<DetectionSet>) =>
        d.at - (c0.get(d.value.streamId)! + d.value.endSec * 1000);
      const lats = inStep.map(latency);
      const video = inStep.filter((d) => d.value.modality === 'video');
      const trend = slope(video.map((d) => ({ x: (d.at - t0) / 1000, y: latency(d) })));
      // Frames per stream and second that reached inference, from the stream times covered.
      const perStream = cameras.map((c) => {
        const v = video.filter((d) => d.value.streamId === c.streamId);
        if (v.length < 2) return 0;
        const span = v[v.length - 1]!.value.endSec - v[0]!.value.endSec;
        return span > 0 ? (v.length - 1) / span : 0;
      });
      const fps = perStream.reduce((a, b) => a + b, 0) / perStream.length;
      const lagGrowth: Record<string, number> = {};
      for (const { label } of STAGE_GROUPS) {
        const pts = lagSamples.map((l) => ({ x: (l.at - t0) / 1000, y: l.lags[label] ?? 0 }));
        lagGrowth[label] = slope(pts) * ((t1 - t0) / 1000);
      }
      const rows = CpuWatch.between(cpuFrom, cpuTo);
      const cores = Object.fromEntries(rows.map((r) => [r.label, r.cores]));
      const inferenceRow = rows.find((r) => r.label === 'inference');
      const reasons: string[] = [];
      for (const [label, growth] of Object.entries(lagGrowth)) {
        if (growth > 2 * n) reasons.push(`lag of ${label} grew by ${growth.toFixed(0)}`);
      }
      if (trend > 5) reasons.push(`latency grows ${trend.toFixed(0)} ms/s`);
      if (percentile(lats, 95) > 2000) reasons.push(`p95 latency ${ms(percentile(lats, 95))}`);
      if (fps < FPS * 0.98)
        reasons.push(`only ${fps.toFixed(2)} frames/s per stream reach inference`);
      const result: StepResult = {
        streams: n,
        keepsUp: reasons.length === 0,
        reasons,
        load,
        p50: percentile(lats, 50),
        p95: percentile(lats, 95),
        trendMsPerSec: trend,
        lagGrowth,
        fps,
        cores,
        rows,
      };
      results.push(result);
      console.log(
        `${String(n).padEnd(8)} ${(result.keepsUp ? 'yes' : 'NO').padEnd(9)} ${`${ms(result.p50)} / ${ms(result.p95)}`.padEnd(18)} ` +
          `${`${trend.toFixed(1)} ms/s`.padEnd(9)}${fps.toFixed(2).padStart(6)}    ` +
          `${(100 * (inferenceRow?.busiest.cores ?? NaN)).toFixed(0).padStart(5)} % (${inferenceRow?.busiest.name ?? '?'})  ${(100 * (cores['machine (all)'] ?? NaN)).toFixed(0).padStart(4)} %   ${load}`,
      );
      console.log(
        `         lag growth over the step: ${STAGE_GROUPS.map((g) => `${g.label} ${lagGrowth[g.label]!.toFixed(0)}`).join(', ')}`,
      );
      console.log(
        `         lag at the end: ${JSON.stringify(lagSamples[lagSamples.length - 1]!.lags)}`,
      );
      printCpu(cpuFrom, cpuTo, '         ');
      if (!result.keepsUp) console.log(`         falls behind: ${reasons.join('; ')}`);
      if (!result.keepsUp && !KEEP_GOING) break;
    }

    const capacity = [...results]
      .reverse()
      .find((r) => r.keepsUp && results.slice(0, r.streams).every((q) => q.keepsUp));
    const failed = results.find((r) => !r.keepsUp);
    console.log(
      `\ncapacity: ${capacity ? capacity.streams : 0} live stream(s) kept up with in real time${failed ? `; ${failed.streams} fall behind` : ` (up to the ${MAX_STREAMS} tried)`}`,
    );
    if (failed) {
      const growing = Object.entries(failed.lagGrowth)
        .filter(([, g]) => g > 2 * failed.streams)
        .map(([k, g]) => `${k} (+${g.toFixed(0)})`);
      const machine = failed.rows.find((r) => r.label === 'machine (all)')!;
      console.log(
        `at ${failed.streams}: lag grows on ${growing.length > 0 ? growing.join(', ') : 'no group'}; ` +
          `${failed.fps.toFixed(2)} frames/s per stream reach inference; machine ${(100 * machine.cores).toFixed(0)} % of 200 %`,
      );
      for (const r of failed.rows.filter((x) => Number.isFinite(x.mainCores))) {
        console.log(
          `  ${r.label.padEnd(26)} process ${(100 * r.cores).toFixed(0).padStart(4)} %, busiest thread ${(100 * r.busiest.cores).toFixed(0).padStart(3)} % (${r.busiest.name})`,
        );
      }
    }
    console.log(`done (${loadLine()})`);
  } finally {
    for (const c of cameras) await commander.stop(c.streamId).catch(() => undefined);
    await sleep(1000);
    for (const c of cameras) await c.source.close().catch(() => undefined);
    await observer.close().catch(() => undefined);
    await commander.close().catch(() => undefined);
    await deployment.stop().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await broker.stop();
  }
}

runBench(main, { exit: true });
