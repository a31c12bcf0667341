// Regenerates plsfix_oracle.jsonl: inputs and the output of ftfy-js 6.3.2
// (a port of python-ftfy 6.3.1) for the plsfix package's parity tests.
//
//   npm install ftfy-js@6.3.2
//   node testdata/normalize/ftfy_oracle.mjs ../shared/data > testdata/normalize/plsfix_oracle.jsonl
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(path.join(process.cwd(), "package.json"));
const ftfy = require("ftfy-js");
const codecs = ftfy.bad_codecs;
const dataDir = process.argv[2];

// Deterministic PRNG (mulberry32).
let seed = 20260601;
function rand() {
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const out = [];
function emit(kind, input) {
  out.push({ kind, input, is_bad: ftfy.is_bad(input), fixed: ftfy.fix_text(input) });
}

const known = [
  "âœ” No problems", "&macr;\\_(ã\x83\x84)_/&macr;", "Broken text&hellip; it&#x2019;s ﬂubberiﬁc!",
  "ＬＯＵＤ　ＮＯＩＳＥＳ", "Ｕﾀｰﾝ", "voilÃ le travail", "sÃ³", "Ã³", "P&EACUTE;REZ", "BUNDESSTRA&SZLIG;E",
  "&ntilde; &Ntilde; &NTILDE; &nTILDE;", "&lt;tag&gt;", "<b>&amp;</b>", "a &amp; b\n<p>&amp;</p>\nc &amp; d",
  "This string is made of two things:\u2029 1. Unicode\u2028 2. Spite", "Content-type: text/plain\r\n\r\nHi.",
  "This is how Microsoft \r trolls Mac users", "What is this \x85 I don't even",
  "\x1b[36;44mI'm blue, da ba dee da ba doo...\x1b[0m", "\ufeffWhere do you want to go today?",
  "cafÃ©", "cafÃƒÂ©", "The Mona Lisa doesnâ€™t have eyebrows.", "â€œmismatched quotes…â€\x9d",
  "Ã¡ Ã© Ã\xad Ã³ Ãº", "ÃƒÂ©", "&amp;amp;", "&#128512;", "&#x1F600;", "&#0;", "&#150;", "&#12ab;", "&ampx;",
  "&semi;", "&#x41g;", "&#1114112;", "&#65533;", "&#127;", "&#xFFFE;", "&ThickSpace;", "&NotEqualTilde;",
  "l\u2019\u00e9cole", "ﬁnancial", "Ǆ and ŉ", "e\u0301", "Hello\x00World\x07", "\u201ccurly\u201d \u2018quotes\u2019 \u201b\u201f\u02bc",
  "â€”", "Ã la mode", "fÃ cil", "Ã s vezes", "Ã\xa0 la", "â€œ like this â€\ufffd", "ÃƒÆ’Ã‚Â©", "Ã\x89", "\x93quoted\x94",
  "\x81\x8d", "ä¸­æ–‡", "Ø§Ù„Ø¹Ø±Ø¨ÙŠØ©", "×©×œ×•×", "ðŸ˜€", "ðŸ‘", "Ã¢â‚¬Å“", "Ð¿Ñ€Ð¸Ð²ÐµÑ‚", "Ã…ngstrÃ¶m",
  "Ã¼ber Ã–sterreich", "PÃ¡gina", "NiÃ±o maÃ±ana", "The word is â€˜fancyâ€™.", "Ã\u0081", "Ã?", "â€?",
  "Hello â€ world", "Ã©Ã©Ã© clean text Ã©", "Here is some text. Ð¿Ñ€Ð¸Ð²ÐµÑ‚ Ð¼Ð¸Ñ€", "Ã¡rbol Ã¡rbol\nsecond line Ã©",
  "\u00c3\u00a0 la carte", "Ã€ bientÃ´t", "Ã‰cole", "naÃ¯ve", "CÃ´te d'Ivoire", "Zürich ZÃ¼rich", "Â£100", "Â©2020",
  "100Â°C", "Â¿QuÃ©?", "Â¡Hola!", "Ã— 2", "Ã·", "âˆ’", "â„¢", "â€¦ and more", "â€¢ item", "â‚¬50",
  "\u0130stanbul", "ΚΑΛΗΜΕΡΑ", "Îºá½¹ÏƒÎ¼Îµ", "ăƒă", "Ä\u008d", "ÄŤ", "Ä\u008dokolÃ¡da", "Å¡kola", "Å½uta",
  "tab\there", "line\u000bfeed", "zero\u200bwidth", "\u206a\u206f", "\ufff9\ufffc", "soft\u00adhyphen",
  "ｶﾀｶﾅ", "ｈｅｌｌｏ，ｗｏｒｌｄ！", "\u3000indented", "a\r\nb\rc\u0085d", "ĳsvogel", "Ǳ ǲ ǳ",
  "Ã¶", "Ã¤", "Ã¥", "Ã¸", "Ã¦", "Ã˜", "Ã…", "Ã†", "Ã‘", "Ã“", "Ã±", "Ãº", "Ã­a",
];
for (const s of known) emit("known", s);

// Random mixtures of mojibake-prone characters, to compare the badness heuristic.
const pool = Array.from(
  "ÂÃÎÐ×ØÙàŒœ√≈‚вВГРСβΒΓΞΟā€šŠžŸ¢£¥¤¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾¿ÀÁÂÄÅÆÇÈÉÊËÌÍÏÑÒÓÔÕÖÜÝÞßáâãäåæçèéêëìíîïñòóôõöøùúûüýÿ" +
  "ĂăĄąĆćČčĎďĐđĘęĚěĞğİıŁłŃńŇňŐőŒœŘřŚśŞşŠšŢţŤťŮůŰűŸŹźŻżŽžƒˆˇ˘˛˜˝ΆΈΉΊΌΎΏΐΑΒΓΔΘΛΞΠΣΦΨΩάέήίαβγδεζηθλμνξπρσςφψω" +
  "ЁЂЃЄЅІЇЈЉЊЋЌЎЏАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдежзийклмнопрстуфхцчшщъыьэюяёђѓєѕіїјљњћќўџҐґ" +
  "–—―‘’‚“”„†‡•…‰‹›€№™∂∆∏∑√∞∩∫≈≠≡≤≥◊─│┌┐└┘├┤┬┴┼═║╔╗╚╝╠╣╦╩╬▀▄█▌▐░▒▓\uf8ff\ufffd\u0080\u0085\u0090\u009f" +
  "abcXYZ .,?!_1 \n\u00a0\u00adﬁﬂ"
);
for (let i = 0; i < 3000; i++) {
  const n = 2 + Math.floor(rand() * 5);
  let s = "";
  for (let j = 0; j < n; j++) s += pool[Math.floor(rand() * pool.length)];
  out.push({ kind: "random", input: s, is_bad: ftfy.is_bad(s) });
}

// Real text damaged by decoding its UTF-8 bytes in a single-byte encoding.
const utf8 = (s) => Buffer.from(s, "utf8");
const dec = (bytes, enc) => codecs.decodeBytes(bytes, enc);
const damages = {
  "sloppy-windows-1252": (s) => dec(utf8(s), "sloppy-windows-1252"),
  "latin-1": (s) => dec(utf8(s), "latin-1"),
  "sloppy-windows-1252 twice": (s) => dec(utf8(dec(utf8(s), "sloppy-windows-1252")), "sloppy-windows-1252"),
  "latin-1 then sloppy-windows-1252": (s) => dec(utf8(dec(utf8(s), "latin-1")), "sloppy-windows-1252"),
  "sloppy-windows-1250": (s) => dec(utf8(s), "sloppy-windows-1250"),
  "sloppy-windows-1251": (s) => dec(utf8(s), "sloppy-windows-1251"),
};
const files = [
  "web-text/spa_Latn_sampled_500k_0_to_600.jsonl", "web-text/deu_Latn_sampled_500k_first200.jsonl",
  "web-text/nob_Latn_sampled_500k_first200.jsonl", "web-text/srp_Cyrl_sampled_500k_0_to_600.jsonl",
  "fineweb-edu-llama3-sample/train.jsonl",
];
for (const f of files) {
  const rows = fs.readFileSync(path.join(dataDir, f), "utf8").split("\n").filter(Boolean).slice(0, 40);
  let taken = 0;
  for (const row of rows) {
    const text = JSON.parse(row).text;
    const para = text.split("\n").find((p) => p.length > 80 && /[^\x00-\x7f]/.test(p));
    if (!para || taken >= 6) continue;
    taken++;
    const snippet = Array.from(para).slice(0, 240).join("");
    out.push({ kind: "real", source: f, input: snippet, is_bad: ftfy.is_bad(snippet), fixed: ftfy.fix_text(snippet) });
    for (const [name, damage] of Object.entries(damages)) {
      const input = damage(snippet);
      out.push({ kind: "damaged", source: f, damage: name, original: snippet, input, is_bad: ftfy.is_bad(input), fixed: ftfy.fix_text(input) });
    }
  }
}
for (const o of out) process.stdout.write(JSON.stringify(o) + "\n");
