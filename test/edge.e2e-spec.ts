import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createHash } from 'node:crypto';
import { type Headers, KafkaBus, MemoryBus } from '@app/bus';
import {
  type DetectionSet,
  type EdgeEvidence,
  type SecurityEvent,
  type StreamStatus,
  Topics,
  codecFor,
} from '@app/contracts';
import { loadRuleSet } from '@app/fusion';
import { EDGE_SEQ_HEADER, EdgeCopyFilter, FusionStage } from '@app/pipeline';
import { IncidentDesk, loadApiConfig, loadEdgeConfig } from '@app/service';
import { fixture, modelsDir } from '@app/testing';
import { privateKafka } from '@app/testing/kafka';
import { TcpProxy, freePort } from '@app/testing/tcp-proxy';
import { type RunningEdge, startEdge } from '../apps/vigil/src/edge/edge.command';

jest.setTimeout(420_000);

const STREAM = 'edge-cam';
const CLIP = 'clips/comp01_person_glassbreak.mp4';

interface Produced {
  set: DetectionSet;
  headers: Headers;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const setId = (set: DetectionSet) => `${set.modality}:${set.seq}@${set.atSec.toFixed(3)}`;
const eventId = (e: SecurityEvent) => `${e.id}/v${e.version}/${e.state}`;

/**
 * An edge node on one side of a real TCP link, a real Kafka broker on the other. The broker's
 * EDGE listener tells its clients to come back through the proxy, so every byte the edge sends
 * crosses the proxy, while the "central" side (a consumer, fusion) talks to the broker directly.
 */
describe('vigil edge across a cut uplink', () => {
  let broker: ReturnType<typeof privateKafka> | undefined;
  let proxy: TcpProxy;
  let dir: string;
  let edge: RunningEdge | undefined;
  let central: KafkaBus;
  let healthPort: number;
  const produced: Produced[] = [];
  const arrived: { set: DetectionSet; headers: Headers }[] = [];
  const statuses: StreamStatus[] = [];
  const centralEvents: SecurityEvent[] = [];
  let centralFusion: FusionStage;
  let desk: IncidentDesk | undefined;
  /** The evidence the edge rendered, by version id, and whether the uplink was cut meanwhile. */
  const edgeEvidence = new Map<string, { evidence: EdgeEvidence; duringCut: boolean }>();
  let cutNow = false;
  let spoolPeak = 0;
  let producedDuringCut = 0;

  beforeAll(async () => {
    const edgePort = await freePort();
    proxy = new TcpProxy('127.0.0.1', edgePort);
    const proxyPort = await proxy.listen();
    broker = privateKafka({
      KAFKA_EDGE_PORT: String(edgePort),
      KAFKA_EDGE_ADVERTISED_PORT: String(proxyPort),
    });
    dir = mkdtempSync(join(tmpdir(), 'vigil-edge-'));
    central = new KafkaBus({ brokers: broker.brokers.split(','), clientId: 'central-test' });
    await central.connect();
    // What the fusion service runs around its stage: evidence (the edge's, here), history.
    desk = await IncidentDesk.open(
      central,
      loadApiConfig(undefined, { HOME: dir, VIGIL_DATA_DIR: join(dir, 'central') }),
      'ffmpeg',
    );
    await desk.start();
    // As the fusion service runs it: streams without detections are stalled, then ended; the
    // cut below is longer than endedSec, and an edge's stream must not be ended by it.
    centralFusion = new FusionStage(central, await loadRuleSet(), {
      idle: { stalledSec: 5, endedSec: 10, edgeEndedSec: 3600 },
    });
    await centralFusion.start();
    await central.subscribe(Topics.detections, 'test-central-detections', async (m) => {
      if (m.key === STREAM) arrived.push({ set: m.value, headers: m.headers });
    });
    await central.subscribe(Topics.streamStatus, 'test-central-status', async (m) => {
      if (m.key === STREAM) statuses.push(m.value);
    });
    await central.subscribe(Topics.events, 'test-central-events', async (m) => {
      if (m.key === STREAM) centralEvents.push(m.value);
    });

    const configFile = join(dir, 'vigil.yaml');
    writeFileSync(
      configFile,
      JSON.stringify({
        edge: {
          id: 'test-site',
          spool: { dir: 'spool', maxBytes: 64 * 1024 * 1024, maxAgeSec: 3600 },
          // A recording played as a camera: real-time pace, again and again.
          streams: [
            { id: STREAM, source: fixture(CLIP), live: true, loop: true, labels: { site: 'test' } },
          ],
        },
      }),
    );
    healthPort = await freePort();
    const config = loadEdgeConfig(configFile, {
      HOME: process.env.HOME ?? dir,
      KAFKA_BROKERS: `127.0.0.1:${proxyPort}`,
      VIGIL_MODELS_DIR: modelsDir(),
      VIGIL_HEALTH_PORT: String(healthPort),
    });
    edge = await startEdge(config, false, {
      uplink: { backoff: { initialMs: 200, maxMs: 2_000 } },
    });
    await edge.runtime.pipeline.bus.subscribe(Topics.detections, 'test-produced', async (m) => {
      if (m.key === STREAM) produced.push({ set: m.value, headers: m.headers });
    });
    await edge.runtime.pipeline.bus.subscribe(Topics.edgeEvidence, 'test-evidence', async (m) => {
      edgeEvidence.set(m.value.eventId, { evidence: m.value, duringCut: cutNow });
    });
    edge.runtime.startStreams();
  });

  afterAll(async () => {
    await edge?.close();
    await centralFusion?.stop();
    await desk?.stop();
    await central?.close();
    await proxy?.close();
    broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps detecting through a cut, spools to disk, delivers every detection once and in order after it, and every incident version gets the evidence the edge rendered', async () => {
    const runtime = edge!.runtime;
    const health = await fetch(`http://127.0.0.1:${healthPort}/health/ready`);
    expect(health.status).toBe(200);

    // Cut as soon as the link is shown to work, before the clip's first incident (glass breaks
    // at 4.1 s), so that incident's detections and its evidence both wait out the cut on disk.
    await eventually(() => arrived.length >= 1, 120_000, 'the first detections upstream');

    proxy.cut();
    cutNow = true;
    const beforeCut = produced.length;
    const cutFor = 30_000;
    const cutEnds = Date.now() + cutFor;
    while (Date.now() < cutEnds) {
      await sleep(500);
      spoolPeak = Math.max(spoolPeak, runtime.spool.bytes);
    }
    producedDuringCut = produced.length - beforeCut;
    // The edge went on deciding, and what it decided waits on disk.
    expect(producedDuringCut).toBeGreaterThan(20);
    expect(runtime.spool.pending).toBeGreaterThan(0);
    const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_edge_uplink_up\{app="edge"\} 0$/m);

    proxy.restore();
    cutNow = false;
    await sleep(8_000);
    await runtime.pipeline.streams.stop(STREAM);
    await runtime.pipeline.bus.idle();
    await eventually(() => runtime.spool.pending === 0, 120_000, 'the spool to drain');
    await eventually(
      () => statuses.some((s) => s.state === 'ended'),
      60_000,
      'the stream to be reported ended upstream',
    );
    await eventually(
      () => new Set(arrived.map((a) => a.headers[EDGE_SEQ_HEADER])).size >= produced.length,
      60_000,
      'every detection upstream',
    );

    // Each message is one the edge produced; copies (a batch resent after a lost ack) carry an
    // id seen before, and the filter fusion uses drops exactly them.
    const filter = new EdgeCopyFilter();
    const unique = arrived.filter((a) => filter.isNew(a.set.streamId, a.headers));
    expect(new Set(arrived.map((a) => a.headers[EDGE_SEQ_HEADER])).size).toBe(unique.length);
    expect(unique.map((a) => setId(a.set))).toEqual(produced.map((p) => setId(p.set)));
    // Payloads as the edge decided them (through protobuf: scores and boxes are float32).
    const codec = codecFor(Topics.detections);
    expect(unique.map((a) => a.set)).toEqual(
      produced.map((p) => codec.decode(codec.encode(p.set))),
    );
    // The stream's headers travel unchanged (labels, run, correlation id).
    expect(unique[0].headers['x-vigil-labels']).toBe('{"site":"test"}');

    // Central fusion's incidents equal those of the same detections fused without a cut.
    const reference = new MemoryBus();
    const referenceEvents: SecurityEvent[] = [];
    const referenceFusion = new FusionStage(reference, await loadRuleSet());
    await referenceFusion.start();
    await reference.subscribe(Topics.events, 'test-reference', async (m) => {
      referenceEvents.push(m.value);
    });
    for (const { set, headers } of produced)
      await reference.publish(Topics.detections, STREAM, set, headers);
    await reference.idle();
    await eventually(
      () => centralEvents.length >= referenceEvents.length,
      60_000,
      'central fusion to decide as many incident versions',
    );
    await sleep(2_000);
    expect(referenceEvents.length).toBeGreaterThan(0);
    expect(centralEvents.map(eventId)).toEqual(referenceEvents.map(eventId));
    await referenceFusion.stop();
    await reference.close();

    // Each version an operator gets comes with the evidence the edge rendered from the media it
    // kept: snapshot, spectrogram and sound, stored centrally byte for byte, once per version,
    // including versions decided from detections that waited out the cut in the spool.
    const versions = centralEvents.filter((e) => e.state !== 'closed');
    expect(versions.length).toBeGreaterThan(0);
    const stored = async () =>
      Promise.all(versions.map(async (v) => (await desk!.events.get(v.id))?.evidenceRefs ?? []));
    await eventually(
      async () => (await stored()).every((refs) => refs.length > 0),
      60_000,
      'every incident version stored with its evidence',
    );
    for (const [i, refs] of (await stored()).entries()) {
      const version = versions[i];
      const sent = edgeEvidence.get(version.id);
      expect(sent).toBeDefined();
      expect(refs.map((r) => r.name).sort()).toEqual(
        sent!.evidence.artifacts.map((a) => a.name).sort(),
      );
      for (const artifact of sent!.evidence.artifacts) {
        const ref = refs.find((r) => r.name === artifact.name)!;
        expect(ref.sha256).toBe(createHash('sha256').update(artifact.data).digest('hex'));
        const file = await desk!.evidenceStore.get(ref);
        expect(Buffer.from(file.bytes).equals(Buffer.from(artifact.data))).toBe(true);
      }
    }
    const opened = versions.filter((v) => v.state === 'opened');
    for (const v of opened) {
      expect(
        edgeEvidence
          .get(v.id)!
          .evidence.artifacts.map((a) => a.name)
          .sort(),
      ).toEqual(['audio.wav', 'snapshot.jpg', 'spectrogram.png']);
    }
    const spooledDuringCut = versions.filter((v) => edgeEvidence.get(v.id)?.duringCut);
    expect({
      versions: versions.map((v) => `${v.state}@${v.startSec}`),
      spooledDuringCut: spooledDuringCut.length > 0,
    }).toEqual({ versions: expect.anything(), spooledDuringCut: true });
    // Every version the edge sent evidence for is one central fusion decided: same rules, same ids.
    expect([...edgeEvidence.keys()].every((id) => versions.some((v) => v.id === id))).toBe(true);
    const evidenceBytes = [...edgeEvidence.values()].reduce(
      (sum, { evidence }) => sum + evidence.artifacts.reduce((n, a) => n + a.data.byteLength, 0),
      0,
    );
    const metricsAfter = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    const evidenceUplink = Number(
      /^vigil_edge_uplink_topic_bytes_total\{topic="vigil\.evidence\.edge",app="edge"\} (\d+)$/m.exec(
        metricsAfter,
      )?.[1] ??
        /^vigil_edge_uplink_topic_bytes_total\{app="edge",topic="vigil\.evidence\.edge"\} (\d+)$/m.exec(
          metricsAfter,
        )?.[1],
    );
    expect(evidenceUplink).toBeGreaterThanOrEqual(evidenceBytes);

    // Raw audio and frames never left the site.
    const admin = new Kafka({
      brokers: broker!.brokers.split(','),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      for (const topic of [Topics.audio, Topics.video, Topics.features]) {
        const offsets = await admin.fetchTopicOffsets(topic.name);
        expect(offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)).toBe(0);
      }
    } finally {
      await admin.disconnect();
    }
    process.stdout.write(
      `edge e2e: produced ${produced.length} detection sets (${producedDuringCut} during a ${cutFor / 1000} s cut), ` +
        `arrived ${arrived.length} (${arrived.length - unique.length} resent copies dropped), ` +
        `spool peak ${spoolPeak} bytes, ${centralEvents.length} incident versions, ` +
        `evidence of ${edgeEvidence.size} version(s) (${[...edgeEvidence.values()].filter((e) => e.duringCut).length} spooled during the cut)\n`,
    );
  });
});
