import type { Headers } from '@app/bus';
import type { StreamState, StreamStatus } from '@app/contracts';
import { COMMAND_HEADER, REQUEST_HEADER } from './stream-headers';

interface Entry {
  state: StreamState;
  /** The start command of the run the latest status belongs to (`partition:offset`). */
  command?: string;
  /** That command's idempotency key, when it had one. */
  requestId?: string;
  /** The last checkpoint of that run: every chunk and frame before it is published. */
  reachedSec: number;
  headers: Headers;
}

/** What to do with a start command that is read, maybe again. */
export type StartDecision =
  | { action: 'start' }
  | { action: 'resume'; atSec: number; headers: Headers }
  | { action: 'skip'; reason: string };

/**
 * What ingest has run, folded from the stream status topic: the durable record of every
 * stream, independent of the process that ran it. An ingest that reads a start command again
 * (after a restart, or taking over the command's partition) asks it whether that run still has
 * to be started, resumed from its last checkpoint, or has ended already.
 */
export class StreamLedger {
  private readonly streams = new Map<string, Entry>();

  apply(status: StreamStatus, headers: Headers): void {
    const known = this.streams.get(status.streamId);
    // Fusion's verdicts (stalled, or ended by the idle timeout) name no command: they are about
    // the run ingest reported last, whose checkpoint and headers still hold.
    if (headers[COMMAND_HEADER] === undefined && known?.command !== undefined) {
      this.streams.set(status.streamId, { ...known, state: status.state });
      return;
    }
    const command = headers[COMMAND_HEADER];
    const sameRun = known !== undefined && known.command === command;
    const checkpoint = status.state === 'started' ? status.decodedSec : undefined;
    this.streams.set(status.streamId, {
      state: status.state,
      command,
      requestId: headers[REQUEST_HEADER],
      reachedSec: checkpoint ?? (sameRun ? known.reachedSec : 0),
      headers,
    });
  }

  decide(streamId: string, command: string, requestId?: string): StartDecision {
    const entry = this.streams.get(streamId);
    if (!entry?.command) return { action: 'start' };
    // The same request sent twice (a client's retry that reached two replicas): applied once.
    if (requestId && entry.requestId === requestId && entry.command !== command) {
      return {
        action: 'skip',
        reason: `request ${requestId} was applied by command ${entry.command}`,
      };
    }
    // Stalled is fusion's word for a run whose media stopped coming: still to be taken on.
    const running = ['started', 'reconnecting', 'stalled'].includes(entry.state);
    if (entry.command === command) {
      return running
        ? { action: 'resume', atSec: entry.reachedSec, headers: entry.headers }
        : { action: 'skip', reason: `its run ${entry.state} already` };
    }
    // A stream's commands share one partition, so their offsets say which came first.
    if (offsetOf(entry.command) > offsetOf(command)) {
      return { action: 'skip', reason: 'a later command of the stream superseded it' };
    }
    // An earlier run is still going: this start was answered "already running" back then.
    return running ? { action: 'skip', reason: 'an earlier run is going' } : { action: 'start' };
  }
}

function offsetOf(command: string): number {
  return Number(command.slice(command.lastIndexOf(':') + 1));
}
