import { randomUUID } from 'node:crypto';
import { KafkaBus } from '@app/bus';
import {
  type AudioChunk,
  type AudioFeatureWindow,
  type DetectionSet,
  type SecurityEvent,
  type StreamStatus,
  Topics,
} from '@app/contracts';
import { fixture } from './fixtures';
import { kafkaBrokers } from './kafka';
import { type ServiceApp, ServiceProcess } from './services';
import { analyzeService } from './vigil-app';

/** Two ten-second clips, each with one incident: a glass break in view, an alarm in an empty room. */
export const CRASH_CLIPS = {
  comp01: 'clips/comp01_person_glassbreak.mp4',
  comp05: 'clips/comp05_emptyroom_smoke_alarm.mp4',
} as const;
export type CrashClip = keyof typeof CRASH_CLIPS;

/** What a run of one stream left on the topics, by the keys consumers deduplicate on. */
interface StreamRecord {
  events: string[];
  /** Feature windows by start time (ms), detection sets by modality and start time. */
  features: string[];
  detections: string[];
  ended: boolean;
  /** Inference sent the end of both modalities: all that is left is fusion's work. */
  finals: Set<string>;
  audioSec: number;
}

/** What a clean run of a clip gives: the reference every crashed run is held to. */
export interface CleanRun {
  eventIds: string[];
  features: string[];
  detections: string[];
}

export interface RunComparison {
  lostIncidents: number;
  /** Incident ids a clean run does not have. */
  extraIncidents: number;
  /** Deliveries of an id beyond its first: allowed (at-least-once), counted. */
  repeatedIncidents: number;
  missingFeatures: number;
  duplicateFeatures: number;
  missingDetections: number;
  duplicateDetections: number;
}

const ms = (sec: number) => String(Math.round(sec * 1000));

/**
 * Reads back every topic the four services write, per stream, from the moment it subscribed:
 * the observer of the crash tests and of bench/kill-sweep.ts.
 */
export class TopicRecorder {
  private readonly streams = new Map<string, StreamRecord>();

  private constructor(readonly bus: KafkaBus) {}

  static async open(): Promise<TopicRecorder> {
    const id = randomUUID().slice(0, 8);
    const recorder = new TopicRecorder(
      new KafkaBus({ brokers: kafkaBrokers(), clientId: `recorder-${id}` }),
    );
    const group = `recorder-${id}`;
    const latest = { startFrom: 'latest' as const };
    const bus = recorder.bus;
    await bus.subscribe(
      Topics.events,
      group,
      async ({ value }: { value: SecurityEvent }) =>
        void recorder.of(value.streamId).events.push(value.id),
      latest,
    );
    await bus.subscribe(
      Topics.features,
      group,
      async ({ value }: { value: AudioFeatureWindow }) => {
        if (!value.final) recorder.of(value.streamId).features.push(ms(value.startSec));
      },
      latest,
    );
    await bus.subscribe(
      Topics.detections,
      group,
      async ({ value }: { value: DetectionSet }) => {
        const record = recorder.of(value.streamId);
        if (value.final) record.finals.add(value.modality);
        else record.detections.push(`${value.modality}@${ms(value.startSec)}`);
      },
      latest,
    );
    await bus.subscribe(
      Topics.streamStatus,
      group,
      async ({ value }: { value: StreamStatus }) => {
        if (value.state === 'ended' || value.state === 'failed') {
          recorder.of(value.streamId).ended = true;
        }
      },
      latest,
    );
    await bus.subscribe(
      Topics.audio,
      group,
      async ({ value }: { value: AudioChunk }) => {
        const record = recorder.of(value.streamId);
        if (!value.final) record.audioSec = Math.max(record.audioSec, value.startSec);
      },
      latest,
    );
    return recorder;
  }

  async startStream(streamId: string, clip: CrashClip): Promise<void> {
    await this.bus.publish(Topics.streamCommands, streamId, {
      streamId,
      action: 'start',
      source: fixture(CRASH_CLIPS[clip]),
    });
  }

  record(streamId: string): Readonly<StreamRecord> {
    return this.of(streamId);
  }

  /**
   * The stream ended and its expected incidents arrived, or fusion had 15 s after inference's
   * last detections to decide them; gives up after `timeoutMs`.
   */
  async settled(streamId: string, expected: CleanRun, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let drained: number | undefined;
    const done = () => {
      const r = this.of(streamId);
      if (!r.ended || r.finals.size < 2) return false;
      drained ??= Date.now();
      return (
        expected.eventIds.every((id) => r.events.includes(id)) || Date.now() - drained > 15_000
      );
    };
    while (!done() && Date.now() < deadline) await sleep(200);
  }

  cleanRun(streamId: string, eventIds: string[]): CleanRun {
    const r = this.of(streamId);
    return {
      eventIds,
      features: [...new Set(r.features)].sort(),
      detections: [...new Set(r.detections)].sort(),
    };
  }

  compare(streamId: string, clean: CleanRun): RunComparison {
    const r = this.of(streamId);
    const ids = new Set(r.events);
    const missing = (want: string[], got: string[]) => {
      const have = new Set(got);
      return want.filter((key) => !have.has(key)).length;
    };
    return {
      lostIncidents: clean.eventIds.filter((id) => !ids.has(id)).length,
      extraIncidents: [...ids].filter((id) => !clean.eventIds.includes(id)).length,
      repeatedIncidents: r.events.length - ids.size,
      missingFeatures: missing(clean.features, r.features),
      duplicateFeatures: r.features.length - new Set(r.features).size,
      missingDetections: missing(clean.detections, r.detections),
      duplicateDetections: r.detections.length - new Set(r.detections).size,
    };
  }

  close(): Promise<void> {
    return this.bus.close();
  }

  private of(streamId: string): StreamRecord {
    let record = this.streams.get(streamId);
    if (!record) {
      record = {
        events: [],
        features: [],
        detections: [],
        ended: false,
        finals: new Set(),
        audioSec: 0,
      };
      this.streams.set(streamId, record);
    }
    return record;
  }
}

/** The incident ids `vigil analyze` finds in one process, per stream id: a clean run's. */
export async function embeddedEventIds(
  streams: Record<string, CrashClip>,
): Promise<Map<string, string[]>> {
  const app = await analyzeService();
  try {
    const expected = new Map<string, string[]>();
    for (const [streamId, clip] of Object.entries(streams)) {
      const report = await app.service.analyze({ source: fixture(CRASH_CLIPS[clip]), streamId });
      expected.set(streamId, report.events.map((e) => e.id).sort());
    }
    return expected;
  } finally {
    await app.close();
  }
}

/** The four services as separate processes, one of each or more, with restarts under new names. */
export class ServiceSet {
  private readonly running = new Map<ServiceApp, ServiceProcess[]>();
  private generation = 0;

  constructor(private readonly tag: string) {}

  async start(): Promise<void> {
    for (const app of ['ingest', 'spectrogram', 'inference', 'fusion'] as const) {
      this.running.set(app, [this.spawn(app)]);
    }
    await Promise.all([...this.running.values()].flat().map((s) => s.ready()));
  }

  /** Starts more replicas of a service until it has `replicas`, ready when this resolves. */
  async scale(app: ServiceApp, replicas: number): Promise<void> {
    const processes = this.running.get(app)!;
    const added: ServiceProcess[] = [];
    while (processes.length < replicas) {
      const replica = this.spawn(app);
      processes.push(replica);
      added.push(replica);
    }
    await Promise.all(added.map((s) => s.ready()));
  }

  /**
   * SIGKILL of one replica, then a new process in its place after `downMs`, ready when this
   * resolves.
   */
  async crash(app: ServiceApp, downMs = 1_000, replica = 0): Promise<void> {
    const processes = this.running.get(app)!;
    await processes[replica]!.kill9();
    await sleep(downMs);
    const replacement = this.spawn(app);
    processes[replica] = replacement;
    await replacement.ready();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.running.values()].flat().map((s) => s.stop()));
  }

  private spawn(app: ServiceApp): ServiceProcess {
    return new ServiceProcess(app, `${app}-${this.tag}-${this.generation++}`).start();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
