import type { SpawnedProcess } from '@app/media';
import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';

/** An ffmpeg child whose stdout, stderr and exit the test controls; records what it was fed. */
export class FakeProcess extends EventEmitter implements SpawnedProcess {
  readonly pid = 4242;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdin: Writable;
  readonly stdio: (Writable | PassThrough)[];
  readonly signals: NodeJS.Signals[] = [];
  readonly fed: Buffer[] = [];
  stdinEnded = false;

  constructor() {
    super();
    this.stdin = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.fed.push(chunk);
        done();
      },
      final: (done) => {
        this.stdinEnded = true;
        done();
      },
    });
    this.stdio = [this.stdin, this.stdout, this.stderr];
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.signals.push(signal);
    return true;
  }

  /** Writes `out` and `log`, closes the pipes and exits, in the order a real child does. */
  finish(code: number | null, out: Uint8Array = new Uint8Array(0), log = ''): void {
    if (out.length > 0) this.stdout.write(out);
    if (log) this.stderr.write(log);
    this.stdout.end();
    this.stderr.end();
    this.emit('exit', code, code === null ? 'SIGKILL' : null);
  }
}
