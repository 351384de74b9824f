import { strictMock } from '@app/testing';
import type { FfmpegRunner } from './ffmpeg.runner';
import { ImageFileEncoder } from './image.encoder';
import { Raster } from './image.raster';
import type { PngEncoder } from './png.encoder';

function setup() {
  const run = jest.fn(async (..._args: Parameters<FfmpegRunner['run']>) => new Uint8Array([7]));
  return { run, encoder: new ImageFileEncoder(strictMock<FfmpegRunner>('runner', { run })) };
}

describe('ImageFileEncoder', () => {
  it('makes PNGs in this process, never through ffmpeg', async () => {
    const run = jest.fn();
    const encode = jest.fn(async () => new Uint8Array([0x89]));
    const encoder = new ImageFileEncoder(
      strictMock<FfmpegRunner>('runner', { run }),
      strictMock<PngEncoder>('png', { encode }),
    );
    const raster = new Raster(4, 3, 'rgb');
    await expect(encoder.png(raster)).resolves.toEqual(new Uint8Array([0x89]));
    expect(encode).toHaveBeenCalledWith(raster);
    expect(run).not.toHaveBeenCalled();
  });

  it('encodes a JPEG from bgr24 as it is, scaled when asked, quality clamped to ffmpeg range', async () => {
    const { run, encoder } = setup();
    const raster = new Raster(416, 312, 'bgr');
    await encoder.jpeg(raster, { width: 640, height: 480, quality: 1 });
    const [args, input] = run.mock.calls[0];
    expect(input).toBe(raster.pixels);
    expect(args.slice(0, 10)).toEqual([
      '-protocol_whitelist',
      'pipe',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'bgr24',
      '-s',
      '416x312',
      '-i',
      'pipe:0',
    ]);
    expect(args.slice(10)).toEqual([
      '-frames:v',
      '1',
      '-vf',
      'scale=640:480:flags=bicubic',
      '-pix_fmt',
      'yuvj444p',
      '-c:v',
      'mjpeg',
      '-q:v',
      '2',
      '-f',
      'image2',
      'pipe:1',
    ]);
  });

  it('leaves the size alone by default and uses quality 3', async () => {
    const { run, encoder } = setup();
    await encoder.jpeg(new Raster(8, 8, 'rgb'), { width: 8, height: 8 });
    const args = run.mock.calls[0][0];
    expect(args).not.toContain('-vf');
    expect(args[args.indexOf('-q:v') + 1]).toBe('3');
  });
});
