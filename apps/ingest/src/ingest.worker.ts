import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Bus } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { MediaDecoder } from '@app/media';
import { ModelRepository } from '@app/models';
import {
  DetectionLagPacer,
  IngestStage,
  type StartCommand,
  StreamCommandStage,
  StreamSupervisor,
  mediaOptionsFor,
  streamHeaders,
} from '@app/pipeline';
import { BUS, HealthServer, type Runnable, SERVICE_CONFIG, StageWorker } from '@app/service';

export const INGEST_GROUP = 'vigil-ingest';

/** Stream seconds between checkpoints: how much a stream taken over decodes and sends again. */
const CHECKPOINT_SEC = 1;

/**
 * The ingest service: acts on start/stop commands from vigil.streams.commands and runs each
 * stream through ffmpeg onto the media topics. Streams are durable: a restarted ingest, or the
 * replica that takes a partition of the commands over, resumes every stream started there and
 * not ended; shutdown hands the streams over rather than ending them.
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
      this.config.liveAudioChunkMs / 1000,
    );
    const pacer =
      this.config.ingestMaxLagSec > 0
        ? new DetectionLagPacer(this.bus, {
            maxLagSec: this.config.ingestMaxLagSec,
            // Every replica follows every stream's detections: a group of this process alone.
            group: `${INGEST_GROUP}-pacer.${this.config.instanceId}.${randomUUID().slice(0, 8)}`,
          })
        : undefined;
    const ingest = new IngestStage(this.bus, this.decoder, {
      ...options,
      checkpointSec: CHECKPOINT_SEC,
      pacer,
      // Gated here, not in inference: still frames then cross the broker without their pixels.
      motion: this.config.motionGating ? {} : undefined,
    });
    const commands = new StreamCommandStage(this.bus, new StreamSupervisor(ingest), {
      group: INGEST_GROUP,
      // The status topic is read whole at every start: a group of this process alone.
      ledgerGroup: `${INGEST_GROUP}-ledger.${this.config.instanceId}.${randomUUID().slice(0, 8)}`,
      requestFor: (command) => this.requestFor(command),
      log: (message) => this.logger.log(message),
    });
    return {
      // Pacing follows detections before any stream starts. At shutdown the streams are handed
      // over first (their abort wakes a paced wait), so none runs unpaced in between.
      start: async () => {
        await pacer?.start();
        await commands.start();
      },
      stop: async () => {
        await commands.stop();
        await pacer?.stop();
      },
    };
  }

  private requestFor(command: StartCommand) {
    const models = command.models ?? [];
    return {
      streamId: command.streamId,
      source: command.source,
      live: command.live,
      loop: command.loop,
      fps: command.fps,
      // A modality whose model was not asked for is not decoded at all.
      audio: models.length === 0 || models.includes(this.config.audioModel),
      video: models.length === 0 || models.includes(this.config.videoModel),
      headers: streamHeaders(command),
    };
  }
}
