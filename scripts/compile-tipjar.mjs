#!/usr/bin/env node
// Compiles crate/contracts/TipJar.sol with the pinned solc-js from tests/node_modules (standard JSON) and writes
// crate/contracts/TipJar.json: abi, bytecode, deployedBytecode, the compiler version and the exact settings.
//   node scripts/compile-tipjar.mjs            write the artifact
//   node scripts/compile-tipjar.mjs --check    exit 1 with a one-line summary when the checked-in artifact differs
//   --out FILE                                 another artifact path (tests use it)
// The artifact is what gets deployed, so it is checked in and must be reproducible from the source.
import { createRequire } from 'node:module'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const SOURCE_PATH = join(root, 'crate/contracts/TipJar.sol')
export const ARTIFACT_PATH = join(root, 'crate/contracts/TipJar.json')

/** The one solc build allowed to produce the artifact (tests/package.json pins npm solc 0.8.37). */
export const PINNED_SOLC = '0.8.37+commit.f401782d.Emscripten.clang'

/**
 * Standard-JSON settings, recorded verbatim in the artifact.
 * - evmVersion paris: BTTC is a Bor fork; do not rely on PUSH0 or other Shanghai+ opcodes.
 * - bytecodeHash none: no IPFS hash of the metadata in the bytecode, so comments, paths or whitespace elsewhere cannot
 *   change the deployed code; the CBOR tail still names the solc version.
 */
export const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'paris',
  metadata: { bytecodeHash: 'none' }
}

const requireFromTests = createRequire(join(root, 'tests/package.json'))

/** Loads solc-js from tests/node_modules, refusing any other version than PINNED_SOLC. */
export function loadSolc () {
  const solc = requireFromTests('solc')
  if (solc.version() !== PINNED_SOLC) {
    throw new Error(`solc ${solc.version()} is not the pinned ${PINNED_SOLC} (run bash scripts/setup.sh)`)
  }
  return solc
}

/**
 * Compiles Solidity sources ({fileName: content}) with SETTINGS; returns {contractName: {abi, bytecode,
 * deployedBytecode}} for every contract, bytecode as 0x hex. Throws on any compiler error (warnings go to stderr).
 */
export function compileSources (sources, solc = loadSolc()) {
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries(Object.entries(sources).map(([name, content]) => [name, { content }])),
    settings: {
      ...SETTINGS,
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } }
    }
  }
  const output = JSON.parse(solc.compile(JSON.stringify(input)))
  const problems = output.errors ?? []
  for (const warning of problems.filter(p => p.severity !== 'error')) process.stderr.write(warning.formattedMessage)
  const errors = problems.filter(p => p.severity === 'error')
  if (errors.length > 0) throw new Error('solc: ' + errors.map(e => e.formattedMessage).join('\n'))
  const contracts = {}
  for (const file of Object.values(output.contracts)) {
    for (const [name, c] of Object.entries(file)) {
      contracts[name] = {
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object
      }
    }
  }
  return contracts
}

/** The TipJar artifact object, exactly as it is checked in. */
export function compileTipJar (solc = loadSolc()) {
  const { TipJar } = compileSources({ 'TipJar.sol': readFileSync(SOURCE_PATH, 'utf8') }, solc)
  return {
    contractName: 'TipJar',
    sourceName: 'crate/contracts/TipJar.sol',
    compiler: { name: 'solc', version: solc.version() },
    settings: SETTINGS,
    abi: TipJar.abi,
    bytecode: TipJar.bytecode,
    deployedBytecode: TipJar.deployedBytecode
  }
}

export function serialize (artifact) {
  return JSON.stringify(artifact, null, 2) + '\n'
}

/** Top-level fields that differ between two artifacts (compared as JSON). */
function differingFields (want, have) {
  const keys = new Set([...Object.keys(want), ...Object.keys(have ?? {})])
  return [...keys].filter(k => JSON.stringify(want[k]) !== JSON.stringify(have?.[k]))
}

function main (argv) {
  let check = false
  let out = ARTIFACT_PATH
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--check') check = true
    else if (argv[i] === '--out' && i + 1 < argv.length) out = argv[++i]
    else throw new Error(`unknown argument ${argv[i]} (usage: compile-tipjar.mjs [--check] [--out FILE])`)
  }
  const text = serialize(compileTipJar())
  const shown = relative(process.cwd(), out) || out
  if (!check) {
    writeFileSync(out, text)
    console.log(`wrote ${shown}`)
    return 0
  }
  let current
  try {
    current = readFileSync(out, 'utf8')
  } catch (error) {
    const why = error.code === 'ENOENT' ? 'missing' : error.message
    throw new Error(`${shown}: ${why}; run node scripts/compile-tipjar.mjs`)
  }
  if (current === text) {
    console.log(`${shown} is up to date`)
    return 0
  }
  let parsed
  try {
    parsed = JSON.parse(current)
  } catch {
    parsed = undefined
  }
  const fields = parsed === undefined ? ['not valid JSON'] : differingFields(JSON.parse(text), parsed)
  const what = fields.length > 0 ? fields.join(', ') : 'formatting'
  console.error(`${shown} differs from a fresh compile (${what}); run node scripts/compile-tipjar.mjs`)
  return 1
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exitCode = main(process.argv.slice(2))
  } catch (error) {
    console.error(`error: ${error.message}`)
    process.exitCode = 1
  }
}
