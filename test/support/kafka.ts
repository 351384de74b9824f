import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Socket } from 'node:net';

/** The broker tests use: KAFKA_BROKERS, else the one `scripts/kafka.sh start` runs on loopback. */
export function kafkaBrokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim());
}

/** Fails with the fix in the message when no broker answers. */
export async function requireKafka(): Promise<string[]> {
  const brokers = kafkaBrokers();
  const [host, port] = brokers[0].split(':');
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = new Socket();
    socket.setTimeout(2_000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.connect(Number(port), host);
  });
  if (!reachable) {
    throw new Error(
      `No Kafka broker answers at ${brokers[0]}. Start one with \`scripts/kafka.sh start\` ` +
        '(or set KAFKA_BROKERS).',
    );
  }
  return brokers;
}

/**
 * A broker of the caller's own (scripts/kafka.sh on a port of its own), for a suite whose
 * services must not share consumer groups with another suite's running beside it on the
 * common broker: their replicas would take each other's streams. Sets KAFKA_BROKERS while it
 * runs; `stop` stops it and puts KAFKA_BROKERS back.
 */
export function privateKafka(extraEnv: Record<string, string> = {}): {
  brokers: string;
  stop: () => void;
} {
  const root = join(__dirname, '..', '..');
  const port = String(21_000 + Math.floor(Math.random() * 900) * 2);
  const env = { ...process.env, ...extraEnv, KAFKA_PORT: port };
  const out = execFileSync(join(root, 'scripts', 'kafka.sh'), ['start'], {
    cwd: root,
    env,
    encoding: 'utf8',
  });
  const brokers = /KAFKA_BROKERS=(\S+)/.exec(out)?.[1];
  if (!brokers) throw new Error(`scripts/kafka.sh start did not say where it listens:\n${out}`);
  const previous = process.env.KAFKA_BROKERS;
  process.env.KAFKA_BROKERS = brokers;
  return {
    brokers,
    stop: () => {
      process.env.KAFKA_BROKERS = previous;
      execFileSync(join(root, 'scripts', 'kafka.sh'), ['stop'], {
        cwd: root,
        env,
        stdio: 'ignore',
      });
    },
  };
}
