import { FakeSpawner, tick } from '../test/fake.child';
import { ManualClock } from '../test/manual.clock';
import { FfmpegProcess } from './ffmpeg.process';
import { MediaErrorCode } from './media.error';

function start(options: { stallTimeoutMs?: number; dataFds?: number[] } = {}) {
  const spawner = new FakeSpawner();
  spawner.allowed = 1;
  const clock = new ManualClock();
  const lines: string[] = [];
  const process = new FfmpegProcess(
    {
      binary: '/usr/bin/ffmpeg',
      args: ['-i', 'x'],
      dataFds: options.dataFds ?? [3, 4],
      stallTimeoutMs: options.stallTimeoutMs ?? 1_000,
      killGraceMs: 500,
      stderrTailLines: 3,
      label: 'SRC',
      onStderrLine: (line) => lines.push(line),
    },
    spawner,
    clock,
  );
  return { process, child: spawner.children[0], spawner, clock, lines };
}

describe('FfmpegProcess', () => {
  it('opens stdin, stderr and exactly the data pipes asked for', () => {
    const { spawner } = start({ dataFds: [4] });
    expect(spawner.calls[0].stdio).toEqual(['pipe', 'ignore', 'pipe', 'ignore', 'pipe']);
  });

  it('keeps a bounded, redacted stderr tail and reports the exit', async () => {
    const { process, child, lines } = start();
    child.log(
      '[info] one',
      '[error] rtsp://admin:pw@cam/live?token=x: Connection refused',
      '[info] three',
      '[info] four',
    );
    await tick();
    child.exit(1);
    const exit = await process.exited;
    expect(lines[1]).toBe('[error] rtsp://***@cam/live?***: Connection refused');
    expect(exit).toEqual({
      code: 1,
      signal: null,
      killed: false,
      failure: undefined,
      stderrTail: [
        '[error] rtsp://***@cam/live?***: Connection refused',
        '[info] three',
        '[info] four',
      ],
    });
  });

  it('kill() asks politely, then SIGTERM, then SIGKILL, and is idempotent', async () => {
    const { process, child, clock } = start();
    const first = process.kill();
    const second = process.kill();
    expect(child.stdinWrites).toEqual(['q']);
    expect(child.pipe(3).destroyed).toBe(true);
    clock.advance(500);
    expect(child.signals).toEqual(['SIGTERM']);
    clock.advance(500);
    expect(child.signals).toEqual(['SIGTERM', 'SIGKILL']);
    child.exit(null, 'SIGKILL');
    const [a, b, c] = await Promise.all([first, second, process.kill()]);
    expect(a).toBe(b);
    expect(c).toBe(a);
    expect(a).toMatchObject({ signal: 'SIGKILL', killed: true });
    expect(child.stdinWrites).toEqual(['q']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not escalate when ffmpeg quits on q', async () => {
    const { process, child, clock } = start();
    const killed = process.kill();
    child.exit(0);
    await killed;
    clock.advance(5_000);
    expect(child.signals).toEqual([]);
  });

  it('stops a run whose data pipes stay silent and reports STALLED', async () => {
    const { process, child, clock } = start({ stallTimeoutMs: 1_000 });
    child.pipe(3).feed(new Uint8Array(16));
    clock.advance(250);
    clock.advance(750);
    expect(child.stdinWrites).toEqual([]);
    clock.advance(1_000);
    expect(child.stdinWrites).toEqual(['q']);
    child.exit(0);
    const exit = await process.exited;
    expect(exit.failure?.code).toBe(MediaErrorCode.STALLED);
    expect(exit.failure?.message).toBe(
      'No media data from SRC for 1 s: the source stalled and ffmpeg was stopped',
    );
  });

  it('does not fire while the consumer is the one holding ffmpeg back', async () => {
    const { child, clock } = start({ stallTimeoutMs: 1_000 });
    const pipe = child.pipe(4);
    // Nobody reads: the buffer fills to its high-water mark, as when the consumer is slow.
    while (pipe.feed(new Uint8Array(4096)));
    clock.advance(10_000);
    expect(child.stdinWrites).toEqual([]);
    // Once the consumer drains it and nothing more comes, ffmpeg is to blame again.
    pipe.read();
    clock.advance(1_250);
    expect(child.stdinWrites).toEqual(['q']);
  });

  it('reports a binary that cannot be started as FFMPEG_NOT_FOUND', async () => {
    const { process, child } = start();
    child.pid = undefined;
    child.emit(
      'error',
      Object.assign(new Error('spawn /usr/bin/ffmpeg ENOENT'), { code: 'ENOENT' }),
    );
    const exit = await process.exited;
    expect(exit.failure?.code).toBe(MediaErrorCode.FFMPEG_NOT_FOUND);
    expect(exit.failure?.message).toContain('/usr/bin/ffmpeg');
  });
});
