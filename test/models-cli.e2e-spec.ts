import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { MODEL_CATALOG } from '@app/models';
import { companionModelsDir, modelsDir } from '@app/testing';
import { runCli } from '@app/testing/cli-runner';

jest.setTimeout(60_000);

/**
 * A local mirror of model folders over HTTP (../shared/models, and the companions that
 * `npm run models:companions` makes), optionally serving corrupted bytes.
 */
function startMirror(
  roots: string[],
  corrupt = new Set<string>(),
): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(req.url ?? '/')).replace(/^\/+/, '');
    requests.push(path);
    const root = roots.find((r) => existsSync(join(r, path))) ?? roots[0]!;
    const file = join(root, path);
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    if (corrupt.has(path)) {
      res.writeHead(200, { 'content-length': '4' }).end('evil');
      return;
    }
    res.writeHead(200);
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requests,
      }),
    ),
  );
}

describe('vigil models', () => {
  let target: string;

  beforeEach(() => {
    target = mkdtempSync(join(tmpdir(), 'vigil-models-'));
  });
  afterEach(() => rmSync(target, { recursive: true, force: true }));

  it('pulls every catalogued model from a mirror, checks sha256, then verifies and lists them', async () => {
    const mirror = await startMirror([modelsDir(), companionModelsDir()]);
    try {
      const pull = await runCli(['models', 'pull', '--models', target, '--mirror', mirror.url]);
      expect(pull.stderr).toBe('');
      expect(pull.code).toBe(0);
      expect(pull.stdout).toMatch(/yolox-nano\/yolox_nano\.onnx: downloaded, sha256 ok/);
      expect(mirror.requests).toEqual(
        expect.arrayContaining([
          'efficientat-mn04/mn04_as.onnx',
          'fastestdet/FastestDet.onnx',
          'yolox-nano/coco_labels.txt',
        ]),
      );
      expect(readdirSync(join(target, 'yolox-nano')).sort()).toEqual([
        'coco_labels.txt',
        'yolox_nano.onnx',
      ]);

      const verify = await runCli(['models', 'verify', '--models', target]);
      expect(verify.code).toBe(0);
      expect(verify.stdout.match(/: ok/g)).toHaveLength(Object.keys(MODEL_CATALOG).length);

      const list = await runCli(['models', 'list', '--models', target]);
      expect(list.stdout).toMatch(/yolox-nano\s+object-detection\s+fp32\s+3\.71 MB\s+installed/);
    } finally {
      mirror.server.close();
    }
  });

  it('refuses a download whose checksum does not match and leaves nothing installed', async () => {
    const mirror = await startMirror([modelsDir()], new Set(['fastestdet/FastestDet.onnx']));
    try {
      const pull = await runCli([
        'models',
        'pull',
        'fastestdet',
        '--models',
        target,
        '--mirror',
        mirror.url,
      ]);
      expect(pull.code).toBe(1);
      expect(pull.stderr).toMatch(
        /^vigil: .*FastestDet\.onnx: sha256 [0-9a-f]{64} does not match the catalog's 31cb14c0/,
      );
      expect(existsSync(join(target, 'fastestdet', 'FastestDet.onnx'))).toBe(false);
      expect(existsSync(join(target, 'fastestdet', 'FastestDet.onnx.partial'))).toBe(false);
    } finally {
      mirror.server.close();
    }
  });

  it('says why a model cannot be pulled from upstream, and reports what verify finds', async () => {
    const pull = await runCli(['models', 'pull', 'efficientat-mn04', '--models', target]);
    expect(pull.code).toBe(1);
    expect(pull.stderr).toMatch(/efficientat-mn04 cannot be pulled from upstream: .*--mirror/);

    const missing = await runCli(['models', 'verify', 'yolox-nano', '--models', target]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/yolox-nano: missing/);

    const unknown = await runCli(['models', 'verify', 'no-such-model', '--models', target]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no-such-model/);
  });

  it("pulls an audio model's companions with it", async () => {
    const mirror = await startMirror([modelsDir(), companionModelsDir()]);
    try {
      const pull = await runCli([
        'models',
        'pull',
        'efficientat-mn04',
        '--models',
        target,
        '--mirror',
        mirror.url,
      ]);
      expect(pull.code).toBe(0);
      const companions = MODEL_CATALOG['efficientat-mn04']!.companion!.models;
      expect(readdirSync(target).sort()).toEqual(['efficientat-mn04', ...companions].sort());
      expect(pull.stdout).toMatch(/yamnet\/yamnet\.onnx: downloaded, sha256 ok/);
    } finally {
      mirror.server.close();
    }
  });

  it('catches a tampered installed file', async () => {
    const mirror = await startMirror([modelsDir()]);
    try {
      await runCli(['models', 'pull', 'yolox-nano', '--models', target, '--mirror', mirror.url]);
    } finally {
      mirror.server.close();
    }
    writeFileSync(join(target, 'yolox-nano', 'coco_labels.txt'), 'person\n');
    const verify = await runCli(['models', 'verify', 'yolox-nano', '--models', target]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/MISMATCH in the labels file/);
  });
});
