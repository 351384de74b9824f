import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaBus } from '@app/bus';
import { Topics } from '@app/contracts';
import { EDGE_SEQ_HEADER } from '@app/pipeline';
import { kafkaBusOptions, loadEdgeConfig } from '@app/service';
import { fixture, modelsDir } from '@app/testing';
import { privateKafka } from '@app/testing/kafka';
import { freePort } from '@app/testing/tcp-proxy';
import { type RunningEdge, startEdge } from '../apps/vigil/src/edge/edge.command';

jest.setTimeout(240_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const USER = 'vigil-edge';
const PASSWORD = 'edge-s3cret';

/** A private CA and a broker certificate for 127.0.0.1 signed by it, as a site's PKI issues. */
function makePki(dir: string): { ca: string; keystore: string } {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl(
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2'],
    ...['-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=Vigil test site CA'],
  );
  openssl(
    ...['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'broker.key'],
    ...['-out', 'broker.csr', '-subj', '/CN=127.0.0.1'],
  );
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    ...['x509', '-req', '-in', 'broker.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key'],
    ...['-CAcreateserial', '-days', '2', '-out', 'broker.pem', '-extfile', 'san.cnf'],
  );
  openssl(
    ...['pkcs12', '-export', '-in', 'broker.pem', '-inkey', 'broker.key', '-certfile', 'ca.pem'],
    ...['-name', 'broker', '-out', 'broker.p12', '-passout', 'pass:changeit'],
  );
  return { ca: join(dir, 'ca.pem'), keystore: join(dir, 'broker.p12') };
}

/**
 * `vigil edge` reaching a central Kafka the way a site's uplink is secured: a SASL_SSL listener
 * (TLS with a certificate of the site's private CA, SASL/PLAIN), configured with the env the
 * services read (KAFKA_SSL_CA_FILE, KAFKA_SASL_*). Central reads on the broker's own listener.
 */
describe('vigil edge over TLS and SASL', () => {
  let broker: ReturnType<typeof privateKafka> | undefined;
  let dir: string;
  let pki: { ca: string; keystore: string };
  let securePort: number;
  let central: KafkaBus | undefined;
  let edge: RunningEdge | undefined;
  const arrived: { key: string; seq?: string }[] = [];
  const edgeEnv = () => ({
    HOME: process.env.HOME ?? dir,
    KAFKA_BROKERS: `127.0.0.1:${securePort}`,
    KAFKA_SSL_CA_FILE: pki.ca,
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: USER,
    KAFKA_SASL_PASSWORD: PASSWORD,
    VIGIL_MODELS_DIR: modelsDir(),
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-edge-tls-'));
    pki = makePki(dir);
    securePort = await freePort();
    broker = privateKafka({
      KAFKA_SECURE_PORT: String(securePort),
      KAFKA_SECURE_KEYSTORE: pki.keystore,
      KAFKA_SECURE_KEYSTORE_PASSWORD: 'changeit',
      KAFKA_SECURE_USERS: `${USER}:${PASSWORD}`,
    });
    central = new KafkaBus({ brokers: broker.brokers.split(','), clientId: 'central-test' });
    await central.connect();
    await central.subscribe(Topics.detections, 'test-central', async (m) => {
      arrived.push({ key: m.key, seq: m.headers[EDGE_SEQ_HEADER] });
    });
  });

  afterAll(async () => {
    await edge?.close();
    await central?.close();
    broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends its detections through the TLS and SASL listener', async () => {
    const configFile = join(dir, 'site.yaml');
    writeFileSync(
      configFile,
      JSON.stringify({
        edge: {
          id: 'tls-site',
          spool: { dir: 'spool' },
          streams: [
            { id: 'tls-cam', source: fixture('clips/comp01_person_glassbreak.mp4'), live: true },
          ],
        },
      }),
    );
    const config = loadEdgeConfig(configFile, {
      ...edgeEnv(),
      VIGIL_HEALTH_PORT: String(await freePort()),
    });
    expect(config.service.kafka).toMatchObject({
      ssl: true,
      sasl: { mechanism: 'plain', username: USER },
    });
    edge = await startEdge(config, false);
    edge.runtime.startStreams();
    const deadline = Date.now() + 90_000;
    while (arrived.length < 20 && Date.now() < deadline) await sleep(250);
    expect(arrived.length).toBeGreaterThanOrEqual(20);
    expect(arrived.every((a) => a.key === 'tls-cam' && a.seq?.startsWith('tls-site.'))).toBe(true);
  });

  it('is refused with a wrong password, and without the site CA', async () => {
    const attempt = async (env: Record<string, string>) => {
      const bus = new KafkaBus({
        ...kafkaBusOptions(loadEdgeConfig(undefined, { ...edgeEnv(), ...env }).service),
        clientId: 'edge-refused',
        retries: 1,
      });
      try {
        await bus.connect();
        return 'connected';
      } catch (error) {
        return (error as Error).message;
      } finally {
        await bus.close().catch(() => undefined);
      }
    };
    expect(await attempt({ KAFKA_SASL_PASSWORD: 'guess' })).toMatch(
      /SASL PLAIN authentication failed|Authentication failed/i,
    );
    // Node's trusted roots do not include the site's CA: the TLS handshake fails.
    expect(await attempt({ KAFKA_SSL_CA_FILE: '', KAFKA_SSL: 'true' })).toMatch(
      /self[- ]signed|certificate|unable to verify/i,
    );
  });
});
