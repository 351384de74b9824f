import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

type IncidentState = 'opened' | 'updated' | 'escalated' | 'closed';
type Modality = 'audio' | 'video';

/**
 * The Prometheus metrics of one process. One class so every metric name is declared once and
 * `/metrics` of a service and of `vigil serve` expose the same families; the stages and the
 * webhook dispatcher see it through their own small ports (PipelineMetrics, DeliveryObserver).
 */
export class VigilMetrics {
  readonly registry = new Registry();
  private readonly incidentVersions = new Counter({
    name: 'vigil_incident_versions_total',
    help: 'Incident versions decided by fusion, by rule, severity and state.',
    labelNames: ['rule', 'severity', 'state'] as const,
    registers: [this.registry],
  });
  private readonly idle = new Counter({
    name: 'vigil_stream_idle_total',
    help: 'Streams without detections: reported stalled, decided as ended, or resumed.',
    labelNames: ['verdict'] as const,
    registers: [this.registry],
  });
  private readonly frames = new Counter({
    name: 'vigil_detector_frames_total',
    help: 'Video frames by whether the object detector ran or motion gating skipped it.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly dropped = new Counter({
    name: 'vigil_frames_dropped_total',
    help: 'Live video frames dropped before the detector because it was behind: superseded by a newer frame of the stream, or stale (older than the latency bound).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly inferenceSeconds = new Histogram({
    name: 'vigil_inference_seconds',
    help: 'Time of one model call (a batch of audio windows or one frame), by modality, model and precision (fp32, int8).',
    labelNames: ['modality', 'model', 'precision'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  private readonly batchSize = new Histogram({
    name: 'vigil_inference_batch_size',
    help: 'Inputs per model call, by modality and model.',
    labelNames: ['modality', 'model'] as const,
    buckets: [1, 2, 4, 8, 16, 32],
    registers: [this.registry],
  });
  private readonly deliveries = new Counter({
    name: 'vigil_webhook_deliveries_total',
    help: 'Webhook delivery attempts by subscription and outcome (delivered, retrying, dead).',
    labelNames: ['subscription', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly captureToIncident = new Histogram({
    name: 'vigil_capture_to_incident_seconds',
    help: 'Live streams: from the capture of an incident trigger to fusion deciding the alert (opened or escalated), by severity.',
    labelNames: ['severity'] as const,
    buckets: [
      0.025, 0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 2, 3, 5,
      10,
    ],
    registers: [this.registry],
  });
  private readonly busMessages = new Counter({
    name: 'vigil_bus_messages_total',
    help: 'Messages published to a topic (group empty) or handled by a consumer group.',
    labelNames: ['topic', 'direction', 'group'] as const,
    registers: [this.registry],
  });
  private readonly busBytes = new Counter({
    name: 'vigil_bus_bytes_total',
    help: 'Encoded bytes published to or handled from a topic (Kafka only: the in-memory bus does not encode).',
    labelNames: ['topic', 'direction', 'group'] as const,
    registers: [this.registry],
  });
  private readonly handleSeconds = new Histogram({
    name: 'vigil_bus_handle_seconds',
    help: 'Time a consumer group took to handle one message of a topic, retries included.',
    labelNames: ['topic', 'group'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  private readonly deadLetters = new Counter({
    name: 'vigil_bus_dead_letters_total',
    help: 'Messages a consumer group sent to <topic>.dlq: undecodable, or its handler kept failing.',
    labelNames: ['topic', 'group', 'cause'] as const,
    registers: [this.registry],
  });
  private readonly consumerLag = new Gauge({
    name: 'vigil_consumer_lag_messages',
    help: 'Messages of a partition published but not yet handled by this process for its group.',
    labelNames: ['topic', 'group', 'partition'] as const,
    registers: [this.registry],
  });

  constructor(options: { app: string; processMetrics?: boolean }) {
    this.registry.setDefaultLabels({ app: options.app });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The text exposition format, and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  incidentVersion(event: { rule: string; severity: string; state: IncidentState }): void {
    this.incidentVersions.inc({ rule: event.rule, severity: event.severity, state: event.state });
  }

  streamIdle(verdict: 'stalled' | 'ended' | 'resumed'): void {
    this.idle.inc({ verdict });
  }

  detectorFrame(outcome: 'run' | 'skipped'): void {
    this.frames.inc({ outcome });
  }

  frameDropped(reason: 'superseded' | 'stale'): void {
    this.dropped.inc({ reason });
  }

  inference(
    modality: Modality,
    model: string,
    seconds: number,
    items: number,
    precision: 'fp32' | 'int8' = 'fp32',
  ): void {
    this.inferenceSeconds.observe({ modality, model, precision }, seconds);
    this.batchSize.observe({ modality, model }, items);
  }

  /** A live incident's alert, `seconds` after its trigger was captured. */
  incidentLatency(severity: string, seconds: number): void {
    this.captureToIncident.observe({ severity }, seconds);
  }

  /** As a bus's BusObserver. */
  private readonly spoolBytes = new Gauge({
    name: 'vigil_edge_spool_bytes',
    help: 'Edge: bytes of the on-disk spool of what waits to go upstream.',
    registers: [this.registry],
  });
  private readonly spoolDropped = new Counter({
    name: 'vigil_edge_spool_dropped_total',
    help: 'Edge: records that left the spool undelivered: the size or age bound dropped their segment, or a crash tore the last one.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly uplinkUp = new Gauge({
    name: 'vigil_edge_uplink_up',
    help: 'Edge: 1 when the last send to the central Kafka succeeded, 0 when it failed.',
    registers: [this.registry],
  });
  private readonly uplinkRecords = new Counter({
    name: 'vigil_edge_uplink_records_total',
    help: 'Edge: records the central Kafka accepted.',
    registers: [this.registry],
  });
  private readonly uplinkBytes = new Counter({
    name: 'vigil_edge_uplink_bytes_total',
    help: 'Edge: bytes of the records the central Kafka accepted (payload, key, headers, framing).',
    registers: [this.registry],
  });
  private readonly uplinkTopicBytes = new Counter({
    name: 'vigil_edge_uplink_topic_bytes_total',
    help: "Edge: bytes the central Kafka accepted per topic (vigil.evidence.edge: incidents' evidence).",
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });
  private readonly edgeEvidence = new Counter({
    name: 'vigil_edge_evidence_versions_total',
    help: 'Edge: incident versions whose evidence (snapshot, spectrogram, WAV) was rendered here and spooled for upstream.',
    registers: [this.registry],
  });
  private readonly uplinkFailures = new Counter({
    name: 'vigil_edge_uplink_failures_total',
    help: 'Edge: sends to the central Kafka that failed (each is retried after a backoff).',
    registers: [this.registry],
  });

  /** As an edge spool's SpoolObserver. */
  readonly spoolObserver = {
    dropped: (reason: 'size' | 'age' | 'torn', records: number) =>
      this.spoolDropped.inc({ reason }, records),
    size: (bytes: number) => this.spoolBytes.set(bytes),
  };

  /** As an edge uplink's UplinkObserver. */
  readonly uplinkObserver = {
    delivered: (records: number, bytes: number) => {
      this.uplinkRecords.inc(records);
      this.uplinkBytes.inc(bytes);
    },
    deliveredTopic: (topic: string, _records: number, bytes: number) =>
      this.uplinkTopicBytes.inc({ topic }, bytes),
    up: (up: boolean) => this.uplinkUp.set(up ? 1 : 0),
    failed: () => this.uplinkFailures.inc(),
  };

  /** As an edge's EdgeEvidenceObserver. */
  readonly edgeEvidenceObserver = {
    sent: () => this.edgeEvidence.inc(),
  };

  readonly busObserver = {
    published: (topic: string, bytes: number | undefined) => {
      this.busMessages.inc({ topic, direction: 'published', group: '' });
      if (bytes !== undefined)
        this.busBytes.inc({ topic, direction: 'published', group: '' }, bytes);
    },
    handled: (topic: string, group: string, bytes: number | undefined, seconds: number) => {
      this.busMessages.inc({ topic, direction: 'handled', group });
      if (bytes !== undefined) this.busBytes.inc({ topic, direction: 'handled', group }, bytes);
      this.handleSeconds.observe({ topic, group }, seconds);
    },
    deadLettered: (topic: string, group: string, cause: 'decode' | 'handler') =>
      this.deadLetters.inc({ topic, group, cause }),
    lag: (topic: string, group: string, partition: number, messages: number | undefined) => {
      const labels = { topic, group, partition: String(partition) };
      if (messages === undefined) this.consumerLag.remove(labels);
      else this.consumerLag.set(labels, messages);
    },
  };

  /** As the webhook dispatcher's DeliveryObserver. */
  readonly webhookObserver = {
    delivered: (d: { subscriptionId: string }) =>
      this.deliveries.inc({ subscription: d.subscriptionId, outcome: 'delivered' }),
    retrying: (d: { subscriptionId: string }) =>
      this.deliveries.inc({ subscription: d.subscriptionId, outcome: 'retrying' }),
    dead: (d: { subscriptionId: string }) =>
      this.deliveries.inc({ subscription: d.subscriptionId, outcome: 'dead' }),
  };
}
