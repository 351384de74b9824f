import { BannerParser } from './banner.parser';
import { parseLogLine } from './log-line.parser';

function parse(lines: string[]): { parser: BannerParser; completedAt: number } {
  const parser = new BannerParser();
  const completedAt = lines.findIndex((line) => parser.push(parseLogLine(line)));
  return { parser, completedAt };
}

const MP4 = [
  "[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/clips/comp01.mp4':",
  '[info]   Metadata:',
  '[info]     major_brand     : isom',
  '[info]   Duration: 00:00:10.00, start: 0.000000, bitrate: 309 kb/s',
  '[info]   Stream #0:0[0x1](eng): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, smpte170m, progressive), 640x480 [SAR 1:1 DAR 4:3], 175 kb/s, 25 fps, 25 tbr, 12800 tbn (default)',
  '[info]     Metadata:',
  '[info]       handler_name    : Stream #0:9: Video: fake, 1x1',
  '[info]   Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, mono, fltp, 125 kb/s (default)',
  '[info] Stream mapping:',
  '[info]   Stream #0:1 -> #0:0 (aac (native) -> pcm_f32le (native))',
];

describe('BannerParser', () => {
  it('reads streams, size and duration, and completes at the first line after the description', () => {
    const { parser, completedAt } = parse(MP4);
    expect(completedAt).toBe(8);
    expect(parser.info()).toEqual({
      hasAudio: true,
      hasVideo: true,
      durationSec: 10,
      width: 640,
      height: 480,
      rotation: 0,
      videoCodec: 'h264',
      audioCodec: 'aac',
    });
  });

  it('ignores component lines, which are not part of the description', () => {
    const lines = [MP4[0], '[mov,mp4 @ 0x1] [warning] something odd', ...MP4.slice(1)];
    expect(parse(lines).completedAt).toBe(9);
  });

  it('treats an image as video and a missing duration as unknown', () => {
    const { parser } = parse([
      "[info] Input #0, image2, from 'file:/ref/dog.jpg':",
      '[info]   Duration: N/A, start: 0.000000, bitrate: N/A',
      '[info]   Stream #0:0: Video: mjpeg (Baseline), yuvj440p(pc, bt470bg/unknown/unknown), 768x576, 25 fps, 25 tbr, 25 tbn',
      '[fatal] Output file #1 does not contain any stream',
    ]);
    expect(parser.complete).toBe(true);
    expect(parser.info()).toEqual({
      hasAudio: false,
      hasVideo: true,
      width: 768,
      height: 576,
      rotation: 0,
      videoCodec: 'mjpeg',
    });
  });

  it('does not count cover art as video', () => {
    const { parser } = parse([
      "[info] Input #0, mp3, from 'file:/a/song.mp3':",
      '[info]   Duration: 00:03:00.50, start: 0.025057, bitrate: 320 kb/s',
      '[info]   Stream #0:0: Audio: mp3, 44100 Hz, stereo, fltp, 320 kb/s',
      '[info]   Stream #0:1: Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 500x500 [SAR 1:1 DAR 1:1], 90k tbr, 90k tbn (attached pic)',
      '[info] Stream mapping:',
    ]);
    expect(parser.info()).toEqual({
      hasAudio: true,
      hasVideo: false,
      durationSec: 180.5,
      audioCodec: 'mp3',
    });
  });

  it('swaps width and height for a quarter-turn display rotation', () => {
    const { parser } = parse([
      "[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/phone.mp4':",
      '[info]   Stream #0:0(und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709), 1920x1080, 30 fps (default)',
      '[info]     Side data:',
      '[info]       displaymatrix: rotation of -90.00 degrees',
      '[info]   Stream #0:1(und): Audio: aac (LC), 48000 Hz, stereo, fltp',
      '[info] Stream mapping:',
    ]);
    expect(parser.info()).toMatchObject({ width: 1080, height: 1920, rotation: 270 });
  });
});
