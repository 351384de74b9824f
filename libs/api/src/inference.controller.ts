import { Controller, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { ApiAuthGuard, RequireRole } from './api-auth.guard';
import { ApiError } from './api.error';
import { DirectInference, type SampleFormat } from './direct-inference.service';
import { CallContextInterceptor } from './call-context.interceptor';
import { GrpcExceptionFilter } from './grpc-exception.filter';
import { grpcDetection } from './grpc.mappers';

const SERVICE = 'InferenceService';
const FORMATS: Readonly<Record<string, SampleFormat>> = {
  SAMPLE_FORMAT_F32LE: 'f32le',
  SAMPLE_FORMAT_S16LE: 's16le',
};

/** vigil.v1.InferenceService: the models, one request at a time. */
@Controller()
@UseGuards(ApiAuthGuard)
@UseFilters(GrpcExceptionFilter)
@UseInterceptors(CallContextInterceptor)
@RequireRole('operator')
export class InferenceController {
  constructor(private readonly inference: DirectInference) {}

  @GrpcMethod(SERVICE, 'ClassifyAudio')
  async classifyAudio(request: {
    pcm?: Uint8Array;
    sampleRate?: number;
    format?: string;
    topK?: number;
  }) {
    const format = FORMATS[request.format ?? ''];
    if (!format)
      throw ApiError.invalid('format', 'must be SAMPLE_FORMAT_F32LE or SAMPLE_FORMAT_S16LE');
    const sampleRate = request.sampleRate ?? 0;
    if (!(Number.isInteger(sampleRate) && sampleRate >= 8000 && sampleRate <= 192000)) {
      throw ApiError.invalid('sample_rate', 'must be 8000 to 192000 Hz');
    }
    const topK = request.topK || 10;
    const result = await this.inference.classifyAudio({
      pcm: request.pcm ?? new Uint8Array(0),
      sampleRate,
      format,
      topK,
    });
    return { ...result, detections: result.detections.map(grpcDetection) };
  }

  @GrpcMethod(SERVICE, 'DetectObjects')
  async detectObjects(request: { image?: Uint8Array; minScore?: number | null }) {
    const minScore = request.minScore ?? undefined;
    if (minScore !== undefined && !(minScore >= 0 && minScore <= 1)) {
      throw ApiError.invalid('min_score', 'must be between 0 and 1');
    }
    const result = await this.inference.detectObjects({
      image: request.image ?? new Uint8Array(0),
      minScore,
    });
    return {
      ...result,
      objects: result.objects.map((o) => ({ label: o.label, score: o.score, box: o.box })),
      detections: result.detections.map(grpcDetection),
    };
  }
}
