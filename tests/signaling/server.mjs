// Starts the seedcast-signal binary for a test and finds its port from the line it prints on start.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

export function serverBinary () {
  const bin = process.env.SEEDCAST_SIGNAL_BIN ?? resolve(repoRoot, 'target/debug/seedcast-signal')
  if (!existsSync(bin)) {
    throw new Error(`seedcast-signal binary not found at ${bin}: run \`cargo build -p seedcast-signal\` or set SEEDCAST_SIGNAL_BIN`)
  }
  return bin
}

/**
 * Resolves to { port, httpUrl, wsUrl, child, stderr() } once the server listens; rejects after 15 s.
 * `openFiles` runs it under that open-file limit (soft and hard).
 */
export function startServer (extraArgs = [], { openFiles } = {}) {
  // Channels go to a fresh temporary database unless the test names one (never ./seedcast-data).
  const dataDir = extraArgs.includes('--data') ? null : mkdtempSync(join(tmpdir(), 'seedcast-signal-data-'))
  const data = dataDir ? ['--data', dataDir] : []
  const args = ['--listen', '127.0.0.1:0', '--log', 'warn', ...data, ...extraArgs]
  const child = openFiles
    ? spawn('sh', ['-c', `ulimit -n ${Number(openFiles)} && exec "$0" "$@"`, serverBinary(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(serverBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  if (dataDir) child.once('exit', () => rmSync(dataDir, { recursive: true, force: true }))
  let stderr = ''
  child.stderr.on('data', chunk => { stderr += chunk })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`seedcast-signal did not start within 15 s; stderr: ${stderr}`)) }, 15000)
    let stdout = ''
    child.stdout.on('data', chunk => {
      stdout += chunk
      const match = stdout.match(/open http:\/\/127\.0\.0\.1:(\d+)\//)
      if (match) {
        clearTimeout(timer)
        const port = Number(match[1])
        resolve({ port, httpUrl: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}`, child, stderr: () => stderr })
      }
    })
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`seedcast-signal exited with ${code} before listening; stderr: ${stderr}`)) })
  })
}

/** Sends SIGTERM and resolves to the exit code; SIGKILLs after 10 s. */
export function stopServer (server) {
  if (server.child.exitCode !== null) return Promise.resolve(server.child.exitCode)
  return new Promise(resolve => {
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 10000)
    server.child.once('exit', code => { clearTimeout(timer); resolve(code) })
    server.child.kill('SIGTERM')
  })
}

/**
 * Resolves to the first truthy result of `probe()` (sync or async), tried every `everyMs`: for
 * conditions with no event to wait on. Rejects after `ms` with `what` (a string, or a function
 * of the last result) so a test that stalls says what it was waiting for.
 */
export async function waitFor (what, probe, { ms = 10000, everyMs = 20 } = {}) {
  const deadline = Date.now() + ms
  for (;;) {
    const result = await probe()
    if (result) return result
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what(result) : what}`)
    }
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}
