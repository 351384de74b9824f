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
