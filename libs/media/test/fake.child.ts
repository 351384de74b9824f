import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import type { ProcessSpawner, SpawnedProcess, StdioSlot } from '../src/process.spawner';

/** A data pipe that counts what "ffmpeg" wrote, like net.Socket's bytesRead. */
export class FakePipe extends PassThrough {
  bytesRead = 0;

  feed(data: Uint8Array): boolean {
    this.bytesRead += data.length;
    return this.write(data);
  }
}

/** A child process whose stdio and exit the test controls. */
export class FakeChild extends EventEmitter implements SpawnedProcess {
  readonly stdinWrites: string[] = [];
  readonly signals: NodeJS.Signals[] = [];
  readonly stdin: Writable;
  readonly stderr = new PassThrough();
  readonly stdio: (PassThrough | Writable | null)[];
  pid: number | undefined = 4242;
  /** What a signal does; default: nothing (a stubborn ffmpeg). */
  onSignal: (signal: NodeJS.Signals) => void = () => undefined;

  constructor(readonly stdioLayout: readonly StdioSlot[]) {
    super();
    this.stdin = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.stdinWrites.push(chunk.toString());
        done();
      },
    });
    this.stdio = stdioLayout.map((slot, fd) => {
      if (fd === 0) return this.stdin;
      if (fd === 2) return this.stderr;
      return slot === 'pipe' ? new FakePipe() : null;
    });
  }

  pipe(fd: number): FakePipe {
    return this.stdio[fd] as FakePipe;
  }

  log(...lines: string[]): void {
    this.stderr.write(lines.map((line) => `${line}\n`).join(''));
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.signals.push(signal);
    this.onSignal(signal);
    return true;
  }

  /** Ends stdio and reports the exit, in the order a real child does. */
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    for (const fd of [3, 4]) {
      const pipe = this.stdio[fd] as FakePipe | null | undefined;
      if (pipe && !pipe.destroyed && !pipe.writableEnded) pipe.end();
    }
    this.stderr.end();
    this.emit('exit', code, signal);
  }
}

/** Hands out FakeChildren; fails the test on a spawn it was not told to expect. */
export class FakeSpawner implements Pick<ProcessSpawner, 'spawn'> {
  readonly children: FakeChild[] = [];
  readonly calls: { command: string; args: readonly string[]; stdio: readonly StdioSlot[] }[] = [];
  allowed = 0;
  onSpawn?: (child: FakeChild) => void;

  spawn(command: string, args: readonly string[], stdio: readonly StdioSlot[]): FakeChild {
    if (this.calls.length >= this.allowed)
      throw new Error(`unexpected spawn #${this.calls.length + 1}: ${command} ${args.join(' ')}`);
    this.calls.push({ command, args, stdio });
    const child = new FakeChild(stdio);
    this.children.push(child);
    this.onSpawn?.(child);
    return child;
  }
}

export const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
