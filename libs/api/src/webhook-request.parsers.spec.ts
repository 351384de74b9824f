import { webhookDeliveryId } from '@app/webhooks';
import { ApiError } from './api.error';
import {
  deadLetterPageRequest,
  deadLetterPageToken,
  replayTarget,
} from './webhook-request.parsers';

function invalid(run: () => unknown): { field?: string; message: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    const { field, message } = error as ApiError;
    return { field, message };
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('deadLetterPageRequest', () => {
  it('defaults the page size, caps it, and reads back its own tokens', () => {
    expect(deadLetterPageRequest({})).toEqual({ pageSize: 50 });
    expect(deadLetterPageRequest({ pageSize: 9_999, subscriptionId: 'soc' })).toEqual({
      subscriptionId: 'soc',
      pageSize: 500,
    });
    const pageToken = deadLetterPageToken(41, 'soc');
    expect(deadLetterPageRequest({ subscriptionId: 'soc', pageToken, pageSize: 5 })).toEqual({
      subscriptionId: 'soc',
      afterId: 41,
      pageSize: 5,
    });
  });

  it('refuses a token from another filter, a forged token and a bad subscription id', () => {
    expect(
      invalid(() => deadLetterPageRequest({ pageToken: deadLetterPageToken(41, 'soc') })),
    ).toEqual({
      field: 'page_token',
      message: 'page_token: comes from a request with another subscription_id',
    });
    for (const pageToken of ['x', Buffer.from('{"v":1,"after":-1}').toString('base64url')]) {
      expect(invalid(() => deadLetterPageRequest({ pageToken })).field).toBe('page_token');
    }
    expect(invalid(() => deadLetterPageRequest({ subscriptionId: 'a/b' })).message).toBe(
      'subscription_id: is not a subscription id',
    );
  });
});

describe('replayTarget', () => {
  const id = webhookDeliveryId('soc', 'e1');

  it('reads delivery ids, or all (of one subscription)', () => {
    expect(replayTarget({ deliveryIds: [id] })).toEqual({ kind: 'deliveries', deliveryIds: [id] });
    expect(replayTarget({ all: true })).toEqual({ kind: 'all' });
    expect(replayTarget({ all: true, subscriptionId: 'soc', deliveryIds: [] })).toEqual({
      kind: 'all',
      subscriptionId: 'soc',
    });
  });

  it.each([
    [{}, 'delivery_ids', /give the delivery ids to replay, or all/],
    [{ all: true, deliveryIds: ['x'] }, 'delivery_ids', /not both/],
    [{ subscriptionId: 'soc', deliveryIds: ['x'] }, 'subscription_id', /only used with all/],
    [{ deliveryIds: ['not-an-id'] }, 'delivery_ids[0]', /"not-an-id" is not a delivery id/],
    [{ deliveryIds: Array(501).fill('x') }, 'delivery_ids', /more than 500/],
  ])('refuses %j naming %s', (request, field, message) => {
    const error = invalid(() => replayTarget(request));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });
});
