import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { FrameGeometry } from '@app/contracts';
import { type DetectorFrame, type ModelManifest, scaledGeometry } from '@app/models';

const FFMPEG =
  process.env.FFMPEG_PATH ?? (existsSync('/usr/bin/ffmpeg') ? '/usr/bin/ffmpeg' : 'ffmpeg');

/**
 * Decodes a picture the way the detector's manifest asks (letterbox top-left or stretch) and
 * reads the source and scaled sizes back from ffmpeg's showinfo, so the geometry is what ffmpeg
 * really did. Bilinear scaling: the detectors' reference numbers come from cv2's INTER_LINEAR.
 */
export function detectorFrame(manifest: ModelManifest, path: string): DetectorFrame {
  const { width, height, resize, padColor } = manifest.input;
  const filter =
    resize === 'letterbox-topleft'
      ? `showinfo,scale=${width}:${height}:force_original_aspect_ratio=decrease:flags=bilinear,showinfo,` +
        `format=bgr24,pad=${width}:${height}:0:0:color=${padColor}`
      : `showinfo,scale=${width}:${height}:flags=bilinear,showinfo`;
  const res = spawnSync(
    FFMPEG,
    [
      '-v',
      'info',
      '-nostats',
      '-i',
      path,
      '-frames:v',
      '1',
      '-vf',
      filter,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'bgr24',
      'pipe:1',
    ],
    { maxBuffer: 1 << 26 },
  );
  if (res.status !== 0) throw new Error(`ffmpeg failed: ${res.stderr.toString().slice(-400)}`);
  const sizes = [...res.stderr.toString().matchAll(/Parsed_showinfo.* s:(\d+)x(\d+)/g)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  const [[sourceW, sourceH], [scaledW, scaledH]] = sizes as [[number, number], [number, number]];
  const geometry: FrameGeometry = scaledGeometry(sourceW, sourceH, scaledW, scaledH);
  const pixels = new Uint8Array(res.stdout.buffer, res.stdout.byteOffset, res.stdout.byteLength);
  return { pixels, width: width!, height: height!, geometry };
}
