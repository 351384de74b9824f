import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Bus, BusMessage, Subscription } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { type StreamCommand, Topics } from '@app/contracts';
import { MediaDecoder, redactUrl } from '@app/media';
import { ModelRepository } from '@app/models';
import { IngestStage, StreamSupervisor, mediaOptionsFor, streamHeaders } from '@app/pipeline';
import { BUS, HealthServer, type Runnable, SERVICE_CONFIG, StageWorker } from '@app/service';

export const INGEST_GROUP = 'vigil-ingest';

/**
 * The ingest service: acts on start/stop commands from vigil.streams.commands and runs each
 * stream through ffmpeg onto the media topics. A command is committed once acted on; the
 * stream itself runs on in the background, and shutdown stops (and closes) every stream.
 */
@Injectable()
export class IngestWorker extends StageWorker {
  private readonly logger = new Logger(IngestWorker.name);

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(BUS) bus: Bus,
    private readonly decoder: MediaDecoder,
    private readonly models: ModelRepository,
    health: HealthServer,
  ) {
    super(bus, health);
  }

  protected async createStage(): Promise<Runnable> {
    const options = mediaOptionsFor(
      this.models.manifest(this.config.audioModel),
      this.models.manifest(this.config.videoModel),
      this.config.fps,
    );
    const supervisor = new StreamSupervisor(new IngestStage(this.bus, this.decoder, options));
    let subscription: Subscription | undefined;
    return {
      start: async () => {
        // Latest, not earliest: replaying retained start commands after the group's offsets
        // expired would restart streams nobody asked for.
        subscription = await this.bus.subscribe(
          Topics.streamCommands,
          INGEST_GROUP,
          (m) => this.onCommand(supervisor, m),
          { startFrom: 'latest' },
        );
      },
      stop: async () => {
        await subscription?.close();
        await supervisor.stopAll();
      },
    };
  }

  private async onCommand(
    supervisor: StreamSupervisor,
    { value: command }: BusMessage<StreamCommand>,
  ) {
    if (command.action === 'stop') {
      const stopped = await supervisor.stop(command.streamId);
      this.logger.log(
        `${command.streamId}: ${stopped ? 'stopped' : 'stop ignored, not running here'}`,
      );
      return;
    }
    const models = command.models ?? [];
    const started = supervisor.start({
      streamId: command.streamId,
      source: command.source,
      live: command.live,
      loop: command.loop,
      fps: command.fps,
      // A modality whose model was not asked for is not decoded at all.
      audio: models.length === 0 || models.includes(this.config.audioModel),
      video: models.length === 0 || models.includes(this.config.videoModel),
      headers: streamHeaders(command),
    });
    this.logger.log(
      `${command.streamId}: ${started ? 'started' : 'already running'} (${redactUrl(command.source)})`,
    );
  }
}
