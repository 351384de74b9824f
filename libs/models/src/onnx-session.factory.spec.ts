import type { InferenceSession } from 'onnxruntime-node';
import { strictMock } from '@app/testing/strict-mock';
import { OnnxSessionFactory } from './onnx-session.factory';
import type { ModelsLogger, OrtRuntime, TensorRtOptions } from './onnx-session.factory';

class FakeTensor {
  constructor(
    readonly type: string,
    readonly data: Float32Array,
    readonly dims: readonly number[],
  ) {}
}

function fakeSession(): InferenceSession {
  return strictMock<InferenceSession>('session', {
    inputNames: ['in'],
    outputNames: ['out'],
    run: jest.fn(async (feeds: Record<string, unknown>) => {
      const input = feeds.in as FakeTensor;
      return {
        out: new FakeTensor(
          'float32',
          input.data.map((v) => v * 2),
          input.dims,
        ),
      };
    }) as unknown as InferenceSession['run'],
    release: jest.fn(async () => undefined),
  });
}

function setup(
  create: (path: string, options: InferenceSession.SessionOptions) => Promise<InferenceSession>,
) {
  const logger = strictMock<ModelsLogger>('logger', { log: jest.fn(), warn: jest.fn() });
  const runtime = strictMock<OrtRuntime>('runtime', {
    InferenceSession: { create: jest.fn(create) },
    Tensor: FakeTensor as unknown as OrtRuntime['Tensor'],
  });
  return { logger, runtime, create: runtime.InferenceSession.create as jest.Mock };
}

describe('OnnxSessionFactory', () => {
  it('creates CPU sessions with one intra-op thread and full graph optimisation by default', async () => {
    const { logger, runtime, create } = setup(async () => fakeSession());
    const session = await new OnnxSessionFactory(logger, {}, async () => runtime).create(
      '/m/a.onnx',
    );
    expect(session.executionProvider).toBe('cpu');
    expect(create).toHaveBeenCalledTimes(1);
    expect(create).toHaveBeenCalledWith(
      '/m/a.onnx',
      expect.objectContaining({
        executionProviders: ['cpu'],
        intraOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      }),
    );
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it('falls back to cpu with a warning when the cuda provider cannot start', async () => {
    const { logger, runtime, create } = setup(async (_path, options) => {
      if (options.executionProviders?.includes('cuda')) {
        throw new Error(
          'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library\nmore',
        );
      }
      return fakeSession();
    });
    const factory = new OnnxSessionFactory(
      logger,
      { executionProvider: 'cuda', intraOpNumThreads: 2 },
      async () => runtime,
    );
    const session = await factory.create('/m/a.onnx');
    expect(session.executionProvider).toBe('cpu');
    expect(create.mock.calls.map(([, o]) => o.executionProviders)).toEqual([
      ['cuda', 'cpu'],
      ['cpu'],
    ]);
    expect(create.mock.calls[1]![1]).toMatchObject({ intraOpNumThreads: 2 });
    expect(logger.warn).toHaveBeenCalledWith(
      '/m/a.onnx: execution provider cuda unavailable, falling back to cpu ' +
        '(OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library)',
    );
  });

  it('uses a GPU provider when it starts, with the cuda and cpu fallbacks for unsupported nodes', async () => {
    const { logger, runtime, create } = setup(async () => fakeSession());
    const session = await new OnnxSessionFactory(
      logger,
      { executionProvider: 'tensorrt' },
      async () => runtime,
    ).create('/m/a.onnx');
    expect(session.executionProvider).toBe('tensorrt');
    expect(create).toHaveBeenCalledWith(
      '/m/a.onnx',
      expect.objectContaining({ executionProviders: ['tensorrt', 'cuda', 'cpu'] }),
    );
    expect(logger.log).toHaveBeenCalledWith('/m/a.onnx: running on tensorrt');
  });

  it('asks TensorRT for the configured precision and engine cache, and leaves what the user set', async () => {
    const { logger, runtime } = setup(async () => fakeSession());
    const trt = (tensorrt: TensorRtOptions, env: Record<string, string | undefined>) =>
      new OnnxSessionFactory(
        logger,
        { executionProvider: 'tensorrt', tensorrt },
        async () => runtime,
        env,
      ).create('/m/a.onnx');
    const int8: Record<string, string | undefined> = {};
    await trt({ precision: 'int8', cacheDir: '/var/cache/trt' }, int8);
    expect(int8).toEqual({
      ORT_TENSORRT_FP16_ENABLE: '1',
      ORT_TENSORRT_INT8_ENABLE: '1',
      ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
      ORT_TENSORRT_CACHE_PATH: '/var/cache/trt',
    });
    const user: Record<string, string | undefined> = { ORT_TENSORRT_FP16_ENABLE: '1' };
    await trt({ precision: 'fp32' }, user);
    expect(user).toEqual({ ORT_TENSORRT_FP16_ENABLE: '1', ORT_TENSORRT_INT8_ENABLE: '0' });
    // Other providers touch nothing.
    const cuda: Record<string, string | undefined> = {};
    await new OnnxSessionFactory(
      logger,
      { executionProvider: 'cuda', tensorrt: { precision: 'int8' } },
      async () => runtime,
      cuda,
    ).create('/m/a.onnx');
    expect(cuda).toEqual({});
  });

  it('passes plain float32 data in and out', async () => {
    const { logger, runtime } = setup(async () => fakeSession());
    const session = await new OnnxSessionFactory(logger, {}, async () => runtime).create(
      '/m/a.onnx',
    );
    const out = await session.run({ in: { data: new Float32Array([1, 2, 3]), dims: [1, 3] } });
    expect(Array.from(out.out!.data)).toEqual([2, 4, 6]);
    expect(out.out!.dims).toEqual([1, 3]);
  });

  it('turns an image feed into the planar float tensor here when the runtime does not', async () => {
    const { logger, runtime } = setup(async () => fakeSession());
    const session = await new OnnxSessionFactory(logger, {}, async () => runtime).create(
      '/m/a.onnx',
    );
    // Two pixels of a 2x1 rgb24 image for a bgr model, scaled by 1/2 (the fake doubles it back).
    const pixels = Uint8Array.of(1, 2, 3, 4, 5, 6);
    const out = await session.run({
      in: { pixels, width: 2, height: 1, scale: 0.5, swapRedBlue: true },
    });
    expect(out.out!.dims).toEqual([1, 3, 1, 2]);
    expect(Array.from(out.out!.data)).toEqual([3, 6, 2, 5, 1, 4]);
  });

  it('rejects bad options up front', () => {
    const logger = strictMock<ModelsLogger>('logger', {});
    expect(() => new OnnxSessionFactory(logger, { intraOpNumThreads: 0 })).toThrow(
      /intraOpNumThreads/,
    );
    expect(
      () => new OnnxSessionFactory(logger, { executionProvider: 'rocm' as unknown as 'cpu' }),
    ).toThrow('executionProvider must be one of cpu, cuda, tensorrt (got rocm)');
  });
});
