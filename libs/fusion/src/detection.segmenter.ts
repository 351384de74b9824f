import type { CanonicalClass, DetectionSet, Modality } from '@app/contracts';

/** A run of detections of one class, for reports: "dog_bark from 3.05 s to 4.10 s". */
export interface DetectionSegment {
  streamId: string;
  modality: Modality;
  cls: CanonicalClass;
  startSec: number;
  endSec: number;
  maxScore: number;
  count: number;
  /** The model label behind the best detection. */
  topLabel: string;
}

/**
 * Merges per-window and per-frame detections into segments. Gaps up to `gapSec` are bridged
 * (a bark's silence between windows, a frame where the detector blinked).
 */
export class DetectionSegmenter {
  private readonly open = new Map<string, DetectionSegment>();
  private readonly closed: DetectionSegment[] = [];

  constructor(private readonly gapSec = 1) {}

  add(set: DetectionSet): void {
    if (set.final) return;
    for (const detection of set.detections) {
      const key = `${set.streamId}\u0000${detection.modality}\u0000${detection.cls}`;
      const current = this.open.get(key);
      if (current && set.atSec - current.endSec <= this.gapSec) {
        current.endSec = Math.max(current.endSec, set.atSec);
        current.count += 1;
        if (detection.score > current.maxScore) {
          current.maxScore = detection.score;
          current.topLabel = detection.labels[0] ?? detection.cls;
        }
        continue;
      }
      if (current) this.closed.push(current);
      this.open.set(key, {
        streamId: set.streamId,
        modality: detection.modality,
        cls: detection.cls,
        startSec: set.atSec,
        endSec: set.atSec,
        maxScore: detection.score,
        count: 1,
        topLabel: detection.labels[0] ?? detection.cls,
      });
    }
  }

  /** All segments so far, in time order. */
  segments(): DetectionSegment[] {
    return [...this.closed, ...this.open.values()].sort(
      (a, b) => a.startSec - b.startSec || a.cls.localeCompare(b.cls),
    );
  }
}
