import type { Bus, BusMessage, Release, Subscription } from '@app/bus';
import { type DetectionSet, type FusionCheckpoint, Topics } from '@app/contracts';

export interface CheckpointOptions {
  /** Stream seconds between checkpoints of a stream: what a takeover decides again at most. */
  everySec: number;
  /** A group of this replica's own: the checkpoint view is read from the start at every start. */
  viewGroup: string;
}

/**
 * What one checkpoint key holds: a stream's engine state, or for a site (whose cameras'
 * detections share the site's key, so one replica and one order) the site engine's state with
 * each of its cameras' engine states. JSON-safe, opaque here.
 */
export interface FusionUnit {
  /** The detections' message key: a stream id, or a site's key. */
  readonly key: string;
  isOpen(): boolean;
  snapshot(): unknown;
  restore(state: unknown): void;
}

interface Held {
  releases: Release[];
  lastSec: number;
  partition: number;
  offset: number;
}

/**
 * Makes fusion safe to kill. The engine keeps a stream's episodes, pending rules and open
 * incident across many detection sets, so committing each set once its events are out would
 * let a restarted replica decide from half an episode (another trigger time, another id). So a
 * set's offset is held until a checkpoint of its stream's state, written to the compacted
 * `vigil.fusion.state` after it, is published; a replica that takes the stream over restores
 * that state and skips the sets it already holds. Replayed decisions keep their ids, so
 * downstream deduplicates them.
 */
export class FusionCheckpointer {
  /** The latest checkpoint of every key (stream or site), as the compacted topic says. */
  private readonly known = new Map<string, FusionCheckpoint>();
  private readonly held = new Map<string, Held>();
  /** Streams whose checkpoint this replica has read up to date since it took them on. */
  private readonly checked = new Set<string>();
  private view?: Subscription;

  constructor(
    private readonly bus: Bus,
    private readonly options: CheckpointOptions,
  ) {}

  async start(): Promise<void> {
    this.view = await this.bus.subscribe(
      Topics.fusionState,
      this.options.viewGroup,
      async ({ value }) => void this.known.set(value.streamId, value),
      { commits: false, startFrom: 'earliest' },
    );
    await this.view.caughtUp();
  }

  async stop(): Promise<void> {
    await this.view?.close();
  }

  /**
   * Before a set is decided: false for one whose effect is already in the stream's checkpoint
   * (a replay); a stream new to this replica first gets its checkpointed state back.
   */
  async admit(message: BusMessage<DetectionSet>, unit: FusionUnit): Promise<boolean> {
    const { key } = unit;
    if (unit.isOpen()) return true;
    if (!this.checked.has(key)) {
      // Whatever the last owner wrote before this replica got the partition is read first.
      await this.view?.caughtUp();
      this.checked.add(key);
    }
    const known = this.known.get(key);
    if (!known || known.partition !== message.partition) return true;
    if (message.offset <= known.offset) return false;
    if (known.state) unit.restore(known.state);
    return true;
  }

  /** After a set was decided and its events published: hold it, and checkpoint when due. */
  async decided(
    message: BusMessage<DetectionSet>,
    unit: FusionUnit,
    profile: string,
  ): Promise<void> {
    const set = message.value;
    const entry = this.held.get(unit.key) ?? {
      releases: [],
      lastSec: -Infinity,
      partition: message.partition,
      offset: message.offset,
    };
    this.held.set(unit.key, entry);
    entry.releases.push(message.hold());
    entry.partition = message.partition;
    entry.offset = message.offset;
    const open = unit.isOpen();
    const at = set.final ? entry.lastSec : set.endSec;
    if (open && at - entry.lastSec < this.options.everySec) return;
    await this.checkpoint(unit, profile, entry);
    entry.lastSec = at;
  }

  /** The stream was decided as ended without a message (the idle timeout): say so, let go. */
  async ended(unit: FusionUnit, profile: string): Promise<void> {
    const entry = this.held.get(unit.key);
    if (entry) await this.checkpoint(unit, profile, entry);
  }

  private async checkpoint(unit: FusionUnit, profile: string, entry: Held): Promise<void> {
    const open = unit.isOpen();
    // `streamId` carries the key: a site's checkpoint is keyed (and compacted) by the site.
    await this.bus.publish(Topics.fusionState, unit.key, {
      streamId: unit.key,
      profile,
      partition: entry.partition,
      offset: entry.offset,
      state: open ? (unit.snapshot() ?? null) : null,
    });
    entry.releases.splice(0).forEach((release) => release());
    if (!open) {
      this.held.delete(unit.key);
      this.checked.delete(unit.key);
    }
  }
}
