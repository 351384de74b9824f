import { strictMock } from '@app/testing/strict-mock';
import { scaledGeometry } from './frame-geometry';
import { MODEL_CATALOG } from './model.catalog';
import type { ModelManifest } from './model.manifest';
import type { ModelSession, TensorData } from './model-session';
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
  it('feeds one NCHW float frame of raw 0-255 BGR values to YOLOX', async () => {
    const seen: TensorData[] = [];
    const session = strictMock<ModelSession>('session', {
      run: jest.fn(async (feeds: Record<string, TensorData>) => {
        seen.push({ data: feeds.images!.data.slice(), dims: feeds.images!.dims });
        return { output: emptyOutput(yolox) };
      }),
    });
    const detector = new ObjectDetector(session, yolox, COCO);
    // Every pixel is (B, G, R) = (1, 2, 3).
    await expect(detector.detect(frame(yolox, (i) => (i % 3) + 1))).resolves.toEqual([]);
    expect(seen[0]!.dims).toEqual([1, 3, 416, 416]);
    const plane = 416 * 416;
    expect([seen[0]!.data[0], seen[0]!.data[plane], seen[0]!.data[2 * plane]]).toEqual([1, 2, 3]);
  });

  it('divides by 255 for FastestDet and swaps rgb24 frames into bgr', async () => {
    const run = jest.fn(async (feeds: Record<string, TensorData>) => {
      const data = feeds['input.1']!.data;
      expect(data[0]).toBeCloseTo(3 / 255, 6);
      expect(data[2 * 352 * 352]).toBeCloseTo(1 / 255, 6);
      return { '758': emptyOutput(fastestdet) };
    });
    const detector = new ObjectDetector(
      strictMock<ModelSession>('session', { run }),
      fastestdet,
      COCO,
    );
    await detector.detect({ ...frame(fastestdet, (i) => (i % 3) + 1), pixelFormat: 'rgb24' });
    expect(run).toHaveBeenCalledTimes(1);
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

  it('runs frames side by side, each with an input buffer of its own, reused afterwards', async () => {
    const inputs: Float32Array[] = [];
    const seenFirstPixel: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const run = jest.fn(async (feeds: Record<string, TensorData>) => {
      const data = feeds.images!.data as Float32Array;
      inputs.push(data);
      await gate;
      // Read only after every frame was submitted: a shared buffer would show the last frame.
      seenFirstPixel.push(data[0]!);
      return { output: emptyOutput(yolox) };
    });
    const detector = new ObjectDetector(strictMock<ModelSession>('session', { run }), yolox, COCO);
    const running = [1, 2, 3].map((v) => detector.detect(frame(yolox, () => v)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(run).toHaveBeenCalledTimes(3);
    release();
    await Promise.all(running);
    expect(seenFirstPixel).toEqual([1, 2, 3]);
    expect(new Set(inputs).size).toBe(3);
    await detector.detect(frame(yolox, () => 4));
    expect(inputs.slice(0, 3)).toContain(inputs[3]);
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
