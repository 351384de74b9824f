import type { DecodeOptions, DecodeSession } from './decode.contract';
import { validateDecodeOptions } from './decode-options.validator';
import { FfmpegDecodeSession } from './decode.session';
import type { FfmpegLocator } from './ffmpeg.locator';
import { FfmpegProcess } from './ffmpeg.process';
import { FileInspector } from './file.inspector';
import { isMediaError, type MediaError } from './media.error';
import { ProcessSpawner } from './process.spawner';
import { type ResolvedSource, SourceResolver } from './source.resolver';
import { Clock } from './system.clock';
import { redactUrl } from './url.redactor';

const DEFAULT_NETWORK_TIMEOUT_MS = 10_000;

/**
 * Decodes files and streams with ffmpeg into PCM chunks and detector-sized frames.
 * Construct it by hand or from a Nest factory; side effects come in through the arguments.
 */
export class MediaDecoder {
  private readonly sources: SourceResolver;

  constructor(
    private readonly locator: Pick<FfmpegLocator, 'locate'>,
    private readonly spawner: ProcessSpawner = new ProcessSpawner(),
    private readonly clock: Clock = new Clock(),
    files: Pick<FileInspector, 'stat'> = new FileInspector(),
  ) {
    this.sources = new SourceResolver(files);
  }

  /**
   * Starts decoding. Throws RangeError only for malformed options; every problem with the
   * source or ffmpeg arrives as a MediaError through the session (`info`, `done`, iterators).
   */
  open(options: DecodeOptions): DecodeSession {
    const outputs = validateDecodeOptions(options);
    let label = redactUrl(options.source);
    let source: ResolvedSource | undefined;
    let binary = '';
    let preflightError: MediaError | undefined;
    try {
      source = this.sources.resolve(options.source);
      label = source.label;
      binary = this.locator.locate();
    } catch (error) {
      if (!isMediaError(error)) throw error;
      preflightError = error;
    }
    return new FfmpegDecodeSession(
      {
        label,
        source,
        preflightError,
        ...outputs,
        live: options.live ?? source?.liveByDefault ?? false,
        networkTimeoutMs: options.networkTimeoutMs ?? DEFAULT_NETWORK_TIMEOUT_MS,
        startSec: options.startSec,
        signal: options.signal,
      },
      (args, dataFds, onStderrLine) =>
        new FfmpegProcess(
          { binary, args, dataFds, stallTimeoutMs: options.stallTimeoutMs, label, onStderrLine },
          this.spawner,
          this.clock,
        ),
    );
  }
}
