import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClientReadableStream, credentials, status } from '@grpc/grpc-js';
import { verifyWebhookSignature, webhookDeliveryId } from '@app/webhooks';
import { loadServeConfig } from '@app/service';
import { type RunningServer, startServer } from '../apps/vigil/src/serve/serve.command';
import {
  apiClients,
  bearer,
  collect,
  fixture,
  fixturesDir,
  modelsDir,
  statusOf,
  unary,
} from '@app/testing';

// Real models and ffmpeg on a 2-core machine that runs other suites at the same time.
jest.setTimeout(120_000);
const SECRET = 'webhook-secret-for-the-e2e-test';

async function serveWith(
  dir: string,
  lines: string[],
  extraEvidence: string[] = [],
): Promise<RunningServer> {
  const file = join(dir, 'vigil.yaml');
  writeFileSync(
    file,
    [
      ...lines,
      'history:',
      '  path: ./history.sqlite',
      'evidence:',
      '  dir: ./evidence',
      // Evidence waits for inference; other suites share these 2 cores. The bounded wait
      // itself is unit-tested; here every alert must carry its files.
      '  timeoutMs: 30000',
      ...extraEvidence,
    ].join('\n'),
  );
  const config = loadServeConfig(file, {
    ...process.env,
    VIGIL_MODELS_DIR: modelsDir(),
    VIGIL_MEDIA_ROOTS: fixturesDir(),
    E2E_HOOK_SECRET: SECRET,
  });
  return startServer(config, false);
}

describe('vigil serve: webhooks with evidence links', () => {
  let dir: string;
  let server: RunningServer;
  let receiver: Server;
  const deliveries: { headers: IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-serve-hooks-'));
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        deliveries.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    server = await serveWith(
      dir,
      [
        'grpc:',
        '  address: 127.0.0.1:0',
        'webhooks:',
        `  - { id: ops, url: "http://127.0.0.1:${port}/hook", secretEnv: E2E_HOOK_SECRET, filter: { minSeverity: medium } }`,
      ],
      [
        '  httpAddress: 127.0.0.1:0',
        '  publicUrl: http://vigil.invalid',
        `  linkSecret: ${'l'.repeat(32)}`,
      ],
    );
  });

  afterAll(async () => {
    await server?.close();
    await new Promise((r) => receiver?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('posts the comp01 intrusion, signed, with links that download its evidence', async () => {
    const api = apiClients(server.grpcAddress);
    try {
      await unary(api.streams, 'StartStream', {
        source: fixture('clips/comp01_person_glassbreak.mp4'),
        labels: { camera: 'Lobby' },
      });
    } finally {
      api.close();
    }
    for (let i = 0; i < 400 && deliveries.length === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(deliveries).toHaveLength(1);
    const [{ headers, body }] = deliveries;
    expect(
      verifyWebhookSignature(
        SECRET,
        headers['x-vigil-timestamp'] as string,
        body,
        headers['x-vigil-signature'] as string,
      ),
    ).toBe(true);
    expect(
      verifyWebhookSignature(
        'another-secret-of-16+',
        headers['x-vigil-timestamp'] as string,
        body,
        headers['x-vigil-signature'] as string,
      ),
    ).toBe(false);
    const payload = JSON.parse(body);
    const eventId = payload.record.event.id;
    expect(headers['x-vigil-event-id']).toBe(eventId);
    expect(headers['x-vigil-delivery-id']).toBe(webhookDeliveryId('ops', eventId));
    expect(payload).toMatchObject({
      type: 'vigil.incident',
      version: 2,
      record: {
        event: {
          streamId: 'comp01_person_glassbreak',
          rule: 'intrusion',
          severity: 'SEVERITY_HIGH',
        },
        streamLabels: { camera: 'Lobby' },
      },
    });
    // the names and values the gRPC API serves for the same event
    const client = apiClients(server.grpcAddress);
    try {
      const served = await unary<{
        event: { severity: string; trigger: string; evidence: { cls: string }[] };
        evidence: { name: string; sha256: string }[];
        occurredAtMs: number;
      }>(client.events, 'GetEvent', { eventId });
      expect(payload.record.event.severity).toBe(served.event.severity);
      expect(payload.record.event.trigger).toBe(served.event.trigger);
      expect(payload.record.event.evidence.map((e: { cls: string }) => e.cls)).toEqual(
        served.event.evidence.map((e) => e.cls),
      );
      expect(payload.record.evidence.map((e: { name: string }) => e.name)).toEqual(
        served.evidence.map((e) => e.name),
      );
      expect(Number(payload.record.occurredAtMs)).toBe(served.occurredAtMs);
      const dead = await unary<{ subscriptions: unknown[] }>(
        client.webhooks,
        'ListDeadLetters',
        {},
      );
      expect(dead.subscriptions).toEqual([
        { subscriptionId: 'ops', pending: 0, dead: 0, configured: true },
      ]);
    } finally {
      client.close();
    }
    const link = new URL(payload.evidenceUrls['snapshot.jpg']);
    expect(link.origin).toBe('http://vigil.invalid');
    const snapshot = payload.record.evidence.find(
      (e: { name: string }) => e.name === 'snapshot.jpg',
    );
    const local = `http://${server.evidenceAddress}${link.pathname}${link.search}`;
    const download = await fetch(local);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/jpeg');
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(snapshot.sha256);

    const forged = new URL(local);
    forged.searchParams.set('signature', '0'.repeat(64));
    expect((await fetch(forged)).status).toBe(403);
    const otherFile = local.replace('snapshot.jpg', 'audio.wav');
    expect((await fetch(otherFile)).status).toBe(403);
  });
});

describe('vigil serve: TLS and mutual TLS', () => {
  let dir: string;
  let server: RunningServer;
  const pem = (name: string) => readFileSync(join(dir, name));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-serve-tls-'));
    const openssl = (...args: string[]) =>
      execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=Vigil test CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    );
    const leaf = (name: string, san: string) => {
      openssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        `/CN=${name}`,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
      );
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.crt`,
      );
    };
    leaf('server', 'DNS:localhost,IP:127.0.0.1');
    leaf('client', 'DNS:camera-system');
    server = await serveWith(dir, [
      'grpc:',
      '  address: 127.0.0.1:0',
      '  tls:',
      '    certFile: server.crt',
      '    keyFile: server.key',
      '    caFile: ca.crt',
      '    requireClientCert: true',
    ]);
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves clients presenting a certificate from the configured CA', async () => {
    const api = apiClients(
      server.grpcAddress,
      credentials.createSsl(pem('ca.crt'), pem('client.key'), pem('client.crt')),
    );
    try {
      const health = await unary<{ status: string }>(api.health, 'Check', { service: '' });
      expect(health.status).toBe('SERVING');
      const page = await unary<{ events: unknown[] }>(
        api.events,
        'ListEvents',
        {},
        bearer(undefined),
      );
      expect(page.events).toEqual([]);
    } finally {
      api.close();
    }
  });

  it('refuses clients without a certificate, and plaintext clients', async () => {
    for (const creds of [credentials.createSsl(pem('ca.crt')), credentials.createInsecure()]) {
      const api = apiClients(server.grpcAddress, creds);
      try {
        const result = await statusOf(
          unary(api.health, 'Check', { service: '' }, undefined, { deadline: Date.now() + 3000 }),
        );
        expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]).toContain(result.code);
      } finally {
        api.close();
      }
    }
  });
});

/** grpcurl: `GRPCURL` or PATH or Go's bin folder; CI installs it (VIGIL_REQUIRE_GRPCURL=1). */
function findGrpcurl(): string | undefined {
  const candidates = [
    process.env.GRPCURL,
    'grpcurl',
    join(homedir(), 'go', 'bin', 'grpcurl'),
    join(__dirname, '..', '.cache', 'bin', 'grpcurl'),
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    if (candidate.includes('/') && !existsSync(candidate)) continue;
    if (spawnSync(candidate, ['-version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  if (process.env.VIGIL_REQUIRE_GRPCURL === '1')
    throw new Error('grpcurl is required here but was not found');
  return undefined;
}

const grpcurl = findGrpcurl();
(grpcurl ? describe : describe.skip)('vigil serve: grpcurl through reflection', () => {
  let dir: string;
  let server: RunningServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-serve-grpcurl-'));
    server = await serveWith(dir, ['grpc:', '  address: 127.0.0.1:0']);
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Asynchronously: the server under test runs in this very process.
  const run = async (...args: string[]) =>
    (await promisify(execFile)(grpcurl!, ['-plaintext', ...args], { encoding: 'utf8' })).stdout;
  /** grpcurl's exit status is 64 + the gRPC code; its stderr names the code and the message. */
  const failure = (...args: string[]) =>
    run(...args).then(
      (stdout) => {
        throw new Error(`grpcurl ${args.join(' ')} succeeded: ${stdout}`);
      },
      (error: { code: number; stderr: string }) => error,
    );

  it('lists every service it serves, reflection included', async () => {
    expect((await run(server.grpcAddress, 'list')).trim().split('\n').sort()).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'vigil.v1.AnalysisService',
      'vigil.v1.EventService',
      'vigil.v1.InferenceService',
      'vigil.v1.StreamService',
      'vigil.v1.WebhookService',
    ]);
    const health = JSON.parse(await run(server.grpcAddress, 'grpc.health.v1.Health/Check'));
    expect(health).toEqual({ status: 'SERVING' });
  });

  it('describes messages and services as the .proto writes them, comments included', async () => {
    const request = await run(server.grpcAddress, 'describe', 'vigil.v1.StartStreamRequest');
    expect(request).toContain('string stream_id = 2;');
    expect(request).toContain(
      '// Optional: [A-Za-z0-9._:-]{1,128}. Derived from the source when empty; starting a',
    );
    expect(request).toContain('optional bool live = 3;');
    expect(request).toContain('optional double fps = 4;');
    expect(request).toContain('map<string, string> labels = 7;');
    expect(request).not.toContain('oneof');
    expect(request).not.toContain('streamId');
    const events = await run(server.grpcAddress, 'describe', 'vigil.v1.EventService');
    expect(events).toContain('// Incidents: live, historical, and their evidence.');
    expect(events).toContain(
      'rpc Subscribe ( .vigil.v1.SubscribeRequest ) returns ( stream .vigil.v1.EventRecord );',
    );
    expect(events).toContain('// Incidents as they are recorded');
  });

  it('takes requests in the .proto names (snake_case JSON)', async () => {
    const listed = JSON.parse(
      await run(
        '-d',
        '{"page_size": 1, "oldest_first": true, "filter": {"min_severity": "SEVERITY_HIGH"}}',
        server.grpcAddress,
        'vigil.v1.EventService/ListEvents',
      ),
    );
    expect(listed).toEqual({});
    const started = JSON.parse(
      await run(
        '-d',
        JSON.stringify({
          source: fixture('clips/comp01_person_glassbreak.mp4'),
          stream_id: 'grpcurl_cam',
          live: false,
          fps: 1,
          rules_profile: 'default',
          labels: { site: 'HQ' },
        }),
        server.grpcAddress,
        'vigil.v1.StreamService/StartStream',
      ),
    );
    // grpcurl answers in proto3 JSON, whose names are camelCase.
    expect(started).toMatchObject({
      streamId: 'grpcurl_cam',
      state: 'STREAM_STATE_STARTING',
      fps: 1,
      rulesProfile: 'default',
      labels: { site: 'HQ' },
    });
    const stopped = JSON.parse(
      await run(
        '-d',
        '{"stream_id": "grpcurl_cam"}',
        server.grpcAddress,
        'vigil.v1.StreamService/StopStream',
      ),
    );
    expect(stopped.streamId).toBe('grpcurl_cam');
    // Had stream_id been dropped, the answer would be INVALID_ARGUMENT "stream_id: is required".
    const unknown = await failure(
      '-d',
      '{"stream_id": "no_such_camera"}',
      server.grpcAddress,
      'vigil.v1.StreamService/GetStream',
    );
    expect(unknown.code).toBe(64 + status.NOT_FOUND);
    expect(unknown.stderr).toContain('no_such_camera');
  });

  it('refuses at the call a stream of a file that does not exist, and an absurd page size', async () => {
    const missing = await failure(
      '-d',
      JSON.stringify({
        source: join(fixturesDir(), 'no-such-clip.mp4'),
        stream_id: 'missing_clip',
      }),
      server.grpcAddress,
      'vigil.v1.StreamService/StartStream',
    );
    expect(missing.code).toBe(64 + status.NOT_FOUND);
    expect(missing.stderr).toContain('Code: NotFound');
    expect(missing.stderr).toContain('no-such-clip.mp4');
    const huge = await failure(
      '-d',
      '{"page_size": 4294967295}',
      server.grpcAddress,
      'vigil.v1.EventService/ListEvents',
    );
    expect(huge.code).toBe(64 + status.INVALID_ARGUMENT);
    expect(huge.stderr).toContain('page_size: must be at most 500');
  });
});

describe('vigil serve as a process', () => {
  it('prints where it listens, serves, and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-serve-process-'));
    const child = spawn(process.execPath, [join(__dirname, '..', 'bin', 'vigil.js'), 'serve'], {
      env: {
        ...process.env,
        VIGIL_MODELS_DIR: modelsDir(),
        VIGIL_DATA_DIR: dir,
        VIGIL_GRPC_ADDRESS: '127.0.0.1:0',
        VIGIL_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const address = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const found = /gRPC on (\S+) \(plaintext\)/.exec(stdout);
          if (found) resolve(found[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stdout}`)));
      });
      expect(stdout).toContain(`history: ${join(dir, 'history.sqlite')}`);
      const api = apiClients(address);
      try {
        const health = await unary<{ status: string }>(api.health, 'Check', { service: '' });
        expect(health.status).toBe('SERVING');
        // A subscriber stays connected: shutdown must end its call, not wait for it forever.
        const subscription = (api.events.Subscribe as (r: object) => ClientReadableStream<unknown>)(
          {},
        );
        const ended = collect(subscription).then(
          () => ({ code: status.OK, details: '' }),
          (error: { code: number; details: string }) => error,
        );
        await new Promise((r) => setTimeout(r, 200));
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        expect(await ended).toMatchObject({ code: status.UNAVAILABLE });
      } finally {
        api.close();
      }
      expect(stdout).toContain('vigil serve: stopping');
      // Its logs (stderr, not a terminal) are JSON lines: here the warning about the open API.
      const logs = stderr
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          app: 'vigil',
          context: 'vigil serve',
          msg: expect.stringContaining('no API tokens configured'),
        }),
      );
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
