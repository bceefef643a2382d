// Builds dist/: the core tag t.js, its variants and the lazy autocapture module.
// The collector serves dist/t.js at /t.js and dist/NAME.js at /t/NAME.js.
// Prints the gzip -9 size of every file and fails when the core t.js is over LIMIT.
import { build } from 'esbuild'
import { minify } from 'terser'
import { gzipSync } from 'node:zlib'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'

const LIMIT = 4096 // bytes gzip -9: the build fails above this
const GOAL = 3500 // bytes gzip -9: what the core is meant to stay under
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url)))
const gz = (s) => gzipSync(s, { level: 9 }).length

// Compile-time flags: a feature whose flag is false is not in that file at all.
const core = { COMPILE_HASH: true, COMPILE_ENGAGE: true, COMPILE_AUTOCAPTURE: false }
const outputs = [
  { file: 't.js', entry: 'src/core.js', flags: core, what: 'core: everything but autocapture, which it loads on demand' },
  { file: 'ac.js', entry: 'src/ac-entry.js', flags: core, what: 'autocapture module: t.js loads it (as t/ac.js) when the site enables autocapture' },
  { file: 'exp.js', entry: 'src/experiments-entry.js', flags: core, what: "experiments module (t/exp.js): footpath('variant', key, cb)" },
  { file: 'full.js', entry: 'src/core.js', flags: { ...core, COMPILE_AUTOCAPTURE: true }, what: 'core with autocapture built in' },
  { file: 'lite.js', entry: 'src/core.js', flags: { COMPILE_HASH: false, COMPILE_ENGAGE: false, COMPILE_AUTOCAPTURE: false }, what: 'no hash routes, no engagement' },
]

rmSync('dist', { recursive: true, force: true }) // no stale outputs from older builds
mkdirSync('dist', { recursive: true })
const rows = []
for (const o of outputs) {
  const define = { VERSION: JSON.stringify(version) }
  for (const [k, v] of Object.entries(o.flags)) define[k] = String(v)
  const r = await build({
    entryPoints: [o.entry], bundle: true, format: 'iife', minify: true, write: false,
    target: 'es2020', legalComments: 'none', define,
  })
  const es = r.outputFiles[0].text
  // terser after esbuild: kept only where it is measurably smaller.
  const t = (await minify(es, { ecma: 2020, compress: { passes: 3, unsafe_arrows: true, booleans_as_integers: true }, mangle: true, format: { ascii_only: false } })).code
  const best = gz(t) < gz(es) ? t : es
  writeFileSync('dist/' + o.file, best)
  rows.push({ ...o, raw: best.length, gzip: gz(best), esbuild: gz(es), terser: gz(t) })
}

console.log('file          bytes  gzip -9  (esbuild / +terser)  what')
for (const r of rows)
  console.log(`${r.file.padEnd(12)} ${String(r.raw).padStart(6)} ${String(r.gzip).padStart(8)}   (${r.esbuild} / ${r.terser})  ${r.what}`)
const t = rows[0]
if (t.gzip > LIMIT) {
  console.error(`FAIL: dist/t.js is ${t.gzip} bytes gzip -9, over the ${LIMIT}-byte limit`)
  process.exit(1)
}
console.log(`dist/t.js: ${t.gzip} bytes gzip -9 (limit ${LIMIT}, goal ${GOAL}${t.gzip > GOAL ? ': OVER GOAL' : ''})`)
