// Generates tokens_oracle.json: the token ids that Hugging Face tokenizers
// (the Rust library, through its Node.js binding) gives for texts, with the
// fixture tokenizers and variants of the Unigram one, and the ids that
// Model2Vec's StaticModel.tokenize pools for each fixture model.
//
// In a folder where `npm install tokenizers@0.23.2` was run:
//   node oracle.mjs SHARED_DATA > tokens_oracle.json
// where SHARED_DATA holds fineweb-edu-llama3-sample/ and web-text/.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(process.cwd(), 'x.js'));
const { Tokenizer } = require('tokenizers');
const here = dirname(fileURLToPath(import.meta.url));
const shared = process.argv[2];

// Texts: real documents (cut at 4,500 characters, beyond the truncation of
// StaticModel.encode), then edge cases.
function jsonl(rel, n, cut) {
  const lines = readFileSync(join(shared, rel), 'utf8').split('\n').filter(Boolean).slice(0, n);
  return lines.map((l) => {
    const t = JSON.parse(l).text;
    return cut ? Array.from(t).slice(0, cut).join('') : t;
  });
}
const texts = [
  ...jsonl('fineweb-edu-llama3-sample/train.jsonl', 16, 4500),
  ...jsonl('web-text/spa_Latn_sampled_500k_0_to_600.jsonl', 3, 2500),
  ...jsonl('web-text/deu_Latn_sampled_500k_first200.jsonl', 3, 2500),
  ...jsonl('web-text/srp_Cyrl_sampled_500k_0_to_600.jsonl', 3, 2500),
  ...jsonl('web-text/nob_Latn_sampled_500k_first200.jsonl', 3, 2500),
  '',
  'hello world',
  Array(1000).fill('hello').join(' '),
  '[UNK] [PAD] [CLS] hello [SEP][MASK] x[UNK]y',
  '   leading and trailing   ',
  'Hello!!! What?? (yes) -- a/b; c:d \'quoted\' "dq" 100% $5 #tag @user ~x~ {a|b} [c] \\ ^ _ `',
  'a\u00a0b\u3000c\u2028d\u0085e\u000bf\u200bg\u180eh\ti\r\nj\u000ck  l',
  '☃☃ snowman 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🙂🙂 ∮ ∯ ☃x☃',
  'İstanbul ÉCOLE Ångström naïve ΣΊΣΥΦΟΣ Æsir Œuvre ß ﬁ ①',
  '東京は日本の首都です。中文测试 한국어',
  'a'.repeat(150) + ' ' + 'b'.repeat(99),
  'é'.repeat(4000),
  '日本'.repeat(2500),
  '😀'.repeat(4000),
  'x😀'.repeat(3000),
  '\u0000\u0007abc\ufffd def\u00ad',
  '☃',
  '   ',
  '12345 67.89 1,000,000 3rd 2nd',
];

function load(path) {
  return JSON.parse(readFileSync(join(here, path), 'utf8'));
}
// The indices of the texts the variants encode: a few real ones and the
// edge cases short enough to read.
const short = texts.map((t, i) => i).filter((i) => (i < 3 || i >= 28) && texts[i].length < 3000);
async function encodeAll(spec, idx) {
  const tok = Tokenizer.fromString(JSON.stringify(spec));
  const out = [];
  for (const i of idx) {
    const e = await tok.encode(texts[i], null, { addSpecialTokens: false });
    out.push(Array.from(e.getIds()));
  }
  return out;
}
const all = texts.map((t, i) => i);

const bert = load('test-model-float32/tokenizer.json');
const uni = load('test-model-vocab-quantized/tokenizer.json');
const meta = (scheme, split) => ({ type: 'Metaspace', replacement: '▁', prepend_scheme: scheme, split });
// Variants of the Unigram tokenizer: each replaces some of its parts.
const variants = {
  'metaspace-split': { pre_tokenizer: meta('always', true) },
  'metaspace-first': { normalizer: null, pre_tokenizer: meta('first', true) },
  'metaspace-never': { pre_tokenizer: meta('never', false) },
  'whitespace-split': { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, meta('always', true)] } },
  'regex-space': {
    normalizer: { type: 'Sequence', normalizers: [
      { type: 'NFKC' }, { type: 'Lowercase' },
      { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
      { type: 'Strip', strip_left: true, strip_right: false }] },
  },
  'regex-digits-prepend': {
    normalizer: { type: 'Sequence', normalizers: [
      { type: 'NFD' }, { type: 'StripAccents' }, { type: 'Lowercase' },
      { type: 'Replace', pattern: { Regex: '[0-9]+' }, content: '0' },
      { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      { type: 'Prepend', prepend: '▁' }] },
    pre_tokenizer: null,
  },
};
// Small Unigram models written here: fused unknowns, ties and byte fallback.
const tiny = (pieces, extra) => ({
  version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
  pre_tokenizer: meta('always', true), post_processor: null, decoder: null,
  model: { type: 'Unigram', unk_id: 0, vocab: pieces, ...extra },
});
const abc = [['<unk>', 0], ['a', 0], ['b', 0], ['c', 0], ['d', 0], ['cd', 1], ['ab', 2], ['abc', 5], ['abcd', 10], ['▁', -1], ['xx', -50], ['▁a', 0.5], ['a', -3]];
const bytes = [['<unk>', 0], ['▁', -2], ['e', -1], ['l', -1], ['h', -1], ['o', -1], ['▁hello', 3]];
for (let b = 0; b < 256; b++) bytes.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, -20]);

const tokenizers = {
  bert: { path: 'test-model-float32/tokenizer.json', texts: all, ids: await encodeAll(bert, all) },
  unigram: { path: 'test-model-vocab-quantized/tokenizer.json', texts: all, ids: await encodeAll(uni, all) },
};
for (const [name, patch] of Object.entries(variants)) {
  tokenizers[name] = { path: 'test-model-vocab-quantized/tokenizer.json', patch, texts: short, ids: await encodeAll({ ...uni, ...patch }, short) };
}
for (const [name, spec] of Object.entries({ 'tiny-abc': tiny(abc, {}), 'tiny-bytes': tiny(bytes, { byte_fallback: true }) })) {
  tokenizers[name] = { inline: spec, texts: short, ids: await encodeAll(spec, short) };
}

// StaticModel.tokenize (model2vec/model.py) with its defaults in encode:
// cut the text to max_length × median token length characters (code
// points), encode without special tokens, drop the unknown token of models
// that name one (WordPiece: unk_token; a Unigram model has none), keep the
// first max_length ids.
const maxLength = 512;
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
// The four models other than test-model-vocab-quantized share one
// tokenizer.json (byte for byte).
const models = {};
for (const name of ['float32', 'vocab-quantized']) {
  const spec = load(`test-model-${name}/tokenizer.json`);
  const tok = Tokenizer.fromString(JSON.stringify(spec));
  const vocab = tok.getVocab(true);
  const med = Math.trunc(median(Object.keys(vocab).map((t) => Array.from(t).length)));
  const unk = spec.model.type === 'Unigram' ? null : vocab[spec.model.unk_token];
  const ids = [];
  for (const t of texts) {
    const cut = Array.from(t).slice(0, maxLength * med).join('');
    const e = await tok.encode(cut, null, { addSpecialTokens: false });
    ids.push(Array.from(e.getIds()).filter((id) => id !== unk).slice(0, maxLength));
  }
  models[`test-model-${name}`] = { median_token_length: med, unk_id: unk ?? null, ids };
}

process.stdout.write(JSON.stringify({ generator: 'tokenizers 0.23.2 (npm)', texts, tokenizers, models }) + '\n');
