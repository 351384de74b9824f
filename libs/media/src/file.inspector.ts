import { Injectable } from '@nestjs/common';
import { accessSync, constants, statSync } from 'node:fs';

export interface FileFacts {
  isFile: boolean;
  size: number;
}

/** Read-only file system questions, behind a class so locator and source checks are testable. */
@Injectable()
export class FileInspector {
  /** Facts about an existing path, or undefined when nothing is there. */
  stat(path: string): FileFacts | undefined {
    try {
      const stats = statSync(path);
      return { isFile: stats.isFile(), size: stats.size };
    } catch {
      return undefined;
    }
  }

  isExecutableFile(path: string): boolean {
    try {
      if (!statSync(path).isFile()) return false;
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
}
