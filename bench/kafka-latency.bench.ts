/**
 * Latency of the four-service Kafka deployment on one live-paced stream: from the moment a piece
 * of audio or a frame is "captured" to its detection set on vigil.detections and its incident on
 * vigil.events.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/kafka-latency.bench.ts
 *   (BENCH_LIVE_CYCLES=n: n × 40 s of feed, default 4; BENCH_HOPS=0: do not observe the media and
 *   feature topics; BENCH_WAIT_SEC=n waits for a quiet machine; KAFKA_BROKERS=host:port uses that
 *   broker, else one of our own on BENCH_KAFKA_PORT=29092)
 *
 * The camera: this process serves a feed (comp01 person + glass break, comp02 dog, comp04 quiet
 * night, comp05 smoke alarm in an empty room, 10 s each, repeated; one continuous H.264 + AAC
 * file) over TCP as MPEG-TS through `ffmpeg -re -c copy` (native rate, every packet flushed), and
 * the stream is started with source tcp://127.0.0.1:PORT, live: true. Ingest's ffmpeg connects
 * and decodes as data arrives.
 *
 * Capture time of stream second t = C0 + t, where C0 is when the camera wrote its first byte
 * (ffmpeg -re releases input second t at its start + t; stream time 0 is the first decoded
 * sample/frame). Approximations: C0 is a few ms after ffmpeg's own -re clock starts, so the
 * latencies are low by that much; a real camera adds its encoder and network delay on top.
 *
 *  - detection latency = arrival on vigil.detections − capture(endSec): a frame is ready when
 *    captured (endSec = its pts), an audio window when its last sample is (endSec; the 1 s window
 *    itself is the classifier's, reported apart as the window wait, peak − end);
 *  - event latency = arrival on vigil.events − capture(trigger evidence time), split exactly into
 *      window wait  (trigger window end − trigger time: the 1 s audio window must be complete),
 *      fusion wait  (rules that need the camera decide once its coverage reaches trigger + 5 s,
 *                    or once a person was seen twice; this is deliberate),
 *      processing   (arrival − capture of the detection set that let fusion decide).
 *    Which set let fusion decide is found by replaying the observed detection sets, in their
 *    partition order, through the same FusionEngine and rules (clock-free, deterministic).
 *  - with the media topics observed, the same for each hop: capture → vigil.media.* (ingest),
 *    → vigil.features.audio (spectrogram), → vigil.detections (inference).
 *
 * Target: p95 < 300 ms for detections and for events' processing latency. Nothing is asserted.
 */
import { randomUUID } from 'node:crypto';
import { type DetectionSet, type SecurityEvent } from '@app/contracts';
import { FusionEngine, loadRuleSet } from '@app/fusion';
import { ModelRepository } from '@app/models';
import { fixture, modelsDir } from '@app/testing';
import { checkQuietMachine, machineLine, probeDuration, row, s, runBench } from './bench.support';
import {
  type Arrival,
  type MediaMark,
  CLIPS,
  Commander,
  CpuWatch,
  Deployment,
  LiveSource,
  Observer,
  benchBroker,
  dist,
  ensureBuilt,
  kafkaAdmin,
  liveFeed,
  lowLatencyFfmpeg,
  loadLine,
  ms,
  now,
  percentile,
  printCpu,
  sleep,
  stageLags,
  until,
} from './kafka.support';

const CYCLES = Math.max(1, Number(process.env.BENCH_LIVE_CYCLES ?? 4));
const WITH_HOPS = process.env.BENCH_HOPS !== '0';
/** Detections of the first seconds wait behind ffmpeg's probing of the live input; shown apart. */
const SETTLE_SEC = 5;
const TARGET_MS = 300;
/** A second stream with ingest's ffmpeg run through lowLatencyFfmpeg() (BENCH_WHATIF=0: skip). */
const WHATIF = process.env.BENCH_WHATIF !== '0';
const WHATIF_CYCLES = Math.max(1, Number(process.env.BENCH_WHATIF_CYCLES ?? 2));
const AUDIO_MODEL = process.env.VIGIL_AUDIO_MODEL || 'efficientat-mn04';

interface Summary {
  video: number[];
  audio: number[];
  ingestVideo: number[];
  processing: number[];
  startedMs: number;
}

interface EventRow {
  event: Arrival<SecurityEvent>;
  triggerSec: number;
  triggerEndSec: number;
  decidedBy?: Arrival<DetectionSet>;
}

/** Replays the sets through the engine; maps each event id to the set whose ingest decided it. */
async function decidingSets(
  sets: Arrival<DetectionSet>[],
): Promise<Map<string, Arrival<DetectionSet>>> {
  const engine = new FusionEngine(await loadRuleSet(process.env.VIGIL_RULES_FILE));
  const decided = new Map<string, Arrival<DetectionSet>>();
  for (const set of [...sets].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
    for (const event of engine.ingest(set.value))
      if (!decided.has(event.id)) decided.set(event.id, set);
  }
  return decided;
}

async function main(): Promise<void> {
  console.log(
    'kafka-latency: capture → vigil.detections / vigil.events on one live-paced stream, four services on Kafka',
  );
  console.log(machineLine());
  await checkQuietMachine(Number(process.env.BENCH_MAX_LOAD ?? 1.5));
  ensureBuilt();
  const feed = liveFeed(CYCLES);
  const feedSec = probeDuration(feed);
  console.log(
    `feed: ${feed} (${feedSec.toFixed(1)} s: comp01, comp02, comp04, comp05 × ${CYCLES}), served by ffmpeg -re as MPEG-TS over TCP`,
  );

  const run = randomUUID().slice(0, 6);
  const broker = await benchBroker();
  const admin = kafkaAdmin(broker.brokers, `bench-admin-${run}`);
  await admin.connect();
  const deployment = new Deployment(broker.brokers, run);
  const commander = new Commander(broker.brokers, run);
  const observer = new Observer(broker.brokers, run, `lat-${run}`, WITH_HOPS);
  const source = new LiveSource(feed, { maxConnections: 1 });
  try {
    const startupMs = await deployment.start(admin);
    await observer.start(admin);
    await source.listen();
    console.log(
      `kafka: broker ${broker.brokers.join(',')}, services ready and groups assigned in ${s(startupMs / 1000, 1)}; ` +
        `observer ${WITH_HOPS ? 'on detections, events, status and the media and feature topics' : 'on detections, events and status'}`,
    );

    // Warm-up: one file stream end to end (JIT, onnxruntime's first runs).
    const warmId = `lat-${run}-warm`;
    await commander.start(warmId, fixture(CLIPS.comp01));
    await until(
      'the warm-up stream',
      () => !!observer.ended(warmId) && observer.finalDetections(warmId).length >= 2,
      180_000,
    );
    await sleep(2000);
    console.log(`warm-up done (${loadLine()})`);

    /** One live stream from the camera's first byte to its end; prints the report, returns the headline numbers. */
    const liveRun = async (
      streamId: string,
      source: LiveSource,
      feedSec: number,
    ): Promise<Summary> => {
      const cpu = new CpuWatch(() => ({
        'bench (camera+observer)': process.pid,
        ...deployment.pids(),
        'kafka broker': broker.pid,
      }));
      const load = loadLine();
      const cpuFrom = cpu.sample();
      const commandAt = now();
      await commander.start(streamId, source.url, true);
      await until(
        'the camera to be connected',
        () => source.connections[0]?.firstByteAt !== undefined,
        60_000,
      );
      const lags: Record<string, number>[] = [];
      const lagTimer = setInterval(
        () =>
          void stageLags(admin).then(
            (l) => lags.push(l),
            () => undefined,
          ),
        2000,
      );
      await until(
        'the feed to end',
        () => source.connections[0]?.endedAt !== undefined,
        (feedSec + 120) * 1000,
        200,
      );
      const endSec = feedSec - 1;
      await until(
        'the last detections',
        () => {
          const d = observer.detectionsOf(streamId);
          return (
            d.some((a) => a.value.modality === 'video' && a.value.endSec >= endSec) &&
            d.some((a) => a.value.modality === 'audio' && a.value.endSec >= endSec)
          );
        },
        30_000,
      ).catch((e: Error) => console.log(`  (${e.message})`));
      const cpuTo = cpu.sample();
      clearInterval(lagTimer);
      await commander.stop(streamId);
      await until('the stream to end', () => !!observer.ended(streamId), 60_000);
      await sleep(2000);
      deployment.checkAlive();

      const C0 = source.connections[0]!.firstByteAt!;
      const capture = (sec: number) => C0 + sec * 1000;
      const sets = observer.detectionsOf(streamId);
      const data = sets.filter((d) => !d.value.final);
      const video = data.filter((d) => d.value.modality === 'video');
      const audio = data.filter((d) => d.value.modality === 'audio');
      const lat = (a: Arrival<DetectionSet>) => a.at - capture(a.value.endSec);
      const settled = (a: Arrival<DetectionSet>) => a.value.endSec >= SETTLE_SEC;
      const started = observer.statuses.find(
        (st) => st.value.streamId === streamId && st.value.state === 'started',
      );

      console.log(
        `\none live stream, ${feedSec.toFixed(1)} s at native rate (${load} at its start):`,
      );
      row('command → camera connected', ms(C0 - commandAt), 'ingest spawns ffmpeg, which connects');
      row(
        'capture 0 → "started" status',
        started ? ms(started.at - C0) : 'n/a',
        'ffmpeg probed the live input',
      );
      row('capture 0 → first video detection', video[0] ? ms(video[0].at - C0) : 'n/a');
      row(
        'capture 0 → first audio detection',
        audio[0] ? ms(audio[0].at - C0) : 'n/a',
        'includes the first 1 s window',
      );
      const dropped =
        video.length > 0
          ? Math.round(video[video.length - 1]!.value.endSec * 5) + 1 - video.length
          : 0;
      console.log(
        `  ${video.length} video sets (${dropped} frames dropped by ingest), ${audio.length} audio sets, connections to the camera: ${source.connections.length}`,
      );

      console.log(
        `\ndetection latency, arrival on vigil.detections − capture of the set's end (stream s >= ${SETTLE_SEC}):`,
      );
      const vLat = video.filter(settled).map(lat);
      const aLat = audio.filter(settled).map(lat);
      console.log(`  video: ${dist(vLat)}`);
      console.log(`  audio: ${dist(aLat)}`);
      console.log(`  all:   ${dist([...vLat, ...aLat])}`);
      console.log(
        `  first ${SETTLE_SEC} s (behind the probe): video ${dist(video.filter((a) => !settled(a)).map(lat))}`,
      );
      console.log(
        `                           audio ${dist(audio.filter((a) => !settled(a)).map(lat))}`,
      );
      const aPeak = audio.filter(settled).map((a) => a.at - capture(a.value.atSec));
      console.log(
        `  audio from the window's peak (atSec; includes up to 1 s of window): ${dist(aPeak)}`,
      );
      const minLat = Math.min(...vLat, ...aLat);
      console.log(`  smallest latency seen ${ms(minLat)} (a negative one would mean C0 is late)`);
      // Latency trend: a pipeline that keeps up has none.
      const thirds = (xs: Arrival<DetectionSet>[]) => {
        const n = Math.floor(xs.length / 3);
        return [xs.slice(0, n), xs.slice(xs.length - n)].map((part) =>
          percentile(part.map(lat), 50),
        );
      };
      const [vFirst, vLast] = thirds(video.filter(settled));
      console.log(
        `  video p50 first third ${ms(vFirst!)} vs last third ${ms(vLast!)} (growth means falling behind)`,
      );

      let hopIngestVideo: number[] = [];
      if (WITH_HOPS) {
        console.log('\nper hop (p50 / p95, stream s >= ' + SETTLE_SEC + '):');
        const media = observer.media.filter(
          (m) => m.value.streamId === streamId && !m.value.final && m.value.endSec >= SETTLE_SEC,
        );
        const frames = new Map(
          media.filter((m) => m.value.modality === 'video').map((m) => [m.value.seq, m]),
        );
        const chunks = media.filter((m) => m.value.modality === 'audio');
        const windows = new Map(
          media.filter((m) => m.value.modality === 'features').map((m) => [m.value.seq, m]),
        );
        const pq = (xs: number[]) => `${ms(percentile(xs, 50))} / ${ms(percentile(xs, 95))}`;
        const ingestV = [...frames.values()].map((f) => f.at - capture(f.value.endSec));
        hopIngestVideo = ingestV;
        const ingestA = chunks.map((c) => c.at - capture(c.value.endSec));
        const inferV = video.filter(settled).flatMap((d) => {
          const f = frames.get(d.value.seq);
          return f ? [d.at - f.at] : [];
        });
        // A window's last log-mel frame is centred: it reads nFft/2 samples past the window's end,
        // so the chunk that completes it is the first reaching that far (up to 0.1 s later).
        const recipe = new ModelRepository(modelsDir()).manifest(AUDIO_MODEL).features!.recipe;
        const lookahead = recipe.nFft / 2 / recipe.sampleRate;
        const completing = (w: Arrival<MediaMark>) =>
          chunks.find((ch) => ch.value.endSec >= w.value.endSec + lookahead - 1e-6);
        const chunkWait = [...windows.values()].flatMap((w) => {
          const c = completing(w);
          return c ? [(c.value.endSec - w.value.endSec) * 1000] : [];
        });
        const spectro = [...windows.values()].flatMap((w) => {
          const c = completing(w);
          return c ? [w.at - c.at] : [];
        });
        const inferA = audio.filter(settled).flatMap((d) => {
          const w = windows.get(d.value.seq);
          return w ? [d.at - w.at] : [];
        });
        row('  ingest: capture → vigil.media.video', pq(ingestV), `n=${ingestV.length}`);
        row(
          '  ingest: capture → vigil.media.audio',
          pq(ingestA),
          `n=${ingestA.length} (0.1 s chunks, from the chunk end)`,
        );
        row(
          '  (window waits for its last chunk)',
          pq(chunkWait),
          `capture time; 0.1 s chunks, last frame reads ${ms(lookahead * 1000)} past the end`,
        );
        row('  spectrogram: chunk → features', pq(spectro), `n=${spectro.length}`);
        row('  inference: frame → detections', pq(inferV), `n=${inferV.length}`);
        row('  inference: window → detections', pq(inferA), `n=${inferA.length}`);
      }

      // Events
      const decided = await decidingSets(sets);
      const events = observer.eventsOf(streamId);
      const rows: EventRow[] = events.map((event) => {
        const trigger = event.value.evidence[0]!;
        const triggerSet = sets.find(
          (d) =>
            d.value.modality === trigger.modality &&
            Math.abs(d.value.atSec - trigger.atSec) < 0.006 &&
            d.value.detections.some((x) => x.cls === trigger.cls),
        );
        return {
          event,
          triggerSec: trigger.atSec,
          triggerEndSec: triggerSet?.value.endSec ?? trigger.atSec,
          decidedBy: decided.get(event.value.id),
        };
      });
      const unmatched = rows.filter((r) => !r.decidedBy).length;
      const replayIds = [...decided.keys()].sort();
      const gotIds = [...new Set(events.map((e) => e.value.id))].sort();
      console.log(
        `\nevents: ${events.length} on vigil.events; replaying the observed detection sets gives ${replayIds.length}` +
          `${replayIds.join() === gotIds.join() ? ' (the same ids)' : ` (DIFFERENT ids: got ${gotIds.join(' ')}, replay ${replayIds.join(' ')})`}`,
      );
      console.log(
        '  rule                trigger      at s  window wait  fusion wait  processing  total (arrival − capture of the trigger)',
      );
      const total: number[] = [];
      const processing: number[] = [];
      const fusionWait: number[] = [];
      let early = 0;
      for (const r of rows) {
        const windowWait = (r.triggerEndSec - r.triggerSec) * 1000;
        const decidingEnd = r.decidedBy
          ? r.decidedBy.value.final
            ? r.triggerEndSec
            : r.decidedBy.value.endSec
          : NaN;
        const wait = Math.max(0, (decidingEnd - r.triggerEndSec) * 1000);
        const proc = r.event.at - capture(Math.max(decidingEnd, r.triggerEndSec));
        const tot = r.event.at - capture(r.triggerSec);
        // Decided while ingest still caught up with its 5 s probe: shown, not counted.
        const behindProbe = decidingEnd < SETTLE_SEC;
        if (behindProbe) early++;
        else {
          total.push(tot);
          processing.push(proc);
          fusionWait.push(wait);
        }
        console.log(
          (behindProbe ? '* ' : '') +
            `  ${r.event.value.rule.padEnd(18)}  ${r.event.value.trigger.padEnd(11)} ${r.triggerSec.toFixed(2).padStart(6)}  ${ms(windowWait).padStart(11)}  ${ms(wait).padStart(11)}  ${ms(proc).padStart(10)}  ${ms(tot).padStart(9)}` +
            `${r.decidedBy ? `  (decided by the ${r.decidedBy.value.final ? 'final' : r.decidedBy.value.modality} set at ${r.decidedBy.value.endSec.toFixed(2)} s)` : '  (deciding set not found)'}`,
        );
      }
      if (unmatched > 0) console.log(`  ${unmatched} event(s) whose deciding set was not found`);
      if (early > 0) {
        console.log(
          `  * decided before stream second ${SETTLE_SEC}, behind the probe: not counted below`,
        );
      }
      console.log(`  processing (excl. window and fusion waits): ${dist(processing)}`);
      console.log(`  fusion wait (deliberate):                   ${dist(fusionWait)}`);
      console.log(`  total from the trigger's capture:           ${dist(total)}`);

      console.log(`\nagainst the target (p95 < ${TARGET_MS} ms, excluding fusion waits):`);
      const all = [...vLat, ...aLat];
      row(
        'detections p95',
        ms(percentile(all, 95)),
        percentile(all, 95) < TARGET_MS ? 'meets' : 'MISSES',
      );
      row(
        'events p95 (processing)',
        ms(percentile(processing, 95)),
        percentile(processing, 95) < TARGET_MS ? 'meets' : 'MISSES',
      );

      const maxLag: Record<string, number> = {};
      for (const l of lags)
        for (const [k, v] of Object.entries(l)) maxLag[k] = Math.max(maxLag[k] ?? 0, v);
      console.log(
        `\nconsumer lag during the stream (max of ${lags.length} samples, every 2 s): ${JSON.stringify(maxLag)}`,
      );
      console.log(
        `CPU during the stream (${s((cpuTo.at - cpuFrom.at) / 1000, 1)}; 100 % = one core; the camera's ffmpeg counts under bench):`,
      );
      printCpu(cpuFrom, cpuTo, '  ');
      return {
        video: vLat,
        audio: aLat,
        ingestVideo: hopIngestVideo,
        processing,
        startedMs: started ? started.at - C0 : NaN,
      };
    };

    const base = await liveRun(`lat-${run}`, source, feedSec);
    let tuned: Summary | undefined;
    if (WHATIF) {
      const wrapper = lowLatencyFfmpeg();
      console.log(
        `\n=== what-if: ingest's ffmpeg with low-latency options for live inputs (FFMPEG_PATH=${wrapper}: ` +
          `-probesize 32768 -analyzeduration 500000 -threads 1 before -i, -threads 1 on the video output, ` +
          `fps round=up); deployment only, no code changed ===`,
      );
      await deployment.restart('ingest', admin, { FFMPEG_PATH: wrapper });
      const whatIfFeed = liveFeed(WHATIF_CYCLES);
      const whatIfSource = await new LiveSource(whatIfFeed, { maxConnections: 1 }).listen();
      try {
        tuned = await liveRun(`lat-${run}-lowlat`, whatIfSource, probeDuration(whatIfFeed));
      } finally {
        await whatIfSource.close();
      }
    }
    console.log('\nsummary (stream s >= ' + SETTLE_SEC + '; p50 / p95):');
    const pq = (xs: number[]) => `${ms(percentile(xs, 50))} / ${ms(percentile(xs, 95))}`;
    for (const [label, r] of [
      ['deployed', base],
      ['low-latency ffmpeg', tuned],
    ] as const) {
      if (!r) continue;
      row(`${label}: video`, pq(r.video), `ingest hop ${pq(r.ingestVideo)}`);
      row(`${label}: audio`, pq(r.audio));
      row(
        `${label}: events (processing)`,
        pq(r.processing),
        `capture 0 → started ${ms(r.startedMs)}`,
      );
      const p95 = percentile([...r.video, ...r.audio], 95);
      row(
        `${label}: detections p95 (target ${TARGET_MS})`,
        ms(p95),
        p95 < TARGET_MS ? 'meets' : 'MISSES',
      );
    }
    console.log(`done (${loadLine()})`);
  } finally {
    await source.close().catch(() => undefined);
    await observer.close().catch(() => undefined);
    await commander.close().catch(() => undefined);
    await deployment.stop().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await broker.stop();
  }
}

runBench(main, { exit: true });
