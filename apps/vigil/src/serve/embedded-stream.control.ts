import {
  ApiError,
  ApiErrorCode,
  StreamControl,
  type StreamInfo,
  type StreamSpec,
  StreamRegistry,
} from '@app/api';
import { type EmbeddedPipeline, streamHeaders } from '@app/pipeline';

/**
 * StreamService for `vigil serve`: streams run in this process, under the pipeline's
 * supervisor (live sources reconnect with backoff). The registry follows the status topic,
 * so GetStream shows what ingest last said.
 */
export class EmbeddedStreamControl extends StreamControl {
  constructor(
    private readonly pipeline: EmbeddedPipeline,
    private readonly registry: StreamRegistry,
    /** `models` is [audio model, video model]. */
    private readonly limits: {
      maxStreams: number;
      models: [string, string];
      fps: number;
      mediaRoots: string[];
    },
  ) {
    super();
  }

  capabilities() {
    return {
      models: this.limits.models,
      rulesProfiles: this.pipeline.profiles(),
      fps: this.limits.fps,
      mediaRoots: this.limits.mediaRoots,
    };
  }

  async start(spec: StreamSpec): Promise<StreamInfo> {
    // A retry of a start that was made: the same answer, nothing started again.
    const made = this.registry.startedBy(spec.streamId, spec.requestId);
    if (made) return made;
    // Streams and clip analyses share the pipeline's stream ids.
    if (this.pipeline.isActive(spec.streamId)) {
      throw new ApiError(ApiErrorCode.ALREADY_EXISTS, `stream ${spec.streamId} is already running`);
    }
    const running = this.pipeline.streams.active().length;
    if (running >= this.limits.maxStreams) {
      throw new ApiError(
        ApiErrorCode.RESOURCE_EXHAUSTED,
        `${running} streams are running, the most this server takes (streams.max)`,
      );
    }
    const headers = streamHeaders(spec);
    const info = this.registry.register(spec);
    this.pipeline.streams.start({
      streamId: spec.streamId,
      source: spec.source,
      live: spec.live,
      loop: spec.loop,
      fps: spec.fps,
      // A modality whose model was not asked for is not decoded at all.
      audio: spec.models.includes(this.limits.models[0]!),
      video: spec.models.includes(this.limits.models[1]!),
      headers,
    });
    return info;
  }

  async stop(streamId: string): Promise<StreamInfo> {
    const known = this.registry.get(streamId);
    const stopped = await this.pipeline.streams.stop(streamId);
    if (!stopped && !known) throw ApiError.notFound(`stream ${streamId}`);
    return this.registry.get(streamId)!;
  }

  get(streamId: string): StreamInfo | undefined {
    const info = this.registry.get(streamId);
    return info && this.withDrops(info);
  }

  override onChange(listener: (info: StreamInfo) => void): () => void {
    return this.registry.onChange(listener);
  }

  list(): StreamInfo[] {
    return this.registry.list().map((info) => this.withDrops(info));
  }

  /** Live frames inference dropped because the detector was behind: it runs in this process. */
  private withDrops(info: StreamInfo): StreamInfo {
    return { ...info, framesDropped: this.pipeline.droppedFrames(info.streamId) };
  }
}
