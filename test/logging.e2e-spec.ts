import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fixturesDir, modelsDir } from '@app/testing/fixtures';
import { privateKafka } from '@app/testing/kafka';
import { runCli } from '@app/testing/cli-runner';
import { requireBuiltServices } from '@app/testing/services';
import { apiClients, bearer, unary } from '@app/testing';

/**
 * A real ingest process with its stdout a pipe, as under Kubernetes or systemd: every line it
 * writes is a JSON object with the fields a log pipeline indexes, the stream it handles is named
 * on the lines about it, and the password of the camera URL it was given appears nowhere.
 */
const ROOT = resolve(__dirname, '..');
const PASSWORD = `pw-${randomUUID().slice(0, 8)}`;
const SOURCE = `rtsp://viewer:${PASSWORD}@127.0.0.1:9/cam?token=${PASSWORD}`;

jest.setTimeout(120_000);

describe('structured logs of a service (not a TTY)', () => {
  let kafka: ReturnType<typeof privateKafka>;
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  const instanceId = `logs-ingest-${randomUUID().slice(0, 8)}`;
  const streamId = `logs-${randomUUID().slice(0, 8)}`;
  const port = 19_000 + Math.floor(Math.random() * 900);
  const grpcAddress = `127.0.0.1:${port + 1000}`;
  const token = `operator-${randomUUID()}`;

  beforeAll(async () => {
    requireBuiltServices();
    // A broker of its own: on the common one, another suite's ingest in the same consumer group
    // could take this stream's command.
    kafka = privateKafka();
    const configFile = join(mkdtempSync(join(tmpdir(), 'vigil-logs-')), 'vigil.yaml');
    writeFileSync(
      configFile,
      ['auth:', '  tokens:', `    - { name: logs, role: operator, token: ${token} }`].join('\n'),
    );
    child = spawn(process.execPath, [join(ROOT, 'dist', 'apps', 'ingest', 'main.js')], {
      cwd: ROOT,
      env: {
        ...process.env,
        KAFKA_BROKERS: kafka.brokers,
        VIGIL_MODELS_DIR: modelsDir(),
        VIGIL_MEDIA_ROOTS: fixturesDir(),
        VIGIL_HEALTH_PORT: String(port),
        VIGIL_INSTANCE_ID: instanceId,
        VIGIL_LOG_LEVEL: 'debug',
        VIGIL_CONFIG_FILE: configFile,
        VIGIL_GRPC_ADDRESS: grpcAddress,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await until(async () => {
      if (child.exitCode !== null) throw new Error(`ingest exited: ${stdout}${stderr}`);
      return fetch(`http://127.0.0.1:${port}/health/ready`).then(
        (r) => r.ok,
        () => false,
      );
    }, 60_000);
  });

  afterAll(async () => {
    try {
      await stop();
    } finally {
      kafka?.stop();
    }
  });

  /** SIGTERM, as Kubernetes stops it; a no-op once it has exited (by a signal or not). */
  async function stop(): Promise<void> {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  }

  it("ties ingest's lines about a stream to the StartStream call that asked for it", async () => {
    const traced = `${streamId}-grpc`;
    const metadata = bearer(token);
    metadata.set('x-correlation-id', 'ops-ticket-4711');
    await unary(
      apiClients(grpcAddress).streams,
      'StartStream',
      { source: SOURCE, streamId: traced, live: true },
      metadata,
    );
    await until(async () => records().some((r) => r.streamId === traced), 30_000);
    const about = records().filter((r) => r.streamId === traced);
    expect(about.length).toBeGreaterThan(0);
    for (const record of about) expect(record.correlationId).toBe('ops-ticket-4711');
    await unary(apiClients(grpcAddress).streams, 'StopStream', { streamId: traced }, bearer(token));
  });

  it('writes JSON lines with level, time, app, instance, stream and correlation ids, no secret', async () => {
    const started = await runCli(['stream', 'start', SOURCE, '--stream-id', streamId], {
      KAFKA_BROKERS: kafka.brokers,
    });
    expect(started).toMatchObject({ code: 0, stdout: `${streamId}\n` });
    await until(async () => records().some((r) => r.streamId === streamId), 30_000);
    const stopped = await runCli(['stream', 'stop', streamId], { KAFKA_BROKERS: kafka.brokers });
    expect(stopped.code).toBe(0);
    await until(async () => records().some((r) => /stopped/.test(String(r.msg))), 30_000);
    await stop();

    const lines = stdout.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    for (const record of records()) {
      expect(record).toMatchObject({
        level: expect.stringMatching(/^(trace|debug|info|warn|error|fatal)$/),
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        app: 'vigil-ingest',
        instanceId,
        pid: child.pid,
        msg: expect.any(String),
      });
    }
    expect(records()).toContainEqual(
      expect.objectContaining({ level: 'info', msg: expect.stringMatching(/^ingest running as/) }),
    );
    const start = records().find((r) => r.streamId === streamId && /started/.test(String(r.msg)));
    expect(start).toMatchObject({
      context: 'IngestWorker',
      // The command's place on its topic: the id the ingest's logs about it share.
      correlationId: expect.stringMatching(/^vigil\.streams\.commands\/\d+@\d+$/),
      msg: expect.stringContaining('rtsp://***@127.0.0.1:9/cam?***'),
    });
    // Nothing on stderr but JSON lines either, and the password nowhere.
    for (const line of stderr.split('\n').filter(Boolean)) {
      expect(() => JSON.parse(line)).not.toThrow();
    }
    expect(stdout + stderr).not.toContain(PASSWORD);
  });

  it('logs a configuration error as one JSON line on stderr and exits 2', async () => {
    const bad = spawn(process.execPath, [join(ROOT, 'dist', 'apps', 'ingest', 'main.js')], {
      cwd: ROOT,
      env: { ...process.env, KAFKA_BROKERS: 'no-port', VIGIL_LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    bad.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise((done) => bad.once('exit', done));
    expect(code).toBe(2);
    const lines = err.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'fatal',
      app: 'vigil-ingest',
      msg: expect.stringMatching(/^cannot start: configuration KAFKA_BROKERS: .*no-port/),
    });
  });

  function records(): Record<string, unknown>[] {
    return stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
});

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
