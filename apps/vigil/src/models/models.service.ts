import { Inject, Injectable } from '@nestjs/common';
import { join } from 'node:path';
import type { VigilConfig } from '@app/config';
import { type ModelManifest, ModelRepository, type VerifyResult } from '@app/models';
import type { Command } from '../cli/cli.args';
import { ExitCode } from '../cli/cli.errors';
import { VIGIL_CONFIG } from '../vigil.tokens';
import { ModelDownloader } from './model.downloader';

type ModelsCommand = Extract<Command, { kind: 'models' }>;

export class PullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PullError';
  }
}

interface PlannedFile {
  file: string;
  url: string;
  sha256?: string;
}

/** `vigil models list | verify | pull`. */
@Injectable()
export class ModelsService {
  constructor(
    @Inject(VIGIL_CONFIG) private readonly config: VigilConfig,
    private readonly repository: ModelRepository,
    private readonly downloader: ModelDownloader,
  ) {}

  async run(
    command: ModelsCommand,
    out: NodeJS.WritableStream,
    err: NodeJS.WriteStream,
  ): Promise<number> {
    const names = command.names.length > 0 ? command.names : this.repository.names();
    for (const name of names) this.repository.manifest(name); // unknown names fail before any work
    switch (command.action) {
      case 'list':
        return this.list(names, out);
      case 'verify':
        return this.verify(names, out);
      case 'pull':
        return this.pull(this.withCompanions(names), command.mirror, out, err);
    }
  }

  /** A model's companion (YAMNet beside mn04) is pulled with it: it is part of how it decides. */
  private withCompanions(names: string[]): string[] {
    const companions = names.flatMap((name) => this.repository.manifest(name).companion?.models);
    return [...new Set([...names, ...companions.filter((c) => c !== undefined)])];
  }

  private async list(names: string[], out: NodeJS.WritableStream): Promise<number> {
    out.write(`models in ${this.config.modelsDir}\n`);
    for (const name of names) {
      const manifest = this.repository.manifest(name);
      const installed = this.isInstalled(name);
      out.write(
        `  ${name.padEnd(22)} ${manifest.task.padEnd(17)} ${(manifest.precision ?? 'fp32').padEnd(4)} ` +
          `${(manifest.sizeBytes / 1e6).toFixed(2).padStart(6)} MB  ` +
          `${installed ? 'installed' : 'missing  '}  ${manifest.license}${int8Note(manifest)}\n`,
      );
    }
    return ExitCode.ok;
  }

  private async verify(names: string[], out: NodeJS.WritableStream): Promise<number> {
    let failures = 0;
    for (const name of names) {
      if (!this.isInstalled(name)) {
        out.write(`  ${name}: missing (run \`vigil models pull ${name}\`)\n`);
        failures++;
        continue;
      }
      const result = await this.repository.verify(name);
      out.write(`  ${name}: ${result.ok ? 'ok' : mismatch(result)}\n`);
      if (!result.ok) failures++;
    }
    return failures === 0 ? ExitCode.ok : ExitCode.failed;
  }

  private async pull(
    names: string[],
    mirror: string | undefined,
    out: NodeJS.WritableStream,
    err: NodeJS.WriteStream,
  ): Promise<number> {
    // Plan everything first: a model that cannot be pulled fails before any download starts.
    const plans = names.map((name) => ({
      name,
      files: this.plan(name, this.repository.manifest(name), mirror),
    }));
    for (const { name, files } of plans) {
      for (const planned of files) {
        const destination = join(this.repository.folder(name), planned.file);
        let lastShown = -1;
        await this.downloader.download({
          url: planned.url,
          destination,
          sha256: planned.sha256,
          onProgress: (received, total) => {
            if (!err.isTTY || !total) return;
            const percent = Math.floor((received / total) * 100);
            if (percent !== lastShown) err.write(`\r  ${name}/${planned.file} ${percent}%\x1b[K`);
            lastShown = percent;
          },
        });
        if (err.isTTY) err.write('\r\x1b[K');
        out.write(`  ${name}/${planned.file}: downloaded${planned.sha256 ? ', sha256 ok' : ''}\n`);
      }
    }
    return ExitCode.ok;
  }

  /**
   * A mirror (an organisation's copy of the model folders, as air-gapped sites keep) serves
   * `<mirror>/<model>/<file>`; without one, the catalog's published addresses are used.
   */
  private plan(name: string, manifest: ModelManifest, mirror?: string): PlannedFile[] {
    const { labels, upstream } = manifest;
    if (mirror) {
      const base = `${mirror.replace(/\/+$/, '')}/${name}`;
      return [
        { file: manifest.file, url: `${base}/${manifest.file}`, sha256: manifest.sha256 },
        { file: labels.file, url: `${base}/${labels.file}`, sha256: labels.sha256 },
      ];
    }
    if (!upstream.pullable) {
      throw new PullError(
        `${name} cannot be pulled from upstream: ${upstream.note} Use --mirror URL.`,
      );
    }
    if (!labels.url) {
      throw new PullError(
        `${name}: the catalog knows no published address for ${labels.file}; use --mirror URL.`,
      );
    }
    return [
      { file: manifest.file, url: upstream.url, sha256: manifest.sha256 },
      { file: labels.file, url: labels.url, sha256: labels.sha256 },
    ];
  }

  private isInstalled(name: string): boolean {
    try {
      this.repository.resolve(name);
      return true;
    } catch {
      return false;
    }
  }
}

/** Whether `auto` precision takes the INT8 variant, as the catalog's measured verdict says. */
function int8Note(manifest: ModelManifest): string {
  const verdict = manifest.int8?.verdict;
  if (!verdict) return '';
  return verdict.ship ? '  (auto: int8)' : '  (auto: fp32, int8 measured not worth it)';
}

function mismatch(result: VerifyResult): string {
  if (!result.labelsOk) return 'MISMATCH in the labels file (sha256 differs from the catalog)';
  if (result.sourceOk === false) {
    return 'STALE: quantized from other FP32 weights than the catalog names (run `npm run quantize`)';
  }
  return `MISMATCH sha256 ${result.actualSha256}, expected ${result.expectedSha256}`;
}
