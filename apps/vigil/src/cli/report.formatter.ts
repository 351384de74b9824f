import type { SecurityEvent } from '@app/contracts';
import type { DetectionSegment } from '@app/fusion';
import type { MediaInfo } from '@app/media';
import type { AnalyzeReport } from '../analyze/analyze.service';
import { formatClock } from './progress.bar';
import { table } from './table.formatter';

/** The human report: what was analysed, then incidents, then what was detected when. */
export function formatReport(report: AnalyzeReport): string {
  const lines: string[] = [];
  const { info, decodedSec } = report;
  lines.push(
    `${report.source}: ${decodedSec.toFixed(1)} s, ${modalities(info)}; ` +
      `models ${report.models.audio} + ${report.models.video}; ` +
      `${(decodedSec / Math.max(report.wallSec, 1e-3)).toFixed(1)}× real time`,
  );
  for (const note of notes(report)) lines.push(`note: ${note}`);
  lines.push('');
  const incidents = latestVersions(report.events);
  lines.push(`Incidents (${incidents.length})`);
  if (incidents.length === 0) lines.push('  none');
  else
    lines.push(
      ...table(
        ['FROM', 'TO', 'SEVERITY', 'RULE', 'WHAT', 'TRIGGERS', 'LIFE', 'EVIDENCE'],
        incidents.map(({ latest: e, states }) => [
          formatClock(e.startSec),
          formatClock(e.endSec),
          e.severity,
          e.rule,
          e.title,
          e.triggers.join(', '),
          states.join(' → '),
          evidence(e),
        ]),
      ),
    );
  lines.push('');
  lines.push(`Detections (${report.segments.length})`);
  if (report.segments.length === 0) lines.push('  none');
  else
    lines.push(
      ...table(
        ['FROM', 'TO', 'MODALITY', 'CLASS', 'MAX SCORE', 'HITS', 'TOP LABEL'],
        report.segments.map((s) => [
          formatClock(s.startSec),
          formatClock(s.endSec),
          s.modality,
          s.cls,
          s.maxScore.toFixed(2),
          String(s.count),
          s.topLabel,
        ]),
      ),
    );
  return lines.join('\n') + '\n';
}

/** `--json`: one object per line, each with a `type`. */
export function jsonLines(report: AnalyzeReport, eventsAlreadyPrinted: boolean): string {
  const out: unknown[] = [];
  if (!eventsAlreadyPrinted) out.push(...report.events.map(incidentLine));
  out.push(...report.segments.map(detectionLine));
  out.push({
    type: 'summary',
    source: report.source,
    streamId: report.streamId,
    hasAudio: report.info.hasAudio,
    hasVideo: report.info.hasVideo,
    durationSec: report.info.durationSec ?? null,
    decodedSec: round(report.decodedSec),
    audioSec: round(report.summary.audioSec),
    videoFrames: report.summary.videoFrames,
    truncated: report.summary.truncated,
    warnings: report.summary.warnings,
    incidents: latestVersions(report.events).length,
    models: report.models,
    wallSec: round(report.wallSec),
  });
  return out.map((o) => JSON.stringify(o)).join('\n') + '\n';
}

export function incidentLine(event: SecurityEvent): object {
  return { type: 'incident', ...event };
}

function detectionLine(segment: DetectionSegment): object {
  return {
    type: 'detection',
    ...segment,
    startSec: round(segment.startSec),
    endSec: round(segment.endSec),
    maxScore: round(segment.maxScore, 3),
  };
}

/** Each incident once, as its latest version says, with the states it went through. */
function latestVersions(events: readonly SecurityEvent[]) {
  const byIncident = new Map<string, { latest: SecurityEvent; states: string[] }>();
  for (const event of events) {
    const seen = byIncident.get(event.incidentId);
    if (!seen) byIncident.set(event.incidentId, { latest: event, states: [event.state] });
    else if (event.version > seen.latest.version) {
      seen.latest = event;
      seen.states.push(event.state);
    }
  }
  return [...byIncident.values()];
}

function notes(report: AnalyzeReport): string[] {
  const notes: string[] = [];
  if (!report.info.hasAudio) notes.push('the input has no audio stream: video only');
  if (!report.info.hasVideo) notes.push('the input has no video stream: audio only');
  if (report.summary.truncated)
    notes.push(
      `the input was cut short; analysed what was there (${report.summary.warnings.join('; ') || 'truncated'})`,
    );
  return notes;
}

function modalities(info: MediaInfo): string {
  if (info.hasAudio && info.hasVideo) return 'audio + video';
  return info.hasAudio ? 'audio only' : 'video only';
}

function evidence(event: SecurityEvent): string {
  return event.evidence
    .map((e) => `${e.cls} ${e.score.toFixed(2)} @${e.atSec.toFixed(2)}s`)
    .join('; ');
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
