#!/usr/bin/env node
/*
 * make_bpe_golden.js — writes the golden ids of tests/test_bpe.c with implementations independent of warm:
 *
 *     make bpe-fixtures
 *     # = npm install --prefix build/npm gpt-3-encoder@1.1.4 js-tiktoken@1.0.21   (npm registry)
 *     #   node scripts/make_bpe_golden.js SHARED_DATA tests/fixtures
 *
 * Needs node + npm, Debian's python3-regex (/usr/bin/python3) and the two npm packages under build/npm
 * (BPE_NODE_MODULES overrides). `make test` needs none of them: the outputs are committed.
 *
 * How each id list is made (the "primary" golden):
 *   1. pieces: Python's `regex` module (the library OpenAI's gpt-2 encoder.py uses; Debian 12's
 *      python3-regex 2022.10.31, whose \p{L}, \p{N} and \s are Unicode 15.0 General_Category L*, N* and
 *      White_Space, identical code point by code point to warm's tables) runs the GPT-2 pattern over the
 *      case decoded as UTF-8 with 'surrogateescape', so an invalid byte becomes one lone surrogate
 *      (category Cs: neither letter, number nor space — the class warm gives it), and each piece goes
 *      back to its exact bytes;
 *   2. merges: gpt-3-encoder's own bpe() (the npm package the shared encoder.json/vocab.bpe come from,
 *      loaded from its file so that its internal function can take any bytes) on each piece, its tokens
 *      looked up in its own encoder.json.
 * Cross-checks, every case (the script stops on a disagreement it cannot explain):
 *   - valid UTF-8: gpt-3-encoder's encode() and js-tiktoken's gpt2 encode() on the text must both equal
 *     the primary ids whenever JavaScript's regex gives the same pieces as Python's. They differ only where
 *     the engines' classes differ: JS \s has U+FEFF and lacks U+0085, and JS \p{L}/\p{N} follow node's ICU
 *     (Unicode 17.0 with node 20 here). Those cases are listed with the code points responsible, and the
 *     primary (Python) split is the golden.
 *   - special mode (cases holding <|endoftext|>): primary = the text split at each <|endoftext|>, pieces
 *     encoded as above, 50256 between them; must equal js-tiktoken's encode(text, "all").
 *   - Tiny Shakespeare: all 40,000 lines, and the whole file at once (338,025 tokens), against both npm
 *     encoders.
 *   - random cases: as the hard cases (plain mode).
 *
 * Outputs (format in tests/fixtures/README.md):
 *   bpe_golden_shakespeare.bin  ids of every line of tinyshakespeare/input.txt, plus the whole-file count
 *                               and hash (the test reads the text from the shared data at run time)
 *   bpe_golden_hard.txt         ids of every case of tests/fixtures/bpe_hard.txt (plain, and special mode)
 *   bpe_golden_random.txt       ids of 1,000 random byte strings made of fragments that meet at the regex's
 *                               edges (generated here from a fixed seed)
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const PAT_SRC = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const EOT = '<|endoftext|>';
const EOT_ID = 50256;

function die(msg) {
  process.stderr.write('make_bpe_golden: ' + msg + '\n');
  process.exit(1);
}

/* ---- the independent encoders ---- */

const mods = process.env.BPE_NODE_MODULES || path.join(__dirname, '..', 'build', 'npm', 'node_modules');
function npmFile(rel) {
  const f = path.join(mods, rel);
  if (!fs.existsSync(f)) die(`${f} missing: run make bpe-fixtures (npm install --prefix build/npm ...)`);
  return f;
}
const g3File = npmFile('gpt-3-encoder/Encoder.js');
const g3Version = JSON.parse(fs.readFileSync(npmFile('gpt-3-encoder/package.json'))).version;
const tkVersion = JSON.parse(fs.readFileSync(npmFile('js-tiktoken/package.json'))).version;
const g3 = require(g3File);
// The same file run again with its internals returned: bpe() maps a byte-level string to tokens.
const g3int = new Function('require', '__dirname', 'module',
  fs.readFileSync(g3File, 'utf8') + '\n;return { bpe, encoder, byte_encoder };')(
  require, path.dirname(g3File), { exports: {} });
const { getEncoding } = require(path.join(mods, 'js-tiktoken'));
const tk = getEncoding('gpt2');
const jsPat = new RegExp(PAT_SRC, 'gu');

function bpeBytes(bytes) {
  const sym = Array.from(bytes, (b) => g3int.byte_encoder[b]).join('');
  return g3int.bpe(sym).split(' ').map((s) => {
    const id = g3int.encoder[s];
    if (id === undefined) die(`gpt-3-encoder produced an unknown token ${JSON.stringify(s)}`);
    return id;
  });
}

/* Python's regex split of many byte strings at once: arrays of piece Buffers. */
function pythonPieces(buffers) {
  const code = `
import base64, json, sys, regex
pat = regex.compile(${JSON.stringify(PAT_SRC)})
out = []
for c in json.load(sys.stdin):
    s = base64.b64decode(c).decode('utf-8', 'surrogateescape')
    out.append([base64.b64encode(p.encode('utf-8', 'surrogateescape')).decode() for p in pat.findall(s)])
json.dump({'regex': regex.__version__, 'pieces': out}, sys.stdout)
`;
  let res;
  try {
    res = execFileSync('/usr/bin/python3', ['-c', code], {
      input: JSON.stringify(buffers.map((b) => b.toString('base64'))), maxBuffer: 1 << 30,
    });
  } catch (e) {
    die('/usr/bin/python3 with the regex module failed (apt-get install python3-regex): ' + e.message);
  }
  const r = JSON.parse(res);
  for (const [i, ps] of r.pieces.entries()) {
    const back = Buffer.concat(ps.map((p) => Buffer.from(p, 'base64')));
    if (!back.equals(buffers[i])) die(`python pieces of input ${i} do not add up to it`);
  }
  return { version: r.regex, pieces: r.pieces.map((ps) => ps.map((p) => Buffer.from(p, 'base64'))) };
}

function primaryIds(pieces) {
  const ids = [];
  for (const p of pieces) for (const id of bpeBytes(p)) ids.push(id);
  return ids;
}

/* A valid-UTF-8 string of b, or null. */
function utf8(b) {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b); // keep a leading U+FEFF
  } catch (e) {
    return null;
  }
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/* ---- bpe_hard.txt ---- */

function unescapeCase(line, lineNo) {
  const out = [];
  for (let i = 0; i < line.length;) {
    if (line[i] !== '\\') {
      const cp = line.codePointAt(i);
      out.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const c = line[i + 1];
    if (c === '\\') out.push(0x5c), i += 2;
    else if (c === 'n') out.push(0x0a), i += 2;
    else if (c === 'r') out.push(0x0d), i += 2;
    else if (c === 't') out.push(0x09), i += 2;
    else if (c === 'x' && /^[0-9a-fA-F]{2}$/.test(line.substr(i + 2, 2))) {
      out.push(parseInt(line.substr(i + 2, 2), 16));
      i += 4;
    } else if (c === 'u' && line[i + 2] === '{') {
      const end = line.indexOf('}', i);
      const cp = parseInt(line.slice(i + 3, end), 16);
      if (end < 0 || !(cp >= 0 && cp <= 0x10ffff)) die(`bpe_hard.txt:${lineNo}: bad \\u{...}`);
      out.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
      i = end + 1;
    } else die(`bpe_hard.txt:${lineNo}: unknown escape \\${c}`);
  }
  return Buffer.from(out);
}

function readCases(file) {
  const cases = [];
  fs.readFileSync(file, 'utf8').split('\n').forEach((line, k) => {
    if (line === '' || line[0] === '#') return;
    cases.push({ line: k + 1, bytes: unescapeCase(line, k + 1) });
  });
  return cases;
}

function fnv1a32(b) {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  return h >>> 0;
}

function fnv1a64(b) {
  let h = 0xcbf29ce484222325n;
  for (const x of b) h = BigInt.asUintN(64, (h ^ BigInt(x)) * 0x100000001b3n);
  return h;
}

/* The regex class of each code point, by Python's regex module: {cp: "L" | "N" | "S" | "O"}. */
const pyClassMemo = {};
function pythonClasses(cps) {
  const todo = cps.filter((c) => !(c in pyClassMemo));
  if (todo.length) Object.assign(pyClassMemo, pythonClassesOf(todo));
  return pyClassMemo;
}

function pythonClassesOf(cps) {
  const code = `
import json, sys, regex
cls = {}
for c in json.load(sys.stdin):
    s = chr(c)
    cls[c] = 'L' if regex.match(r'\\p{L}', s) else 'N' if regex.match(r'\\p{N}', s) else 'S' if regex.match(r'\\s', s) else 'O'
json.dump(cls, sys.stdout)
`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', code], { input: JSON.stringify(cps) }));
}

function jsClass(c) {
  const s = String.fromCodePoint(c);
  return /\p{L}/u.test(s) ? 'L' : /\p{N}/u.test(s) ? 'N' : /\s/u.test(s) ? 'S' : 'O';
}

/* Why JS and Python split text differently: the code points whose classes differ. */
function classNote(text, jsPieces, pyPieces) {
  const cps = [...new Set(Array.from(text, (ch) => ch.codePointAt(0)))];
  const pyCls = pythonClasses(cps);
  const odd = cps.filter((c) => pyCls[c] !== jsClass(c));
  if (!odd.length) die(`the regex engines split ${Buffer.from(text).toString("hex")} differently with the same classes: ${JSON.stringify(jsPieces)} vs ${JSON.stringify(pyPieces.map((p) => p.toString("utf8")))}`);
  const show = (ps) => '[' + ps.map((p) => '"' + Array.from(p, (ch) => {
    const c = ch.codePointAt(0);
    return c >= 0x20 && c < 0x7f ? ch : `\\u{${c.toString(16).toUpperCase()}}`;
  }).join('') + '"').join(', ') + ']';
  return `JS pieces ${show(jsPieces)}, Python ${show(pyPieces.map((p) => p.toString('utf8')))}; ` +
    odd.map((c) => `U+${c.toString(16).toUpperCase().padStart(4, '0')} is ${jsClass(c)} in JS, ${pyCls[c]} in Python`)
      .join(', ');
}

/* Checks one valid-UTF-8 text against both npm encoders; returns null when they agree with primary, or the
 * explanation when JS's own regex split differs (then the npm ids may legitimately differ). */
function crossCheck(what, text, pyPieces, primary) {
  const jsPieces = Array.from(text.matchAll(jsPat), (m) => m[0]);
  const splitSame = same(jsPieces, pyPieces.map((p) => p.toString('utf8')));
  const a = g3.encode(text), b = tk.encode(text, [], []); // <|endoftext|> as ordinary text
  if (splitSame) {
    if (!same(a, primary)) die(`${what}: gpt-3-encoder ${JSON.stringify(a)} != primary ${JSON.stringify(primary)}`);
    if (!same(b, primary)) die(`${what}: js-tiktoken ${JSON.stringify(b)} != primary ${JSON.stringify(primary)}`);
    return null;
  }
  return classNote(text, jsPieces, pyPieces);
}

/* Random cases: 1-40 draws from fragments that meet at the regex's edges (spaces before words, apostrophes
 * before contraction letters, Unicode spaces, marks, emoji, NUL; invalid bytes in every other case only, so
 * that half the cases are valid UTF-8 and checked against the npm encoders too), from a fixed xorshift32
 * stream so that reruns give the same file. */
const RANDOM_CASES = 1000;
const VALID_FRAGMENTS = 41; // FRAGMENTS[0..40] are valid UTF-8, the rest are not
const FRAGMENTS = [' ', ' ', ' ', '\t', '\n', '\r', 'a', 'Z', 's', 't', 'r', 'e', 'v', 'l', 'm', 'd', 'L', "'", "'",
  '1', '9', '.', ',', '!', '<|endoftext|>', '\u0085', '\u00a0', '\u3000', '\u2028', '\ufeff', '\u200d', 'é',
  'e\u0301', '中', '½', '٣', 'Ж', '😀', '👍🏽', '\u0000', '\u001c'].map((f) => Buffer.from(f, 'utf8'))
  .concat([[0xff], [0x80], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80]].map((b) => Buffer.from(b)));

function randomCases() {
  FRAGMENTS.forEach((f, i) => {
    if ((utf8(f) !== null) !== (i < VALID_FRAGMENTS)) die(`fragment ${i} is on the wrong side of VALID_FRAGMENTS`);
  });
  let x = 20261205;
  const next = (n) => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % n;
  };
  const out = [];
  for (let k = 0; k < RANDOM_CASES; k++) {
    const parts = [];
    const pool = k % 2 ? FRAGMENTS.length : VALID_FRAGMENTS;
    for (let i = 0, n = 1 + next(40); i < n; i++) parts.push(FRAGMENTS[next(pool)]);
    out.push(Buffer.concat(parts));
  }
  return out;
}

function debianVersion(pkg) {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg]).toString();
  } catch (e) {
    return 'unknown';
  }
}

function main() {
  const [shared, outDir] = process.argv.slice(2);
  if (!shared || !outDir) die('usage: node scripts/make_bpe_golden.js SHARED_DATA_DIR FIXTURES_DIR');
  const shakespeare = fs.readFileSync(path.join(shared, 'tinyshakespeare', 'input.txt'));
  for (const f of ['encoder.json', 'vocab.bpe'])
    if (!fs.readFileSync(path.join(shared, 'gpt2-tokenizer', f)).equals(fs.readFileSync(path.join(mods, 'gpt-3-encoder', f))))
      die(`shared gpt2-tokenizer/${f} differs from gpt-3-encoder's`);
  const cases = readCases(path.join(outDir, 'bpe_hard.txt'));

  // Lines of input.txt, each with its "\n".
  const lines = [];
  for (let i = 0; i < shakespeare.length;) {
    let j = shakespeare.indexOf(0x0a, i);
    j = j < 0 ? shakespeare.length : j + 1;
    lines.push(shakespeare.subarray(i, j));
    i = j;
  }
  // Special mode: the text between <|endoftext|>s.
  const segs = [];
  for (const c of cases) {
    c.segments = c.bytes.toString('latin1').split(EOT).map((s) => Buffer.from(s, 'latin1'));
    if (c.segments.length > 1) segs.push(...c.segments);
  }
  const randoms = randomCases();
  const inputs = [...cases.map((c) => c.bytes), ...segs, ...lines, shakespeare, ...randoms];
  const py = pythonPieces(inputs);
  let k = 0;
  const notes = [];
  let nInvalid = 0;

  // Hard cases.
  const hardOut = [];
  for (const c of cases) {
    const pieces = py.pieces[k++];
    c.plain = primaryIds(pieces);
    const text = utf8(c.bytes);
    if (text === null) nInvalid++;
    else {
      const note = crossCheck(`bpe_hard.txt:${c.line}`, text, pieces, c.plain);
      if (note) notes.push(`bpe_hard.txt:${c.line}: ${note}`);
    }
  }
  for (const c of cases) {
    const h = fnv1a32(c.bytes).toString(16).padStart(8, '0');
    hardOut.push(`${c.line} plain ${h} ${c.plain.join(' ')}`.trimEnd());
    if (c.segments.length < 2) continue;
    const ids = [];
    c.segments.forEach((s, i) => {
      if (i) ids.push(EOT_ID);
      ids.push(...primaryIds(py.pieces[k++]));
    });
    const text = utf8(c.bytes);
    if (text !== null) {
      const b = tk.encode(text, 'all');
      if (!same(b, ids)) die(`bpe_hard.txt:${c.line} (special): js-tiktoken ${JSON.stringify(b)} != ${JSON.stringify(ids)}`);
    }
    hardOut.push(`${c.line} special ${h} ${ids.join(' ')}`.trimEnd());
  }

  // Shakespeare lines and the whole file.
  const lineIds = [];
  let nids = 0;
  for (const [i, l] of lines.entries()) {
    const ids = primaryIds(py.pieces[k++]);
    const note = crossCheck(`input.txt:${i + 1}`, l.toString('utf8'), py.pieces[k - 1], ids);
    if (note) die(`input.txt:${i + 1}: the regex engines disagree: ${note}`);
    if (ids.length > 255) die(`input.txt:${i + 1}: more than 255 ids`);
    lineIds.push(ids);
    nids += ids.length;
  }
  const whole = primaryIds(py.pieces[k++]);
  const tkWhole = tk.encode(shakespeare.toString('utf8'), [], []);
  if (!same(whole, tkWhole)) die('whole input.txt: js-tiktoken differs from primary');
  // gpt-3-encoder's encode() is quadratic in the text length: whole file in chunks cut before a newline that
  // follows a non-space (always a piece boundary, and no pattern looks behind, so each chunk encodes as it
  // does inside the file; a cut after whitespace would not do: "\n\n" at the end of a text is one piece).
  const text = shakespeare.toString('utf8');
  const g3Whole = [];
  for (let i = 0; i < text.length;) {
    let j = i + 4096;
    while (j < text.length && !(text[j] === '\n' && /\S/u.test(text[j - 1]))) j++;
    g3Whole.push(...g3.encode(text.slice(i, j)));
    i = j;
  }
  if (!same(whole, g3Whole)) die('whole input.txt: gpt-3-encoder differs from primary');
  const wholeBytes = Buffer.alloc(4 * whole.length);
  whole.forEach((id, i) => wholeBytes.writeUInt32LE(id, 4 * i));

  // bpe_golden_shakespeare.bin
  const head = Buffer.alloc(40);
  head.write('WBPEG001', 0, 'latin1');
  head.writeUInt32LE(lines.length, 8);
  head.writeUInt32LE(nids, 12);
  head.writeBigUInt64LE(fnv1a64(shakespeare), 16);
  head.writeUInt32LE(whole.length, 24);
  head.writeUInt32LE(0, 28);
  head.writeBigUInt64LE(fnv1a64(wholeBytes), 32);
  const counts = Buffer.from(lineIds.map((ids) => ids.length));
  const ids16 = Buffer.alloc(2 * nids);
  let o = 0;
  for (const ids of lineIds) for (const id of ids) ids16.writeUInt16LE(id, o), o += 2;
  fs.writeFileSync(path.join(outDir, 'bpe_golden_shakespeare.bin'), Buffer.concat([head, counts, ids16]));

  // Random cases: plain mode, cross-checked like the hard ones.
  const randomOut = [];
  let nRandomDiffer = 0, nRandomInvalid = 0;
  for (const b of randoms) {
    const pieces = py.pieces[k++];
    const ids = primaryIds(pieces);
    const t = utf8(b);
    if (t === null) nRandomInvalid++;
    else if (crossCheck(`random case ${randomOut.length + 1}`, t, pieces, ids)) nRandomDiffer++;
    randomOut.push(`${b.toString('hex')} ${ids.join(' ')}`);
  }
  fs.writeFileSync(path.join(outDir, 'bpe_golden_random.txt'), [
    '# Golden GPT-2 ids of random byte strings, written by scripts/make_bpe_golden.js (do not edit); same method',
    `# as bpe_golden_hard.txt. ${RANDOM_CASES} cases: ${nRandomInvalid} invalid UTF-8, ${nRandomDiffer} where the JS regex splits`,
    '# differently (U+0085 / U+FEFF; Python kept), the rest equal to gpt-3-encoder encode() and js-tiktoken.',
    '# Format: HEX(case bytes) IDS...   (<|endoftext|> in a case is ordinary text)',
  ].concat(randomOut).join('\n') + '\n');

  const nSpecial = hardOut.filter((l) => l.includes(' special ')).length;
  const header = [
    '# Golden GPT-2 ids of tests/fixtures/bpe_hard.txt, written by scripts/make_bpe_golden.js (do not edit).',
    `# Pieces: Python regex ${py.version} (Debian python3-regex ${debianVersion('python3-regex')}, Unicode 15.0), text`,
    '# decoded with surrogateescape;',
    `# merges: gpt-3-encoder ${g3Version} bpe(); checked against gpt-3-encoder encode() and js-tiktoken ${tkVersion}`,
    `# (node ${process.version}, ICU Unicode ${process.versions.unicode}) wherever the JS regex gives the same pieces.`,
    `# ${cases.length} cases (${nInvalid} invalid UTF-8: Python pieces + gpt-3-encoder bpe only), ${nSpecial} in special mode.`,
    `# JS regex splits differently (Python's split kept) on ${notes.length} cases:`,
    ...notes.map((n) => '#   ' + n),
    '# Format: LINE MODE FNV1A32(case bytes) IDS...   (LINE of bpe_hard.txt; MODE plain | special)',
  ];
  fs.writeFileSync(path.join(outDir, 'bpe_golden_hard.txt'), header.concat(hardOut).join('\n') + '\n');
  process.stderr.write(`make_bpe_golden: ${cases.length} hard cases (${nInvalid} invalid UTF-8, ${nSpecial} special, ` +
    `${notes.length} where the JS regex differs), ${lines.length} Shakespeare lines (${nids} ids), whole file ` +
    `${whole.length} ids, ${RANDOM_CASES} random cases (${nRandomInvalid} invalid UTF-8, ${nRandomDiffer} where the JS ` +
    'regex differs); gpt-3-encoder and js-tiktoken agree everywhere the regex engines do\n');
}

main();
