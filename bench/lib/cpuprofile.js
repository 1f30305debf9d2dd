'use strict';
/** Summarises a V8 .cpuprofile: self time by function and by where the code lives. */
const { readFileSync } = require('node:fs');

function where(url) {
  if (!url) return '(native / V8)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const d = /\/dist\/(.+)$/.exec(url);
  if (d) return `rebuild-desk ${d[1]}`;
  if (url.startsWith('node:')) return `node ${url.slice(5).split('/')[0]}`;
  return url;
}

function summarise(file, top = 25) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map();
  const places = new Map();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const name = functionName || '(anonymous)';
    const place = name.startsWith('(') && !url ? name : where(url);
    const key = `${name} — ${place}${url && lineNumber >= 0 ? `:${lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    places.set(place, (places.get(place) ?? 0) + us);
  }
  const rank = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => ({ name: k, ms: us / 1000, share: us / total }));
  return { totalMs: total / 1000, functions: rank(fns), places: rank(places) };
}

module.exports = { summarise };
if (require.main === module) console.log(JSON.stringify(summarise(process.argv[2]), null, 2));
