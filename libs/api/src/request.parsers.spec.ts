import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, ApiErrorCode } from './api.error';
import { eventFilter, pageSize, streamSpec, streamStates, timeBound } from './request.parsers';

// StartStream refuses a file that does not exist at the call: the specs use a real one.
const clipsDir = mkdtempSync(join(tmpdir(), 'vigil-spec-'));
const clip = join(clipsDir, 'a.mp4');
writeFileSync(clip, 'not really a video, but a file');

const capabilities = {
  models: ['efficientat-mn04', 'yolox-nano'],
  rulesProfiles: ['default', 'indoor'],
  fps: 5,
  mediaRoots: [clipsDir],
};

afterAll(() => rmSync(clipsDir, { recursive: true, force: true }));

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe(ApiErrorCode.INVALID_ARGUMENT);
    expect((error as ApiError).message.startsWith(`${(error as ApiError).field}:`)).toBe(true);
    return (error as ApiError).field;
  }
  throw new Error('did not throw');
}

describe('streamSpec', () => {
  it('keeps an idempotency key and refuses a malformed one by its .proto name', () => {
    const source = 'rtsp://cam-3.local/stream1';
    expect(streamSpec({ source, requestId: 'req-1' }, capabilities).requestId).toBe('req-1');
    expect(streamSpec({ source }, capabilities)).not.toHaveProperty('requestId');
    expect(fieldOf(() => streamSpec({ source, requestId: 'a b' }, capabilities))).toBe(
      'request_id',
    );
  });

  it('refuses a local file outside the media roots with PERMISSION_DENIED', () => {
    expect(() => streamSpec({ source: '/etc/passwd' }, capabilities)).toThrow(
      expect.objectContaining({ code: ApiErrorCode.PERMISSION_DENIED, field: 'source' }),
    );
  });

  it('refuses at the call what ingest would refuse later: a missing file, a protocol off the list', () => {
    expect(() => streamSpec({ source: join(clipsDir, 'nope.mp4') }, capabilities)).toThrow(
      expect.objectContaining({ code: ApiErrorCode.NOT_FOUND, field: 'source' }),
    );
    expect(() => streamSpec({ source: 'srt://cam:9000' }, capabilities)).toThrow(
      expect.objectContaining({ code: ApiErrorCode.INVALID_ARGUMENT, field: 'source' }),
    );
  });

  it('fills defaults: id from the source, live for network sources, all models, default rules', () => {
    expect(streamSpec({ source: 'rtsp://user:pw@cam-3.local/stream1' }, capabilities)).toEqual({
      streamId: 'cam-3.local-stream1',
      source: 'rtsp://user:pw@cam-3.local/stream1',
      live: true,
      loop: false,
      fps: 5,
      models: ['efficientat-mn04', 'yolox-nano'],
      rulesProfile: 'default',
      labels: {},
    });
    expect(streamSpec({ source: clip }, capabilities).live).toBe(false);
    // http serves files as often as live feeds: only the caller knows.
    expect(streamSpec({ source: 'https://cdn.example/a.mp4' }, capabilities).live).toBe(false);
  });

  it('keeps what the caller chose', () => {
    const spec = streamSpec(
      {
        source: clip,
        streamId: 'lobby:1',
        live: true,
        fps: 2,
        models: ['yolox-nano'],
        rulesProfile: 'indoor',
        labels: { site: 'HQ', camera: 'Lobby' },
      },
      capabilities,
    );
    expect(spec).toMatchObject({
      streamId: 'lobby:1',
      live: true,
      fps: 2,
      models: ['yolox-nano'],
      rulesProfile: 'indoor',
      labels: { camera: 'Lobby', site: 'HQ' },
    });
  });

  it.each([
    [{ source: '' }, 'source'],
    [{ source: 'a.mp4', streamId: 'has space' }, 'stream_id'],
    [{ source: 'a.mp4', fps: 0 }, 'fps'],
    [{ source: 'a.mp4', fps: 61 }, 'fps'],
    [{ source: 'a.mp4', models: ['yolox-nano', 'yolov9'] }, 'models[1]'],
    [{ source: 'a.mp4', rulesProfile: 'outdoor' }, 'rules_profile'],
    [{ source: 'a.mp4', labels: { 'bad key': 'x' } }, 'labels[bad key]'],
    [{ source: 'a.mp4', labels: { k: 'x'.repeat(257) } }, 'labels[k]'],
    [
      {
        source: 'a.mp4',
        labels: Object.fromEntries(
          Array.from({ length: 32 }, (_, i) => [`k${i}`, 'é'.repeat(200)]),
        ),
      },
      'labels',
    ],
  ])('names the bad field of %j', (request, field) => {
    expect(fieldOf(() => streamSpec(request, capabilities))).toBe(field);
  });
});

describe('eventFilter', () => {
  it('maps proto enums and lists to the history filter', () => {
    expect(
      eventFilter({
        streamIds: ['cam-1'],
        classes: ['glass_break', 'person'],
        minSeverity: 'SEVERITY_MEDIUM',
      }),
    ).toEqual({ streamIds: ['cam-1'], classes: ['glass_break', 'person'], minSeverity: 'medium' });
    expect(
      eventFilter({ streamIds: [], classes: [], minSeverity: 'SEVERITY_UNSPECIFIED' }),
    ).toEqual({});
    expect(eventFilter(undefined)).toEqual({});
    expect(eventFilter({ sites: ['hq'], zones: ['lobby', 'yard'] })).toEqual({
      sites: ['hq'],
      zones: ['lobby', 'yard'],
    });
    expect(eventFilter({ sites: [], zones: [] })).toEqual({});
  });

  it('names the bad entry', () => {
    expect(fieldOf(() => eventFilter({ classes: ['person', 'ufo'] }))).toBe('filter.classes[1]');
    expect(fieldOf(() => eventFilter({ streamIds: ['ok', ''] }))).toBe('filter.stream_ids[1]');
    expect(fieldOf(() => eventFilter({ sites: ['hq', ''] }))).toBe('filter.sites[1]');
    expect(fieldOf(() => eventFilter({ zones: ['lobby/1'] }))).toBe('filter.zones[0]');
    expect(fieldOf(() => eventFilter({ sites: ['x'.repeat(65)] }, 'subscribe'))).toBe(
      'subscribe.sites[0]',
    );
  });
});

describe('streamStates, timeBound and pageSize', () => {
  it('accepts proto state names only', () => {
    expect(streamStates(['STREAM_STATE_STARTED', 'STREAM_STATE_FAILED'])).toEqual([
      'started',
      'failed',
    ]);
    expect(fieldOf(() => streamStates(['STREAM_STATE_UNSPECIFIED']))).toBe('states[0]');
  });

  it('treats 0 as unbounded and refuses negative times', () => {
    expect(timeBound(0, 'from_ms')).toBeUndefined();
    expect(timeBound(1_700_000_000_000, 'from_ms')).toBe(1_700_000_000_000);
    expect(fieldOf(() => timeBound(-1, 'to_ms'))).toBe('to_ms');
  });

  it('takes 0 as the default page and refuses pages above the maximum, naming the limit', () => {
    expect(pageSize(0)).toBeUndefined();
    expect(pageSize(1)).toBe(1);
    expect(pageSize(500)).toBe(500);
    for (const absurd of [501, 4_294_967_295]) {
      expect(fieldOf(() => pageSize(absurd))).toBe('page_size');
      expect(() => pageSize(absurd)).toThrow('page_size: must be at most 500');
    }
    expect(fieldOf(() => pageSize(-1))).toBe('page_size');
  });
});
