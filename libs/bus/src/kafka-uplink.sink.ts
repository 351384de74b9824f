import type { SpooledRecord } from './disk.spool';
import type { KafkaBus } from './kafka-bus';
import { EDGE_SEQ_HEADER, type UplinkSink } from './uplink.forwarder';

/**
 * The central Kafka as an uplink: each spooled record is published with its original topic,
 * key and headers, plus `x-vigil-edge-seq: <edge id>:<seq>`, the message's id. A batch resent
 * after a lost acknowledgement repeats ids the server has seen, so it can drop the copies.
 */
export class KafkaUplinkSink implements UplinkSink {
  constructor(
    private readonly bus: KafkaBus,
    private readonly edgeId: string,
  ) {}

  send(records: readonly SpooledRecord[]): Promise<void> {
    return this.bus.publishEncoded(
      records.map((r) => ({
        topic: r.topic,
        key: r.key,
        value: r.value,
        headers: { ...r.headers, [EDGE_SEQ_HEADER]: `${this.edgeId}:${r.seq}` },
      })),
    );
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}
