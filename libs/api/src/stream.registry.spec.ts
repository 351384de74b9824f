import type { StreamSpec } from './api.ports';
import { StreamRegistry } from './stream.registry';

const spec = (streamId: string): StreamSpec => ({
  streamId,
  source: 'rtsp://admin:secret@cam.local/live?token=abc',
  live: true,
  loop: false,
  fps: 5,
  models: ['yolox-nano'],
  rulesProfile: 'default',
  labels: { camera: 'Lobby' },
});
const defaults = {
  live: false,
  loop: false,
  fps: 5,
  models: [],
  rulesProfile: 'default',
  labels: {},
};

describe('StreamRegistry', () => {
  let now = 1000;
  const registry = () => new StreamRegistry(() => now, 2);

  it('redacts the source and follows ingest statuses', () => {
    const streams = registry();
    const started = streams.register(spec('cam-1'));
    expect(started.state).toBe('starting'); // until ingest has opened the source
    expect(streams.isRunning('cam-1')).toBe(true);
    expect(started.source).not.toContain('secret');
    expect(started.source).not.toContain('token=abc');
    now = 2000;
    streams.apply(
      {
        streamId: 'cam-1',
        state: 'started',
        source: 'rtsp://cam.local/live',
        hasAudio: true,
        hasVideo: true,
      },
      defaults,
    );
    streams.apply(
      {
        streamId: 'cam-1',
        state: 'reconnecting',
        source: 'rtsp://cam.local/live',
        reason: 'refused',
      },
      defaults,
    );
    expect(streams.get('cam-1')).toMatchObject({
      state: 'reconnecting',
      hasAudio: true,
      hasVideo: true,
      reason: 'refused',
      labels: { camera: 'Lobby' },
      startedAt: 1000,
      updatedAt: 2000,
    });
    expect(streams.isRunning('cam-1')).toBe(true);
    streams.apply(
      { streamId: 'cam-1', state: 'ended', source: 'rtsp://cam.local/live', decodedSec: 12.5 },
      defaults,
    );
    expect(streams.get('cam-1')).toMatchObject({
      state: 'ended',
      decodedSec: 12.5,
      reason: undefined,
    });
    expect(streams.runningCount()).toBe(0);
  });

  it('answers a retried start with the stream its idempotency key made, even once it ended', () => {
    const streams = registry();
    streams.register({ ...spec('cam-k'), requestId: 'req-1' });
    expect(streams.startedBy('cam-k', 'req-1')?.state).toBe('starting');
    streams.apply({ streamId: 'cam-k', state: 'ended', source: '' }, defaults);
    expect(streams.startedBy('cam-k', 'req-1')?.state).toBe('ended');
    expect(streams.startedBy('cam-k', 'req-2')).toBeUndefined();
    expect(streams.startedBy('cam-k', undefined)).toBeUndefined();
    // Another replica learns the key from the statuses of the run.
    const other = registry();
    other.apply({ streamId: 'cam-k', state: 'started', source: 'x' }, defaults, 'req-1');
    expect(other.startedBy('cam-k', 'req-1')?.state).toBe('started');
  });

  it('tells listeners each change of state, as a copy, until they unsubscribe', () => {
    const streams = registry();
    const heard: string[] = [];
    const off = streams.onChange((info) => {
      heard.push(`${info.streamId} ${info.state}${info.reason ? ` (${info.reason})` : ''}`);
      info.state = 'ended'; // a copy: the registry keeps its own
    });
    streams.register(spec('cam-1'));
    streams.apply({ streamId: 'cam-1', state: 'failed', source: '', reason: 'refused' }, defaults);
    expect(streams.get('cam-1')!.state).toBe('failed');
    off();
    streams.apply({ streamId: 'cam-1', state: 'started', source: '' }, defaults);
    expect(heard).toEqual(['cam-1 starting', 'cam-1 failed (refused)']);
  });

  it('learns streams it did not start (another replica, the CLI)', () => {
    const streams = registry();
    streams.apply({ streamId: 'other', state: 'started', source: '/clips/x.mp4' }, defaults);
    expect(streams.get('other')).toMatchObject({
      streamId: 'other',
      state: 'started',
      source: '/clips/x.mp4',
      fps: 5,
    });
  });

  it('keeps a bounded number of finished streams, never dropping running ones', () => {
    const streams = registry();
    streams.register(spec('running'));
    for (const id of ['a', 'b', 'c', 'd']) {
      streams.register(spec(id));
      streams.apply({ streamId: id, state: 'ended', source: '' }, defaults);
    }
    expect(
      streams
        .list()
        .map((s) => s.streamId)
        .sort(),
    ).toEqual(['c', 'd', 'running']);
  });
});
