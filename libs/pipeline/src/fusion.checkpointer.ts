import type { Bus, BusMessage, Release, Subscription } from '@app/bus';
import { type DetectionSet, type FusionCheckpoint, Topics } from '@app/contracts';
import type { EngineSnapshot, FusionEngine } from '@app/fusion';

export interface CheckpointOptions {
  /** Stream seconds between checkpoints of a stream: what a takeover decides again at most. */
  everySec: number;
  /** A group of this replica's own: the checkpoint view is read from the start at every start. */
  viewGroup: string;
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
  /** The latest checkpoint of every stream, as the compacted topic says. */
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
  async admit(message: BusMessage<DetectionSet>, engine: FusionEngine): Promise<boolean> {
    const { streamId } = message.value;
    if (engine.isOpen(streamId)) return true;
    if (!this.checked.has(streamId)) {
      // Whatever the last owner wrote before this replica got the partition is read first.
      await this.view?.caughtUp();
      this.checked.add(streamId);
    }
    const known = this.known.get(streamId);
    if (!known || known.partition !== message.partition) return true;
    if (message.offset <= known.offset) return false;
    if (known.state) engine.restore(streamId, known.state as EngineSnapshot);
    return true;
  }

  /** After a set was decided and its events published: hold it, and checkpoint when due. */
  async decided(
    message: BusMessage<DetectionSet>,
    engine: FusionEngine,
    profile: string,
  ): Promise<void> {
    const set = message.value;
    const entry = this.held.get(set.streamId) ?? {
      releases: [],
      lastSec: -Infinity,
      partition: message.partition,
      offset: message.offset,
    };
    this.held.set(set.streamId, entry);
    entry.releases.push(message.hold());
    entry.partition = message.partition;
    entry.offset = message.offset;
    const open = engine.isOpen(set.streamId);
    const at = set.final ? entry.lastSec : set.endSec;
    if (open && at - entry.lastSec < this.options.everySec) return;
    await this.checkpoint(set.streamId, engine, profile, entry);
    entry.lastSec = at;
  }

  /** The stream was decided as ended without a message (the idle timeout): say so, let go. */
  async ended(streamId: string, engine: FusionEngine, profile: string): Promise<void> {
    const entry = this.held.get(streamId);
    if (entry) await this.checkpoint(streamId, engine, profile, entry);
  }

  private async checkpoint(
    streamId: string,
    engine: FusionEngine,
    profile: string,
    entry: Held,
  ): Promise<void> {
    const open = engine.isOpen(streamId);
    await this.bus.publish(Topics.fusionState, streamId, {
      streamId,
      profile,
      partition: entry.partition,
      offset: entry.offset,
      state: open ? (engine.snapshot(streamId) ?? null) : null,
    });
    entry.releases.splice(0).forEach((release) => release());
    if (!open) {
      this.held.delete(streamId);
      this.checked.delete(streamId);
    }
  }
}
