import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DetectionSet, type SecurityEvent, Topics } from '@app/contracts';
import {
  type EvidenceRequest,
  EvidenceWriter,
  FolderEvidenceStore,
  Raster,
  SpectrogramRenderer,
  triggerSec,
} from '@app/evidence';
import { loadRuleSet } from '@app/fusion';
import {
  EventRepository,
  HistoryDatabase,
  SqliteSqlDatabase,
  type StoredEvent,
} from '@app/history';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { ModelLoader, ModelRepository, OnnxSessionFactory } from '@app/models';
import {
  EmbeddedPipeline,
  EventFeed,
  EvidenceTap,
  IncidentRecorder,
  LABELS_HEADER,
  encodeLabelsHeader,
  type AnalysisResult,
} from '@app/pipeline';
import { fixture, modelsDir } from '@app/testing';

/**
 * Incidents recorded the way `vigil serve` records them: the real pipeline on the real clips,
 * the evidence tap and the recorder on its bus, evidence in a folder and history in a SQLite
 * file. Copies of the pictures land in /tmp/vigil-incidents for a human to look at.
 */
jest.setTimeout(240_000);

const COMP01 = 'clips/comp01_person_glassbreak.mp4';
const COMP05 = 'clips/comp05_emptyroom_smoke_alarm.mp4';
const GLASS_SEC = 4.07;
const videoSets: DetectionSet[] = [];
const ALARM_SEC = 2.09;
const FPS = 5;
const LOOK_DIR = '/tmp/vigil-incidents';
const LABELS = { site: 'Test lab', camera: 'Back door' };

let ffmpeg: string;
let dir: string;
let storeRoot: string;
let pipeline: EmbeddedPipeline;
let tap: EvidenceTap;
let recorder: IncidentRecorder;
let database: SqliteSqlDatabase;
let events: EventRepository;
let store: FolderEvidenceStore;
const results = new Map<string, AnalysisResult>();
/** For each event on the feed: its refs, and whether each file was in the store right then. */
const onFeed: { id: string; refs: string[]; inStore: boolean[] }[] = [];
/** Whether each alert was queued inside the event's transaction. */
const queuedInTransaction: boolean[] = [];
/** What the tap gave the recorder for each event: the media the artifacts were made from. */
const captured = new Map<string, EvidenceRequest>();
/** What the recorder had to say: missing media, failed artifacts, timeouts. */
const warnings: string[] = [];

function ffmpegInfo(path: string): string {
  return spawnSync(ffmpeg, ['-hide_banner', '-i', path], { encoding: 'utf8' }).stderr;
}

function sizeOf(description: string): [number, number] {
  const match = /Video: .*?, (\d+)x(\d+)/.exec(description);
  expect(match).not.toBeNull();
  return [Number(match![1]), Number(match![2])];
}

function rgbOf(path: string, codec: 'mjpeg' | 'png'): Buffer {
  return execFileSync(ffmpeg, [
    ...['-hide_banner', '-loglevel', 'error', '-c:v', codec, '-i', path],
    ...['-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
  ]);
}

function sourceFrame(clip: string, atSec: number): Buffer {
  return execFileSync(ffmpeg, [
    ...['-hide_banner', '-loglevel', 'error', '-ss', String(atSec), '-i', fixture(clip)],
    ...['-frames:v', '1', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'],
  ]);
}

async function storedOf(streamId: string): Promise<StoredEvent[]> {
  return (await events.list({ streamIds: [streamId], order: 'oldest-first' })).events;
}

/** Reads an artifact back from the store and keeps a copy where a human can open it. */
async function artifact(stored: StoredEvent, name: string, lookAs: string): Promise<string> {
  const ref = stored.evidenceRefs.find((r) => r.name === name);
  expect(ref).toBeDefined();
  const bytes = (await store.get(ref!.key)).bytes;
  expect(bytes.length).toBe(ref!.bytes);
  const path = join(LOOK_DIR, lookAs);
  writeFileSync(path, bytes);
  return path;
}

beforeAll(async () => {
  ffmpeg = new FfmpegLocator().locate();
  dir = mkdtempSync(join(tmpdir(), 'vigil-incidents-'));
  mkdirSync(LOOK_DIR, { recursive: true });
  storeRoot = join(dir, 'evidence');

  const quiet = { log: () => undefined, warn: () => undefined };
  const loader = new ModelLoader(new ModelRepository(modelsDir()), new OnnxSessionFactory(quiet));
  const [audioModel, videoModel] = await Promise.all([
    loader.audio('efficientat-mn04'),
    loader.video('yolox-nano'),
  ]);
  pipeline = new EmbeddedPipeline({
    decoder: new MediaDecoder(new FfmpegLocator()),
    audioModel,
    videoModel,
    rules: await loadRuleSet(),
    fps: FPS,
  });
  store = new FolderEvidenceStore({ root: storeRoot });
  database = new SqliteSqlDatabase(
    new HistoryDatabase({ path: join(dir, 'history', 'vigil.sqlite') }),
    true,
  );
  events = await EventRepository.open(database);
  const feed = new EventFeed({ latestSeq: await events.latestSeq() });
  feed.onStored((stored) => {
    const refs = stored.evidenceRefs.map((r) => r.key);
    onFeed.push({
      id: stored.event.id,
      refs,
      inStore: refs.map((key) => existsSync(join(storeRoot, key))),
    });
  });
  // What inference saw on each frame, to know which box the snapshot should show.
  await pipeline.bus.subscribe(Topics.detections, 'e2e-frames', async ({ value }) => {
    if (value.modality === 'video' && !value.final) videoSets.push(value);
  });
  tap = new EvidenceTap(pipeline.bus);
  recorder = new IncidentRecorder(
    {
      bus: pipeline.bus,
      tap: {
        capture: async (event, options) => {
          const request = await tap.capture(event, options);
          captured.set(event.id, request);
          return request;
        },
      },
      writer: EvidenceWriter.withFfmpeg(store, { binary: ffmpeg }),
      database,
      events,
      feed,
      outbox: {
        enqueue: async () =>
          void queuedInTransaction.push(database.history.connection.inTransaction),
      },
      logger: { warn: (message) => void warnings.push(message) },
    },
    // Generous: the timeout path is the unit tests' business; here a busy machine must not turn
    // "evidence before the alert" into a race against the clock.
    { evidenceTimeoutMs: 30_000, captureTimeoutMs: 20_000 },
  );
  await tap.start();
  await recorder.start();
  await pipeline.start();
  for (const [streamId, clip] of [
    ['cam-comp01', COMP01],
    ['cam-comp05', COMP05],
  ]) {
    const headers = { [LABELS_HEADER]: encodeLabelsHeader(LABELS) };
    results.set(streamId, await pipeline.analyze({ streamId, source: fixture(clip), headers }));
    // Fusion has closed the stream; evidence that missed the timeout may still be on its way.
    await recorder.idle();
  }
});

afterAll(async () => {
  await recorder?.stop();
  await tap?.stop();
  await pipeline?.stop();
  await database?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('incidents recorded with their evidence (real pipeline, ffmpeg, models, SQLite)', () => {
  it('comp01: stores exactly the intrusion, with its labels and three pieces of evidence', async () => {
    const analysed = results.get('cam-comp01')!.events.map((e) => e.id);
    const stored = await storedOf('cam-comp01');
    // Its two versions: opened, then closed at the end of the clip (no evidence of its own).
    expect(stored.map((s) => [s.event.rule, s.event.state])).toEqual([
      ['intrusion', 'opened'],
      ['intrusion', 'closed'],
    ]);
    expect(stored.map((s) => s.event.id)).toEqual(analysed);
    expect(stored[1].evidenceRefs).toEqual([]);
    const [intrusion] = stored;
    expect(intrusion.streamLabels).toEqual(LABELS);
    expect(intrusion.evidenceRefs.map((r) => [r.name, r.key, r.contentType])).toEqual([
      ['snapshot.jpg', `${intrusion.event.id}/snapshot.jpg`, 'image/jpeg'],
      ['spectrogram.png', `${intrusion.event.id}/spectrogram.png`, 'image/png'],
      ['audio.wav', `${intrusion.event.id}/audio.wav`, 'audio/wav'],
    ]);
  });

  it('tells the feed only once the evidence is in the store, and queues alerts inside the save', async () => {
    const stored = [...(await storedOf('cam-comp01')), ...(await storedOf('cam-comp05'))];
    expect(onFeed.map((f) => f.id)).toEqual(stored.map((s) => s.event.id));
    const closing = new Set(
      stored.filter((s) => s.event.state === 'closed').map((s) => s.event.id),
    );
    for (const published of onFeed.filter((f) => !closing.has(f.id))) {
      expect(published.refs).toHaveLength(3);
      expect(published.inStore).toEqual([true, true, true]);
    }
    // Alerts for the openings only, each queued inside its save.
    expect(queuedInTransaction).toEqual(
      stored.filter((s) => !closing.has(s.event.id)).map(() => true),
    );
    // Every event found its frame, window and sound in the tap, and every artifact was stored.
    expect(warnings).toEqual([]);
  });

  it('comp01 snapshot: the frame at the glass break, the person on it boxed in red', async () => {
    const [intrusion] = await storedOf('cam-comp01');
    expect(intrusion.event.evidence.some((e) => e.cls === 'person')).toBe(true);
    // The frame nearest the trigger on which inference saw the person: that box is drawn.
    const atBreak = videoSets
      .filter((s) => s.streamId === 'cam-comp01' && s.detections.some((d) => d.cls === 'person'))
      .sort((a, b) => Math.abs(a.atSec - GLASS_SEC) - Math.abs(b.atSec - GLASS_SEC))[0]!;
    expect(Math.abs(atBreak.atSec - GLASS_SEC)).toBeLessThan(0.2);
    const person = atBreak.detections.find((d) => d.cls === 'person')!;
    const path = await artifact(intrusion, 'snapshot.jpg', 'comp01-snapshot.jpg');
    expect(sizeOf(ffmpegInfo(path))).toEqual([640, 480]);
    const picture = new Raster(640, 480, 'rgb', new Uint8Array(rgbOf(path, 'mjpeg')));
    const redness = (x: number, y: number) => {
      const [r, g, b] = picture.get(x, y);
      return r - Math.max(g, b);
    };
    const [x1, y1, x2, y2] = person.box!.map(Math.round);
    const midY = Math.round((y1 + y2) / 2);
    // The left and right edges of the box, 2 px outline at model scale (about 3 source px).
    expect(Math.max(...[0, 1, 2].map((d) => redness(x1 + d, midY)))).toBeGreaterThan(120);
    expect(Math.max(...[1, 2, 3].map((d) => redness(x2 - d, midY)))).toBeGreaterThan(120);
  });

  it('comp01 spectrogram: a PNG of the window the glass break was heard in, marker at ~4.07 s', async () => {
    const [intrusion] = await storedOf('cam-comp01');
    const heard = triggerSec(intrusion.event);
    expect(Math.abs(heard - GLASS_SEC)).toBeLessThan(0.5);
    const path = await artifact(intrusion, 'spectrogram.png', 'comp01-spectrogram.png');
    expectMarkerAt(intrusion.event, path, heard);
  });

  it('comp01 audio: about a second of 32 kHz WAV', async () => {
    const [intrusion] = await storedOf('cam-comp01');
    const path = await artifact(intrusion, 'audio.wav', 'comp01-audio.wav');
    const info = ffmpegInfo(path);
    expect(info).toMatch(/Audio: pcm_s16le\b.*, 32000 Hz, mono/);
    const duration = /Duration: (\d+):(\d+):([\d.]+)/.exec(info)!;
    expect(Math.abs(Number(duration[3]) - 1)).toBeLessThan(0.05);
    const header = readFileSync(path).subarray(0, 4).toString('latin1');
    expect(header).toBe('RIFF');
  });

  it('comp05: the unattended alarm, with a plain snapshot (nobody to box) and its marker near 2.1 s', async () => {
    const stored = await storedOf('cam-comp05');
    expect(stored.map((s) => [s.event.rule, s.event.state])).toEqual([
      ['unattended_alarm', 'opened'],
      ['unattended_alarm', 'closed'],
    ]);
    const [alarm] = stored;
    expect(alarm.evidenceRefs.map((r) => r.name)).toEqual([
      'snapshot.jpg',
      'spectrogram.png',
      'audio.wav',
    ]);
    expect(alarm.event.evidence.filter((e) => e.modality === 'video')).toEqual([]);
    const heard = triggerSec(alarm.event);
    expect(Math.abs(heard - ALARM_SEC)).toBeLessThan(0.3);

    // Unboxed: below the caption, the picture is the camera's frame nearest the alarm.
    const snapshot = await artifact(alarm, 'snapshot.jpg', 'comp05-snapshot.jpg');
    expect(sizeOf(ffmpegInfo(snapshot))).toEqual([640, 480]);
    const frameSec = Math.round(heard * FPS) / FPS;
    const source = sourceFrame(COMP05, frameSec);
    const picture = rgbOf(snapshot, 'mjpeg');
    let diff = 0;
    for (let i = 640 * 3 * 40; i < picture.length; i++) diff += Math.abs(picture[i] - source[i]);
    expect(diff / (picture.length - 640 * 3 * 40)).toBeLessThan(8);

    const spectrogram = await artifact(alarm, 'spectrogram.png', 'comp05-spectrogram.png');
    expectMarkerAt(alarm.event, spectrogram, heard);
  });
});

/**
 * The PNG is exactly the rendering of the window the tap gave for the event, and its red marker
 * column, turned back into stream time, lands on the moment the trigger was heard.
 */
function expectMarkerAt(event: SecurityEvent, path: string, sec: number): void {
  const window = captured.get(event.id)?.audioWindow;
  expect(window).toBeDefined();
  expect(window!.startSec).toBeLessThanOrEqual(sec);
  expect(window!.startSec + window!.frames * 0.01).toBeGreaterThanOrEqual(sec);
  const { raster, layout } = new SpectrogramRenderer().raster(window!, { markerSec: sec });
  expect(sizeOf(ffmpegInfo(path))).toEqual([raster.width, raster.height]);
  const rgb = rgbOf(path, 'png');
  expect(Buffer.compare(rgb, Buffer.from(raster.pixels))).toBe(0);

  const picture = new Raster(raster.width, raster.height, 'rgb', new Uint8Array(rgb));
  const redColumns: number[] = [];
  for (let x = 0; x < layout.plotWidth; x++) {
    const [r, g, b] = picture.get(x, Math.floor(layout.plotHeight / 2));
    if (r === 255 && g === 32 && b === 32) redColumns.push(x);
  }
  expect(redColumns).toHaveLength(2);
  // Frame t is drawn over columns [4t, 4t+4) and stands for startSec + t·10 ms at its centre.
  const markedSec = window!.startSec - 0.005 + ((redColumns[0] + 1) / 4) * 0.01;
  expect(Math.abs(markedSec - sec)).toBeLessThanOrEqual(0.01);
}
