import { Injectable } from '@nestjs/common';
import { KafkaBus } from '@app/bus';
import { loadServiceConfig } from '@app/config';
import { type StreamCommand, Topics } from '@app/contracts';
import { kafkaBusOptions } from '@app/service';
import { ExitCode } from '../cli/cli.errors';

/**
 * `vigil stream start|stop`: commands for the ingest service of a Kafka deployment, published
 * on vigil.streams.commands keyed by stream id (so a stream's start and stop stay in order).
 */
@Injectable()
export class StreamsService {
  /** Reads KAFKA_BROKERS and friends, validated like the services do. */
  async send(
    command: StreamCommand,
    out: NodeJS.WritableStream,
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<number> {
    const config = loadServiceConfig('cli', env);
    // A person is waiting: fail within seconds rather than retry for a minute.
    const bus = new KafkaBus({ ...kafkaBusOptions(config), retries: 2 });
    try {
      await bus.connect([Topics.streamCommands]);
      await bus.publish(Topics.streamCommands, command.streamId, command);
      out.write(`${command.streamId}\n`);
      return ExitCode.ok;
    } finally {
      await bus.close();
    }
  }
}
