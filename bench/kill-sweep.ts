/**
 * The crash sweep: each of the four services killed -9 at several points of two ten-second
 * clips started back to back, restarted a second later, and every topic read back and
 * compared with a clean run on the same deployment. Prints one row per kill:
 *
 *   npm run bench:kill-sweep [-- --points 1.5,2.5,3.5,5,7 --services ingest,fusion --replicas 2]
 *
 * With `--replicas N`, each swept service runs N replicas and the kills go round them (kill k
 * hits replica k mod N): every kill is also a rebalance onto the survivors.
 *
 * Needs the built services (npm run build) and a broker: KAFKA_BROKERS, else one is started
 * with scripts/kafka.sh on a port of its own and stopped at the end.
 */
import { randomUUID } from 'node:crypto';
import {
  type CleanRun,
  type CrashClip,
  type RunComparison,
  ServiceSet,
  TopicRecorder,
  embeddedEventIds,
  sleep,
} from '@app/testing/crash.harness';
import { privateKafka, requireKafka } from '@app/testing/kafka';
import { SERVICE_APPS, type ServiceApp, requireBuiltServices } from '@app/testing/services';

const CLIPS: CrashClip[] = ['comp01', 'comp05'];

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const points = (option('points') ?? '1.5,2.5,3.5,5,7').split(',').map(Number);
const apps = (option('services')?.split(',') ?? [...SERVICE_APPS]) as ServiceApp[];
const replicas = Number(option('replicas') ?? 1);

/** KAFKA_BROKERS when given, else a broker of the sweep's own, stopped at the end. */
function broker(): () => void {
  if (process.env.KAFKA_BROKERS) return () => undefined;
  return privateKafka().stop;
}

async function main(): Promise<void> {
  requireBuiltServices();
  const stopBroker = broker();
  await requireKafka();
  const run = randomUUID().slice(0, 6);
  const trials = apps.flatMap((app) => points.map((sec) => ({ app, sec })));
  const streamsOf = (label: string) =>
    Object.fromEntries(CLIPS.map((clip) => [`${label}-${clip}-${run}`, clip])) as Record<
      string,
      CrashClip
    >;
  const labelOf = (t: { app: string; sec: number }) =>
    `${t.app}-${String(t.sec).replace('.', '_')}`;
  process.stderr.write(`kill-sweep: reference incidents for ${trials.length + 1} runs…\n`);
  const expected = await embeddedEventIds(
    Object.assign({}, streamsOf('clean'), ...trials.map((t) => streamsOf(labelOf(t)))),
  );
  const services = new ServiceSet(`sweep-${run}`);
  await services.start();
  for (const app of apps) await services.scale(app, replicas);
  const recorder = await TopicRecorder.open();
  const settle = async (streams: Record<string, CrashClip>) => {
    for (const id of Object.keys(streams)) {
      await recorder.settled(id, { eventIds: expected.get(id)!, features: [], detections: [] });
    }
    await sleep(3_000);
  };
  const start = async (streams: Record<string, CrashClip>) => {
    for (const [id, clip] of Object.entries(streams)) await recorder.startStream(id, clip);
  };
  const rows: string[][] = [];
  try {
    const reference = streamsOf('clean');
    await start(reference);
    await settle(reference);
    const clean = new Map<CrashClip, CleanRun>(
      Object.entries(reference).map(([id, clip]) => [
        clip,
        recorder.cleanRun(id, expected.get(id)!),
      ]),
    );
    for (const [index, trial] of trials.entries()) {
      const streams = streamsOf(labelOf(trial));
      await start(streams);
      await sleep(trial.sec * 1000);
      await services.crash(trial.app, 1_000, index % replicas);
      await settle(streams);
      const total: RunComparison = {
        lostIncidents: 0,
        extraIncidents: 0,
        repeatedIncidents: 0,
        missingFeatures: 0,
        duplicateFeatures: 0,
        missingDetections: 0,
        duplicateDetections: 0,
      };
      for (const [id, clip] of Object.entries(streams)) {
        const one = recorder.compare(id, { ...clean.get(clip)!, eventIds: expected.get(id)! });
        for (const key of Object.keys(total) as (keyof RunComparison)[]) total[key] += one[key];
      }
      const row = [
        trial.app,
        `${trial.sec} s`,
        `${total.lostIncidents}`,
        `${total.extraIncidents}`,
        `${total.repeatedIncidents}`,
        `${total.missingFeatures}`,
        `${total.duplicateFeatures}`,
        `${total.missingDetections}`,
        `${total.duplicateDetections}`,
      ];
      rows.push(row);
      process.stderr.write(`kill-sweep: ${row.join(' ')}\n`);
    }
    const windows = (clip: CrashClip) => clean.get(clip)!;
    const features = CLIPS.reduce((n, c) => n + windows(c).features.length, 0);
    const detections = CLIPS.reduce((n, c) => n + windows(c).detections.length, 0);
    const incidents = CLIPS.reduce((n, c) => n + windows(c).eventIds.length, 0);
    print(
      [
        'service',
        'kill at',
        'incidents lost',
        'extra ids',
        'repeated',
        'features missing',
        'features dup',
        'detections missing',
        'detections dup',
      ],
      rows,
    );
    console.log(
      `\n${replicas} replica(s) of ${apps.join(', ')}; per run (clean): ${incidents} incidents, ${features} feature windows, ${detections} detection sets over ${CLIPS.length} clips`,
    );
  } finally {
    await services.stop();
    await recorder.close();
    stopBroker();
  }
}

function print(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
