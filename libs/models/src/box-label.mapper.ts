import type { Detection, VideoClass } from '@app/contracts';
import type { LabelGroups } from './model.manifest';
import { iou } from './nms';
import type { RawBox } from './raw-box';

/**
 * Turns detector boxes into canonical video detections. Labels outside every group (chairs,
 * cups) are dropped. Because NMS ran per model label, one dog can arrive as both "dog" and
 * "cat": boxes of the same canonical class that overlap by more than `iouThreshold` merge into
 * the best one, keeping the other labels as evidence.
 */
export class BoxLabelMapper {
  private readonly byLabelIndex = new Map<number, { cls: VideoClass; threshold: number }>();

  constructor(
    labels: readonly string[],
    groups: LabelGroups,
    private readonly iouThreshold = 0.45,
  ) {
    const index = new Map(labels.map((label, i) => [label, i]));
    for (const [cls, group] of Object.entries(groups)) {
      for (const label of group!.labels) {
        const i = index.get(label);
        if (i === undefined) {
          throw new Error(
            `labelGroups.${cls}: label ${JSON.stringify(label)} is not in the model's labels`,
          );
        }
        if (this.byLabelIndex.has(i)) {
          throw new Error(
            `labelGroups.${cls}: label ${JSON.stringify(label)} is already in another group`,
          );
        }
        this.byLabelIndex.set(i, { cls: cls as VideoClass, threshold: group!.threshold });
      }
    }
  }

  /** Detections best first. */
  detect(boxes: readonly RawBox[]): Detection[] {
    const kept: (Detection & { box: [number, number, number, number] })[] = [];
    const sorted = [...boxes].sort((a, b) => b.score - a.score);
    for (const raw of sorted) {
      const group = this.byLabelIndex.get(raw.labelIndex);
      if (!group || raw.score < group.threshold) continue;
      const same = kept.find((k) => k.cls === group.cls && iou(k.box, raw.box) > this.iouThreshold);
      if (same) {
        if (!same.labels.includes(raw.label)) same.labels.push(raw.label);
        continue;
      }
      kept.push({
        modality: 'video',
        cls: group.cls,
        score: raw.score,
        labels: [raw.label],
        box: raw.box,
      });
    }
    return kept;
  }
}
