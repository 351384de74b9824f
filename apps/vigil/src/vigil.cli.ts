import { NestFactory } from '@nestjs/core';
import { type VigilConfig, loadConfig, loadLogLevel } from '@app/config';
import type { PrecisionChoice } from '@app/models';
import { AnalyzeService } from './analyze/analyze.service';
import { type Command, USAGE, parseCommand } from './cli/cli.args';
import { ExitCode, describeFailure } from './cli/cli.errors';
import { Clock } from './cli/clock';
import { ProgressBar } from './cli/progress.bar';
import { formatReport, incidentLine, jsonLines } from './cli/report.formatter';
import { evalJson, formatEval } from './cli/eval.formatter';
import { EvalService } from './eval/eval.service';
import {
  EvalLabelsError,
  checkBars,
  mergeEvalSets,
  parseBars,
  parseEvalLabels,
} from '@app/evaluation';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { StderrLogger } from './cli/stderr.logger';
import { ModelsService } from './models/models.service';
import { isStreamingSource, streamIdFor } from '@app/contracts';
import { DEFAULT_SERVE_ADDRESS } from '@app/service';
import { StreamsService } from './streams/streams.service';
import { serve } from './serve/serve.command';
import { edge } from './edge/edge.command';
import { GrpcWebhookApi } from './webhooks/webhook-api.client';
import { WebhooksService } from './webhooks/webhooks.service';
import { VigilModule } from './vigil.module';

/** serve logs what it does (`log`) unless VIGIL_LOG_LEVEL says otherwise. */
function logLevel() {
  return loadLogLevel(process.env, 'log');
}

const VERSION = '0.1.0';

async function run(argv: string[]): Promise<number> {
  const command = parseCommand(argv);
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return ExitCode.ok;
  }
  if (command.kind === 'version') {
    process.stdout.write(`vigil ${VERSION}\n`);
    return ExitCode.ok;
  }
  if (command.kind === 'stream') {
    const service = new StreamsService();
    return command.action === 'start'
      ? service.send(
          {
            streamId: command.streamId ?? streamIdFor(command.source),
            action: 'start',
            source: command.source,
            // A camera protocol is live unless said otherwise, as in StartStream.
            ...(command.live || isStreamingSource(command.source) ? { live: true } : {}),
            ...(command.loop ? { loop: true } : {}),
          },
          process.stdout,
        )
      : service.send({ streamId: command.streamId, action: 'stop' }, process.stdout);
  }
  if (command.kind === 'webhooks') {
    // A client of a running server: no models, no Nest context.
    const api = new GrpcWebhookApi({
      address: command.address ?? process.env.VIGIL_GRPC_ADDRESS ?? DEFAULT_SERVE_ADDRESS,
      ...(process.env.VIGIL_API_TOKEN ? { token: process.env.VIGIL_API_TOKEN } : {}),
      ...(command.caFile ? { caFile: command.caFile } : {}),
    });
    return new WebhooksService(api).run(command, process.stdout);
  }
  if (command.kind === 'serve' || command.kind === 'edge') {
    const run = command.kind === 'serve' ? serve : edge;
    return run(
      command.configFile,
      modelOverrides(command),
      new StderrLogger(logLevel()),
      process.stdout,
    );
  }
  const config = loadConfig(process.env, {
    modelsDir: command.modelsDir,
    ...(command.kind === 'analyze' || command.kind === 'eval'
      ? { fps: command.fps, rulesFile: command.rulesFile, ...modelOverrides(command) }
      : {}),
  });
  // Labels and bars are checked before models load: a typo fails in milliseconds.
  const evalInput = command.kind === 'eval' ? await readEvalInput(command) : undefined;
  const app = await NestFactory.createApplicationContext(VigilModule.forRoot(config), {
    logger: new StderrLogger(config.logLevel),
    abortOnError: false,
  });
  try {
    if (command.kind === 'analyze') return await analyze(app.get(AnalyzeService), command);
    if (command.kind === 'eval') return await evaluate(app.get(EvalService), command, evalInput!);
    return await app.get(ModelsService).run(command, process.stdout, process.stderr);
  } finally {
    await app.close();
  }
}

async function analyze(service: AnalyzeService, command: Extract<Command, { kind: 'analyze' }>) {
  const showBar = !command.json && process.stderr.isTTY === true;
  const bar = new ProgressBar(process.stderr, new Clock());
  let durationSec: number | undefined;
  let position = 0;
  bar.start();
  const report = await service
    .analyze({
      source: command.source,
      streamId: command.streamId,
      onInfo: (info) => (durationSec = info.durationSec),
      onProgress: (sec) => {
        position = Math.max(position, sec);
        if (showBar) bar.update(position, durationSec);
      },
      // Incidents stream out as they are decided, so a long file reports early.
      onEvent: command.json
        ? (event) => process.stdout.write(`${JSON.stringify(incidentLine(event))}\n`)
        : undefined,
    })
    .finally(() => showBar && bar.finish());
  process.stdout.write(command.json ? jsonLines(report, true) : formatReport(report));
  return ExitCode.ok;
}

type EvalCommand = Extract<Command, { kind: 'eval' }>;

async function readEvalInput(command: EvalCommand) {
  const bars = parseBars(command.minRecall, command.maxFalseAlerts);
  const sets = await Promise.all(
    command.labelsFiles.map(async (file) => {
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(file, 'utf8'));
      } catch (error) {
        throw new EvalLabelsError(`${file}: ${(error as Error).message}`);
      }
      return parseEvalLabels(raw, file, command.root);
    }),
  );
  return { set: mergeEvalSets(sets), bars };
}

async function evaluate(
  service: EvalService,
  command: EvalCommand,
  input: Awaited<ReturnType<typeof readEvalInput>>,
) {
  const showBar = !command.json && process.stderr.isTTY === true;
  const bar = new ProgressBar(process.stderr, new Clock());
  bar.start();
  const run = await service
    .evaluate({
      set: input.set,
      jobs: command.jobs ?? availableParallelism(),
      onItemDone: (done, total) => showBar && bar.count(done, total, 'items'),
    })
    .finally(() => showBar && bar.finish());
  const failures = checkBars(run.report, input.bars);
  process.stdout.write(
    command.json
      ? evalJson(command.labelsFiles.join(' '), run, failures)
      : formatEval(command.labelsFiles.join(' '), run, failures),
  );
  return failures.length > 0 ? ExitCode.failed : ExitCode.ok;
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (error) {
    const { code, message } = describeFailure(error);
    process.stderr.write(`vigil: ${message}\n`);
    if (process.env.VIGIL_LOG_LEVEL === 'debug' && error instanceof Error) {
      process.stderr.write(`${error.stack}\n`);
    }
    return code;
  }
}

/** What `--models` and `--precision` override in the validated config, for the commands with models. */
function modelOverrides(command: {
  modelsDir?: string;
  precision?: PrecisionChoice;
}): Partial<VigilConfig> {
  return {
    modelsDir: command.modelsDir,
    audioPrecision: command.precision,
    videoPrecision: command.precision,
  };
}
