import { buildDecodeArgs, videoFilter } from './decode-args.builder';
import type { VideoOutputOptions } from './decode.contract';
import type { ResolvedSource } from './source.resolver';

const file: ResolvedSource = {
  scheme: 'file',
  input: 'file:/c/a.mp4',
  label: '/c/a.mp4',
  protocols: ['file'],
  network: false,
  liveByDefault: false,
};
const video: VideoOutputOptions = {
  fps: 5,
  width: 416,
  height: 416,
  resize: 'letterbox-topleft',
  padColor: 114,
  pixelFormat: 'bgr24',
};

function after(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

describe('buildDecodeArgs', () => {
  it('sends mono f32le PCM to fd 3 and raw frames to fd 4 from one input', () => {
    const args = buildDecodeArgs({
      source: file,
      audio: { sampleRate: 32000, chunkSamples: 3200 },
      video,
      networkTimeoutMs: 10_000,
    });
    expect(args.slice(0, 4)).toEqual(['-hide_banner', '-nostats', '-loglevel', 'level+info']);
    expect(after(args, '-protocol_whitelist')).toBe('file');
    expect(after(args, '-i')).toBe('file:/c/a.mp4');
    expect(args.join(' ')).toContain('-map 0:a:0? -ac 1 -ar 32000 -c:a pcm_f32le -f f32le pipe:3');
    expect(args.join(' ')).toContain('-c:v rawvideo -pix_fmt bgr24 -f rawvideo pipe:4');
    expect(after(args, '-map')).toBe('0:a:0?');
    expect(args).toContain('0:V:0?');
    expect(args).not.toContain('-rw_timeout');
    expect(args).not.toContain('-nostdin');
  });

  it('seeks on the input, before -i, only when asked to start later than 0', () => {
    const from = (startSec?: number) =>
      buildDecodeArgs({ source: file, video, networkTimeoutMs: 0, startSec });
    const seeking = from(3.2);
    expect(after(seeking, '-ss')).toBe('3.2');
    expect(seeking.indexOf('-ss')).toBeLessThan(seeking.indexOf('-i'));
    expect(from(0)).not.toContain('-ss');
    expect(from()).not.toContain('-ss');
  });

  it('asks only for the outputs requested', () => {
    const args = buildDecodeArgs({ source: file, video, networkTimeoutMs: 10_000 });
    expect(args.join(' ')).not.toContain('pipe:3');
    expect(args.join(' ')).toContain('pipe:4');
    expect(() => buildDecodeArgs({ source: file, networkTimeoutMs: 0 })).toThrow(RangeError);
  });

  it('bounds network waits: rw_timeout in general, the socket timeout for RTSP', () => {
    const http: ResolvedSource = {
      ...file,
      scheme: 'http',
      input: 'http://h/a',
      network: true,
      protocols: ['http', 'tcp'],
    };
    const rtsp: ResolvedSource = {
      ...file,
      scheme: 'rtsp',
      input: 'rtsp://h/a',
      network: true,
      protocols: ['rtsp', 'tcp'],
    };
    expect(
      after(buildDecodeArgs({ source: http, video, networkTimeoutMs: 10_000 }), '-rw_timeout'),
    ).toBe('10000000');
    const rtspArgs = buildDecodeArgs({ source: rtsp, video, networkTimeoutMs: 5_000 });
    expect(after(rtspArgs, '-timeout')).toBe('5000000');
    expect(rtspArgs).not.toContain('-rw_timeout');
    expect(
      after(
        buildDecodeArgs({ source: http, video, networkTimeoutMs: 10_000 }),
        '-protocol_whitelist',
      ),
    ).toBe('http,tcp');
  });
});

describe('buildDecodeArgs for live sources', () => {
  const camera: ResolvedSource = {
    scheme: 'tcp',
    input: 'tcp://10.0.0.7:5000',
    label: 'tcp://10.0.0.7:5000',
    protocols: ['tcp'],
    network: true,
    liveByDefault: true,
  };
  const audio = { sampleRate: 32000, chunkSamples: 3200 };
  const stretch: VideoOutputOptions = { ...video, resize: 'stretch', width: 320, height: 240 };
  const scale = (flags: string) => `scale=320:240:flags=${flags},format=bgr24`;
  const outputs = (fps: string, videoThreads: string[], flags: string) => [
    ...['-map', '0:a:0?', '-ac', '1', '-ar', '32000', '-c:a', 'pcm_f32le', '-f', 'f32le'],
    'pipe:3',
    ...['-map', '0:V:0?', '-vf', `${fps},${scale(flags)}`, ...videoThreads],
    ...['-c:v', 'rawvideo', '-pix_fmt', 'bgr24', '-f', 'rawvideo', 'pipe:4'],
  ];
  const head = ['-hide_banner', '-nostats', '-loglevel', 'level+info'];

  it('probes a live network source for 1 s and decodes it without frame threads', () => {
    expect(
      buildDecodeArgs({
        source: camera,
        audio,
        video: stretch,
        networkTimeoutMs: 10_000,
        live: true,
      }),
    ).toEqual([
      ...head,
      ...['-protocol_whitelist', 'tcp', '-rw_timeout', '10000000'],
      ...['-analyzeduration', '1000000', '-thread_type', 'slice'],
      ...['-i', 'tcp://10.0.0.7:5000'],
      ...outputs('fps=5:round=up:eof_action=pass', ['-threads', '1'], 'bilinear+accurate_rnd'),
    ]);
  });

  it('keeps the low-delay decoding but not the short probe when asked for the full probe', () => {
    const args = buildDecodeArgs({
      source: camera,
      audio,
      video: stretch,
      networkTimeoutMs: 10_000,
      live: true,
      fullProbe: true,
    });
    expect(args).not.toContain('-analyzeduration');
    expect(args.slice(args.indexOf('-rw_timeout') + 2, args.indexOf('-i'))).toEqual([
      '-thread_type',
      'slice',
    ]);
    expect(after(args, '-vf')).toMatch(/^fps=5:round=up:eof_action=pass,/);
    expect(after(args, '-threads')).toBe('1');
  });

  it('leaves a network source that is not decoded live, and every file, as they were', () => {
    const today = [
      ...head,
      ...['-protocol_whitelist', 'file', '-i', 'file:/c/a.mp4'],
      ...outputs('fps=5:eof_action=pass', [], 'bilinear+accurate_rnd+full_chroma_int'),
    ];
    for (const live of [undefined, false]) {
      expect(
        buildDecodeArgs({ source: file, audio, video: stretch, networkTimeoutMs: 10_000, live }),
      ).toEqual(today);
    }
    // A live file is read at the pace of its timestamps (-re), like a camera; nothing else changes.
    expect(
      buildDecodeArgs({
        source: file,
        audio,
        video: stretch,
        networkTimeoutMs: 10_000,
        live: true,
      }),
    ).toEqual([
      ...head,
      ...['-protocol_whitelist', 'file', '-re', '-i', 'file:/c/a.mp4'],
      ...outputs('fps=5:eof_action=pass', [], 'bilinear+accurate_rnd+full_chroma_int'),
    ]);
    const notLive = buildDecodeArgs({
      source: camera,
      audio,
      video: stretch,
      networkTimeoutMs: 10_000,
      live: false,
    });
    expect(notLive).toEqual([
      ...head,
      ...['-protocol_whitelist', 'tcp', '-rw_timeout', '10000000', '-i', 'tcp://10.0.0.7:5000'],
      ...outputs('fps=5:eof_action=pass', [], 'bilinear+accurate_rnd+full_chroma_int'),
    ]);
  });

  it('asks nothing of an audio-only live run but the probe and the decoder threads', () => {
    const args = buildDecodeArgs({ source: camera, audio, networkTimeoutMs: 0, live: true });
    expect(args).toEqual([
      ...head,
      ...['-protocol_whitelist', 'tcp', '-analyzeduration', '1000000', '-thread_type', 'slice'],
      ...['-i', 'tcp://10.0.0.7:5000'],
      ...['-map', '0:a:0?', '-ac', '1', '-ar', '32000', '-c:a', 'pcm_f32le', '-f', 'f32le'],
      'pipe:3',
    ]);
  });
});

describe('videoFilter', () => {
  it('letterboxes top-left in RGB so the pad colour is exact', () => {
    expect(videoFilter(video)).toBe(
      "fps=5:eof_action=pass,scale=w='if(lte(416*ih\\,416*iw)\\,416\\,max(1\\,round(iw*416/ih)))':h='if(lte(416*ih\\,416*iw)\\,max(1\\,round(ih*416/iw))\\,416)':flags=bilinear+accurate_rnd+full_chroma_int,format=bgr24,pad=416:416:0:0:color=0x727272",
    );
  });

  it('stretches without padding', () => {
    expect(
      videoFilter({ ...video, resize: 'stretch', pixelFormat: 'rgb24', width: 320, height: 240 }),
    ).toBe(
      'fps=5:eof_action=pass,scale=320:240:flags=bilinear+accurate_rnd+full_chroma_int,format=rgb24',
    );
  });

  it('takes the last frame at or before each slot for live sources, and scales them cheaper', () => {
    expect(videoFilter(video, true)).toMatch(/^fps=5:round=up:eof_action=pass,scale=w=/);
    expect(videoFilter(video, true).slice('fps=5:round=up'.length)).toBe(
      videoFilter(video).slice('fps=5'.length).replace('+full_chroma_int', ''),
    );
  });
});
