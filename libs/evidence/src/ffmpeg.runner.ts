import { FfmpegLocator, ProcessSpawner, type SpawnedProcess } from '@app/media';
import type { Readable } from 'node:stream';
import { EvidenceError, EvidenceErrorCode } from './evidence.error';

export interface FfmpegRunnerOptions {
  /** The ffmpeg to run; default: found once, on first use, by FfmpegLocator. */
  binary?: string;
  /** A picture takes milliseconds; anything near this means ffmpeg hangs. Default 20 s. */
  timeoutMs?: number;
  /** Output above this is refused, so a runaway encode cannot eat the heap. Default 64 MiB. */
  maxOutputBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 20_000;
const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
const STDERR_TAIL_CHARS = 4_000;

/**
 * One short ffmpeg run: bytes in on stdin, bytes out on stdout. The media lib's FfmpegProcess
 * is built for long decodes on extra pipes with stall watchdogs; encoding one picture needs
 * none of that, only a timeout and an output cap.
 */
export class FfmpegRunner {
  private readonly timeoutMs: number;
  private readonly maxOutputBytes: number;
  private binary?: string;

  constructor(
    options: FfmpegRunnerOptions = {},
    private readonly spawner: Pick<ProcessSpawner, 'spawn'> = new ProcessSpawner(),
    private readonly locator: Pick<FfmpegLocator, 'locate'> = new FfmpegLocator(),
  ) {
    this.binary = options.binary;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  }

  /**
   * Runs ffmpeg with `args` (input and output options; logging options are added here), feeds
   * `input` to stdin and resolves with everything it wrote to stdout. `what` names the job in
   * error messages.
   */
  run(args: readonly string[], input: Uint8Array, what: string): Promise<Uint8Array> {
    let binary: string;
    try {
      binary = this.binary ??= this.locator.locate();
    } catch (error) {
      return Promise.reject(
        new EvidenceError(EvidenceErrorCode.ENCODE_FAILED, `${what}: ${messageOf(error)}`),
      );
    }
    const fullArgs = ['-hide_banner', '-nostats', '-loglevel', 'error', ...args];
    return new Promise((resolve, reject) => {
      let child: SpawnedProcess;
      try {
        child = this.spawner.spawn(binary, fullArgs, ['pipe', 'pipe', 'pipe']);
      } catch (error) {
        reject(new EvidenceError(EvidenceErrorCode.ENCODE_FAILED, `${what}: ${messageOf(error)}`));
        return;
      }
      const chunks: Buffer[] = [];
      let outBytes = 0;
      let stderr = '';
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let stdoutDone = false;
      let failure: string | undefined;
      let settled = false;

      const settle = () => {
        if (settled) return;
        if (failure === undefined && (!exit || !stdoutDone)) return;
        settled = true;
        clearTimeout(timer);
        const tail = stderr.split('\n').filter((line) => line.trim() !== '');
        if (failure !== undefined) {
          reject(new EvidenceError(EvidenceErrorCode.ENCODE_FAILED, `${what}: ${failure}`, tail));
        } else if (exit?.code !== 0) {
          const how = exit?.signal ? `was killed by ${exit.signal}` : `exited with ${exit?.code}`;
          const last = tail.length > 0 ? `: ${tail[tail.length - 1]}` : '';
          reject(
            new EvidenceError(
              EvidenceErrorCode.ENCODE_FAILED,
              `${what}: ffmpeg ${how}${last}`,
              tail,
            ),
          );
        } else if (outBytes === 0) {
          reject(
            new EvidenceError(
              EvidenceErrorCode.ENCODE_FAILED,
              `${what}: ffmpeg wrote nothing`,
              tail,
            ),
          );
        } else {
          resolve(new Uint8Array(Buffer.concat(chunks, outBytes)));
        }
      };
      const fail = (reason: string) => {
        failure ??= reason;
        child.kill('SIGKILL');
        settle();
      };

      const timer = setTimeout(
        () => fail(`ffmpeg did not finish within ${this.timeoutMs} ms`),
        this.timeoutMs,
      );
      child.on('error', (error) => fail(`ffmpeg could not run: ${error.message}`));
      child.on('exit', (code, signal) => {
        exit = { code, signal };
        settle();
      });

      const stdout = child.stdio[1] as Readable | null | undefined;
      if (!stdout) {
        stdoutDone = true;
      } else {
        stdout.on('data', (chunk: Buffer) => {
          outBytes += chunk.length;
          if (outBytes > this.maxOutputBytes) {
            fail(`ffmpeg wrote more than ${this.maxOutputBytes} bytes`);
            return;
          }
          chunks.push(chunk);
        });
        stdout.on('error', () => undefined);
        stdout.on('close', () => {
          stdoutDone = true;
          settle();
        });
      }
      const errStream = child.stderr;
      if (errStream) {
        errStream.setEncoding('utf8');
        errStream.on('data', (text: string) => {
          stderr = (stderr + text).slice(-STDERR_TAIL_CHARS);
        });
        errStream.on('error', () => undefined);
      }
      const stdin = child.stdin;
      if (stdin) {
        // ffmpeg that fails early closes its stdin; its exit status says why, EPIPE does not.
        stdin.on('error', () => undefined);
        stdin.end(input);
      }
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
