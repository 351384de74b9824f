import { strictMock } from '@app/testing/strict-mock';
import { scaledGeometry } from './frame-geometry';
import { MODEL_CATALOG } from './model.catalog';
import type { ModelManifest } from './model.manifest';
import type { Feed, ModelSession, TensorData } from './model-session';
import { ObjectDetector } from './object-detector.runner';

const COCO = Array.from({ length: 80 }, (_, i) => (i === 0 ? 'person' : `label${i}`));
const yolox = MODEL_CATALOG['yolox-nano']!;
const fastestdet = MODEL_CATALOG['fastestdet']!;

function emptyOutput(manifest: ModelManifest): TensorData {
  return manifest.output.decoder === 'yolox'
    ? { data: new Float32Array(3549 * 85), dims: [1, 3549, 85] }
    : { data: new Float32Array(85 * 22 * 22), dims: [1, 85, 22, 22] };
}

function frame(manifest: ModelManifest, fill: (i: number) => number) {
  const width = manifest.input.width!;
  const height = manifest.input.height!;
  const pixels = new Uint8Array(width * height * 3).map((_, i) => fill(i));
  return { pixels, width, height, geometry: scaledGeometry(width, height, width, height) };
}

describe('ObjectDetector', () => {
  it('hands YOLOX the frame as 8-bit BGR pixels at raw 0-255 scale, for the session to convert', async () => {
    const run = jest.fn(async (_feeds: Record<string, Feed>) => ({ output: emptyOutput(yolox) }));
    const detector = new ObjectDetector(strictMock<ModelSession>('session', { run }), yolox, COCO);
    const input = frame(yolox, (i) => (i % 3) + 1);
    await expect(detector.detect(input)).resolves.toEqual([]);
    expect(run).toHaveBeenCalledWith({
      images: { pixels: input.pixels, width: 416, height: 416, scale: 1, swapRedBlue: false },
    });
  });

  it('divides by 255 for FastestDet and swaps rgb24 frames into bgr', async () => {
    const run = jest.fn(async (_feeds: Record<string, Feed>) => ({
      '758': emptyOutput(fastestdet),
    }));
    const detector = new ObjectDetector(
      strictMock<ModelSession>('session', { run }),
      fastestdet,
      COCO,
    );
    await detector.detect({ ...frame(fastestdet, (i) => (i % 3) + 1), pixelFormat: 'rgb24' });
    expect(run).toHaveBeenCalledWith({
      'input.1': expect.objectContaining({ scale: 1 / 255, swapRedBlue: true }),
    });
  });

  it('decodes boxes with the manifest cut and maps them through the frame geometry', async () => {
    const out = emptyOutput(yolox);
    // Stride-8 cell (20, 10): a person at (164, 84), 32x16 model pixels, score 0.9 x 0.9.
    out.data.set([0.5, 0.5, Math.log(4), Math.log(2), 0.9, 0.9], (10 * 52 + 20) * 85);
    const session = strictMock<ModelSession>('session', {
      run: jest.fn(async () => ({ output: out })),
    });
    const detector = new ObjectDetector(session, yolox, COCO);
    const boxes = await detector.detect({
      ...frame(yolox, () => 0),
      geometry: scaledGeometry(832, 624, 416, 312),
    });
    expect(boxes).toHaveLength(1);
    expect(boxes[0]!.label).toBe('person');
    expect(boxes[0]!.box.map((v) => Math.round(v * 1000) / 1000)).toEqual([296, 152, 360, 184]);
  });

  it('keeps working after a failed frame', async () => {
    const run = jest
      .fn()
      .mockRejectedValueOnce(new Error('boom'))
      .mockResolvedValueOnce({ output: emptyOutput(yolox) });
    const detector = new ObjectDetector(strictMock<ModelSession>('session', { run }), yolox, COCO);
    await expect(detector.detect(frame(yolox, () => 0))).rejects.toThrow('boom');
    await expect(detector.detect(frame(yolox, () => 0))).resolves.toEqual([]);
  });

  it('rejects frames of the wrong size and audio manifests', async () => {
    const detector = new ObjectDetector(strictMock<ModelSession>('session', {}), yolox, COCO);
    await expect(detector.detect(frame(fastestdet, () => 0))).rejects.toThrow(
      'yolox-nano takes 416x416 frames, got 352x352',
    );
    expect(
      () =>
        new ObjectDetector(
          strictMock<ModelSession>('session', {}),
          MODEL_CATALOG['efficientat-mn04']!,
          COCO,
        ),
    ).toThrow('not an object-detection model');
  });
});
