import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DynamicModule, type INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { type Client, credentials, loadPackageDefinition, status } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import {
  type ApiToken,
  EVIDENCE_STORE,
  EventController,
  EventSignal,
  EventStreamer,
  WebhookController,
  grpcServerOptions,
} from '@app/api';
import { MemoryBus } from '@app/bus';
import { protosDir } from '@app/contracts';
import { EventRepository, type EvidenceRef } from '@app/history';
import {
  type ApiConfig,
  IncidentDesk,
  apiProviders,
  derivedProvider,
  loadApiConfig,
} from '@app/service';
import { DeadLetterService, webhookDeliveryId } from '@app/webhooks';
import { makeIncident } from '@app/testing/incident.factory';
import { postgresSchemaUrl, sqlBackends } from '@app/testing/sql-backends';
import { type ApiClients, apiClients, bearer, statusOf, unary } from '@app/testing';
import { runCli } from './support/cli-runner';
import { WebhookReceiver } from '../libs/webhooks/test/webhook.receiver';

/**
 * WebhookService and the webhook body against real components: the incident desk fusion and
 * `vigil serve` run (history file, outbox, dispatcher), its EventService and WebhookService
 * controllers on a real gRPC port behind the real auth guard, a real HTTP receiver, real
 * @grpc/grpc-js clients and the real CLI. No models: incidents are recorded as the recorder
 * records them. Waits are bounded by jest's timeout, never asserted on.
 */
jest.setTimeout(60_000);

const OPERATOR = 'operator-token-for-webhooks-e2e';
const VIEWER = 'viewer-token-for-webhooks-e2e';
const SECRET = 'webhooks-api-secret-0123';
const SNAPSHOT: EvidenceRef = {
  name: 'snapshot.jpg',
  key: 'e2e/snapshot.jpg',
  contentType: 'image/jpeg',
  bytes: 48_213,
  sha256: 'ab'.repeat(32),
};

/** The API half of the fusion service's module, over an incident desk built by the test. */
@Module({})
class DeskApiModule {
  static forRoot(desk: IncidentDesk, tokens: ApiToken[]): DynamicModule {
    return {
      module: DeskApiModule,
      controllers: [EventController, WebhookController],
      providers: [
        { provide: IncidentDesk, useValue: desk },
        derivedProvider(EventRepository, IncidentDesk, (d) => d.events),
        derivedProvider(EventSignal, IncidentDesk, (d) => d.feed),
        derivedProvider(EVIDENCE_STORE, IncidentDesk, (d) => d.evidenceStore),
        derivedProvider(DeadLetterService, IncidentDesk, (d) => d.deadLetters),
        ...apiProviders(tokens),
        EventStreamer,
      ],
    };
  }
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Where two JSON values differ. Numbers are equal when they are the same 32-bit float too: a
 * gRPC client decodes a `float` into the nearest double (0.9100000262260437), which protobuf's
 * JSON printers, and the webhook body, write as 0.91.
 */
function differences(a: unknown, b: unknown, path = '$'): string[] {
  if (typeof a === 'number' && typeof b === 'number') {
    return a === b || Math.fround(a) === Math.fround(b) ? [] : [`${path}: ${a} ≠ ${b}`];
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [`${path}: ${a.length} items ≠ ${b.length}`];
    return a.flatMap((item, i) => differences(item, b[i], `${path}[${i}]`));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = (o: object) => Object.keys(o).sort().join(',');
    if (keys(a) !== keys(b)) return [`${path}: keys ${keys(a)} ≠ ${keys(b)}`];
    return Object.keys(a).flatMap((key) =>
      differences(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        `${path}.${key}`,
      ),
    );
  }
  return a === b ? [] : [`${path}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`];
}

// The desk on each history backend: the SQLite file, and PostgreSQL through VIGIL_DATABASE_URL.
describe.each(sqlBackends().map((backend) => backend.name))(
  'webhooks through the API on %s: one vocabulary, dead letters listed and replayed',
  (backendName) => {
    let database: { url: string; dispose(): Promise<void> } | undefined;
    let dir: string;
    let bus: MemoryBus;
    let desk: IncidentDesk;
    let config: ApiConfig;
    let app: INestMicroservice;
    let address: string;
    let api: ApiClients;
    let receiver: WebhookReceiver;
    /** The receiver refuses (410, final) while this says so. */
    let refusing = false;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'vigil-webhooks-api-'));
      receiver = await WebhookReceiver.start(SECRET, () => ({ status: refusing ? 410 : 204 }));
      address = `127.0.0.1:${await freePort()}`;
      const file = join(dir, 'vigil.yaml');
      writeFileSync(
        file,
        [
          `grpc: { address: "${address}" }`,
          'auth:',
          '  tokens:',
          `    - { name: ops, role: operator, token: ${OPERATOR} }`,
          `    - { name: wall, role: viewer, token: ${VIEWER} }`,
          'history: { path: ./history.sqlite }',
          'evidence: { dir: ./evidence }',
          'webhooks:',
          `  - { id: soc, url: "${receiver.url}", secretEnv: E2E_HOOK_SECRET }`,
        ].join('\n'),
      );
      database = backendName === 'postgres' ? await postgresSchemaUrl() : undefined;
      config = loadApiConfig(file, {
        E2E_HOOK_SECRET: SECRET,
        ...(database ? { VIGIL_DATABASE_URL: database.url } : {}),
      });
      expect(config.history.databaseUrl).toBe(database?.url);
      bus = new MemoryBus();
      desk = await IncidentDesk.open(bus, config, 'ffmpeg');
      await desk.start();
      app = await NestFactory.createMicroservice<MicroserviceOptions>(
        DeskApiModule.forRoot(desk, config.tokens),
        { ...grpcServerOptions(config.grpc!, ['events', 'webhooks']), logger: false },
      );
      await app.listen();
      api = apiClients(address);
    });

    afterAll(async () => {
      api?.close();
      await app?.close();
      await desk?.stop();
      await bus?.close();
      await receiver?.close();
      await database?.dispose();
      rmSync(dir, { recursive: true, force: true });
    });

    /** What the incident recorder does: store the event and queue its deliveries together. */
    async function record(n: number): Promise<string> {
      const event = makeIncident(n);
      await desk.database.transaction(async (tx) => {
        const saved = await desk.events.save(
          event,
          {
            occurredAt: Date.UTC(2026, 10, 28, 4, 12, 31, 507) + n,
            streamLabels: { site: 'HQ', camera: 'Lobby' },
            evidenceRefs: [SNAPSHOT],
          },
          tx,
        );
        if (saved.inserted) {
          await desk.outbox.enqueue((await desk.events.get(event.id, tx))!, config.webhooks, tx);
        }
      });
      desk.dispatcher.notify();
      return event.id;
    }

    it('posts the EventRecord that GetEvent serves, with the same names and values', async () => {
      const id = await record(1);
      await waitFor('delivered', () => receiver.accepted.some((r) => r.eventId === id));
      const body = JSON.parse(receiver.accepted.find((r) => r.eventId === id)!.body.toString());

      // A client that asks for the proto3 JSON conventions: int64 as strings, enums by name.
      const json = loadPackageDefinition(
        loadSync('vigil/v1/event_service.proto', {
          includeDirs: [protosDir()],
          keepCase: false,
          longs: String,
          enums: String,
          defaults: true,
          oneofs: true,
        }),
      ) as unknown as { vigil: { v1: { EventService: new (a: string, c: unknown) => Client } } };
      const events = new json.vigil.v1.EventService(address, credentials.createInsecure());
      try {
        const served = await unary<Record<string, unknown>>(
          events as unknown as Record<string, (...args: unknown[]) => unknown>,
          'GetEvent',
          { eventId: id },
          bearer(VIEWER),
        );
        expect(differences(body.record, served)).toEqual([]);
      } finally {
        events.close();
      }
      expect(body.record.event).toMatchObject({
        id,
        severity: 'SEVERITY_HIGH',
        trigger: 'glass_break',
        evidence: [
          { cls: 'glass_break', modality: 'MODALITY_AUDIO', score: 0.91 },
          { cls: 'person' },
        ],
      });
      expect(body.record.occurredAtMs).toBe(String(Date.UTC(2026, 10, 28, 4, 12, 31, 508)));
      expect(body.record.evidence).toEqual([
        {
          name: 'snapshot.jpg',
          contentType: 'image/jpeg',
          bytes: '48213',
          sha256: SNAPSHOT.sha256,
        },
      ]);
    });

    it('lists a dead letter to viewers and replays it for operators only', async () => {
      refusing = true;
      const id = await record(2);
      const deliveryId = webhookDeliveryId('soc', id);
      await waitFor(
        'dead',
        async () => (await desk.outbox.findDead(deliveryId))?.publishedAt !== undefined,
      );

      const listed = await unary<{
        deadLetters: Record<string, unknown>[];
        nextPageToken: string;
        subscriptions: unknown[];
      }>(api.webhooks, 'ListDeadLetters', {}, bearer(VIEWER));
      expect(listed).toEqual({
        deadLetters: [
          {
            deliveryId,
            subscriptionId: 'soc',
            url: receiver.url,
            eventId: id,
            attempts: 1,
            reason: 'HTTP 410, not retried',
            lastStatus: 410,
            queuedAtMs: expect.any(Number),
            failedAtMs: expect.any(Number),
            published: true,
            _lastStatus: 'lastStatus',
          },
        ],
        nextPageToken: '',
        subscriptions: [{ subscriptionId: 'soc', pending: 0, dead: 1, configured: true }],
      });

      expect(
        await statusOf(unary(api.webhooks, 'ListDeadLetters', {}, bearer(undefined))),
      ).toMatchObject({ code: status.UNAUTHENTICATED });
      expect(
        await statusOf(
          unary(api.webhooks, 'ReplayDeadLetters', { deliveryIds: [deliveryId] }, bearer(VIEWER)),
        ),
      ).toMatchObject({ code: status.PERMISSION_DENIED });
      expect(
        await statusOf(
          unary(
            api.webhooks,
            'ReplayDeadLetters',
            { deliveryIds: [webhookDeliveryId('soc', 'no-such-event')] },
            bearer(OPERATOR),
          ),
        ),
      ).toMatchObject({ code: status.NOT_FOUND });
      expect(
        await statusOf(
          unary(api.webhooks, 'ReplayDeadLetters', { deliveryIds: ['x'] }, bearer(OPERATOR)),
        ),
      ).toEqual({
        code: status.INVALID_ARGUMENT,
        details: 'delivery_ids[0]: "x" is not a delivery id',
      });
      expect(await desk.outbox.findDead(deliveryId)).toBeDefined();

      refusing = false;
      const replayed = await unary<{ replayed: number }>(
        api.webhooks,
        'ReplayDeadLetters',
        { deliveryIds: [deliveryId] },
        bearer(OPERATOR),
      );
      expect(replayed).toEqual({ replayed: 1 });
      await waitFor('delivered after the replay', () =>
        receiver.accepted.some((r) => r.eventId === id),
      );
      const [refused, accepted] = receiver.requests.filter((r) => r.eventId === id);
      expect(accepted!.headers['x-vigil-delivery-id']).toBe(deliveryId);
      expect(accepted!.body.equals(refused!.body)).toBe(true);
      const after = await unary<{ deadLetters: unknown[] }>(
        api.webhooks,
        'ListDeadLetters',
        {},
        bearer(VIEWER),
      );
      expect(after.deadLetters).toEqual([]);
    });

    it('lists and replays dead letters from the CLI', async () => {
      refusing = true;
      const ids = [await record(3), await record(4)];
      const deliveryIds = ids.map((id) => webhookDeliveryId('soc', id));
      await waitFor('dead', async () =>
        (await Promise.all(deliveryIds.map((d) => desk.outbox.findDead(d)))).every(Boolean),
      );

      const listed = await runCli(['webhooks', 'list-dead', '--address', address], {
        VIGIL_API_TOKEN: VIEWER,
      });
      expect(listed).toMatchObject({ code: 0, stderr: '' });
      for (const deliveryId of deliveryIds) expect(listed.stdout).toContain(deliveryId);
      expect(listed.stdout).toContain('HTTP 410, not retried');
      expect(listed.stdout).toMatch(/\n {2}soc +0 +2\n/);

      const json = await runCli(['webhooks', 'list-dead', '--json', '--address', address], {
        VIGIL_API_TOKEN: VIEWER,
      });
      expect(
        json.stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line).deliveryId),
      ).toEqual(deliveryIds);

      const denied = await runCli(['webhooks', 'replay', '--all', '--address', address], {
        VIGIL_API_TOKEN: VIEWER,
      });
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/ReplayDeadLetters: PERMISSION_DENIED: role viewer/);

      refusing = false;
      const one = await runCli(['webhooks', 'replay', deliveryIds[0]!, '--address', address], {
        VIGIL_API_TOKEN: OPERATOR,
      });
      expect(one).toMatchObject({ code: 0, stdout: '1 dead letter replayed\n' });
      const rest = await runCli(
        ['webhooks', 'replay', '--all', '--subscription', 'soc', '--address', address],
        { VIGIL_API_TOKEN: OPERATOR },
      );
      expect(rest).toMatchObject({ code: 0, stdout: '1 dead letter replayed\n' });
      await waitFor('both delivered', () =>
        ids.every((id) => receiver.accepted.some((r) => r.eventId === id)),
      );

      const gone = await runCli(['webhooks', 'replay', deliveryIds[0]!, '--address', address], {
        VIGIL_API_TOKEN: OPERATOR,
      });
      expect(gone.code).toBe(1);
      expect(gone.stderr).toContain(`NOT_FOUND: dead letter ${deliveryIds[0]} not found`);
    });
  },
);
