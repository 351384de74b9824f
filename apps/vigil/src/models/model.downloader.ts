import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface DownloadRequest {
  url: string;
  destination: string;
  sha256?: string;
  onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
}

export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

/**
 * HTTP downloads behind one class. The file is written beside its destination, hashed while
 * it streams, and renamed into place only when the checksum matches: an interrupted or
 * tampered download never looks installed.
 */
@Injectable()
export class ModelDownloader {
  async download(request: DownloadRequest): Promise<void> {
    const partial = `${request.destination}.partial`;
    await mkdir(dirname(request.destination), { recursive: true });
    let response: Response;
    try {
      response = await fetch(request.url, {
        redirect: 'follow',
        signal: AbortSignal.timeout(10 * 60_000),
      });
    } catch (error) {
      throw new DownloadError(
        `${request.url}: ${(error as Error).cause ?? (error as Error).message}`,
      );
    }
    if (!response.ok || !response.body) {
      throw new DownloadError(`${request.url}: HTTP ${response.status} ${response.statusText}`);
    }
    const total = Number(response.headers.get('content-length')) || undefined;
    const hash = createHash('sha256');
    let received = 0;
    const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
    body.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      received += chunk.length;
      request.onProgress?.(received, total);
    });
    try {
      await pipeline(body, createWriteStream(partial));
      const actual = hash.digest('hex');
      if (request.sha256 && actual !== request.sha256) {
        throw new DownloadError(
          `${request.url}: sha256 ${actual} does not match the catalog's ${request.sha256}`,
        );
      }
      await rename(partial, request.destination);
    } catch (error) {
      await rm(partial, { force: true });
      if (error instanceof DownloadError) throw error;
      throw new DownloadError(`${request.url}: ${(error as Error).message}`);
    }
  }
}
