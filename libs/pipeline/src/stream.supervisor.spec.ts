import { MemoryBus } from '@app/bus';
import { type StreamStatus, Topics } from '@app/contracts';
import { MediaError, MediaErrorCode } from '@app/media';
import type { IngestResult, IngestRun, IngestStage } from './ingest.stage';
import { IngestStage as RealIngestStage } from './ingest.stage';
import { type Sleeper, StreamSupervisor } from './stream.supervisor';

const RESULT: IngestResult = {
  info: { hasAudio: true, hasVideo: true },
  summary: {
    audioSec: 5,
    videoFrames: 25,
    droppedFrames: 0,
    truncated: false,
    warnings: [],
    stopped: false,
  },
  decodedSec: 5,
};

/** A real IngestStage (for close/status on a real bus) whose run() is scripted. */
function scriptedIngest(bus: MemoryBus, runs: ((run: IngestRun) => Promise<IngestResult>)[]) {
  const stage = new RealIngestStage(bus, {} as never, {
    audio: { sampleRate: 32000, chunkSamples: 3200 },
    video: { fps: 5, width: 4, height: 4, resize: 'stretch', padColor: 0, pixelFormat: 'bgr24' },
  });
  const calls: IngestRun[] = [];
  jest.spyOn(stage, 'run').mockImplementation(async (run) => {
    calls.push(run);
    const next = runs.shift();
    if (!next) throw new Error('unexpected extra run');
    return next(run);
  });
  return { stage: stage as IngestStage, calls };
}

async function statuses(bus: MemoryBus): Promise<StreamStatus[]> {
  const seen: StreamStatus[] = [];
  await bus.subscribe(Topics.streamStatus, 't', async (m) => void seen.push(m.value));
  return seen;
}

const sleeps: number[] = [];
const sleeper: Sleeper = { sleep: async (ms) => void sleeps.push(ms) };

beforeEach(() => sleeps.splice(0));

describe('StreamSupervisor', () => {
  it('reconnects a live source with growing backoff, continuing its timeline, until stopped', async () => {
    const bus = new MemoryBus();
    const seen = await statuses(bus);
    const unreachable = new MediaError(
      MediaErrorCode.SOURCE_UNREACHABLE,
      'Source unreachable: rtsp://cam (refused)',
    );
    let release!: () => void;
    const { stage, calls } = scriptedIngest(bus, [
      async (run) => (run.onProgress?.(3), Promise.reject(unreachable)),
      async () => Promise.reject(unreachable),
      async (run) =>
        new Promise((_resolve, reject) => {
          release = () => reject(new MediaError(MediaErrorCode.ABORTED, 'aborted'));
          run.signal!.addEventListener('abort', () => release());
        }),
    ]);
    const supervisor = new StreamSupervisor(
      stage,
      { initialMs: 100, maxMs: 1000, maxRetries: Infinity },
      sleeper,
      () => 1,
      () => 1_764_300_000_000,
    );
    expect(supervisor.start({ streamId: 'cam', source: 'rtsp://u:p@cam/1', live: true })).toBe(
      true,
    );
    expect(supervisor.start({ streamId: 'cam', source: 'rtsp://u:p@cam/1', live: true })).toBe(
      false,
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.map((c) => [c.timeOffsetSec, c.closeStream])).toEqual([
      [0, false],
      [3, false],
      [3, false],
    ]);
    expect(sleeps).toEqual([100, 200]);
    // One run through its reconnects: its event ids stay the same across them.
    expect(new Set(calls.map((c) => c.headers?.['x-vigil-run']))).toEqual(
      new Set(['1764300000000']),
    );
    expect(await supervisor.stop('cam')).toBe(true);
    await bus.idle();
    expect(seen.map((s) => s.state)).toEqual(['reconnecting', 'reconnecting', 'ended']);
    expect(seen.at(-1)).toMatchObject({ reason: 'stopped', source: 'rtsp://***@cam/1' });
    expect(supervisor.active()).toEqual([]);
    await bus.close();
  });

  it('gives up on a live source that can never work, and closes the stream as failed', async () => {
    const bus = new MemoryBus();
    const seen = await statuses(bus);
    const { stage } = scriptedIngest(bus, [
      async () =>
        Promise.reject(
          new MediaError(MediaErrorCode.PROTOCOL_NOT_ALLOWED, 'Protocol not allowed: ftp'),
        ),
    ]);
    const supervisor = new StreamSupervisor(
      stage,
      { initialMs: 1, maxMs: 1, maxRetries: 5 },
      sleeper,
    );
    supervisor.start({ streamId: 'cam', source: 'ftp://cam', live: true });
    await supervisor.whenDone('cam');
    await bus.idle();
    expect(seen.map((s) => [s.state, s.reason])).toEqual([['failed', 'Protocol not allowed: ftp']]);
    expect(sleeps).toEqual([]);
    await bus.close();
  });

  it('runs a file once and lets ingest close it', async () => {
    const bus = new MemoryBus();
    const { stage, calls } = scriptedIngest(bus, [async () => RESULT]);
    const supervisor = new StreamSupervisor(stage, undefined, sleeper);
    supervisor.start({ streamId: 'clip', source: '/clips/a.mp4' });
    await supervisor.whenDone('clip');
    expect(calls).toHaveLength(1);
    expect(calls[0].closeStream).toBe(true);
    expect(supervisor.active()).toEqual([]);
    await bus.close();
  });

  it('plays a live file once, paced like a camera, and ends it; with loop, again, each pass its own run', async () => {
    const bus = new MemoryBus();
    const seen = await statuses(bus);
    const once = scriptedIngest(bus, [async () => RESULT]);
    const supervisor = new StreamSupervisor(once.stage, undefined, sleeper);
    supervisor.start({ streamId: 'cam-file', source: '/clips/a.mp4', live: true });
    await supervisor.whenDone('cam-file');
    expect(once.calls).toHaveLength(1);
    expect(once.calls[0]).toMatchObject({ live: true, closeStream: false });
    expect(seen.map((s) => [s.state, s.reason])).toEqual([['ended', 'end of file']]);

    let clock = 1000;
    let release!: () => void;
    const looped = scriptedIngest(bus, [
      async () => RESULT,
      async () => RESULT,
      async (run) => {
        await new Promise<void>((resolve) => (release = resolve));
        return { ...RESULT, decodedSec: run.signal?.aborted ? 1 : 5 };
      },
    ]);
    const looping = new StreamSupervisor(
      looped.stage,
      undefined,
      sleeper,
      Math.random,
      () => (clock += 7),
    );
    looping.start({ streamId: 'loop', source: '/clips/a.mp4', live: true, loop: true });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(looped.calls.map((c) => c.timeOffsetSec)).toEqual([0, 5, 10]);
    const runs = looped.calls.map((c) => c.headers?.['x-vigil-run']);
    expect(new Set(runs).size).toBe(3);
    const stopping = looping.stop('loop');
    release();
    await stopping;
    await bus.close();
  });
  it('resumes a file at the time it reached and a live source from there, with the headers the stream had', async () => {
    const bus = new MemoryBus();
    const seen = await statuses(bus);
    const { stage, calls } = scriptedIngest(bus, [
      async () => RESULT,
      async (run) =>
        new Promise((_resolve, reject) =>
          run.signal!.addEventListener('abort', () =>
            reject(new MediaError(MediaErrorCode.ABORTED, 'aborted')),
          ),
        ),
    ]);
    const supervisor = new StreamSupervisor(stage, undefined, sleeper);
    const resume = { atSec: 3.2, headers: { 'x-correlation-id': 'corr-1', 'x-vigil-run': '77' } };
    supervisor.start({ streamId: 'file', source: '/clips/a.mp4', resume, headers: { a: '1' } });
    expect(await supervisor.whenDone('file')).toBe('closed');
    expect(calls[0]).toMatchObject({
      resumeAtSec: 3.2,
      timeOffsetSec: 0,
      headers: { a: '1', 'x-correlation-id': 'corr-1', 'x-vigil-run': '77' },
    });
    supervisor.start({ streamId: 'cam', source: 'rtsp://cam/1', live: true, resume });
    await new Promise((r) => setImmediate(r));
    expect(calls[1]).toMatchObject({ timeOffsetSec: 3.2, headers: resume.headers });
    expect(calls[1].resumeAtSec).toBeUndefined();
    expect(await supervisor.handOver('cam')).toBe(true);
    await bus.idle();
    expect(seen).toEqual([]); // handed over: nothing ended downstream
    await bus.close();
  });

  it('hands a live stream over without closing it, and says so', async () => {
    const bus = new MemoryBus();
    const seen = await statuses(bus);
    const { stage } = scriptedIngest(bus, [
      async (run) =>
        new Promise((_resolve, reject) =>
          run.signal!.addEventListener('abort', () =>
            reject(new MediaError(MediaErrorCode.ABORTED, 'aborted')),
          ),
        ),
    ]);
    const supervisor = new StreamSupervisor(stage, undefined, sleeper);
    supervisor.start({ streamId: 'cam', source: 'rtsp://cam/1', live: true });
    const outcome = supervisor.whenDone('cam');
    await supervisor.handOverAll();
    expect(await outcome).toBe('handed-over');
    expect(supervisor.active()).toEqual([]);
    await bus.idle();
    expect(seen).toEqual([]);
    await bus.close();
  });
});
