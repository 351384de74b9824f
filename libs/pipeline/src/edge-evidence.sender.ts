import type { Bus, BusMessage, Subscription } from '@app/bus';
import { type EdgeEvidence, type SecurityEvent, Topics } from '@app/contracts';
import type { CollectedArtifact, EvidenceRequest, EvidenceWriter } from '@app/evidence';
import { triggerMomentId } from '@app/fusion';
import type { CaptureOptions } from './evidence.tap';
import { runHeaders } from './stream-headers';

export interface EdgeEvidenceSenderDeps {
  /** The edge's own bus: local incident versions in, evidence out (to the uplink). */
  bus: Bus;
  tap: { capture(event: SecurityEvent, options: CaptureOptions): Promise<EvidenceRequest> };
  /** Renders into `artifacts` (an EvidenceCollector), not onto a disk. */
  writer: Pick<EvidenceWriter, 'write'>;
  artifacts: { take(eventId: string): CollectedArtifact[] };
  observer?: EdgeEvidenceObserver;
  logger?: { warn(message: string): void };
}

export interface EdgeEvidenceObserver {
  /** One version's evidence handed to the uplink: its files and their bytes. */
  sent(files: number, bytes: number): void;
}

export interface EdgeEvidenceSenderOptions {
  /** Consumer group on the local `vigil.events`; default 'vigil-edge-evidence'. */
  group?: string;
  /** Longest wait for the tap to see the media a version needs; then it takes what it has. Default 2000 ms. */
  captureTimeoutMs?: number;
}

export const EDGE_EVIDENCE_GROUP = 'vigil-edge-evidence';

/**
 * On an edge node, which sends no media upstream: renders the evidence of each incident version
 * its local fusion decides (the same rules, so the same versions and ids central fusion will
 * decide from the detections it is sent) from the media its tap keeps, and publishes it on
 * `vigil.evidence.edge`, which goes upstream through the spool right behind those detections.
 * Closing versions add no detection and get none, as in central fusion's recorder.
 *
 * One version at a time per partition: its message is spooled before the next is looked at.
 */
export class EdgeEvidenceSender {
  private subscription?: Subscription;
  private readonly stopping = new AbortController();
  private readonly captureTimeoutMs: number;
  private readonly logger: { warn(message: string): void };

  constructor(
    private readonly deps: EdgeEvidenceSenderDeps,
    private readonly options: EdgeEvidenceSenderOptions = {},
  ) {
    this.captureTimeoutMs = options.captureTimeoutMs ?? 2000;
    this.logger = deps.logger ?? { warn: (message) => console.warn(message) };
  }

  async start(): Promise<void> {
    this.subscription = await this.deps.bus.subscribe(
      Topics.events,
      this.options.group ?? EDGE_EVIDENCE_GROUP,
      (message) => this.onEvent(message),
    );
  }

  /** Stops taking versions; one being captured takes what the tap has at once. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.subscription?.close();
  }

  /** Resolves with what was published, or undefined when there was nothing to send. */
  async send(
    event: SecurityEvent,
    headers: Record<string, string>,
  ): Promise<EdgeEvidence | undefined> {
    if (event.state === 'closed') return undefined;
    let artifacts: CollectedArtifact[];
    try {
      const request = await this.deps.tap.capture(event, {
        timeoutMs: this.captureTimeoutMs,
        signal: this.stopping.signal,
      });
      const result = await this.deps.writer.write(request);
      for (const failure of result.errors) {
        this.logger.warn(
          `evidence ${failure.kind} for ${event.id} failed: ${failure.error.message}`,
        );
      }
    } catch (error) {
      // Central fusion records the incident without evidence after its bound; nothing to retry.
      this.logger.warn(`evidence for ${event.id} failed: ${(error as Error).message}`);
    } finally {
      artifacts = this.deps.artifacts.take(event.id);
    }
    if (artifacts.length === 0) {
      this.logger.warn(`event ${event.id}: no media buffered for its evidence; none sent`);
      return undefined;
    }
    const evidence: EdgeEvidence = {
      eventId: event.id,
      incidentId: event.incidentId,
      version: event.version,
      streamId: event.streamId,
      artifacts,
      momentId: triggerMomentId(event),
    };
    // The run's headers (labels, run, correlation id), not what is stamped on each detection.
    await this.deps.bus.publish(Topics.edgeEvidence, event.streamId, evidence, runHeaders(headers));
    this.deps.observer?.sent(
      artifacts.length,
      artifacts.reduce((sum, a) => sum + a.data.byteLength, 0),
    );
    return evidence;
  }

  private async onEvent({ value, headers }: BusMessage<SecurityEvent>): Promise<void> {
    await this.send(value, headers);
  }
}
