/**
 * `vigil edge` through a cut uplink: a recording played as a live camera on an edge node whose
 * only route to a real Kafka broker is a TCP relay, cut for BENCH_EDGE_CUT_SEC (300) after
 * BENCH_EDGE_WARM_SEC (30) of traffic, then restored for BENCH_EDGE_AFTER_SEC (30) before the
 * stream stops and the spool drains. Prints detection sets produced, delivered (distinct ids),
 * lost and resent; the spool's peak and its bound; and the upstream bytes per stream-second of
 * the edge (detections, status and its incidents' evidence, rendered on the edge) against what
 * the central-only deployment would send for the same stream: its ingest
 * publishes every audio chunk and frame (plus the status) to Kafka. Both are counted the same
 * way, per record (payload, key and headers, as the bus encodes them), from the very messages of
 * this run: the edge's local bus carries the chunks and frames the central ingest would have
 * published. The bytes that crossed the relay (Kafka protocol, reconnects and all) are printed
 * beside them.
 *
 *   npm run bench:edge
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Headers, KafkaBus } from '@app/bus';
import { type Topic, Topics, codecFor } from '@app/contracts';
import { EDGE_SEQ_HEADER } from '@app/pipeline';
import { loadEdgeConfig } from '@app/service';
import { fixture, modelsDir } from '@app/testing';
import { privateKafka } from '@app/testing/kafka';
import { TcpProxy, freePort } from '@app/testing/tcp-proxy';
import { startEdge } from '../apps/vigil/src/edge/edge.command';
import { machineLine, row, runBench } from './bench.support';

const STREAM = 'bench-edge-cam';
const CLIP = process.env.BENCH_EDGE_CLIP ?? 'clips/comp01_person_glassbreak.mp4';
const WARM_SEC = Number(process.env.BENCH_EDGE_WARM_SEC ?? 30);
const CUT_SEC = Number(process.env.BENCH_EDGE_CUT_SEC ?? 300);
const AFTER_SEC = Number(process.env.BENCH_EDGE_AFTER_SEC ?? 30);
const SPOOL_MAX_BYTES = 256 * 1024 * 1024;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bytes of a record as a producer hands it to Kafka: value, key and headers. */
function recordBytes(topic: Topic<unknown>, key: string, value: unknown, headers: Headers): number {
  let bytes = codecFor(topic).encode(value).length + Buffer.byteLength(key);
  for (const [name, text] of Object.entries(headers))
    bytes += Buffer.byteLength(name) + Buffer.byteLength(text);
  return bytes;
}

async function main(): Promise<void> {
  console.log(`edge uplink bench — ${machineLine()}`);
  const edgePort = await freePort();
  const proxy = new TcpProxy('127.0.0.1', edgePort);
  const proxyPort = await proxy.listen();
  const broker = privateKafka({
    KAFKA_EDGE_PORT: String(edgePort),
    KAFKA_EDGE_ADVERTISED_PORT: String(proxyPort),
  });
  const dir = mkdtempSync(join(tmpdir(), 'vigil-edge-bench-'));
  const central = new KafkaBus({ brokers: broker.brokers.split(','), clientId: 'bench-central' });
  let edge: Awaited<ReturnType<typeof startEdge>> | undefined;
  try {
    await central.connect();
    const arrivedIds = new Set<string>();
    let arrivedMessages = 0;
    const uplinked = [Topics.detections, Topics.streamStatus, Topics.edgeEvidence];
    for (const topic of uplinked as Topic<unknown>[]) {
      await central.subscribe(topic, `bench-central-${topic.name}`, async (m) => {
        if (m.key !== STREAM) return;
        arrivedMessages += 1;
        arrivedIds.add(`${m.topic}/${m.headers[EDGE_SEQ_HEADER]}`);
      });
    }
    const configFile = join(dir, 'vigil.yaml');
    writeFileSync(
      configFile,
      JSON.stringify({
        edge: {
          id: 'bench-site',
          spool: { dir: 'spool', maxBytes: SPOOL_MAX_BYTES, maxAgeSec: 3600 },
          streams: [{ id: STREAM, source: fixture(CLIP), live: true, loop: true }],
        },
      }),
    );
    const config = loadEdgeConfig(configFile, {
      ...process.env,
      KAFKA_BROKERS: `127.0.0.1:${proxyPort}`,
      VIGIL_MODELS_DIR: process.env.VIGIL_MODELS_DIR ?? modelsDir(),
      VIGIL_HEALTH_PORT: '0',
    });
    edge = await startEdge(config, false, {
      uplink: { backoff: { initialMs: 500, maxMs: 5_000 } },
    });
    const { runtime } = edge;
    // What the edge sends (detections, status) and what the central-only ingest would have
    // sent (audio chunks, frames, status), from the same run's messages.
    const bytes = { edge: 0, central: 0, evidence: 0 };
    const produced = { detections: 0, status: 0, evidence: 0, detectionsDuringCut: 0 };
    let streamSec = 0;
    let cut = false;
    const tap = <T>(topic: Topic<T>, onMessage: (value: T, size: number) => void) =>
      runtime.pipeline.bus.subscribe(topic, `bench-tap-${topic.name}`, async (m) => {
        if (m.key === STREAM)
          onMessage(m.value, recordBytes(topic as Topic<unknown>, m.key, m.value, m.headers));
      });
    await tap(Topics.detections, (_, size) => {
      produced.detections += 1;
      if (cut) produced.detectionsDuringCut += 1;
      bytes.edge += size;
    });
    await tap(Topics.streamStatus, (_, size) => {
      produced.status += 1;
      bytes.edge += size;
      bytes.central += size;
    });
    // Evidence goes upstream from the edge; central-only fusion cuts it from media it has anyway.
    await tap(Topics.edgeEvidence, (_, size) => {
      produced.evidence += 1;
      bytes.edge += size;
      bytes.evidence += size;
    });
    await tap(Topics.audio, (chunk, size) => {
      bytes.central += size;
      streamSec = Math.max(streamSec, chunk.startSec + chunk.samples.length / chunk.sampleRate);
    });
    await tap(Topics.video, (_, size) => (bytes.central += size));
    runtime.startStreams();

    let spoolPeak = 0;
    const sampler = setInterval(() => (spoolPeak = Math.max(spoolPeak, runtime.spool.bytes)), 250);
    await sleep(WARM_SEC * 1000);
    console.log(`uplink cut for ${CUT_SEC} s …`);
    cut = true;
    proxy.cut();
    await sleep(CUT_SEC * 1000);
    const pendingAtRestore = runtime.spool.pending;
    cut = false;
    proxy.restore();
    const restoredAt = performance.now();
    // Caught up: the backlog sent, only what the live stream adds is in flight.
    while (runtime.spool.pending > 2 && performance.now() - restoredAt < AFTER_SEC * 1000) {
      await sleep(100);
    }
    const caughtUpSec = (performance.now() - restoredAt) / 1000;
    await sleep(Math.max(0, AFTER_SEC * 1000 - (performance.now() - restoredAt)));
    await runtime.pipeline.streams.stop(STREAM);
    await runtime.pipeline.bus.idle();
    while (runtime.spool.pending > 0) await sleep(200);
    const expected = produced.detections + produced.status + produced.evidence;
    const deadline = Date.now() + 60_000;
    while (arrivedIds.size < expected && Date.now() < deadline) await sleep(200);
    clearInterval(sampler);
    const metrics = await runtime.metrics.scrape();
    const dropped = [...metrics.body.matchAll(/^vigil_edge_spool_dropped_total\{[^}]*\} (\d+)/gm)]
      .map((m) => Number(m[1]))
      .reduce((a, b) => a + b, 0);

    const delivered = arrivedIds.size;
    const edgePerSec = bytes.edge / streamSec;
    const centralPerSec = bytes.central / streamSec;
    console.log('');
    row(
      'stream',
      `${streamSec.toFixed(1)} s live (${CLIP}, looped)`,
      `cut ${CUT_SEC} s after ${WARM_SEC} s`,
    );
    row(
      'detection sets produced',
      String(produced.detections),
      `${produced.detectionsDuringCut} during the cut`,
    );
    row('status messages produced', String(produced.status));
    row(
      'evidence messages produced',
      String(produced.evidence),
      `${(bytes.evidence / Math.max(1, produced.evidence) / 1024).toFixed(1)} KiB each (snapshot + spectrogram + WAV)`,
    );
    row(
      'delivered (distinct ids)',
      `${delivered} of ${expected}`,
      `${arrivedMessages - delivered} resent copies`,
    );
    row('lost', String(expected - delivered), `spool drops counted: ${dropped}`);
    row(
      'spool peak',
      `${(spoolPeak / 1024).toFixed(1)} KiB`,
      `bound ${SPOOL_MAX_BYTES / 1024 / 1024} MiB; ${pendingAtRestore} records waiting at restore`,
    );
    row(
      'caught up',
      `${caughtUpSec.toFixed(1)} s after restore`,
      `${pendingAtRestore} records sent`,
    );
    row(
      'upstream, edge',
      `${edgePerSec.toFixed(1)} B per stream-second`,
      `detections + status + evidence, per record; evidence ${(bytes.evidence / streamSec).toFixed(1)} B of it`,
    );
    row(
      'upstream, central-only',
      `${centralPerSec.toFixed(0)} B per stream-second`,
      'audio chunks + frames + status, per record',
    );
    row('ratio central-only / edge', `${(centralPerSec / edgePerSec).toFixed(0)}×`);
    const withoutEvidence = (bytes.edge - bytes.evidence) / streamSec;
    row(
      'ratio without the evidence',
      `${(centralPerSec / withoutEvidence).toFixed(0)}×`,
      'detections + status only, as before edges sent evidence',
    );
    row(
      'relay bytes, edge → broker',
      `${(proxy.bytesUp / streamSec).toFixed(1)} B per stream-second`,
      'on the wire: Kafka protocol, topic setup, metadata, reconnects',
    );
    if (expected !== delivered) throw new Error(`${expected - delivered} message(s) lost`);
  } finally {
    await edge?.close();
    await central.close();
    await proxy.close();
    broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main, { exit: true });
