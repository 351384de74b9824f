import { PassThrough } from 'node:stream';
import { strictMock } from '@app/testing';
import type { DeadLetterMessage, WebhookApi } from './webhook-api.client';
import { WebhooksService } from './webhooks.service';

function output() {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { out, text: () => text };
}

const letter = (n: number): DeadLetterMessage => ({
  deliveryId: `0000000${n}-0000-5000-8000-000000000000`,
  subscriptionId: 'soc',
  url: 'https://alerts.example.com/vigil',
  eventId: `event-${n}`,
  attempts: 583,
  reason: 'connection failed: ECONNREFUSED, gave up after 583 attempts in 24 h',
  lastStatus: null,
  queuedAtMs: Date.UTC(2026, 0, 1),
  failedAtMs: Date.UTC(2026, 0, 2),
  published: true,
});

describe('WebhooksService', () => {
  it('lists every page of dead letters, then the subscriptions', async () => {
    const listDeadLetters = jest
      .fn()
      .mockResolvedValueOnce({ deadLetters: [letter(1)], nextPageToken: 't1', subscriptions: [] })
      .mockResolvedValueOnce({
        deadLetters: [letter(2)],
        nextPageToken: '',
        subscriptions: [
          { subscriptionId: 'old', pending: 3, dead: 0, configured: false },
          { subscriptionId: 'soc', pending: 0, dead: 2, configured: true },
        ],
      });
    const close = jest.fn();
    const { out, text } = output();

    const code = await new WebhooksService(
      strictMock<WebhookApi>('api', { listDeadLetters, close }),
    ).run({ kind: 'webhooks', action: 'list-dead', subscriptionId: 'soc', json: false }, out);

    expect(code).toBe(0);
    expect(listDeadLetters.mock.calls).toEqual([
      [{ subscriptionId: 'soc', pageSize: 500, pageToken: '' }],
      [{ subscriptionId: 'soc', pageSize: 500, pageToken: 't1' }],
    ]);
    expect(text().split('\n')).toEqual([
      '  delivery id                           subscription  event id  attempts  failed at                 reason',
      `  ${letter(1).deliveryId}  soc           event-1   583       2026-01-02T00:00:00.000Z  ${letter(1).reason}`,
      `  ${letter(2).deliveryId}  soc           event-2   583       2026-01-02T00:00:00.000Z  ${letter(2).reason}`,
      '',
      'subscriptions:',
      '  id   pending  dead',
      '  old  3        0     not configured',
      '  soc  0        2',
      '',
    ]);
    expect(close).toHaveBeenCalledTimes(1);
  });

  it('prints one JSON dead letter per line with --json', async () => {
    const { out, text } = output();
    await new WebhooksService(
      strictMock<WebhookApi>('api', {
        listDeadLetters: async () => ({
          deadLetters: [letter(1)],
          nextPageToken: '',
          subscriptions: [],
        }),
        close: () => undefined,
      }),
    ).run({ kind: 'webhooks', action: 'list-dead', json: true }, out);
    expect(
      text()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([letter(1)]);
  });

  it('replays by id or all, says how many, and closes the channel even on failure', async () => {
    const replayDeadLetters = jest
      .fn()
      .mockResolvedValueOnce({ replayed: 1 })
      .mockResolvedValueOnce({ replayed: 7 })
      .mockRejectedValueOnce(new Error('NOT_FOUND'));
    const close = jest.fn();
    const service = new WebhooksService(
      strictMock<WebhookApi>('api', { replayDeadLetters, close }),
    );
    const { out, text } = output();
    const replay = { kind: 'webhooks' as const, action: 'replay' as const };

    await service.run({ ...replay, deliveryIds: ['d1'], all: false }, out);
    await service.run({ ...replay, deliveryIds: [], all: true, subscriptionId: 'soc' }, out);
    await expect(service.run({ ...replay, deliveryIds: ['d9'], all: false }, out)).rejects.toThrow(
      'NOT_FOUND',
    );

    expect(replayDeadLetters.mock.calls).toEqual([
      [{ deliveryIds: ['d1'] }],
      [{ all: true, subscriptionId: 'soc' }],
      [{ deliveryIds: ['d9'] }],
    ]);
    expect(text()).toBe('1 dead letter replayed\n7 dead letters replayed\n');
    expect(close).toHaveBeenCalledTimes(3);
  });
});
