import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Bus, BusMessage, Subscription } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { type StreamCommand, Topics } from '@app/contracts';
import { MediaDecoder, redactUrl } from '@app/media';
import { ModelRepository } from '@app/models';
import { IngestStage, StreamSupervisor, mediaOptionsFor } from '@app/pipeline';
import { BUS, HealthServer, SERVICE_CONFIG } from '@app/service';

export const INGEST_GROUP = 'vigil-ingest';

/**
 * The ingest service: acts on start/stop commands from vigil.streams.commands and runs each
 * stream through ffmpeg onto the media topics. A command is committed once acted on; the
 * stream itself runs on in the background.
 */
@Injectable()
export class IngestWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(IngestWorker.name);
  private supervisor?: StreamSupervisor;
  private subscription?: Subscription;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(BUS) private readonly bus: Bus,
    private readonly decoder: MediaDecoder,
    private readonly models: ModelRepository,
    private readonly health: HealthServer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const options = mediaOptionsFor(
      this.models.manifest(this.config.audioModel),
      this.models.manifest(this.config.videoModel),
      this.config.fps,
    );
    this.supervisor = new StreamSupervisor(new IngestStage(this.bus, this.decoder, options));
    await this.health.listen();
    this.subscription = await this.bus.subscribe(Topics.streamCommands, INGEST_GROUP, (m) =>
      this.onCommand(m),
    );
    this.health.setReady(true);
  }

  async onApplicationShutdown(): Promise<void> {
    this.health.setReady(false);
    await this.subscription?.close();
    await this.supervisor?.stopAll();
    await this.bus.close();
  }

  private async onCommand({ value: command }: BusMessage<StreamCommand>): Promise<void> {
    const supervisor = this.supervisor!;
    if (command.action === 'stop') {
      const stopped = await supervisor.stop(command.streamId);
      this.logger.log(
        `${command.streamId}: ${stopped ? 'stopped' : 'stop ignored, not running here'}`,
      );
      return;
    }
    const started = supervisor.start({
      streamId: command.streamId,
      source: command.source,
      live: command.live,
    });
    this.logger.log(
      `${command.streamId}: ${started ? 'started' : 'already running'} (${redactUrl(command.source)})`,
    );
  }
}
