import { Controller, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { ApiAuthGuard, RequireRole } from './api-auth.guard';
import { ApiError } from './api.error';
import { StreamControl } from './api.ports';
import { CallContextInterceptor } from './call-context.interceptor';
import { GrpcExceptionFilter } from './grpc-exception.filter';
import { grpcStream } from './grpc.mappers';
import { streamId, streamSpec, streamStates } from './request.parsers';

const SERVICE = 'StreamService';

/** vigil.v1.StreamService: cameras on and off. Validation here, the work in StreamControl. */
@Controller()
@UseGuards(ApiAuthGuard)
@UseFilters(GrpcExceptionFilter)
@UseInterceptors(CallContextInterceptor)
@RequireRole('operator')
export class StreamController {
  constructor(private readonly streams: StreamControl) {}

  @GrpcMethod(SERVICE, 'StartStream')
  async startStream(request: Parameters<typeof streamSpec>[0]) {
    const spec = streamSpec(request, this.streams.capabilities());
    return grpcStream(await this.streams.start(spec));
  }

  @GrpcMethod(SERVICE, 'StopStream')
  async stopStream(request: { streamId?: string }) {
    return grpcStream(await this.streams.stop(streamId(request.streamId)));
  }

  @GrpcMethod(SERVICE, 'GetStream')
  getStream(request: { streamId?: string }) {
    const id = streamId(request.streamId);
    const info = this.streams.get(id);
    if (!info) throw ApiError.notFound(`stream ${id}`);
    return grpcStream(info);
  }

  @GrpcMethod(SERVICE, 'ListStreams')
  listStreams(request: { states?: string[] }) {
    const states = streamStates(request.states);
    const streams = this.streams
      .list()
      .filter((s) => states.length === 0 || states.includes(s.state))
      .sort((a, b) => a.streamId.localeCompare(b.streamId));
    return { streams: streams.map(grpcStream) };
  }
}
