#!/usr/bin/env node
'use strict';
/**
 * A real RTSP server for the live-ingest tests (rtsp-streaming-server, a devDependency): a
 * publisher (ffmpeg -f rtsp) ANNOUNCEs and RECORDs a stream on the publish port, and readers
 * (Vigil's ingest) DESCRIBE, SETUP and PLAY it on the play port, RTP over UDP.
 *
 *   node scripts/rtsp-server.js --publish-port 25554 --play-port 26554 --rtp-ports 30000:200
 *
 * Prints one JSON line once listening ({"ready":true,...}) and one per published mount
 * ({"published":"/cam"}). It runs until killed: the tests kill it to take a camera away.
 */
const { setInterval } = require('node:timers');
const RtspServer = require('rtsp-streaming-server').default;

function arg(name) {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : undefined;
  if (!value) {
    process.stderr.write(`rtsp-server: --${name} is required\n`);
    process.exit(2);
  }
  return value;
}

const serverPort = Number(arg('publish-port'));
const clientPort = Number(arg('play-port'));
const [rtpPortStart, rtpPortCount] = arg('rtp-ports').split(':').map(Number);
const mounted = new Set();

const server = new RtspServer({
  serverPort,
  clientPort,
  rtpPortStart,
  rtpPortCount,
  publishServerHooks: {
    checkMount: async () => true,
  },
});

server
  .start()
  .then(() => {
    process.stdout.write(`${JSON.stringify({ ready: true, serverPort, clientPort })}\n`);
    // A mount exists once the publisher's RECORD went through: then readers can PLAY it.
    setInterval(() => {
      for (const path of Object.keys(server.Mounts.mounts ?? {})) {
        if (mounted.has(path)) continue;
        mounted.add(path);
        process.stdout.write(`${JSON.stringify({ published: path })}\n`);
      }
    }, 50);
  })
  .catch((error) => {
    process.stderr.write(`rtsp-server: ${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  });
