import { existsSync } from 'node:fs';
import { Injectable } from '@nestjs/common';
import {
  type EvalItem,
  type EvalReport,
  type EvalSet,
  type ItemOutcome,
  EvalLabelsError,
  scoreItems,
} from '@app/evaluation';
import { alertingClasses } from '@app/fusion';
import type { EmbeddedPipeline } from '@app/pipeline';
import { PipelineFactory } from '../analyze/pipeline.factory';

export interface EvalRequest {
  set: EvalSet;
  /** Items analysed at once (they share one pipeline, so inference batches across them). */
  jobs: number;
  onItemDone?: (done: number, total: number) => void;
}

export interface EvalRun {
  report: EvalReport;
  models: { audio: string; video: string };
  wallSec: number;
}

/**
 * `vigil eval`: every item of a labelled set through the same pipeline as `vigil analyze`,
 * several at once, then scored strictly. An item that cannot be analysed is scored as missing
 * everything and named; it does not stop the others.
 */
@Injectable()
export class EvalService {
  constructor(private readonly pipelines: PipelineFactory) {}

  async evaluate(request: EvalRequest): Promise<EvalRun> {
    const { items } = request.set;
    const missing = items.filter((i) => !existsSync(i.path));
    if (missing.length > 0) {
      const names = missing.slice(0, 3).map((i) => `${i.file} (${i.path})`);
      throw new EvalLabelsError(
        `${missing.length} labelled file(s) not found: ${names.join(', ')}${missing.length > 3 ? ', …' : ''}`,
      );
    }
    const started = process.hrtime.bigint();
    const { pipeline, rules, models } = await this.pipelines.open();
    const outcomes: ItemOutcome[] = new Array(items.length);
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < items.length) {
        const index = next++;
        outcomes[index] = await analyseItem(pipeline, items[index], index);
        request.onItemDone?.(++done, items.length);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, request.jobs) }, worker));
    } finally {
      await pipeline.stop();
    }
    return {
      report: scoreItems(outcomes, { alertClasses: alertingClasses(rules) }),
      models,
      wallSec: Number(process.hrtime.bigint() - started) / 1e9,
    };
  }
}

async function analyseItem(
  pipeline: EmbeddedPipeline,
  item: EvalItem,
  index: number,
): Promise<ItemOutcome> {
  try {
    const result = await pipeline.analyze({ streamId: `eval-${index}`, source: item.path });
    return {
      item,
      audioSec: result.info.hasAudio ? result.summary.audioSec : 0,
      segments: result.segments.map((s) => ({
        cls: s.cls,
        startSec: s.startSec,
        endSec: s.endSec,
        maxScore: s.maxScore,
      })),
      incidents: result.events.map((e) => ({
        id: e.id,
        incidentId: e.incidentId,
        state: e.state,
        rule: e.rule,
        trigger: e.trigger,
        triggers: e.triggers,
        severity: e.severity,
        startSec: e.startSec,
      })),
    };
  } catch (error) {
    return {
      item,
      audioSec: 0,
      segments: [],
      incidents: [],
      error: error instanceof Error ? error.message : String(error),
    };
  }
}
