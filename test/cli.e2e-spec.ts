import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, modelsDir } from '@app/testing';
import { runCli } from '@app/testing/cli-runner';

jest.setTimeout(120_000);

let dir: string;
const env = () => ({ VIGIL_MODELS_DIR: modelsDir() });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ffmpeg(...args: string[]): void {
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  return lines[0];
}

describe('vigil analyze on bad input: one clear line, the right exit code, no hang', () => {
  it('an empty file', async () => {
    const path = join(dir, 'empty.mp4');
    writeFileSync(path, '');
    const result = await runCli(['analyze', path], env());
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/^vigil: .*empty/i);
  });

  it('a text file named .mp4', async () => {
    const path = join(dir, 'notes.mp4');
    writeFileSync(path, 'this is not a video\n'.repeat(50));
    const result = await runCli(['analyze', path], env());
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/^vigil: .*not a media file/i);
  });

  it('a path that does not exist', async () => {
    const result = await runCli(['analyze', join(dir, 'nope.mp4')], env());
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/^vigil: Source not found: .*nope\.mp4/);
  });

  it('an unreachable URL', async () => {
    const result = await runCli(['analyze', 'http://127.0.0.1:9/camera.mp4'], env());
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/^vigil: .*(refused|unreachable)/i);
  });

  it('a playlist that points at file: URLs is refused by the protocol whitelist', async () => {
    const secret = join(dir, 'secret.ts');
    copyFileSync(fixture('clips/comp01_person_glassbreak.mp4'), secret);
    const playlist = [
      '#EXTM3U',
      '#EXT-X-TARGETDURATION:10',
      '#EXTINF:10,',
      `file://${secret}`,
      '#EXT-X-ENDLIST',
      '',
    ].join('\n');
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
      res.end(playlist);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const result = await runCli(['analyze', `http://127.0.0.1:${port}/live.m3u8`], env());
      expect(result.code).toBe(1);
      expect(oneLine(result.stderr)).toMatch(/^vigil: .*(not allowed|protocol)/i);
    } finally {
      server.close();
    }
  });

  it('a truncated mp4 is analysed up to the cut and says so', async () => {
    const whole = join(dir, 'faststart.mp4');
    ffmpeg(
      '-i',
      fixture('clips/comp01_person_glassbreak.mp4'),
      '-c',
      'copy',
      '-movflags',
      '+faststart',
      whole,
    );
    const cut = join(dir, 'cut.mp4');
    writeFileSync(cut, readFileSync(whole).subarray(0, Math.floor(statSync(whole).size * 0.6)));
    const result = await runCli(['analyze', cut, '--json'], env());
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ type: 'summary', truncated: true });
    expect(summary.decodedSec).toBeGreaterThan(3);
    expect(summary.decodedSec).toBeLessThan(9);
    const human = await runCli(['analyze', cut], env());
    expect(human.stdout).toMatch(/note: the input was cut short/);
  });

  it('bad arguments exit 2', async () => {
    for (const args of [
      ['analyze'],
      ['analyze', 'a', '--fps', 'fast'],
      ['explode'],
      ['analyze', 'a', '--nope'],
    ]) {
      const result = await runCli(args, env());
      expect(result.code).toBe(2);
      expect(oneLine(result.stderr)).toMatch(/^vigil: /);
    }
  });

  it('vigil stream start with no broker answering fails with the brokers named', async () => {
    const result = await runCli(
      ['stream', 'start', fixture('clips/comp01_person_glassbreak.mp4')],
      {
        KAFKA_BROKERS: '127.0.0.1:9',
      },
    );
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toMatch(
      /^vigil: cannot reach Kafka at 127\.0\.0\.1:9: .*ECONNREFUSED/,
    );
  });

  it('a bad configuration value exits 2 naming the key', async () => {
    const result = await runCli(['analyze', fixture('clips/comp04_empty_night_ambience.mp4')], {
      ...env(),
      VIGIL_EXECUTION_PROVIDER: 'quantum',
    });
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toMatch(/VIGIL_EXECUTION_PROVIDER/);
  });
});

describe('vigil analyze with one modality', () => {
  it('analyses a video without an audio stream and says audio was absent', async () => {
    const silent = join(dir, 'silent.mp4');
    ffmpeg('-i', fixture('clips/comp01_person_glassbreak.mp4'), '-an', '-c:v', 'copy', silent);
    const result = await runCli(['analyze', silent], env());
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/video only/);
    expect(result.stdout).toMatch(/no audio stream/);
    expect(result.stdout).toMatch(/video\s+person/);
  });

  it('analyses an audio-only file and says video was absent', async () => {
    const result = await runCli(
      ['analyze', fixture('audio/gunshot_fs522085_magnuswaker_pistol.flac'), '--json'],
      env(),
    );
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ type: 'summary', hasAudio: true, hasVideo: false });
    expect(
      lines.some((l) => l.type === 'incident' && l.rule === 'gunshot' && l.severity === 'critical'),
    ).toBe(true);
  });
});
