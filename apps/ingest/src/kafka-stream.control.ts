import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  ApiError,
  ApiErrorCode,
  StreamControl,
  type StreamInfo,
  StreamRegistry,
  type StreamSpec,
} from '@app/api';
import { type Bus, CORRELATION_HEADER, type Headers, type Subscription } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { Topics } from '@app/contracts';
import { currentLogContext } from '@app/logging';
import { REQUEST_HEADER } from '@app/pipeline';
import { type ApiConfig, API_CONFIG, BUS, SERVICE_CONFIG } from '@app/service';

/**
 * StreamService in the microservice deployment: a start or stop becomes a command on
 * vigil.streams.commands, so whichever ingest replica owns the stream's partition acts on it,
 * exactly as for `vigil stream start`. Every replica follows the status topic from the start
 * in a group of its own, so any of them answers GetStream and ListStreams for all streams.
 */
@Injectable()
export class KafkaStreamControl
  extends StreamControl
  implements OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly registry = new StreamRegistry();
  private subscription?: Subscription;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(API_CONFIG) private readonly api: ApiConfig,
    @Inject(BUS) private readonly bus: Bus,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    const defaults = {
      live: false,
      loop: false,
      fps: this.config.fps,
      models: this.capabilities().models,
      rulesProfile: 'default',
      labels: {},
    };
    this.subscription = await this.bus.subscribe(
      Topics.streamStatus,
      `vigil-ingest-api.${this.config.instanceId}`,
      async ({ value, headers }) =>
        void this.registry.apply(value, defaults, headers[REQUEST_HEADER]),
      { startFrom: 'earliest' },
    );
  }

  async onApplicationShutdown(): Promise<void> {
    // The worker may have closed the bus already; the subscription then went with it.
    await this.subscription?.close().catch(() => undefined);
  }

  capabilities() {
    return {
      models: [this.config.audioModel, this.config.videoModel],
      rulesProfiles: ['default', ...Object.keys(this.api.rulesProfiles)],
      fps: this.config.fps,
      mediaRoots: this.api.streams.mediaRoots,
    };
  }

  async start(spec: StreamSpec): Promise<StreamInfo> {
    // A retry of a start this deployment made (here or on another replica): the same answer,
    // no second command. One that raced its first try here is caught by ingest's ledger.
    const made = this.registry.startedBy(spec.streamId, spec.requestId);
    if (made) return made;
    if (this.registry.isRunning(spec.streamId)) {
      throw new ApiError(ApiErrorCode.ALREADY_EXISTS, `stream ${spec.streamId} is already running`);
    }
    const running = this.registry.runningCount();
    if (running >= this.api.streams.max) {
      throw new ApiError(
        ApiErrorCode.RESOURCE_EXHAUSTED,
        `${running} streams are running, the most this deployment takes (streams.max)`,
      );
    }
    await this.bus.publish(
      Topics.streamCommands,
      spec.streamId,
      {
        streamId: spec.streamId,
        action: 'start',
        source: spec.source,
        live: spec.live,
        ...(spec.loop ? { loop: true } : {}),
        fps: spec.fps,
        labels: spec.labels,
        rulesProfile: spec.rulesProfile,
        models: spec.models,
        ...(spec.requestId ? { requestId: spec.requestId } : {}),
      },
      callHeaders(),
    );
    return this.registry.register(spec);
  }

  async stop(streamId: string): Promise<StreamInfo> {
    const known = this.registry.get(streamId);
    if (!known) throw ApiError.notFound(`stream ${streamId}`);
    await this.bus.publish(
      Topics.streamCommands,
      streamId,
      { streamId, action: 'stop' },
      callHeaders(),
    );
    return known;
  }

  get(streamId: string): StreamInfo | undefined {
    return this.registry.get(streamId);
  }

  list(): StreamInfo[] {
    return this.registry.list();
  }
}

/** The calling request's correlation id, so ingest's lines about the command carry it too. */
function callHeaders(): Headers {
  const { correlationId } = currentLogContext();
  return correlationId ? { [CORRELATION_HEADER]: correlationId } : {};
}
