/**
 * What went wrong for an API caller, independent of the transport. Each code is mapped to a
 * gRPC status in grpc-status.mapper.ts (and to HTTP where evidence is served over HTTP); the
 * maps are exhaustive records, so a new code does not compile until every transport says
 * what it means.
 */
export enum ApiErrorCode {
  INVALID_ARGUMENT = 'INVALID_ARGUMENT',
  NOT_FOUND = 'NOT_FOUND',
  ALREADY_EXISTS = 'ALREADY_EXISTS',
  /** Too big, too many streams, too many concurrent analyses. */
  RESOURCE_EXHAUSTED = 'RESOURCE_EXHAUSTED',
  /** A request body over the limit: RESOURCE_EXHAUSTED on gRPC, 413 on HTTP. */
  TOO_LARGE = 'TOO_LARGE',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  PERMISSION_DENIED = 'PERMISSION_DENIED',
  /** The request is valid but the server is not set up for it (a model not loaded). */
  FAILED_PRECONDITION = 'FAILED_PRECONDITION',
  /** A dependency (Kafka, the source) is unreachable; worth retrying later. */
  UNAVAILABLE = 'UNAVAILABLE',
  DEADLINE_EXCEEDED = 'DEADLINE_EXCEEDED',
  CANCELLED = 'CANCELLED',
  INTERNAL = 'INTERNAL',
}

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    /** The request field at fault, already part of the message; kept for logs and tests. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** INVALID_ARGUMENT naming the field, the one shape every validator uses. */
  static invalid(field: string, problem: string): ApiError {
    return new ApiError(ApiErrorCode.INVALID_ARGUMENT, `${field}: ${problem}`, field);
  }

  static notFound(what: string): ApiError {
    return new ApiError(ApiErrorCode.NOT_FOUND, `${what} not found`);
  }
}
