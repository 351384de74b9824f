import { status } from '@grpc/grpc-js';
import { ConfigError } from '@app/config';
import { EvidenceError, EvidenceErrorCode } from '@app/evidence';
import { HistoryError } from '@app/history';
import { MediaError, MediaErrorCode } from '@app/media';
import { WebhookError, WebhookErrorCode } from '@app/webhooks';
import { ApiError, ApiErrorCode } from './api.error';
import { toGrpcError } from './grpc-status.mapper';

describe('toGrpcError', () => {
  it.each([
    [
      ApiError.invalid('fps', 'must be between 0.1 and 60'),
      status.INVALID_ARGUMENT,
      'fps: must be between 0.1 and 60',
    ],
    [
      new ApiError(ApiErrorCode.RESOURCE_EXHAUSTED, 'too many'),
      status.RESOURCE_EXHAUSTED,
      'too many',
    ],
    [
      new MediaError(MediaErrorCode.SOURCE_NOT_FOUND, 'Source not found: /x.mp4'),
      status.NOT_FOUND,
      'Source not found: /x.mp4',
    ],
    [
      new MediaError(MediaErrorCode.PROTOCOL_NOT_ALLOWED, 'file: refused'),
      status.INVALID_ARGUMENT,
      'file: refused',
    ],
    [new MediaError(MediaErrorCode.SOURCE_UNREACHABLE, 'refused'), status.UNAVAILABLE, 'refused'],
    [
      new HistoryError('not-found', 'id', 'no stored event e1'),
      status.NOT_FOUND,
      'id: no stored event e1',
    ],
    [
      new HistoryError('invalid-argument', 'pageToken', 'is not ours'),
      status.INVALID_ARGUMENT,
      'pageToken: is not ours',
    ],
    [
      new EvidenceError(EvidenceErrorCode.NOT_FOUND, 'e1/snapshot.jpg not found'),
      status.NOT_FOUND,
      'e1/snapshot.jpg not found',
    ],
    [new ConfigError('rules', 'bad'), status.INVALID_ARGUMENT, 'configuration rules: bad'],
    [
      new WebhookError(WebhookErrorCode.DEAD_LETTER_NOT_FOUND, 'dead letter d1 not found'),
      status.NOT_FOUND,
      'dead letter d1 not found',
    ],
    [
      new WebhookError(WebhookErrorCode.SUBSCRIPTION_NOT_CONFIGURED, 'subscription x is gone'),
      status.FAILED_PRECONDITION,
      'subscription x is gone',
    ],
  ])('maps %p to its status with its message', (error, code, details) => {
    expect(toGrpcError(error)).toEqual({ code, details, message: details });
  });

  it('hides anything unexpected behind a bare INTERNAL', () => {
    const leaky = new Error('ENOENT: /home/vigil/secret/path at Object.open (node:fs:1)');
    expect(toGrpcError(leaky)).toEqual({
      code: status.INTERNAL,
      details: 'internal error',
      message: 'internal error',
    });
    expect(
      toGrpcError(
        new EvidenceError(EvidenceErrorCode.ENCODE_FAILED, 'ffmpeg: /usr/bin/ffmpeg died'),
      ).details,
    ).toBe('internal error');
  });
});
