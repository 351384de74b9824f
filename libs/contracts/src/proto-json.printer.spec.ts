import { parse } from 'protobufjs';
import { makeStored } from '@app/testing/incident.factory';
import { eventRecordMessage } from './event-record.message';
import { float32, toProtoJson } from './proto-json.printer';

describe('toProtoJson', () => {
  it('writes an EventRecord in the proto3 JSON mapping, defaults included', () => {
    const stored = {
      ...makeStored(1),
      occurredAt: Date.UTC(2025, 10, 28, 4, 12, 31, 507),
      streamLabels: { site: 'HQ', camera: 'Lobby' },
    };

    expect(toProtoJson('vigil.v1.EventRecord', eventRecordMessage(stored))).toEqual({
      event: {
        id: stored.event.id,
        streamId: 'cam-1',
        rule: 'intrusion',
        title: 'Intrusion: glass break with a person in view',
        severity: 'SEVERITY_HIGH',
        startSec: 1,
        endSec: 3,
        trigger: 'glass_break',
        incidentId: stored.event.id,
        version: 1,
        state: 'INCIDENT_STATE_OPENED',
        triggers: ['glass_break'],
        evidence: [
          // float fields print at their 32-bit precision, as any protobuf printer does
          {
            cls: 'glass_break',
            modality: 'MODALITY_AUDIO',
            score: 0.91,
            atSec: 1,
            box: [],
            streamId: '',
          },
          {
            cls: 'person',
            modality: 'MODALITY_VIDEO',
            score: 0.8,
            atSec: 2,
            box: [10, 20, 110, 220],
            streamId: '',
          },
        ],
        // a camera's incident outside any site
        site: '',
        zone: '',
        cameras: [],
        absorbedBy: '',
      },
      // int64 as a string
      occurredAtMs: '1764303151507',
      storedAtMs: String(stored.storedAt),
      streamLabels: { camera: 'Lobby', site: 'HQ' },
      evidence: [],
    });
  });

  it('writes fields in field-number order and map keys sorted, so the bytes are stable', () => {
    const json = JSON.stringify(
      toProtoJson('vigil.v1.EventRecord', {
        streamLabels: { b: '2', a: '1' },
        evidence: [],
        event: { evidence: [], id: 'e1' },
      }),
    );
    expect(json.indexOf('"event"')).toBeLessThan(json.indexOf('"occurredAtMs"'));
    expect(json.indexOf('"id"')).toBeLessThan(json.indexOf('"evidence"'));
    expect(json).toContain('"streamLabels":{"a":"1","b":"2"}');
  });

  it('carries whatever the message defines and nothing it does not', () => {
    // A SecurityEvent with fields this code has never heard of: they come out by name.
    const type = parse(`
      syntax = "proto3";
      package test;
      enum IncidentState { INCIDENT_STATE_UNSPECIFIED = 0; INCIDENT_STATE_OPEN = 1; }
      message Event {
        string id = 1;
        string incident_id = 10;
        IncidentState state = 11;
        repeated string triggers = 12;
        uint64 version = 13;
      }
    `).root.lookupType('test.Event');

    expect(
      toProtoJson(type, {
        id: 'e1',
        incidentId: 'i1',
        state: 'INCIDENT_STATE_OPEN',
        triggers: ['glass_break', 'person'],
        version: 3,
        internalKey: 'not in the message',
      }),
    ).toEqual({
      id: 'e1',
      incidentId: 'i1',
      state: 'INCIDENT_STATE_OPEN',
      triggers: ['glass_break', 'person'],
      version: '3',
    });
  });
});

describe('float32', () => {
  it.each([
    [0.91, 0.91],
    [0.1, 0.1],
    [Math.fround(0.91), 0.91],
    [16_777_217, 16_777_216],
    [1e-7, 1e-7],
    [0, 0],
  ])('%p prints as %p', (value, printed) => {
    expect(float32(value)).toBe(printed);
  });

  it('leaves what is not a finite number alone', () => {
    expect(float32('NaN')).toBe('NaN');
    expect(float32(undefined)).toBeUndefined();
  });
});
