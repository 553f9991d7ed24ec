// Drives autocannon for one REST scenario and prints its JSON result on stdout.
// Usage: node loadgen.js '<config json>'   (config: see rediscluster_opt/rest/loadgen.py)
// autocannon is loaded from the path in RCOPT_AUTOCANNON (a project-local npm install).
'use strict';
const autocannon = require(process.env.RCOPT_AUTOCANNON);
const cfg = JSON.parse(process.argv[2]);

let counter = 0;
const unique = (prefix) => `${prefix}_${Date.now()}_${process.pid}_${counter++}@test.com`;
const randomId = () => 1 + Math.floor(Math.random() * cfg.maxUserId);
const json = { 'content-type': 'application/json' };

function getRandom() {
  return { method: 'GET', setupRequest: (req) => ({ ...req, path: `/users/${randomId()}` }) };
}
function post(prefix, name, bio) {
  return {
    method: 'POST', path: '/users', headers: json,
    setupRequest: (req) => ({ ...req, body: JSON.stringify({ name, email: unique(prefix), bio }) }),
  };
}

const scenarios = {
  get_single: () => ({ url: `${cfg.base}/users/${cfg.userId}` }),
  get_list: () => ({ url: `${cfg.base}/users?page=1&limit=20` }),
  get_random: () => ({ url: cfg.base, requests: [getRandom()] }),
  post: () => ({ url: cfg.base, requests: [post('bench', 'Bench User', 'created by benchmark')] }),
  mixed: () => {
    // 20 requests per cycle: 14 GET random id, 2 list pages, 2 POST, 1 PUT, 1 DELETE.
    const requests = [];
    for (let i = 0; i < 14; i++) requests.push(getRandom());
    requests.push({ method: 'GET', path: '/users?page=1&limit=20' });
    requests.push({ method: 'GET', path: '/users?page=2&limit=20' });
    requests.push(post('mix', 'Mixed User', 'mixed workload'), post('mix', 'Mixed User', 'mixed workload'));
    requests.push({
      method: 'PUT', headers: json,
      setupRequest: (req) => ({ ...req, path: `/users/${randomId()}`,
        body: JSON.stringify({ name: 'Updated User', email: unique('updated') }) }),
    });
    requests.push({ method: 'DELETE', setupRequest: (req) => ({ ...req, path: `/users/${randomId()}` }) });
    return { url: cfg.base, requests };
  },
};

const build = scenarios[cfg.scenario];
if (!build) {
  console.error(`unknown scenario ${cfg.scenario}`);
  process.exit(2);
}
// With a warm-up, autocannon runs twice in this process (no second Node start): the
// warm-up, then a line 'measuring' on stdout, then the measured run, whose result follows
// on the next line with this process's CPU during it (the caller brackets the app's and
// the servers' CPU at that line).
const options = {
  ...build(),
  connections: cfg.connections,
  pipelining: cfg.pipelining,
  timeout: 30,
};
function fail(err) {
  console.error(String(err));
  process.exit(1);
}
function measure() {
  process.stdout.write('measuring\n');
  const start = process.cpuUsage();
  autocannon({ ...options, duration: cfg.duration }, (err, result) => {
    if (err) fail(err);
    const used = process.cpuUsage(start);
    result.loadgenCpuS = (used.user + used.system) / 1e6;
    process.stdout.write(JSON.stringify(result) + '\n');
  });
}
if (cfg.warmup > 0) {
  autocannon({ ...options, duration: cfg.warmup }, (err) => (err ? fail(err) : measure()));
} else {
  measure();
}
