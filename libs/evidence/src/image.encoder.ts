import { FfmpegRunner } from './ffmpeg.runner';
import type { Raster } from './image.raster';
import { PngEncoder } from './png.encoder';

export interface JpegOptions {
  /** ffmpeg's -q:v, 2 (best) .. 31; default 3: sharp box edges and text at a few tens of kB. */
  quality?: number;
  /** Resize to this size while encoding (e.g. back to the camera's resolution). */
  width?: number;
  height?: number;
}

/** Turns rasters into image files. */
export interface ImageEncoder {
  png(raster: Raster): Promise<Uint8Array>;
  jpeg(raster: Raster, options?: JpegOptions): Promise<Uint8Array>;
}

/**
 * PNG in this process (zlib), JPEG on the ffmpeg Vigil already has, so it needs no image
 * library: a JPEG is a snapshot per incident, where an encoder of our own would not pay.
 */
export class ImageFileEncoder implements ImageEncoder {
  constructor(
    private readonly runner: Pick<FfmpegRunner, 'run'> = new FfmpegRunner(),
    private readonly pngEncoder = new PngEncoder(),
  ) {}

  png(raster: Raster): Promise<Uint8Array> {
    return this.pngEncoder.encode(raster);
  }

  jpeg(raster: Raster, options: JpegOptions = {}): Promise<Uint8Array> {
    const quality = Math.min(31, Math.max(2, Math.round(options.quality ?? 3)));
    const resize =
      options.width !== undefined &&
      options.height !== undefined &&
      (options.width !== raster.width || options.height !== raster.height);
    const args = [
      ...rawInput(raster),
      '-frames:v',
      '1',
      ...(resize ? ['-vf', `scale=${options.width}:${options.height}:flags=bicubic`] : []),
      // Full chroma resolution: 4:2:0 would smear 2-px coloured box lines and label text.
      '-pix_fmt',
      'yuvj444p',
      '-c:v',
      'mjpeg',
      '-q:v',
      String(quality),
      '-f',
      'image2',
      'pipe:1',
    ];
    return this.runner.run(args, raster.pixels, `JPEG ${raster.width}x${raster.height}`);
  }
}

/** Raw packed pixels on stdin; only the pipe protocol may be opened. */
function rawInput(raster: Raster): string[] {
  return [
    '-protocol_whitelist',
    'pipe',
    '-f',
    'rawvideo',
    '-pix_fmt',
    raster.order === 'rgb' ? 'rgb24' : 'bgr24',
    '-s',
    `${raster.width}x${raster.height}`,
    '-i',
    'pipe:0',
  ];
}
