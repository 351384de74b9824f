import { status as GrpcStatus } from '@grpc/grpc-js';
import { ConfigError } from '@app/config';
import { EvidenceError, EvidenceErrorCode } from '@app/evidence';
import { HistoryError, type HistoryErrorCode } from '@app/history';
import { MediaError, MediaErrorCode } from '@app/media';
import { WebhookError, WebhookErrorCode } from '@app/webhooks';
import { ApiError, ApiErrorCode } from './api.error';

export const GRPC_STATUS: Readonly<Record<ApiErrorCode, GrpcStatus>> = {
  [ApiErrorCode.INVALID_ARGUMENT]: GrpcStatus.INVALID_ARGUMENT,
  [ApiErrorCode.NOT_FOUND]: GrpcStatus.NOT_FOUND,
  [ApiErrorCode.ALREADY_EXISTS]: GrpcStatus.ALREADY_EXISTS,
  [ApiErrorCode.RESOURCE_EXHAUSTED]: GrpcStatus.RESOURCE_EXHAUSTED,
  [ApiErrorCode.TOO_LARGE]: GrpcStatus.RESOURCE_EXHAUSTED,
  [ApiErrorCode.UNAUTHENTICATED]: GrpcStatus.UNAUTHENTICATED,
  [ApiErrorCode.PERMISSION_DENIED]: GrpcStatus.PERMISSION_DENIED,
  [ApiErrorCode.FAILED_PRECONDITION]: GrpcStatus.FAILED_PRECONDITION,
  [ApiErrorCode.UNAVAILABLE]: GrpcStatus.UNAVAILABLE,
  [ApiErrorCode.DEADLINE_EXCEEDED]: GrpcStatus.DEADLINE_EXCEEDED,
  [ApiErrorCode.CANCELLED]: GrpcStatus.CANCELLED,
  [ApiErrorCode.INTERNAL]: GrpcStatus.INTERNAL,
};

export const HTTP_STATUS: Readonly<Record<ApiErrorCode, number>> = {
  [ApiErrorCode.INVALID_ARGUMENT]: 400,
  [ApiErrorCode.NOT_FOUND]: 404,
  [ApiErrorCode.ALREADY_EXISTS]: 409,
  [ApiErrorCode.RESOURCE_EXHAUSTED]: 429,
  [ApiErrorCode.TOO_LARGE]: 413,
  [ApiErrorCode.UNAUTHENTICATED]: 401,
  [ApiErrorCode.PERMISSION_DENIED]: 403,
  [ApiErrorCode.FAILED_PRECONDITION]: 412,
  [ApiErrorCode.UNAVAILABLE]: 503,
  [ApiErrorCode.DEADLINE_EXCEEDED]: 504,
  [ApiErrorCode.CANCELLED]: 499,
  [ApiErrorCode.INTERNAL]: 500,
};

/** A media problem met while serving a request: the caller's source, or our ffmpeg. */
const MEDIA: Readonly<Record<MediaErrorCode, ApiErrorCode>> = {
  [MediaErrorCode.FFMPEG_NOT_FOUND]: ApiErrorCode.FAILED_PRECONDITION,
  [MediaErrorCode.SOURCE_NOT_FOUND]: ApiErrorCode.NOT_FOUND,
  [MediaErrorCode.PROTOCOL_NOT_ALLOWED]: ApiErrorCode.INVALID_ARGUMENT,
  [MediaErrorCode.UNSUPPORTED_INPUT]: ApiErrorCode.INVALID_ARGUMENT,
  [MediaErrorCode.SOURCE_UNREACHABLE]: ApiErrorCode.UNAVAILABLE,
  [MediaErrorCode.DECODE_FAILED]: ApiErrorCode.INVALID_ARGUMENT,
  [MediaErrorCode.STALLED]: ApiErrorCode.UNAVAILABLE,
  [MediaErrorCode.ABORTED]: ApiErrorCode.CANCELLED,
};

const HISTORY: Readonly<Record<HistoryErrorCode, ApiErrorCode>> = {
  'invalid-argument': ApiErrorCode.INVALID_ARGUMENT,
  'not-found': ApiErrorCode.NOT_FOUND,
  conflict: ApiErrorCode.FAILED_PRECONDITION,
};

const EVIDENCE: Readonly<Record<EvidenceErrorCode, ApiErrorCode>> = {
  [EvidenceErrorCode.INVALID_KEY]: ApiErrorCode.INVALID_ARGUMENT,
  [EvidenceErrorCode.NOT_FOUND]: ApiErrorCode.NOT_FOUND,
  [EvidenceErrorCode.INVALID_INPUT]: ApiErrorCode.INVALID_ARGUMENT,
  [EvidenceErrorCode.ENCODE_FAILED]: ApiErrorCode.INTERNAL,
};

const WEBHOOK: Readonly<Record<WebhookErrorCode, ApiErrorCode>> = {
  [WebhookErrorCode.DEAD_LETTER_NOT_FOUND]: ApiErrorCode.NOT_FOUND,
  [WebhookErrorCode.SUBSCRIPTION_NOT_CONFIGURED]: ApiErrorCode.FAILED_PRECONDITION,
};

/**
 * Any error thrown while serving → the error a client may see. Domain errors keep their
 * message (they are written for users); anything else becomes a bare INTERNAL, so a stack
 * trace or a path never leaves the server.
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof MediaError) return new ApiError(MEDIA[error.code], error.message);
  if (error instanceof HistoryError) {
    return new ApiError(HISTORY[error.code], error.message, error.field);
  }
  if (error instanceof EvidenceError) {
    const code = EVIDENCE[error.code];
    return new ApiError(code, code === ApiErrorCode.INTERNAL ? 'internal error' : error.message);
  }
  if (error instanceof WebhookError) return new ApiError(WEBHOOK[error.code], error.message);
  if (error instanceof ConfigError) {
    return new ApiError(ApiErrorCode.INVALID_ARGUMENT, error.message, error.key);
  }
  return new ApiError(ApiErrorCode.INTERNAL, 'internal error');
}

/** The object grpc-js turns into a status: `code` and `details`. */
export interface GrpcErrorObject {
  code: GrpcStatus;
  details: string;
  message: string;
}

export function toGrpcError(error: unknown): GrpcErrorObject {
  const api = toApiError(error);
  return { code: GRPC_STATUS[api.code], details: api.message, message: api.message };
}
