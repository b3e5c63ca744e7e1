#!/usr/bin/env node
/*
 * bpe_node.js — the baseline of bench_bpe.c: the npm GPT-2 encoders on the same text, one core (node runs
 * JavaScript on one thread), best and mean of --repeat runs, MB/s of input (10^6 bytes) and tokens/s.
 *   js-tiktoken 1.0.21   gpt2 encoding (tiktoken's algorithm in JavaScript), the whole text in one call
 *   gpt-3-encoder 1.1.4  line by line (its encode() concatenates arrays: quadratic on a whole 1 MB text)
 * Both keep caches across calls (gpt-3-encoder: per piece), so the first run is printed as well.
 * Usage: node bench/bpe_node.js [--repeat N] [--shared DIR]; the packages come from build/npm (make
 * bpe-fixtures or make bench installs them; BPE_NODE_MODULES overrides).
 */
'use strict';
const fs = require('fs');
const path = require('path');

let repeat = 5;
let shared = process.env.WARM_SHARED_DATA || '../shared/data';
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--repeat') repeat = Number(process.argv[++i]);
  else if (process.argv[i] === '--shared') shared = process.argv[++i];
  else throw new Error('usage: node bench/bpe_node.js [--repeat N] [--shared DIR]');
}
const mods = process.env.BPE_NODE_MODULES || path.join(__dirname, '..', 'build', 'npm', 'node_modules');
const { getEncoding } = require(path.join(mods, 'js-tiktoken'));
const g3 = require(path.join(mods, 'gpt-3-encoder'));
const version = (p) => JSON.parse(fs.readFileSync(path.join(mods, p, 'package.json'))).version;

const bytes = fs.readFileSync(path.join(shared, 'tinyshakespeare', 'input.txt'));
const text = bytes.toString('utf8');
const lines = text.split(/(?<=\n)/);

function time(name, fn) {
  let best = Infinity, sum = 0, first = 0, n = 0;
  for (let r = 0; r < repeat; r++) {
    const t0 = process.hrtime.bigint();
    n = fn();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r === 0) first = dt;
    best = Math.min(best, dt);
    sum += dt;
  }
  const mb = (t) => (bytes.length / t / 1e6).toFixed(1).padStart(7);
  console.log(`${name.padEnd(26)} ${mb(best)} MB/s best ${mb(sum / repeat)} MB/s mean ${mb(first)} MB/s first ` +
    `${(n / best).toFixed(0).padStart(10)} tokens/s best  (${n} tokens)`);
}

console.log(`node ${process.version}`);
let t0 = process.hrtime.bigint();
const tk = getEncoding('gpt2');
console.log(`js-tiktoken load: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms`);
time(`js-tiktoken ${version('js-tiktoken')} whole`, () => tk.encode(text, [], []).length);
time(`js-tiktoken ${version('js-tiktoken')} lines`, () => lines.reduce((n, l) => n + tk.encode(l, [], []).length, 0));
time(`gpt-3-encoder ${version('gpt-3-encoder')} lines`, () => lines.reduce((n, l) => n + g3.encode(l).length, 0));
