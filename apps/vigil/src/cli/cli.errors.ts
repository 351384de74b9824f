import { BusUnavailableError } from '@app/bus';
import { ConfigError } from '@app/config';
import { EvalLabelsError } from '@app/evaluation';
import { RuleSetError } from '@app/fusion';
import { MediaError, MediaErrorCode } from '@app/media';
import { ManifestError, ModelNotFoundError, PrecisionError, PrecisionErrorCode } from '@app/models';
import { PipelineError } from '@app/pipeline';
import { DownloadError } from '../models/model.downloader';
import { PullError } from '../models/models.service';
import { status } from '@grpc/grpc-js';
import { ApiCallError } from '../webhooks/webhook-api.client';
import { UsageError } from './cli.args';

export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Every media error code has an exit code here; a new code that is not mapped fails to compile.
 * All of them mean "this input could not be analysed".
 */
const MEDIA_EXIT: Record<MediaErrorCode, ExitCode> = {
  [MediaErrorCode.FFMPEG_NOT_FOUND]: ExitCode.failed,
  [MediaErrorCode.SOURCE_NOT_FOUND]: ExitCode.failed,
  [MediaErrorCode.PROTOCOL_NOT_ALLOWED]: ExitCode.failed,
  [MediaErrorCode.UNSUPPORTED_INPUT]: ExitCode.failed,
  [MediaErrorCode.SOURCE_UNREACHABLE]: ExitCode.failed,
  [MediaErrorCode.DECODE_FAILED]: ExitCode.failed,
  [MediaErrorCode.STALLED]: ExitCode.failed,
  [MediaErrorCode.ABORTED]: ExitCode.failed,
};

/** Every precision error code has an exit code: the models asked for cannot be used. */
const PRECISION_EXIT: Record<PrecisionErrorCode, ExitCode> = {
  [PrecisionErrorCode.NO_INT8_VARIANT]: ExitCode.failed,
  [PrecisionErrorCode.STALE_INT8_VARIANT]: ExitCode.failed,
  [PrecisionErrorCode.NOT_FP32]: ExitCode.usage,
};

/** One line for the user and an exit code; stack traces only when asked for. */
export function describeFailure(error: unknown): { code: ExitCode; message: string } {
  if (error instanceof UsageError)
    return { code: ExitCode.usage, message: `${error.message} (see vigil --help)` };
  if (
    error instanceof ConfigError ||
    error instanceof RuleSetError ||
    error instanceof EvalLabelsError
  ) {
    return { code: ExitCode.usage, message: error.message };
  }
  if (error instanceof MediaError) return { code: MEDIA_EXIT[error.code], message: error.message };
  if (error instanceof PrecisionError) {
    return { code: PRECISION_EXIT[error.code], message: error.message };
  }
  if (
    error instanceof ModelNotFoundError ||
    error instanceof ManifestError ||
    error instanceof PipelineError ||
    error instanceof BusUnavailableError ||
    error instanceof PullError ||
    error instanceof DownloadError
  ) {
    return { code: ExitCode.failed, message: error.message };
  }
  if (error instanceof ApiCallError) {
    const hint =
      error.code === status.UNAUTHENTICATED
        ? ' (set VIGIL_API_TOKEN)'
        : error.code === status.UNAVAILABLE
          ? ' (is vigil serve running there? --address HOST:PORT)'
          : '';
    return {
      code: error.code === status.INVALID_ARGUMENT ? ExitCode.usage : ExitCode.failed,
      message: `${error.message}${hint}`,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: ExitCode.failed, message: `unexpected error: ${message.split('\n')[0]}` };
}
