// k6 scenario for teams that use k6: POST /v1/events at a constant arrival
// rate, one event per request, the events drawn from the same story
// generator as the Go driver (it writes them to EVENTS_FILE).
//
//   k6 run -e INGEST_URL=http://127.0.0.1:8092/v1/events -e EVENTS_FILE=events.json \
//          -e RATE=1000 -e DURATION=20s loadtest/k6/ingest.js
// An ingest with ingest.tokens wants a producer's token: STREAMSYNC_INGEST_TOKEN
// (in the environment or with -e) is sent as "Authorization: Bearer <token>".
// or, with everything started for you: make loadtest-k6
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { SharedArray } from 'k6/data';

const events = new SharedArray('events', () => JSON.parse(open(__ENV.EVENTS_FILE)));
const rate = parseInt(__ENV.RATE || '100', 10);
const headers = { 'Content-Type': 'application/json' };
if (__ENV.STREAMSYNC_INGEST_TOKEN) {
  headers.Authorization = `Bearer ${__ENV.STREAMSYNC_INGEST_TOKEN}`;
}

export const options = {
  summaryTrendStats: ['med', 'p(90)', 'p(99)', 'max'],
  scenarios: {
    ingest: {
      executor: 'constant-arrival-rate',
      rate: rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '20s',
      preAllocatedVUs: Math.max(10, Math.ceil(rate / 50)),
      maxVUs: Math.max(50, rate),
    },
  },
  thresholds: {
    // Malformed events (a small share of the story) are answered 400 by design.
    checks: ['rate>0.95'],
  },
};

export default function () {
  const i = exec.scenario.iterationInTest;
  if (i >= events.length) {
    return;
  }
  const e = Object.assign({}, events[i]);
  if (typeof e.version === 'number') {
    e.ts = Date.now(); // for end-to-end latency
  }
  const res = http.post(__ENV.INGEST_URL, JSON.stringify(e), { headers });
  check(res, { 'accepted or refused with a reason': (r) => r.status === 202 || (r.status === 400 && r.body.includes('errors')) });
}
