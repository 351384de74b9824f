import { MemoryBus } from '@app/bus';
import { type DetectionSet, type VideoFrame, Topics } from '@app/contracts';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { ModelLoader, ModelRepository, OnnxSessionFactory } from '@app/models';
import {
  BoxDetector,
  type FrameDetector,
  InferenceStage,
  IngestStage,
  mediaOptionsFor,
} from '@app/pipeline';
import { fixture, modelsDir } from '@app/testing/fixtures';

/**
 * The latency bound of live streams on real media: ffmpeg paces a clip at real time as a camera
 * would, the real object detector runs behind a delay that makes it slower than the frame rate,
 * and inference keeps each stream's newest frame instead of queueing stale ones. The same clip
 * analysed as a file keeps every frame.
 */
const CLIP = 'clips/comp01_person_glassbreak.mp4'; // 10 s
const DELAY_MS = 250;

/** The real detector, made slower than the frames come in. */
class LaggingDetector implements FrameDetector {
  readonly name: string;
  readonly seen: { seq: number; ptsSec: number; newestPublishedSec: number }[] = [];

  constructor(
    private readonly real: FrameDetector,
    private readonly newestPublishedSec: () => number,
  ) {
    this.name = real.name;
  }

  async detect(frame: VideoFrame) {
    this.seen.push({
      seq: frame.seq,
      ptsSec: frame.ptsSec,
      newestPublishedSec: this.newestPublishedSec(),
    });
    const detections = await this.real.detect(frame);
    await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
    return detections;
  }
}

describe('live frames behind a slow detector (real ffmpeg, real model)', () => {
  let detector: BoxDetector;
  let options: ReturnType<typeof mediaOptionsFor>;

  beforeAll(async () => {
    const quiet = { log: () => undefined, warn: () => undefined };
    const loader = new ModelLoader(new ModelRepository(modelsDir()), new OnnxSessionFactory(quiet));
    const [audio, video] = await Promise.all([
      loader.audio('efficientat-mn04'),
      loader.video('yolox-nano'),
    ]);
    detector = new BoxDetector(video);
    options = mediaOptionsFor(audio.manifest, video.manifest, 5);
  });

  async function run(live: boolean, fps: number) {
    const bus = new MemoryBus();
    let newestPublishedSec = -Infinity;
    const lagging = new LaggingDetector(detector, () => newestPublishedSec);
    const inference = new InferenceStage(bus, undefined, lagging);
    await inference.start();
    const sets: DetectionSet[] = [];
    await bus.subscribe(Topics.detections, 'test', async (m) => void sets.push(m.value));
    const ingest = new IngestStage(bus, new MediaDecoder(new FfmpegLocator()), options);
    const result = await ingest.run({
      streamId: 'cam',
      source: fixture(CLIP),
      live,
      fps,
      audio: false,
      onProgress: (sec) => (newestPublishedSec = Math.max(newestPublishedSec, sec)),
    });
    await bus.idle();
    await inference.stop();
    await bus.close();
    const video = sets.filter((s) => s.modality === 'video' && !s.final);
    return { result, video, lagging, dropped: inference.droppedFrames('cam') };
  }

  it('live: the detector always gets the newest frame, the stale ones are dropped and counted', async () => {
    const fps = 10; // a frame every 100 ms for a detector that needs more than 250
    const { result, video, lagging, dropped } = await run(true, fps);
    const frames = result.summary.videoFrames;
    expect(frames).toBeGreaterThan(80);
    expect(dropped).toBeGreaterThan(frames / 2);
    // Every frame is either run (and answered with a set) or dropped: nothing is lost silently.
    expect(video.length + dropped).toBe(frames);
    expect(lagging.seen.map((s) => s.seq)).toEqual(video.map((s) => s.seq));
    // What the detector started on was the newest frame published at that moment: no frame
    // queued behind it, however far behind the detector is.
    for (const call of lagging.seen) {
      expect(call.newestPublishedSec - call.ptsSec).toBeLessThan(1 / fps + 1e-6);
    }
  }, 60_000);

  it('a file analysed as a file keeps every frame, however slow the detector', async () => {
    const { result, video, dropped } = await run(false, 2);
    expect(dropped).toBe(0);
    expect(video.map((s) => s.seq)).toEqual(
      Array.from({ length: result.summary.videoFrames }, (_, i) => i),
    );
  }, 60_000);
});
