import type { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { VigilConfig } from '@app/config';
import { type EdgeConfig, loadEdgeConfig } from '@app/service';
import { EdgeModule } from './edge.module';
import { EdgeRuntime, type EdgeRuntimeOptions } from './edge.runtime';
import { stopRequested } from '../cli/stop.signal';

export interface RunningEdge {
  runtime: EdgeRuntime;
  close(): Promise<void>;
}

/**
 * Starts `vigil edge` and resolves once its pipeline and uplink run; `runtime.startStreams()`
 * then starts its cameras. The CLI, the e2e test and the bench share it.
 */
export async function startEdge(
  config: EdgeConfig,
  logger: LoggerService | false,
  options: EdgeRuntimeOptions = {},
): Promise<RunningEdge> {
  const app = await NestFactory.createApplicationContext(EdgeModule.forRoot(config, options), {
    logger,
    abortOnError: false,
  });
  return { runtime: app.get(EdgeRuntime), close: () => app.close() };
}

export async function edge(
  configFile: string | undefined,
  /** What the command line overrides (`--models`, `--precision`). */
  overrides: Partial<VigilConfig>,
  logger: LoggerService,
  out: NodeJS.WritableStream,
): Promise<number> {
  const config = loadEdgeConfig(configFile, process.env, overrides);
  const running = await startEdge(config, logger);
  const { runtime } = running;
  runtime.startStreams();
  out.write(
    [
      `vigil edge ${config.edgeId}: ${config.streams.length} stream(s) → Kafka ${config.service.kafka.brokers.join(',')} (${config.service.kafka.ssl ? 'TLS' : 'plaintext'}${config.service.kafka.sasl ? `, SASL ${config.service.kafka.sasl.mechanism}` : ''})`,
      config.evidence.enabled
        ? `  sends: detections, stream status and incidents' evidence (no audio, no frames)`
        : `  sends: detections and stream status only (no audio, no frames, no evidence)`,
      `  spool: ${config.spool.dir} (at most ${config.spool.maxBytes} bytes, ${config.spool.maxAgeSec} s; ${runtime.spool.pending} record(s) waiting)`,
      `  health and metrics: ${runtime.healthPort !== undefined ? `:${runtime.healthPort}/health/{live,ready}, /metrics` : 'off'}`,
      '',
    ].join('\n'),
  );
  await stopRequested();
  out.write('vigil edge: stopping\n');
  await running.close();
  return 0;
}
