import type { Change } from './api';

type Listener = (change: Change) => void;
type ResetListener = () => void;

/**
 * One server-sent event stream per page: incident versions and operator actions as they
 * happen. The browser reconnects by itself with the last id it saw, and the server replays
 * what was missed; `reset` means too much was missed and views reload.
 */
export class LiveFeed {
  private source?: EventSource;
  private readonly listeners = new Set<Listener>();
  private readonly resets = new Set<ResetListener>();
  private readyPromise?: Promise<void>;
  connected = false;
  onStatus: (connected: boolean) => void = () => undefined;

  /** Resolves once the server listens for us: anything stored later reaches this page. */
  open(): Promise<void> {
    if (this.readyPromise) return this.readyPromise;
    this.readyPromise = new Promise((resolve) => {
      const source = new EventSource('/api/live');
      this.source = source;
      source.addEventListener('ready', () => {
        this.setConnected(true);
        resolve();
      });
      source.addEventListener('error', () => this.setConnected(false));
      for (const type of ['incident', 'action', 'stream', 'suppression'] as const) {
        source.addEventListener(type, (message) => {
          const change = JSON.parse((message as MessageEvent<string>).data) as Change;
          for (const listener of [...this.listeners]) listener(change);
        });
      }
      source.addEventListener('reset', () => {
        for (const listener of [...this.resets]) listener();
      });
    });
    return this.readyPromise;
  }

  close(): void {
    this.source?.close();
    this.source = undefined;
    this.readyPromise = undefined;
    this.setConnected(false);
  }

  subscribe(listener: Listener, onReset?: ResetListener): () => void {
    this.listeners.add(listener);
    if (onReset) this.resets.add(onReset);
    return () => {
      this.listeners.delete(listener);
      if (onReset) this.resets.delete(onReset);
    };
  }

  private setConnected(connected: boolean): void {
    this.connected = connected;
    this.onStatus(connected);
  }
}
