/**
 * How much of a long file sits on the broker while the Kafka deployment works it off: with file
 * ingest paced by downstream lag (VIGIL_INGEST_MAX_LAG_SEC) it is seconds of the file, without
 * it the whole file as fast as ffmpeg decodes it.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/ingest-pacing.bench.ts
 *   (BENCH_FILE_SEC=n (600) of media, made by looping comp01 with ffmpeg into a temp file;
 *   BENCH_MAX_LAG=a,b… the bounds to run, 0 = unpaced (default 10); KAFKA_BROKERS=host:port uses
 *   that broker, else one of our own on BENCH_KAFKA_PORT=29092)
 *
 * Per bound: the four services as OS processes (one replica each, default settings otherwise),
 * one start command for the file, sampled every second until its `ended` status and every group
 * caught up: the backlog on the media topics, i.e. messages published and not yet consumed by
 * the stage that reads them (end offset − committed offset of spectrogram <- audio and
 * inference <- video), times their size (a 416x416 RGB frame, a 3200-sample float chunk plus
 * their envelopes). Printed: the largest backlog in MB and in seconds of media, against what the
 * whole file puts on the topics. Nothing is asserted.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Topics } from '@app/contracts';
import { FfmpegLocator } from '@app/media';
import { fixture } from '@app/testing';
import { machineLine, runBench } from './bench.support';
import {
  Commander,
  Deployment,
  Observer,
  STAGE_GROUPS,
  benchBroker,
  ensureBuilt,
  kafkaAdmin,
  now,
  sleep,
} from './kafka.support';

const FILE_SEC = Math.max(20, Number(process.env.BENCH_FILE_SEC ?? 600));
const BOUNDS = (process.env.BENCH_MAX_LAG ?? '10').split(',').map(Number);
const FPS = 5;
/** Bytes of one message on the topic (payload + protobuf envelope + key/headers, roughly). */
const MESSAGE_BYTES: Record<string, number> = {
  [Topics.video.name]: 416 * 416 * 3 + 200,
  [Topics.audio.name]: 3200 * 4 + 200,
};
const MEDIA_SEC_PER_MESSAGE: Record<string, number> = {
  [Topics.video.name]: 1 / FPS,
  [Topics.audio.name]: 0.1,
};
const MEDIA_GROUPS = STAGE_GROUPS.filter((g) => g.topic in MESSAGE_BYTES);

async function main(): Promise<void> {
  ensureBuilt();
  console.log(machineLine());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pacing-'));
  const file = join(dir, `long-${FILE_SEC}s.mp4`);
  const cycles = Math.ceil(FILE_SEC / 10);
  execFileSync(new FfmpegLocator().locate(), [
    '-v',
    'error',
    '-stream_loop',
    String(cycles - 1),
    '-i',
    fixture('clips/comp01_person_glassbreak.mp4'),
    '-t',
    String(FILE_SEC),
    '-c',
    'copy',
    file,
  ]);
  const wholeMb =
    Object.entries(MESSAGE_BYTES).reduce(
      (sum, [topic, bytes]) => sum + (FILE_SEC / MEDIA_SEC_PER_MESSAGE[topic]!) * bytes,
      0,
    ) / 1e6;
  console.log(
    `file: ${FILE_SEC} s (comp01 looped ${cycles}×), audio + video at ${FPS} fps: ` +
      `${wholeMb.toFixed(0)} MB on the media topics in all`,
  );
  const broker = await benchBroker();
  const admin = kafkaAdmin(broker.brokers, 'bench-pacing-admin');
  await admin.connect();
  try {
    for (const bound of BOUNDS) {
      const run = randomUUID().slice(0, 8);
      const deployment = new Deployment(broker.brokers, run, {
        VIGIL_INGEST_MAX_LAG_SEC: String(bound),
      });
      await deployment.start(admin);
      const observer = new Observer(broker.brokers, run, `pacing-${run}`);
      await observer.start(admin);
      const commander = new Commander(broker.brokers, run);
      const streamId = `pacing-${run}`;
      const t0 = now();
      await commander.start(streamId, file);
      let maxBytes = 0;
      let maxSec = 0;
      let lastPrint = now();
      const detectedSec = () =>
        Math.max(0, ...observer.detectionsOf(streamId).map((d) => d.value.endSec));
      for (;;) {
        deployment.checkAlive();
        let bytes = 0;
        let sec = 0;
        try {
          for (const { group, topic } of MEDIA_GROUPS) {
            const ends = await admin.fetchTopicOffsets(topic);
            const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
            let behind = 0;
            for (const end of ends) {
              const at = Number(
                committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1,
              );
              if (at >= 0) behind += Math.max(0, Number(end.high) - at);
            }
            bytes += behind * MESSAGE_BYTES[topic]!;
            sec = Math.max(sec, behind * MEDIA_SEC_PER_MESSAGE[topic]!);
          }
        } catch (error) {
          // A broker on a loaded machine answers "not the leader" now and then: sample again.
          console.log(`  sample failed (${(error as Error).message}); again in 1 s`);
          await sleep(1000);
          continue;
        }
        maxBytes = Math.max(maxBytes, bytes);
        maxSec = Math.max(maxSec, sec);
        if (now() - lastPrint > 30_000) {
          lastPrint = now();
          console.log(
            `  ${((now() - t0) / 1000).toFixed(0)} s: detections up to ${detectedSec().toFixed(0)} s ` +
              `of media; backlog ${(bytes / 1e6).toFixed(1)} MB (${sec.toFixed(1)} s), ` +
              `largest so far ${(maxBytes / 1e6).toFixed(1)} MB`,
          );
        }
        if (observer.ended(streamId) && bytes === 0) break;
        if (now() - t0 > 30 * 60_000) throw new Error('no end after 30 minutes');
        await sleep(1000);
      }
      const wallSec = (now() - t0) / 1000;
      console.log(
        `VIGIL_INGEST_MAX_LAG_SEC=${bound}${bound === 0 ? ' (unpaced)' : ''}: largest backlog on ` +
          `the media topics ${(maxBytes / 1e6).toFixed(1)} MB (${maxSec.toFixed(1)} s of media, ` +
          `${((100 * maxBytes) / 1e6 / wholeMb).toFixed(1)} % of the file); ` +
          `${FILE_SEC} s of media in ${wallSec.toFixed(0)} s (${(FILE_SEC / wallSec).toFixed(2)}× real time)`,
      );
      await observer.close();
      await commander.close();
      await deployment.stop();
    }
  } finally {
    await admin.disconnect();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main, { exit: true });
